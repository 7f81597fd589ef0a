//! What can go wrong in a complaint operation, in the complaint's own words. The HTTP front ends
//! see these only as [`ApiError`], through the one mapping at the bottom of this file: a status,
//! a problem type and a detail per case.

use serde_json::{json, Map};

use super::state::{Status, TransitionError};
use crate::error::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    #[error("no such complaint")]
    NotFound,
    /// A department member asked for a complaint another department holds (or none does): told
    /// apart from [`ComplaintError::NotFound`] only in the log, never to the client.
    #[error("no such complaint in your department's inbox")]
    OutsideDepartment,
    /// A tracking number and access code that open nothing: unknown numbers and wrong codes alike.
    #[error("no complaint matches this tracking number and access code")]
    NoMatchForCode,
    #[error("no complaint with this tracking number")]
    UnknownTrackingNumber,
    #[error("no such extension request")]
    NoSuchExtensionRequest,
    #[error("{error}")]
    Transition { error: TransitionError, current: Status },
    #[error("files cannot be added while the complaint is {}", current.as_str())]
    NotAttachable { current: Status },
    #[error("a complaint carries at most {max} files")]
    TooManyAttachments { max: u32 },
    #[error("Idempotency-Key must be 8–200 visible ASCII characters (a UUID is ideal)")]
    MalformedIdempotencyKey,
    #[error("this Idempotency-Key was used for a different complaint; use a new key for a new complaint")]
    IdempotencyKeyReused,
    #[error("this extension request has already been decided")]
    ExtensionAlreadyDecided,
    #[error("this extension request was made for a clock that has stopped")]
    ExtensionForStoppedClock,
    #[error("an extension request is already waiting for a decision")]
    ExtensionPending,
    #[error("an extension must be requested before the due time")]
    ExtensionAfterDeadline,
    #[error("a reply may be contested within {working_days} working days")]
    ContestWindowClosed { working_days: u32 },
    /// Input the operation refuses, by field (unknown department, days out of range, …).
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] diesel::result::Error),
    /// A broken invariant or an unreadable template: a bug or a bad deployment, logged in full.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ComplaintResult<T> = Result<T, ComplaintError>;

impl ComplaintError {
    /// True for the refusals a batch job skips over (another writer got there first).
    pub fn is_state_conflict(&self) -> bool {
        matches!(self, ComplaintError::Transition { error: TransitionError::NotInThisState { .. }, .. })
    }
}

crate::error::capability_error!(ComplaintError);

impl From<crate::mail::templates::TemplateError> for ComplaintError {
    fn from(e: crate::mail::templates::TemplateError) -> Self {
        ComplaintError::internal("email template", e)
    }
}

fn conflict(
    kind: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, serde_json::Value>,
) -> ApiError {
    ApiError::Conflict { kind, title, detail, extensions }
}

fn current_status(current: Status) -> Map<String, serde_json::Value> {
    let mut ext = Map::new();
    ext.insert("current_status".into(), json!(current.as_str()));
    ext
}

impl From<ComplaintError> for ApiError {
    fn from(e: ComplaintError) -> Self {
        use ComplaintError::*;
        let detail = e.to_string();
        match e {
            NotFound | OutsideDepartment | NoMatchForCode | UnknownTrackingNumber | NoSuchExtensionRequest => {
                ApiError::NotFound(detail)
            }
            Transition { error: TransitionError::NotThisActor { .. }, .. } => ApiError::Forbidden(detail),
            Transition { error: TransitionError::NotInThisState { .. }, current } | NotAttachable { current } => {
                conflict("illegal-transition", "Not possible in the current state", detail, current_status(current))
            }
            TooManyAttachments { .. } => conflict("too-many-attachments", "Too many attachments", detail, Map::new()),
            MalformedIdempotencyKey => ApiError::BadRequest(detail),
            IdempotencyKeyReused => conflict("idempotency-key-reused", "Idempotency-Key reused", detail, Map::new()),
            ExtensionAlreadyDecided | ExtensionForStoppedClock | ExtensionPending => ApiError::conflict(detail),
            ExtensionAfterDeadline => conflict("clock-breached", "The deadline has passed", detail, Map::new()),
            ContestWindowClosed { .. } => {
                conflict("contest-window-closed", "The contest window has closed", detail, Map::new())
            }
            Invalid(fields) => ApiError::Invalid(fields),
            Storage(e) => ApiError::from(e),
            Internal(e) => ApiError::Internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    #[test]
    fn each_case_keeps_its_status_and_problem_type() {
        let not_in_state = TransitionError::NotInThisState { action: "reply", current: "closed" };
        let cases: Vec<(ComplaintError, u16)> = vec![
            (ComplaintError::NotFound, 404),
            (ComplaintError::OutsideDepartment, 404),
            (ComplaintError::NoMatchForCode, 404),
            (ComplaintError::Transition { error: not_in_state, current: Status::Closed }, 409),
            (
                ComplaintError::Transition {
                    error: TransitionError::NotThisActor {
                        action: "reply",
                        actor: crate::complaints::state::Actor::Investor,
                    },
                    current: Status::Assigned,
                },
                403,
            ),
            (ComplaintError::MalformedIdempotencyKey, 400),
            (ComplaintError::ExtensionAfterDeadline, 409),
            (ComplaintError::invalid("days", "out_of_range", "between 1 and 5"), 422),
            (ComplaintError::Storage(diesel::result::Error::NotFound), 404),
            (ComplaintError::internal("test", "broken"), 500),
        ];
        for (error, status) in cases {
            let shown = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.status_code().as_u16(), status, "{shown}");
        }
        let api = ApiError::from(ComplaintError::NotAttachable { current: Status::Closed });
        match api {
            ApiError::Conflict { kind, extensions, .. } => {
                assert_eq!(kind, "illegal-transition");
                assert_eq!(extensions["current_status"], "closed");
            }
            other => panic!("{other:?}"),
        }
    }
}
