//! Possible duplicates: complaints from the same complainant (the same email address, or the same
//! company) about a similar subject, received within 30 days either side. The coordination office
//! sees them on the complaint page, so that one matter is handled once; whether one *is* a
//! duplicate is the office's decision (`service::mark_duplicate`), never made here.
//!
//! "Similar" compares the subjects' pairs of adjacent letters (Sørensen–Dice over character
//! bigrams, punctuation and case ignored): it needs no word splitting, so it works for Chinese
//! as for English, and it tolerates a reworded or shortened subject.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::model::Language;
use super::state::Status;
use super::store::ComplaintRow;
use crate::db::functions::lower;
use crate::db::schema::complaints;
use crate::db::DbConnection;
use crate::ids::ComplaintId;

/// How far apart in time two filings may be and still be called duplicates.
pub const WINDOW_DAYS: i64 = 30;
/// How many possible duplicates a complaint page lists (the most similar first).
pub const MAX_SHOWN: usize = 10;
/// How many same-complainant filings in the window are compared at most.
const CANDIDATES: i64 = 200;
/// How alike two subjects must be, from 0 (nothing shared) to 1 (the same letters).
const SIMILAR: f64 = 0.5;

#[derive(Queryable, Selectable)]
#[diesel(table_name = complaints)]
struct Candidate {
    id: ComplaintId,
    tracking_number: String,
    subject: String,
    email: String,
    company: String,
    status: Status,
    received_at: NaiveDateTime,
}

/// A complaint that may repeat the one being read.
#[derive(Serialize, utoipa::ToSchema, Debug, Clone)]
pub struct PossibleDuplicate {
    pub id: String,
    pub tracking_number: String,
    pub subject: String,
    pub status: Status,
    pub received_at: DateTime<FixedOffset>,
    /// Filed from the same email address.
    pub same_email: bool,
    /// Filed for the same company.
    pub same_company: bool,
    /// How alike the subjects are, in percent (50 and more are listed).
    pub similarity_percent: u8,
}

/// The possible duplicates of `row`, the most similar first.
pub fn possible(conn: &mut DbConnection, row: &ComplaintRow) -> QueryResult<Vec<PossibleDuplicate>> {
    let email = row.email.trim().to_lowercase();
    let company = row.company.trim().to_lowercase();
    let window = Duration::days(WINDOW_DAYS);
    let mut q = complaints::table
        .select(Candidate::as_select())
        .filter(complaints::id.ne(row.id.clone()))
        .filter(complaints::received_at.between(row.received_at - window, row.received_at + window))
        .into_boxed();
    let by_email = lower(complaints::email).eq(email.clone());
    let by_company = lower(complaints::company).eq(company.clone());
    q = match (email.is_empty(), company.is_empty()) {
        (false, false) => q.filter(by_email.or(by_company)),
        (false, true) => q.filter(by_email),
        (true, false) => q.filter(by_company),
        (true, true) => return Ok(Vec::new()),
    };
    let subject = bigrams(&row.subject);
    let mut found: Vec<PossibleDuplicate> = q
        .order(complaints::received_at.desc())
        .limit(CANDIDATES)
        .load(conn)?
        .into_iter()
        .filter_map(|c| {
            let similarity = dice(&subject, &bigrams(&c.subject));
            (similarity >= SIMILAR).then(|| PossibleDuplicate {
                id: c.id.to_string(),
                same_email: !email.is_empty() && c.email.trim().to_lowercase() == email,
                same_company: !company.is_empty() && c.company.trim().to_lowercase() == company,
                tracking_number: c.tracking_number,
                subject: c.subject,
                status: c.status,
                received_at: super::views::local(c.received_at),
                similarity_percent: (similarity * 100.0).round() as u8,
            })
        })
        .collect();
    found.sort_by(|a, b| b.similarity_percent.cmp(&a.similarity_percent).then(a.received_at.cmp(&b.received_at)));
    found.truncate(MAX_SHOWN);
    Ok(found)
}

/// The pairs of adjacent letters or digits of a text, lower-cased, everything else dropped; a
/// text of one letter is that letter.
fn bigrams(text: &str) -> BTreeSet<(char, char)> {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    match letters.as_slice() {
        [] => BTreeSet::new(),
        [only] => BTreeSet::from([(*only, *only)]),
        _ => letters.windows(2).map(|w| (w[0], w[1])).collect(),
    }
}

fn dice(a: &BTreeSet<(char, char)>, b: &BTreeSet<(char, char)>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

/// What the investor of a complaint marked as a duplicate reads as the office's answer.
pub fn investor_notice(language: Language, original: &str) -> String {
    match language {
        Language::Zh => format!(
            "经核查，本投诉与此前提交的投诉 {original} 反映的是同一事项，该事项将在投诉 {original} 中办理，本投诉不再另行办理。如您认为两者并非同一事项，可以对本决定提出异议。"
        ),
        Language::ZhHant => format!(
            "經核查，本投訴與此前提交的投訴 {original} 反映的是同一事項，該事項將在投訴 {original} 中辦理，本投訴不再另行辦理。如您認為兩者並非同一事項，可以對本決定提出異議。"
        ),
        Language::En => format!(
            "This complaint raises the same matter as complaint {original}, filed earlier. The matter is handled under complaint {original}, so this one is not handled separately. If you think the two differ, you may contest this decision."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn similarity(a: &str, b: &str) -> f64 {
        dice(&bigrams(a), &bigrams(b))
    }

    #[test]
    fn reworded_subjects_are_similar_and_different_matters_are_not() {
        assert_eq!(similarity("Permit delayed", "permit   DELAYED!"), 1.0);
        assert!(
            similarity("Construction permit not decided in time", "Construction permit still not decided") >= SIMILAR
        );
        assert!(similarity("施工许可证逾期未办理", "施工许可证至今未办理") >= SIMILAR);
        assert!(similarity("Construction permit not decided in time", "Tax refund for 2025 withheld") < SIMILAR);
        assert!(similarity("施工许可证逾期未办理", "出口退税迟迟未到账") < SIMILAR);
        assert_eq!(similarity("", "anything"), 0.0);
        assert_eq!(similarity("税", "税"), 1.0);
    }

    #[test]
    fn the_investor_is_told_which_complaint_carries_the_matter_in_their_language() {
        for language in Language::ALL {
            let text = investor_notice(language, "CZ-2026-000041");
            assert_eq!(text.matches("CZ-2026-000041").count(), 2, "{text}");
        }
        assert!(investor_notice(Language::En, "CZ-2026-000041").contains("contest"));
        assert!(investor_notice(Language::ZhHant, "CZ-2026-000041").contains("異議"));
    }
}
