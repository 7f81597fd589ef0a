//! The complaint form, shared by the public page and the hotline operator's intake page:
//! reading the multipart post (fields and files, each within its limit) and turning it into
//! the API's filing request, so a page filing is validated exactly as an API filing is. Files
//! are streamed to temporary files as they arrive (one chunk in memory at a time), so a request
//! holds at most its text fields in memory, however large its files.

use std::collections::HashMap;
use std::path::Path;

use actix_multipart::Multipart;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::complaints::attachments::{Spool, Staged, Traits};

use crate::complaints::intake::{limits, AgentInput, ComplainantInput, FileComplaintRequest};
use crate::complaints::model::{Channel, ComplainantType, Language, MatterType};
use crate::error::{ApiError, FieldError, InvalidFields};
use crate::state::AppState;

/// Text fields larger than this are refused before they are stored (the largest field, the
/// facts, allows 10,000 characters: at most 40,000 bytes of UTF-8).
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;
const MAX_PARTS: usize = 60;

/// A file as posted, not yet checked: on disk under a temporary name (removed if dropped).
pub struct Upload {
    pub filename: String,
    pub staged: Staged,
    pub traits: Traits,
}

#[derive(Default)]
pub struct Posted {
    pub fields: HashMap<String, String>,
    pub files: Vec<Upload>,
}

impl Posted {
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_string()).filter(|v| !v.trim().is_empty())
    }

    /// A digest of what was posted, for telling a retry from a different filing under the same
    /// form token.
    pub fn digest(&self) -> String {
        let mut names: Vec<&String> = self.fields.keys().filter(|k| k.as_str() != "csrf").collect();
        names.sort();
        let mut h = Sha256::new();
        for n in names {
            h.update(n.as_bytes());
            h.update([0]);
            h.update(self.fields[n].as_bytes());
            h.update([0]);
        }
        for f in &self.files {
            h.update(f.filename.as_bytes());
            h.update(f.staged.sha256.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Reads every part: text fields (each at most 64 KiB) and the files of `file_field` (each at
/// most `max_file_bytes`, at most `max_files`), streamed to temporary files in `spool_dir`.
/// Empty file inputs are skipped.
pub async fn read(
    payload: Multipart,
    file_field: &str,
    max_file_bytes: usize,
    max_files: usize,
    spool_dir: &Path,
) -> Result<Posted, ApiError> {
    match read_keeping_fields(payload, file_field, max_file_bytes, max_files, spool_dir).await? {
        (posted, None) => Ok(posted),
        (_, Some(refused)) => Err(refused),
    }
}

/// As [`read`], but a file over the limits does not lose what was typed: the text fields come
/// back with the refusal (the form is shown again with them).
pub async fn read_keeping_fields(
    mut payload: Multipart,
    file_field: &str,
    max_file_bytes: usize,
    max_files: usize,
    spool_dir: &Path,
) -> Result<(Posted, Option<ApiError>), ApiError> {
    let spool_error = |e: std::io::Error| ApiError::internal("receiving a file", e);
    let mut posted = Posted::default();
    let mut refused_file: Option<ApiError> = None;
    let mut parts = 0;
    while let Some(item) = payload.next().await {
        let mut field = item.map_err(|e| ApiError::BadRequest(format!("form: {e}")))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::BadRequest("the form has too many parts".into()));
        }
        let (name, filename) = match field.content_disposition() {
            Some(cd) => (cd.get_name().unwrap_or_default().to_string(), cd.get_filename().map(str::to_string)),
            None => return Err(ApiError::BadRequest("a form part without a name".into())),
        };
        let is_file = name == file_field;
        if is_file {
            // A file beyond the count is read and dropped, as is the rest of one over the limit.
            let mut spool = if posted.files.len() < max_files {
                Some(Spool::create(spool_dir).map_err(spool_error)?)
            } else {
                None
            };
            let over_count = spool.is_none();
            let mut too_large = false;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("form: {e}")))?;
                let Some(s) = spool.as_mut() else { continue };
                if s.size + chunk.len() > max_file_bytes {
                    too_large = true;
                    spool = None;
                    continue;
                }
                s.write(&chunk).map_err(spool_error)?;
            }
            let filename = filename.unwrap_or_default();
            if too_large {
                refused_file.get_or_insert_with(|| {
                    ApiError::Invalid(vec![FieldError::new(
                        file_field,
                        "file_too_large",
                        format!("each file may be at most {max_file_bytes} bytes"),
                    )])
                });
                continue;
            }
            let Some(spool) = spool else {
                if over_count {
                    refused_file.get_or_insert_with(|| {
                        ApiError::Invalid(vec![FieldError::new(
                            file_field,
                            "too_many_files",
                            format!("at most {max_files} files"),
                        )])
                    });
                }
                continue;
            };
            if filename.is_empty() && spool.size == 0 {
                continue;
            }
            let (staged, traits) = spool.finish().map_err(spool_error)?;
            posted.files.push(Upload { filename, staged, traits });
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("form: {e}")))?;
            if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
                return Err(ApiError::PayloadTooLarge(format!("the field {name} is too large")));
            }
            bytes.extend_from_slice(&chunk);
        }
        {
            let text =
                String::from_utf8(bytes).map_err(|_| ApiError::BadRequest(format!("the field {name} is not UTF-8")))?;
            // No field takes a NUL, and PostgreSQL can neither store nor compare one (the API
            // refuses it in JSON the same way).
            if text.contains('\0') {
                return Err(ApiError::Invalid(vec![FieldError::new(
                    name,
                    "control_characters",
                    "control characters are not allowed",
                )]));
            }
            // Browsers send CRLF line ends; store what the investor typed.
            posted.fields.insert(name, text.replace("\r\n", "\n"));
        }
    }
    Ok((posted, refused_file))
}

