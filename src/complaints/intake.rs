//! The filing request and its validation. Every limit is documented in docs/complaints.md and
//! on the request schema; every violation is reported at once, by field path.

use serde::Deserialize;

use super::model::{parse_phone, Channel, ComplainantType, Language, MatterType};
use crate::error::{FieldError, InvalidFields};
use crate::fields::{optional_text, required_text, Checker, EmailAddress};

/// Field limits, in characters.
pub mod limits {
    pub const NAME: usize = 100;
    pub const COMPANY: usize = 200;
    pub const NATIONALITY: usize = 60;
    pub const AGENT_CONTACT: usize = 200;
    pub const PROJECT: usize = 200;
    pub const STAFF: usize = 100;
    pub const SUBJECT: usize = 200;
    pub const FACTS: usize = 10_000;
    pub const REQUEST: usize = 4_000;
    pub const SHORT_TEXT: usize = 2_000;
    pub const REPLY: usize = 10_000;
}

#[derive(Deserialize, utoipa::ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ComplainantInput {
    #[serde(rename = "type")]
    pub kind: ComplainantType,
    /// Person filing, at most 100 characters.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Enterprise or chamber, at most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub company: String,
    /// Nationality or region, at most 60 characters.
    #[schema(max_length = 60, pattern = r"\S")]
    pub nationality: String,
    /// Where notices go. A hotline operator filing for a caller who has none may send it empty:
    /// the caller's notices then go to the operators' call-back list (`/staff/callbacks`).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// At most 40 characters: at least 5 digits, with + ( ) - . and spaces.
    #[schema(max_length = 40, pattern = r"^[ +().-]*(?:[0-9][ +().-]*){5,}$")]
    pub phone: String,
    /// Language of all notices to the investor.
    pub language: Language,
}

#[derive(Deserialize, utoipa::ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// At most 100 characters.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    /// How to reach the agent, at most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub contact: String,
}

/// Text fields are trimmed; they may not hold control characters other than line breaks and tabs.
#[derive(Deserialize, utoipa::ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "complainant": {"type": "foreign_invested_enterprise", "name": "Anna Müller", "company": "Hunan Precision Parts Co., Ltd.",
        "nationality": "Germany", "email": "anna.mueller@example.de", "phone": "+49 30 1234567", "language": "en"},
    "project": "Chenzhou plant expansion, phase 2", "matter_type": "administrative_act",
    "subject": "Construction permit not decided within the promised time",
    "facts": "We applied on 2026-08-01; all materials were accepted; no decision since.",
    "request": "A decision on the permit, or a written reason for the delay.", "review_or_lawsuit": false, "confidential": false
}))]
pub struct FileComplaintRequest {
    pub complainant: ComplainantInput,
    #[serde(default)]
    pub agent: Option<AgentInput>,
    /// The investment project concerned, at most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub project: String,
    /// The department concerned, if the investor knows it (an id from GET /api/v1/departments).
    #[serde(default)]
    pub department_id: Option<String>,
    /// The staff member concerned, if known, at most 100 characters.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub staff_concerned: Option<String>,
    pub matter_type: MatterType,
    /// At most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub subject: String,
    /// What happened, at most 10,000 characters.
    #[schema(max_length = 10000, pattern = r"\S")]
    pub facts: String,
    /// What the investor asks for, at most 4,000 characters.
    #[schema(max_length = 4000, pattern = r"\S")]
    pub request: String,
    /// An administrative review or a lawsuit on the same matter is already under way.
    pub review_or_lawsuit: bool,
    /// Trade secrets: attachments visible only to the assigned department and the coordination office.
    pub confidential: bool,
    /// `web` for the public form (the default); staff filing for someone use the other channels.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Required when staff file for a caller: the caller agreed to be contacted.
    #[serde(default)]
    pub contact_consent: Option<bool>,
}

