//! Departments: the units complaints are assigned to, and the offices that receive escalations.

pub mod error;
pub mod routes;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::fields::{required_text, Checker, EmailAddress};
use error::DepartmentError;

/// What kind of unit this is; only `department` and `district` units take complaints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentKind {
    /// A municipal department (市直部门), e.g. 市发改委.
    Department,
    /// A county-level unit or development zone, e.g. 北湖区, 郴州高新区.
    District,
    /// An office that receives escalations, e.g. 市纪委, 市委督查室.
    Office,
}

impl DepartmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartmentKind::Department => "department",
            DepartmentKind::District => "district",
            DepartmentKind::Office => "office",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DepartmentKind::Department, DepartmentKind::District, DepartmentKind::Office]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A validated department as created by an admin, the CLI or the demo data.
#[derive(Debug, Clone)]
pub struct DepartmentDraft {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: DepartmentKind,
    pub contact_email: EmailAddress,
    pub head_email: EmailAddress,
}

impl DepartmentDraft {
    pub fn parse(
        code: &str,
        name_zh: &str,
        name_en: &str,
        kind: DepartmentKind,
        contact_email: &str,
        head_email: &str,
    ) -> Result<Self, DepartmentError> {
        let mut check = Checker::default();
        let code = check.check(parse_code(code));
        let name_zh = check.check(required_text("name_zh", name_zh, 100));
        let name_en = check.check(required_text("name_en", name_en, 200));
        let contact = check.check(EmailAddress::parse("contact_email", contact_email));
        let head = check.check(EmailAddress::parse("head_email", head_email));
        check.finish()?;
        Ok(DepartmentDraft {
            code: code.expect("checked"),
            name_zh: name_zh.expect("checked"),
            name_en: name_en.expect("checked"),
            kind,
            contact_email: contact.expect("checked"),
            head_email: head.expect("checked"),
        })
    }
}

/// A short stable slug such as `commerce` or `beihu`: lower-case ASCII, digits and '-'.
fn parse_code(raw: &str) -> Result<String, crate::error::FieldError> {
    let code = raw.trim();
    let ok = (2..=40).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !code.starts_with('-');
    if ok {
        Ok(code.to_string())
    } else {
        Err(crate::error::FieldError::new("code", "invalid_code", "2–40 characters: a–z, 0–9 and '-'"))
    }
}
