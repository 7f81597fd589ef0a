//! The hotline's search for a caller who lost the tracking number: by the number, the caller's
//! name, company or phone. A match shows only what a read-back needs to tell the right caller
//! from another (number, name, company, the phone's last digits, date, status) — never the
//! email address, the facts or the reply; the status page by number says the rest.
//!
//! Names and companies match anywhere in the stored text, without regard to ASCII case; a phone
//! matches on its digits alone, without the trunk zeros, so "030 1234567" finds "+49 30 1234567". The search reads the
//! complaints table without an index (a rare question from one operator at a time); it returns
//! the newest [`MAX_MATCHES`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::TrackingNumber;
use super::state::Status;
use crate::db::functions::{lower, replace};
use crate::db::schema::complaints;
use crate::db::DbConnection;
use crate::error::FieldError;

/// The most matches shown; a caller is asked for more detail when there are more.
pub const MAX_MATCHES: i64 = 20;

/// The shortest text searched for (one Chinese character of a name matches far too many).
const MIN_CHARS: usize = 2;
/// The fewest digits a phone search needs.
const MIN_DIGITS: usize = 5;
const MAX_CHARS: usize = 100;

/// What the operator typed, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Number(String),
    /// Text matched in names and companies; `digits` also in phones (when there are enough).
    Text {
        text: String,
        digits: Option<String>,
    },
}

impl Query {
    pub fn parse(field: &str, raw: &str) -> Result<Query, FieldError> {
        let typed = raw.trim();
        if let Some(number) = TrackingNumber::parse(typed) {
            return Ok(Query::Number(number.to_string()));
        }
        let chars = typed.chars().count();
        if chars < MIN_CHARS {
            return Err(FieldError::new(field, "too_short", format!("at least {MIN_CHARS} characters")));
        }
        if chars > MAX_CHARS || typed.chars().any(char::is_control) {
            return Err(FieldError::new(field, "too_long", format!("at most {MAX_CHARS} characters")));
        }
        // A domestic number's trunk zeros ("0735 …") are not in its international form
        // ("+86 735 …"): the digits after them are what both share.
        let digits: String =
            typed.chars().filter(char::is_ascii_digit).collect::<String>().trim_start_matches('0').into();
        let only_phone_characters = typed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        Ok(Query::Text {
            text: typed.to_lowercase(),
            digits: (digits.len() >= MIN_DIGITS && only_phone_characters).then_some(digits),
        })
    }
}

/// One complaint that may be the caller's.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = complaints)]
pub struct Candidate {
    pub tracking_number: String,
    pub complainant_name: String,
    pub company: String,
    pub phone: String,
    pub received_at: NaiveDateTime,
    pub status: Status,
}

impl Candidate {
    /// The phone as shown in a match: its last four digits only.
    pub fn phone_hint(&self) -> String {
        let digits: Vec<char> = self.phone.chars().filter(char::is_ascii_digit).collect();
        let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
        if tail.is_empty() {
            String::new()
        } else {
            format!("…{tail}")
        }
    }
}

/// The newest complaints matching `query`.
pub fn search(conn: &mut DbConnection, query: &Query) -> QueryResult<Vec<Candidate>> {
    let mut q = complaints::table.select(Candidate::as_select()).into_boxed();
    match query {
        Query::Number(number) => q = q.filter(complaints::tracking_number.eq(number.clone())),
        Query::Text { text, digits } => {
            let pattern = like_pattern(text);
            let by_words =
                lower(complaints::complainant_name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(complaints::company).like(pattern).escape('\\'));
            q = match digits {
                Some(digits) => {
                    // The stored phone with the separators people type removed.
                    let stored = replace(
                        replace(
                            replace(replace(replace(replace(complaints::phone, " ", ""), "-", ""), "+", ""), "(", ""),
                            ")",
                            "",
                        ),
                        ".",
                        "",
                    );
                    q.filter(by_words.or(stored.like(format!("%{digits}%"))))
                }
                None => q.filter(by_words),
            };
        }
    }
    q.order((complaints::received_at.desc(), complaints::id.desc())).limit(MAX_MATCHES).load(conn)
}

fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_operator_types_is_a_number_words_or_a_phone() {
        assert_eq!(Query::parse("q", " cz-2026-000042 ").unwrap(), Query::Number("CZ-2026-000042".into()));
        assert_eq!(Query::parse("q", "Anna MÜLLER").unwrap(), Query::Text { text: "anna müller".into(), digits: None });
        assert_eq!(
            Query::parse("q", "030 123-4567").unwrap(),
            Query::Text { text: "030 123-4567".into(), digits: Some("301234567".into()) }
        );
        // Digits inside words are not a phone; too few digits are not either.
        assert_eq!(
            Query::parse("q", "Plant 12345 GmbH").unwrap(),
            Query::Text { text: "plant 12345 gmbh".into(), digits: None }
        );
        assert_eq!(Query::parse("q", "1234").unwrap(), Query::Text { text: "1234".into(), digits: None });
        assert_eq!(Query::parse("q", "王").unwrap_err().code, "too_short");
        assert_eq!(Query::parse("q", &"x".repeat(101)).unwrap_err().code, "too_long");
    }

    #[test]
    fn a_match_shows_the_phones_last_four_digits_only() {
        let c = |phone: &str| Candidate {
            tracking_number: String::new(),
            complainant_name: String::new(),
            company: String::new(),
            phone: phone.into(),
            received_at: NaiveDateTime::default(),
            status: Status::Received,
        };
        assert_eq!(c("+49 30 1234567").phone_hint(), "…4567");
        assert_eq!(c("").phone_hint(), "");
    }
}
