//! What can go wrong in scoring, finalising and reviewing an assessment, mapped to [`ApiError`]
//! once at the bottom of this file.

use serde_json::Map;

use crate::error::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    #[error("the {year} assessment is not finalised yet")]
    NotPublished { year: i32 },
    #[error("{year} was finalised already; finalising again needs a reason")]
    AlreadyFinalised { year: i32 },
    #[error("a review may be requested within {working_days} working days of publication")]
    ReviewWindowClosed { working_days: u32 },
    #[error("a review request of this department is already pending")]
    ReviewPending,
    #[error("this review has been decided")]
    ReviewDecided,
    #[error("no such review")]
    NoSuchReview,
    #[error("the department is not scored")]
    DepartmentNotScored,
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The published ballot results the score reads could not be had.
    #[error(transparent)]
    Ballots(#[from] crate::ballots::error::BallotError),
    #[error(transparent)]
    Storage(#[from] diesel::result::Error),
    /// An unreadable snapshot or a broken printable template: logged in full.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AssessmentResult<T> = Result<T, AssessmentError>;

crate::error::capability_error!(AssessmentError);

impl From<AssessmentError> for ApiError {
    fn from(e: AssessmentError) -> Self {
        use AssessmentError::*;
        let detail = e.to_string();
        let conflict = |kind, title, detail| ApiError::Conflict { kind, title, detail, extensions: Map::new() };
        match e {
            NotPublished { .. } => conflict("not-published", "Not published", detail),
            AlreadyFinalised { .. } => conflict("already-finalized", "Already finalised", detail),
            ReviewWindowClosed { .. } => conflict("review-window-closed", "The review window has closed", detail),
            ReviewPending | ReviewDecided => ApiError::conflict(detail),
            NoSuchReview | DepartmentNotScored => ApiError::NotFound(detail),
            Invalid(fields) => ApiError::Invalid(fields),
            Ballots(e) => ApiError::from(e),
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
        match ApiError::from(AssessmentError::NotPublished { year: 2026 }) {
            ApiError::Conflict { kind, detail, .. } => {
                assert_eq!(kind, "not-published");
                assert_eq!(detail, "the 2026 assessment is not finalised yet");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ApiError::from(AssessmentError::NoSuchReview).status_code().as_u16(), 404);
        assert_eq!(ApiError::from(AssessmentError::ReviewPending).status_code().as_u16(), 409);
        assert_eq!(ApiError::from(AssessmentError::invalid("year", "out_of_range", "x")).status_code().as_u16(), 422);
    }
}