/// A checked file, ready to record and then place.
pub struct CheckedFile {
    pub filename: String,
    pub content_type: &'static str,
    pub staged: Staged,
}

/// Names sanitised and types sniffed before anything is filed, so a refused file does not
/// leave a complaint without it.
pub fn check_files(files: Vec<Upload>, field: &str) -> Result<Vec<CheckedFile>, ApiError> {
    let mut errors = Vec::new();
    let mut checked = Vec::new();
    for f in files {
        let named = crate::complaints::attachments::sanitize_filename(&f.filename);
        let result = named.and_then(|name| {
            if f.staged.size == 0 {
                return Err(FieldError::new(field, "empty", "the file is empty"));
            }
            crate::complaints::attachments::sniff_traits(&f.traits, &name).map(|kind| (name, kind))
        });
        match result {
            Ok((filename, content_type)) => checked.push(CheckedFile { filename, content_type, staged: f.staged }),
            Err(e) => errors.push(FieldError::new(field, &e.code, format!("{}: {}", f.filename, e.message))),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// The form's fields as the API's filing request. Choices that are not on the list are
/// reported like any other invalid field.
pub fn filing_request(p: &Posted, by_staff: bool) -> Result<FileComplaintRequest, ApiError> {
    let mut errors = Vec::new();
    let mut choice = |field: &str, parsed: Option<()>| {
        if parsed.is_none() {
            errors.push(FieldError::new(field, "unknown", "choose one of the options"));
        }
    };
    let kind = ComplainantType::parse(p.get("complainant.type"));
    choice("complainant.type", kind.map(|_| ()));
    let language = Language::parse(p.get("complainant.language"));
    choice("complainant.language", language.map(|_| ()));
    let matter = MatterType::parse(p.get("matter_type"));
    choice("matter_type", matter.map(|_| ()));
    let channel = if by_staff {
        let c = Channel::parse(p.get("channel"));
        choice("channel", c.map(|_| ()));
        c
    } else {
        None
    };
    let contact_consent = match (by_staff, p.get("contact_consent")) {
        (true, "yes") => Some(true),
        (true, "no") => Some(false),
        _ => None,
    };
    let agent = match (p.optional("agent.name"), p.optional("agent.contact")) {
        (None, None) => None,
        (name, contact) => Some(AgentInput { name: name.unwrap_or_default(), contact: contact.unwrap_or_default() }),
    };
    let request = FileComplaintRequest {
        complainant: ComplainantInput {
            // A choice not on the list is reported below; the first one stands in for it so
            // that the other fields are checked too.
            kind: kind.unwrap_or(ComplainantType::ALL[0]),
            name: p.get("complainant.name").to_string(),
            company: p.get("complainant.company").to_string(),
            nationality: p.get("complainant.nationality").to_string(),
            email: p.get("complainant.email").to_string(),
            phone: p.get("complainant.phone").to_string(),
            language: language.unwrap_or(Language::ALL[0]),
        },
        agent,
        project: p.get("project").to_string(),
        department_id: p.optional("department_id"),
        staff_concerned: p.optional("staff_concerned"),
        matter_type: matter.unwrap_or(MatterType::ALL[0]),
        subject: p.get("subject").to_string(),
        facts: p.get("facts").to_string(),
        request: p.get("request").to_string(),
        review_or_lawsuit: p.get("review_or_lawsuit") == "on",
        confidential: p.get("confidential") == "on",
        channel,
        contact_consent,
    };
    if errors.is_empty() {
        return Ok(request);
    }
    // Everything wrong at once, in the order of the form: the other fields' problems as the
    // service would report them, not only the choices'.
    if let Err(InvalidFields(others)) = crate::complaints::intake::validate(request, by_staff) {
        for e in others {
            if !errors.iter().any(|known| known.field == e.field) {
                errors.push(e);
            }
        }
    }
    errors.sort_by_key(|e| FORM_ORDER.iter().position(|f| *f == e.field).unwrap_or(FORM_ORDER.len()));
    Err(ApiError::Invalid(errors))
}

/// The complaint form's fields from top to bottom (the intake form's own two first).
const FORM_ORDER: &[&str] = &[
    "channel",
    "contact_consent",
    "complainant.type",
    "complainant.name",
    "complainant.company",
    "complainant.nationality",
    "complainant.email",
    "complainant.phone",
    "complainant.language",
    "agent.name",
    "agent.contact",
    "project",
    "matter_type",
    "department_id",
    "staff_concerned",
    "subject",
    "facts",
    "request",
    "attachments",
];

/// (department id, name in the reader's language)
pub type DepartmentChoice = (String, String);

/// What the form template needs besides the values: the choices and every limit it shows.
pub fn form_options(state: &AppState, departments: Vec<DepartmentChoice>) -> minijinja::Value {
    let s = &state.settings.complaints;
    minijinja::context! {
        complainant_types => ComplainantType::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        matter_types => MatterType::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        channels => Channel::ALL.iter().filter(|c| **c != Channel::Web).map(|c| c.as_str()).collect::<Vec<_>>(),
        departments => departments,
        max => minijinja::context! {
            name => limits::NAME, company => limits::COMPANY, nationality => limits::NATIONALITY,
            agent_contact => limits::AGENT_CONTACT, project => limits::PROJECT, staff => limits::STAFF,
            subject => limits::SUBJECT, facts => limits::FACTS, request => limits::REQUEST,
            file_bytes => s.attachment_max_bytes, file_mib => format!("{:.1}", s.attachment_max_bytes as f64 / 1_048_576.0),
            files => s.attachment_max_count,
        },
        idempotency_key => uuid::Uuid::new_v4().to_string(),
    }
}

/// Active departments, named in the reader's language.
pub async fn department_choices(
    state: &actix_web::web::Data<AppState>,
    lang: Language,
) -> Result<Vec<DepartmentChoice>, ApiError> {
    let rows = crate::db::run(&state.pool, |conn| crate::departments::store::list(conn, false)).await?;
    Ok(rows.into_iter().map(|d| (d.id.into_string(), if lang.is_chinese() { d.name_zh } else { d.name_en })).collect())
}
