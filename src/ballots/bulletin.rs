//! The public bulletin of a published round, and its independent verification: anyone can
//! recount the tally from the listed ballots without the database. Pure.

use serde::{Deserialize, Serialize};

use super::model::{Points, Question};
use super::tally::{tally, BallotRow, DepartmentTally};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulletin {
    pub round_id: String,
    pub title: String,
    pub year: i32,
    pub min_group_size: u32,
    pub questions: Vec<Question>,
    pub points: Points,
    pub departments: Vec<String>,
    pub codes_issued: u32,
    pub codes_used: u32,
    /// Every voter's receipt, sorted: find yours to see your ballot was counted.
    pub receipts: Vec<String>,
    /// Every ballot row of the departments with a result, sorted by its random id.
    pub ballots: Vec<BallotRow>,
    pub tally: Vec<DepartmentTally>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the tally of department {0} does not match its listed ballots")]
    TallyMismatch(String),
    #[error("ballots of department {0} are listed although it has no published result")]
    SuppressedListed(String),
    #[error("{receipts} receipts for {used} codes used")]
    ReceiptCount { receipts: usize, used: u32 },
    #[error("ballot {0} names a department outside the round")]
    UnknownDepartment(String),
    #[error("the ballots are not sorted by id, or an id appears twice")]
    Order,
}

/// Recounts the tally from the listed ballots and checks it against the published one.
/// Returns the number of ballot rows counted.
pub fn verify(b: &Bulletin) -> Result<usize, VerifyError> {
    if b.ballots.windows(2).any(|w| w[0].id >= w[1].id) {
        return Err(VerifyError::Order);
    }
    if b.receipts.len() != b.codes_used as usize {
        return Err(VerifyError::ReceiptCount { receipts: b.receipts.len(), used: b.codes_used });
    }
    for row in &b.ballots {
        if !b.departments.contains(&row.department_id) {
            return Err(VerifyError::UnknownDepartment(row.id.clone()));
        }
    }
    for published in &b.tally {
        if published.suppressed && b.ballots.iter().any(|r| r.department_id == published.department_id) {
            return Err(VerifyError::SuppressedListed(published.department_id.clone()));
        }
    }
    let recounted = tally(&b.departments, &b.questions, &b.points, b.min_group_size, &b.ballots);
    for (mine, theirs) in recounted.iter().zip(&b.tally) {
        // A suppressed department's rows are not listed; its recount is "suppressed" too.
        if mine != theirs {
            return Err(VerifyError::TallyMismatch(theirs.department_id.clone()));
        }
    }
    if recounted.len() != b.tally.len() {
        return Err(VerifyError::TallyMismatch("(department list)".into()));
    }
    Ok(b.ballots.len())
}
