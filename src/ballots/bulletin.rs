//! The public bulletin of a published round, and its independent verification: anyone can
//! recount the tally from the listed ballots without the database. Pure.

use serde::{Deserialize, Serialize};

use super::model::{Points, Question};
use super::tally::{tally_counts, AnswerCount, BallotTotal, DepartmentTally};

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
    /// For each department with a result (and each voter category, where its breakdown is
    /// shown): how many ballots, and how many of them valid. Sorted.
    pub totals: Vec<BallotTotal>,
    /// One row per (department, category where shown, question, answer) with its count —
    /// never whole ballots, so no pattern of answers across questions can be looked for. Sorted.
    pub counts: Vec<AnswerCount>,
    pub tally: Vec<DepartmentTally>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the tally of department {0} does not match its listed ballots")]
    TallyMismatch(String),
    #[error("counts of department {0} are listed although it has no published result")]
    SuppressedListed(String),
    #[error("{receipts} receipts for {used} codes used")]
    ReceiptCount { receipts: usize, used: u32 },
    #[error("a count names department {0}, outside the round")]
    UnknownDepartment(String),
    #[error("the totals or counts are not sorted, or one appears twice")]
    Order,
    #[error("department {0}: a question has more answers than ballots, or more valid ballots than ballots")]
    Inconsistent(String),
}

/// Recounts the tally from the listed totals and counts and checks it against the published
/// one, and checks that the counts fit the totals (each question answered at most once per
/// ballot, at most as many valid answers as valid ballots). Returns the number of counts.
pub fn verify(b: &Bulletin) -> Result<usize, VerifyError> {
    if b.totals.windows(2).any(|w| (&w[0].department_id, w[0].category) >= (&w[1].department_id, w[1].category))
        || b.counts.windows(2).any(|w| {
            (&w[0].department_id, w[0].category, &w[0].question, w[0].answer)
                >= (&w[1].department_id, w[1].category, &w[1].question, w[1].answer)
        })
    {
        return Err(VerifyError::Order);
    }
    if b.receipts.len() != b.codes_used as usize {
        return Err(VerifyError::ReceiptCount { receipts: b.receipts.len(), used: b.codes_used });
    }
    for d in b.totals.iter().map(|t| &t.department_id).chain(b.counts.iter().map(|c| &c.department_id)) {
        if !b.departments.contains(d) {
            return Err(VerifyError::UnknownDepartment(d.clone()));
        }
    }
    for published in &b.tally {
        let d = &published.department_id;
        if published.suppressed
            && (b.totals.iter().any(|t| &t.department_id == d) || b.counts.iter().any(|c| &c.department_id == d))
        {
            return Err(VerifyError::SuppressedListed(d.clone()));
        }
    }
    for t in &b.totals {
        let cell = |c: &&AnswerCount| c.department_id == t.department_id && c.category == t.category;
        for q in &b.questions {
            let of_q: Vec<&AnswerCount> = b.counts.iter().filter(cell).filter(|c| c.question == q.key).collect();
            let answered: u32 = of_q.iter().map(|c| c.count).sum();
            let valid: u32 =
                of_q.iter().filter(|c| c.answer != super::model::Answer::NotEnoughContact).map(|c| c.count).sum();
            if t.valid_ballots > t.ballots || answered > t.ballots || valid > t.valid_ballots {
                return Err(VerifyError::Inconsistent(t.department_id.clone()));
            }
        }
    }
    let recounted = tally_counts(&b.departments, &b.questions, &b.points, b.min_group_size, &b.totals, &b.counts);
    for (mine, theirs) in recounted.iter().zip(&b.tally) {
        // A suppressed department lists nothing; its recount is "suppressed" too.
        if mine != theirs {
            return Err(VerifyError::TallyMismatch(theirs.department_id.clone()));
        }
    }
    if recounted.len() != b.tally.len() {
        return Err(VerifyError::TallyMismatch("(department list)".into()));
    }
    Ok(b.counts.len())
}
