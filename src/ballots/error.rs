//! What can go wrong in a ballot round, in the round's own words. The HTTP front ends see these
//! only as [`ApiError`], through the one mapping at the bottom of this file.
//!
//! No variant carries a ballot code, a voter's address or a key share: the detail of each is
//! shown to clients and written to logs as it is.

use serde_json::{json, Map};

use super::model::RoundStatus;
use crate::error::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum BallotError {
    #[error("no such ballot round")]
    NoSuchRound,
    /// A draft round is not shown outside the commission.
    #[error("no such ballot round")]
    NotYetOpened,
    #[error("results are public once the round is published")]
    ResultsNotPublished,
    #[error("the bulletin appears when the round is published")]
    BulletinNotPublished,
    #[error("a {} round cannot become {}", from.as_str(), to.as_str())]
    IllegalTransition { from: RoundStatus, to: RoundStatus },
    #[error("the trustees have not yet opened this round's ballots with their key shares")]
    StillSealed,
    #[error("this round's ballots are not sealed")]
    NotSealed,
    #[error("this round's ballots have been opened already")]
    AlreadyOpened,
    /// Opening with key shares waits for the close.
    #[error("the ballots are opened once the round has closed")]
    OpenBeforeClose,
    #[error("results exist once the round has closed")]
    NoResultsYet,
    #[error("this round is not open for voting now")]
    NotOpen,
    #[error("voters can be added only before the round closes")]
    RollClosed,
    #[error("codes can be issued only before the round closes")]
    IssueAfterClose,
    #[error("codes can be replaced only before the round closes")]
    ReplaceAfterClose,
    #[error("the round has closed; no more codes are made")]
    NoMoreCodes,
    #[error(
        "this round was created before revocation keys existed: a lost code cannot be found; only a code in hand can be replaced"
    )]
    NoRevocationKey,
    #[error(
        "{by_email} voter(s) still to be issued a code have an email address, but no SMTP relay is configured (mail.smtp_url): \
         their codes would never arrive. Nothing was issued. Configure SMTP, or give them paper letters (contact \"paper\")."
    )]
    MailNotDeliverable { by_email: usize },
    #[error("this voter holds no unspent code: they have voted already, or their emailed code has not been sent yet")]
    NoUnspentCode,
    /// The one answer to a code that is unknown, spent or from another round.
    #[error("this code cannot vote in this round: it is unknown here or has been used")]
    CodeRefused,
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] diesel::result::Error),
    /// A damaged sealed ballot, an unreadable stored row, a broken template: logged in full.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type BallotResult<T> = Result<T, BallotError>;

crate::error::capability_error!(BallotError);

impl From<crate::mail::templates::TemplateError> for BallotError {
    fn from(e: crate::mail::templates::TemplateError) -> Self {
        BallotError::internal("email template", e)
    }
}

fn conflict(kind: &'static str, title: &'static str, detail: String) -> ApiError {
    ApiError::Conflict { kind, title, detail, extensions: Map::new() }
}

impl From<BallotError> for ApiError {
    fn from(e: BallotError) -> Self {
        use BallotError::*;
        let detail = e.to_string();
        match e {
            NoSuchRound | NotYetOpened | ResultsNotPublished | BulletinNotPublished => ApiError::NotFound(detail),
            IllegalTransition { from, .. } => {
                let mut extensions = Map::new();
                extensions.insert("current_status".into(), json!(from.as_str()));
                ApiError::Conflict {
                    kind: "illegal-transition",
                    title: "Not possible in the current state",
                    detail,
                    extensions,
                }
            }
            StillSealed => conflict("round-sealed", "The ballots are still sealed", detail),
            OpenBeforeClose => conflict("round-not-closed", "Voting is not over", detail),
            NoResultsYet => conflict("round-not-closed", "No results yet", detail),
            NotOpen => conflict("round-not-open", "Voting is not open", detail),
            MailNotDeliverable { by_email } => {
                let mut extensions = Map::new();
                extensions.insert("email_voters".into(), json!(by_email));
                ApiError::Conflict {
                    kind: "mail-not-deliverable",
                    title: "Email cannot be delivered",
                    detail,
                    extensions,
                }
            }
            NoUnspentCode => conflict("no-unspent-code", "No unspent code to replace", detail),
            CodeRefused => conflict("ballot-code-refused", "Code not accepted", detail),
            NotSealed | AlreadyOpened | RollClosed | IssueAfterClose | ReplaceAfterClose | NoMoreCodes
            | NoRevocationKey => ApiError::conflict(detail),
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
        let kind_of = |e: BallotError| match ApiError::from(e) {
            ApiError::Conflict { kind, .. } => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind_of(BallotError::CodeRefused), "ballot-code-refused");
        assert_eq!(kind_of(BallotError::NotOpen), "round-not-open");
        assert_eq!(kind_of(BallotError::StillSealed), "round-sealed");
        assert_eq!(kind_of(BallotError::NoResultsYet), "round-not-closed");
        assert_eq!(
            kind_of(BallotError::IllegalTransition { from: RoundStatus::Closed, to: RoundStatus::Open }),
            "illegal-transition"
        );
        assert_eq!(ApiError::from(BallotError::NoSuchRound).status_code().as_u16(), 404);
        assert_eq!(ApiError::from(BallotError::invalid("code", "invalid_code", "x")).status_code().as_u16(), 422);
        assert_eq!(ApiError::from(BallotError::internal("test", "broken")).status_code().as_u16(), 500);
    }
}