/// A validated filing.
#[derive(Debug, Clone)]
pub struct ValidComplaint {
    pub channel: Channel,
    pub language: Language,
    pub complainant_type: ComplainantType,
    pub complainant_name: String,
    pub company: String,
    pub nationality: String,
    /// `None`: a hotline caller without an email address (stored as an empty text).
    pub email: Option<EmailAddress>,
    pub phone: String,
    pub agent_name: Option<String>,
    pub agent_contact: Option<String>,
    pub project: String,
    pub concerned_department_id: Option<crate::ids::DepartmentId>,
    pub concerned_staff: Option<String>,
    pub matter_type: MatterType,
    pub subject: String,
    pub facts: String,
    pub request: String,
    pub review_or_lawsuit: bool,
    pub confidential: bool,
    pub contact_consent: Option<bool>,
}

/// `by_staff`: filed by an operator for a caller (not the public form).
pub fn validate(req: FileComplaintRequest, by_staff: bool) -> Result<ValidComplaint, InvalidFields> {
    use limits::*;
    let mut c = Checker::default();
    let name = c.check(required_text("complainant.name", &req.complainant.name, NAME));
    let company = c.check(required_text("complainant.company", &req.complainant.company, COMPANY));
    let nationality = c.check(required_text("complainant.nationality", &req.complainant.nationality, NATIONALITY));
    // A hotline caller may have no email address: their notices go to the operators'
    // call-back list (complaints::callbacks). The public form always needs one.
    let email = if by_staff && req.complainant.email.trim().is_empty() {
        Some(None)
    } else {
        c.check(EmailAddress::parse("complainant.email", &req.complainant.email)).map(Some)
    };
    let phone = c.check(parse_phone("complainant.phone", &req.complainant.phone));
    let (agent_name, agent_contact) = match &req.agent {
        Some(a) => (
            c.check(required_text("agent.name", &a.name, NAME)),
            c.check(required_text("agent.contact", &a.contact, AGENT_CONTACT)),
        ),
        None => (None, None),
    };
    let project = c.check(required_text("project", &req.project, PROJECT));
    let staff = c.check(optional_text("staff_concerned", req.staff_concerned.as_deref(), STAFF)).flatten();
    let subject = c.check(required_text("subject", &req.subject, SUBJECT));
    let facts = c.check(required_text("facts", &req.facts, FACTS));
    let request = c.check(required_text("request", &req.request, REQUEST));
    let department = req.department_id.as_deref().map(str::trim).filter(|d| !d.is_empty());
    if department.is_some_and(|d| d.len() > 64) {
        c.push(FieldError::new("department_id", "unknown", "no such department"));
    }
    let channel = match (req.channel, by_staff) {
        (None, false) | (Some(Channel::Web), false) => Channel::Web,
        (Some(_), false) => {
            c.push(FieldError::new(
                "channel",
                "staff_only",
                "only staff file for the hotline, email or walk-in channels",
            ));
            Channel::Web
        }
        (None, true) | (Some(Channel::Web), true) => {
            c.push(FieldError::new(
                "channel",
                "required",
                "staff filing for a caller choose hotline, email or walk_in",
            ));
            Channel::Hotline
        }
        (Some(other), true) => other,
    };
    if by_staff && req.contact_consent.is_none() {
        c.push(FieldError::new("contact_consent", "required", "record whether the caller agreed to be contacted"));
    }
    if !by_staff && req.contact_consent.is_some() {
        c.push(FieldError::new("contact_consent", "staff_only", "recorded by staff filing for a caller"));
    }
    c.finish()?;
    Ok(ValidComplaint {
        channel,
        language: req.complainant.language,
        complainant_type: req.complainant.kind,
        complainant_name: name.expect("checked"),
        company: company.expect("checked"),
        nationality: nationality.expect("checked"),
        email: email.expect("checked"),
        phone: phone.expect("checked"),
        agent_name,
        agent_contact,
        project: project.expect("checked"),
        concerned_department_id: department.map(crate::ids::DepartmentId::new),
        concerned_staff: staff,
        matter_type: req.matter_type,
        subject: subject.expect("checked"),
        facts: facts.expect("checked"),
        request: request.expect("checked"),
        review_or_lawsuit: req.review_or_lawsuit,
        confidential: req.confidential,
        contact_consent: req.contact_consent,
    })
}
