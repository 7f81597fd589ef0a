//! The conversation on a complaint as the investor reads it: the department's questions, the
//! investor's answers, replies and refusals, contests, ratings and files, in the order they
//! happened. Built from the trail (which says what happened when) and the rows that hold the
//! texts (a question's answer is on its pause; the latest reply is on the complaint row).

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::attachments::AttachmentView;
use super::events::EventRow;
use super::related_cache::Related;
use super::store::ComplaintRow;
use crate::db::from_db_time;

/// Who said it.
#[derive(Serialize, utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Investor,
    /// The coordination office or the department handling the complaint.
    Office,
}

#[derive(Serialize, utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Question,
    Answer,
    Reply,
    Refusal,
    Contest,
    Rating,
    File,
}

/// One message or file in the conversation.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ThreadEntry {
    pub at: DateTime<FixedOffset>,
    pub from: Side,
    pub kind: EntryKind,
    /// What was written (absent for a file, and for a reply older than the current one made
    /// before replies kept their text in the trail).
    pub text: Option<String>,
    /// A reply's outcome or a rating.
    pub outcome: Option<String>,
    pub file: Option<AttachmentView>,
}

/// The conversation of `row`, oldest first.
pub fn conversation(row: &ComplaintRow, related: &Related) -> Vec<ThreadEntry> {
    let visible: Vec<&EventRow> = related.events.iter().filter(|e| e.investor_visible).collect();
    let last_reply = visible.iter().rposition(|e| e.action == "reply" || e.action == "reject");
    let last_rating = visible.iter().rposition(|e| e.action == "rate");
    let mut entries = Vec::new();
    for (i, e) in visible.iter().enumerate() {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
        let text_of = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let side = if e.actor_kind == "investor" { Side::Investor } else { Side::Office };
        let entry = |kind, from, text, outcome| ThreadEntry {
            at: from_db_time(e.at).with_timezone(&crate::calendar::shanghai()),
            from,
            kind,
            text,
            outcome,
            file: None,
        };
        let found = match e.action.as_str() {
            "request_info" => Some(entry(EntryKind::Question, Side::Office, text_of("question"), None)),
            "answer_info" => {
                let text = text_of("answer").or_else(|| answer_given_at(related, e));
                Some(entry(EntryKind::Answer, Side::Investor, text, None))
            }
            "reply" => {
                let text =
                    text_of("text").or_else(|| (Some(i) == last_reply).then(|| row.reply_text.clone()).flatten());
                Some(entry(EntryKind::Reply, Side::Office, text, text_of("outcome")))
            }
            "reject" => Some(entry(EntryKind::Refusal, Side::Office, text_of("reason"), None)),
            "contest" => Some(entry(EntryKind::Contest, Side::Investor, text_of("reason"), None)),
            "rate" => {
                let comment = (Some(i) == last_rating).then(|| row.rating_comment.clone()).flatten();
                Some(entry(EntryKind::Rating, Side::Investor, comment, text_of("rating")))
            }
            "attach" => {
                let id = text_of("attachment_id");
                related
                    .attachments
                    .iter()
                    .find(|a| Some(&a.id) == id.as_ref())
                    .map(|a| ThreadEntry { file: Some(a.into()), ..entry(EntryKind::File, side, None, None) })
            }
            _ => None,
        };
        entries.extend(found);
    }
    entries
}

/// An answer recorded before answers were kept in the trail: it closed the question's pause at
/// the moment it was recorded (every running clock has its own pause with the same answer; the
/// clocks of an earlier round, before a contest, are no longer in view).
fn answer_given_at(related: &Related, e: &EventRow) -> Option<String> {
    related
        .pauses
        .iter()
        .chain(related.other_clocks.iter().flat_map(|(_, pauses)| pauses))
        .find(|p| p.resumed_at == Some(e.at))
        .and_then(|p| p.answer.clone())
}
