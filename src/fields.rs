//! Newtypes for values that arrive from outside, parsed once at the edge so invalid data cannot
//! reach the domain. Each `parse` returns a `FieldError` naming the field it was given.

use crate::error::FieldError;

/// An email address: trimmed, lower-cased, at most 254 bytes, one `@` with a dotted domain.
/// Deliberately simple (RFC 5321 is wider): it catches typos, the mail server does the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, raw: &str) -> Result<EmailAddress, FieldError> {
        let value = raw.trim().to_lowercase();
        let bad = |msg: &str| Err(FieldError::new(field, "invalid_email", msg));
        if value.is_empty() {
            return Err(FieldError::new(field, "required", "an email address is required"));
        }
        if value.len() > 254 {
            return bad("an email address has at most 254 characters");
        }
        let Some((local, domain)) = value.split_once('@') else { return bad("an email address needs an @") };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"@\\".contains(c));
        if !domain_ok || !local_ok {
            return bad("this is not a valid email address");
        }
        Ok(EmailAddress(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// For logs: `i***@example.com`.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// Years of the dates and instants taken from outside. Both backends store them (PostgreSQL's
/// timestamps stop at 4713 BC, where chrono goes on), and nothing this service records lies
/// outside them.
pub const STORABLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// Text that must be present and within `max_chars`; trimmed; control characters other than
/// newlines and tabs are refused.
pub fn required_text(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "required", "this field is required"));
    }
    bounded_text(field, value, max_chars)
}

/// Like `required_text` but empty is allowed (returns `None`).
pub fn optional_text(field: &str, raw: Option<&str>, max_chars: usize) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => bounded_text(field, value, max_chars).map(Some),
    }
}

fn bounded_text(field: &str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    if value.chars().count() > max_chars {
        return Err(FieldError::new(field, "too_long", format!("at most {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(FieldError::new(field, "control_characters", "control characters are not allowed"));
    }
    Ok(value.to_string())
}

/// Collects field errors so a request reports all of them at once.
#[derive(Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Ok(())` when nothing failed, else all the errors.
    pub fn finish(self) -> Result<(), crate::error::InvalidFields> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::InvalidFields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(EmailAddress::parse("e", " Li.Wei@Example.COM ").unwrap().as_str(), "li.wei@example.com");
        for bad in ["", "a", "a@b", "a@.b.c", "a b@c.d", "a@b..c", "<a>@b.c"] {
            assert!(EmailAddress::parse("e", bad).is_err(), "{bad}");
        }
        assert_eq!(EmailAddress::parse("e", "wang@gov.cn").unwrap().masked(), "w***@gov.cn");
    }

    #[test]
    fn texts() {
        assert_eq!(required_text("f", "  hi ", 5).unwrap(), "hi");
        assert_eq!(required_text("f", " ", 5).unwrap_err().code, "required");
        assert_eq!(required_text("f", "abcdef", 5).unwrap_err().code, "too_long");
        assert_eq!(required_text("f", "a\u{0}b", 5).unwrap_err().code, "control_characters");
        assert_eq!(optional_text("f", Some(""), 5).unwrap(), None);
    }

    proptest! {
        #[test]
        fn parsed_emails_are_normalised(s in "\\PC{0,80}") {
            if let Ok(e) = EmailAddress::parse("e", &s) {
                prop_assert_eq!(e.as_str().to_lowercase(), e.as_str());
                prop_assert!(e.as_str().contains('@'));
                prop_assert!(e.as_str().len() <= 254);
            }
        }
    }
}
