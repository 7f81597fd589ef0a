//! Counting: per department and question, with small groups suppressed. Pure — the bulletin
//! verifier runs the very same function on published data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Answer, Answers, Category, Points, Question};

/// One department's part of one ballot, as stored and as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BallotRow {
    pub id: String,
    pub department_id: String,
    /// Withheld on the bulletin where some category of the department is smaller than k —
    /// otherwise the rows would show how that small group voted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[schema(value_type = Object)]
    pub answers: Answers,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerCounts {
    pub satisfied: u32,
    pub basically_satisfied: u32,
    pub dissatisfied: u32,
    pub not_enough_contact: u32,
}

impl AnswerCounts {
    fn add_n(&mut self, a: Answer, n: u32) {
        match a {
            Answer::Satisfied => self.satisfied += n,
            Answer::BasicallySatisfied => self.basically_satisfied += n,
            Answer::Dissatisfied => self.dissatisfied += n,
            Answer::NotEnoughContact => self.not_enough_contact += n,
        }
    }

    /// Answers that count: all but "not enough contact".
    pub fn valid(&self) -> u32 {
        self.satisfied + self.basically_satisfied + self.dissatisfied
    }

    fn merge(&mut self, o: &AnswerCounts) {
        self.satisfied += o.satisfied;
        self.basically_satisfied += o.basically_satisfied;
        self.dissatisfied += o.dissatisfied;
        self.not_enough_contact += o.not_enough_contact;
    }

    /// (satisfied + basically satisfied) / valid, in percent, 2 decimals.
    pub fn satisfaction_rate(&self) -> Option<f64> {
        (self.valid() > 0)
            .then(|| round2(100.0 * f64::from(self.satisfied + self.basically_satisfied) / f64::from(self.valid())))
    }

    /// Mean points of the valid answers, 2 decimals.
    pub fn conduct_index(&self, p: &Points) -> Option<f64> {
        let total = f64::from(self.satisfied) * p.satisfied
            + f64::from(self.basically_satisfied) * p.basically_satisfied
            + f64::from(self.dissatisfied) * p.dissatisfied;
        (self.valid() > 0).then(|| round2(total / f64::from(self.valid())))
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One question of a department. Its rate and index are absent when fewer than k of its
/// answers are valid: a figure of one or two voters is theirs, not the group's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionTally {
    pub key: String,
    pub counts: AnswerCounts,
    pub valid: u32,
    pub satisfaction_rate: Option<f64>,
    pub conduct_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryTally {
    pub category: Category,
    /// Ballots of the category with at least one valid answer.
    pub ballots: u32,
    pub satisfaction_rate: Option<f64>,
    pub conduct_index: Option<f64>,
}

/// A department's result. When `suppressed`, every figure is absent: fewer than k voters gave
/// it a valid answer ("not enough contact" is not one), and no output may reveal how they voted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentTally {
    pub department_id: String,
    pub suppressed: bool,
    /// "not enough valid votes / 有效票数不足" when suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Ballots (one voter's part for this department), valid or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ballots: Option<u32>,
    /// Ballots with at least one valid answer: the count compared with k, and the weight of
    /// the department's conduct index in the yearly assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_ballots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<QuestionTally>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conduct_index: Option<f64>,
    /// Shown only when every category that voted has at least k valid ballots (otherwise the
    /// difference between two figures would reveal a small group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_category: Option<Vec<CategoryTally>>,
}

pub const NOT_ENOUGH: &str = "not enough valid votes / 有效票数不足";

/// Whether a ballot part counts as a valid vote: at least one answer other than "not enough
/// contact".
pub fn is_valid(answers: &Answers) -> bool {
    answers.values().any(|a| *a != Answer::NotEnoughContact)
}

/// Ballots with identical contents, counted once: (department, category, answers) → count.
pub type Groups = Vec<(String, Option<Category>, Answers, u32)>;

/// A department, the voter's category where kept, and the answers given: one ballot's pattern.
type BallotPattern = (String, Option<Category>, Vec<(String, Answer)>);

/// Groups ballot rows by their contents (the verifier's path; the server groups in SQL).
pub fn group(ballots: &[BallotRow]) -> Groups {
    let mut m: BTreeMap<BallotPattern, u32> = BTreeMap::new();
    for b in ballots {
        let key = (b.department_id.clone(), b.category, b.answers.iter().map(|(k, v)| (k.clone(), *v)).collect());
        *m.entry(key).or_insert(0) += 1;
    }
    m.into_iter().map(|((d, c, a), n)| (d, c, a.into_iter().collect(), n)).collect()
}

/// Tallies `ballots` for each of `departments`, suppressing those with fewer than `k` valid
/// ballots.
pub fn tally(
    departments: &[String],
    questions: &[Question],
    points: &Points,
    k: u32,
    ballots: &[BallotRow],
) -> Vec<DepartmentTally> {
    tally_groups(departments, questions, points, k, &group(ballots))
}

/// One published count: how many ballots of a department (and, where the breakdown is shown,
/// of a voter category) gave `answer` to `question`. Counts are per question, so a pattern of
/// answers across questions — which a coercer could dictate and then look for — is never
/// published.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerCount {
    pub department_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    pub question: String,
    pub answer: Answer,
    pub count: u32,
}

/// How many ballots a department (and category) has, and how many of them are valid (at least
/// one answer other than "not enough contact") — the figure compared with k.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BallotTotal {
    pub department_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    pub ballots: u32,
    pub valid_ballots: u32,
}

/// Ballots reduced to what is counted: totals per (department, category) and answer counts per
/// (department, category, question, answer), both sorted.
pub fn count_groups(questions: &[Question], groups: &Groups) -> (Vec<BallotTotal>, Vec<AnswerCount>) {
    let mut totals: BTreeMap<(String, Option<Category>), (u32, u32)> = BTreeMap::new();
    let mut counts: BTreeMap<(String, Option<Category>, String, Answer), u32> = BTreeMap::new();
    for (dept, category, answers, n) in groups {
        let t = totals.entry((dept.clone(), *category)).or_insert((0, 0));
        t.0 += n;
        if is_valid(answers) {
            t.1 += n;
        }
        for q in questions {
            if let Some(a) = answers.get(&q.key) {
                *counts.entry((dept.clone(), *category, q.key.clone(), *a)).or_insert(0) += n;
            }
        }
    }
    (
        totals
            .into_iter()
            .map(|((department_id, category), (ballots, valid_ballots))| BallotTotal {
                department_id,
                category,
                ballots,
                valid_ballots,
            })
            .collect(),
        counts
            .into_iter()
            .map(|((department_id, category, question, answer), count)| AnswerCount {
                department_id,
                category,
                question,
                answer,
                count,
            })
            .collect(),
    )
}

/// The same from grouped ballots: the cost follows the number of distinct ballots, not rows.
pub fn tally_groups(
    departments: &[String],
    questions: &[Question],
    points: &Points,
    k: u32,
    groups: &Groups,
) -> Vec<DepartmentTally> {
    let (totals, counts) = count_groups(questions, groups);
    tally_counts(departments, questions, points, k, &totals, &counts)
}

/// Tallies from totals and per-question counts — what the server computes and what anyone
/// recomputes from a published bulletin.
pub fn tally_counts(
    departments: &[String],
    questions: &[Question],
    points: &Points,
    k: u32,
    totals: &[BallotTotal],
    counts: &[AnswerCount],
) -> Vec<DepartmentTally> {
    departments
        .iter()
        .map(|dept| {
            let mine: Vec<&BallotTotal> = totals.iter().filter(|t| &t.department_id == dept).collect();
            let n: u32 = mine.iter().map(|t| t.ballots).sum();
            let n_valid: u32 = mine.iter().map(|t| t.valid_ballots).sum();
            if n_valid < k {
                return DepartmentTally {
                    department_id: dept.clone(),
                    suppressed: true,
                    note: Some(NOT_ENOUGH.into()),
                    ballots: None,
                    valid_ballots: None,
                    questions: None,
                    satisfaction_rate: None,
                    conduct_index: None,
                    by_category: None,
                };
            }
            let counts_of = |category: Option<Option<Category>>| -> (Vec<AnswerCounts>, AnswerCounts) {
                let mut per_q = vec![AnswerCounts::default(); questions.len()];
                for c in
                    counts.iter().filter(|c| &c.department_id == dept && category.is_none_or(|cat| c.category == cat))
                {
                    if let Some(i) = questions.iter().position(|q| q.key == c.question) {
                        per_q[i].add_n(c.answer, c.count);
                    }
                }
                let mut all = AnswerCounts::default();
                per_q.iter().for_each(|c| all.merge(c));
                (per_q, all)
            };
            let (per_q, all) = counts_of(None);
            let categories_known = mine.iter().filter(|t| t.ballots > 0).all(|t| t.category.is_some());
            let by_category = (categories_known && mine.iter().all(|t| t.valid_ballots >= k)).then(|| {
                mine.iter()
                    .map(|t| {
                        let (_, all) = counts_of(Some(t.category));
                        CategoryTally {
                            category: t.category.expect("known"),
                            ballots: t.valid_ballots,
                            satisfaction_rate: all.satisfaction_rate(),
                            conduct_index: all.conduct_index(points),
                        }
                    })
                    .collect()
            });
            DepartmentTally {
                department_id: dept.clone(),
                suppressed: false,
                note: None,
                ballots: Some(n),
                valid_ballots: Some(n_valid),
                questions: Some(
                    questions
                        .iter()
                        .zip(per_q)
                        .map(|(q, c)| {
                            let shown = c.valid() >= k;
                            QuestionTally {
                                key: q.key.clone(),
                                valid: c.valid(),
                                satisfaction_rate: c.satisfaction_rate().filter(|_| shown),
                                conduct_index: c.conduct_index(points).filter(|_| shown),
                                counts: c,
                            }
                        })
                        .collect(),
                ),
                satisfaction_rate: all.satisfaction_rate(),
                conduct_index: all.conduct_index(points),
                by_category,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ballots::model::default_questions;

    fn row(dept: &str, cat: Category, a: Answer) -> BallotRow {
        let answers = default_questions().into_iter().map(|q| (q.key, a)).collect();
        BallotRow { id: super::super::codes::random_id(), department_id: dept.into(), category: Some(cat), answers }
    }

    #[test]
    fn hand_computed_tally() {
        use Answer::*;
        let mut rows = vec![];
        for a in [Satisfied, Satisfied, BasicallySatisfied, Dissatisfied, NotEnoughContact] {
            rows.push(row("d1", Category::EnterpriseServed, a));
        }
        // Four valid votes: shown with k = 4 (with k = 5 it would not be).
        assert!(tally(&["d1".into()], &default_questions(), &Points::default(), 5, &rows)[0].suppressed);
        let t = tally(&["d1".into()], &default_questions(), &Points::default(), 4, &rows);
        let d = &t[0];
        assert!(!d.suppressed);
        assert_eq!((d.ballots, d.valid_ballots), (Some(5), Some(4)));
        let q = &d.questions.as_ref().unwrap()[0];
        assert_eq!(
            q.counts,
            AnswerCounts { satisfied: 2, basically_satisfied: 1, dissatisfied: 1, not_enough_contact: 1 }
        );
        assert_eq!(q.valid, 4);
        // (2 + 1) / 4 = 75 %; (200 + 70 + 30) / 4 = 75 points.
        assert_eq!(q.satisfaction_rate, Some(75.0));
        assert_eq!(q.conduct_index, Some(75.0));
        assert_eq!(d.conduct_index, Some(75.0));
        assert_eq!(d.by_category.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn k_counts_valid_votes_not_ballots() {
        use Answer::*;
        // Five ballots, four of them "not enough contact" throughout: one valid vote, no result.
        let mut rows: Vec<_> = (0..4).map(|_| row("env", Category::EnterpriseServed, NotEnoughContact)).collect();
        rows.push(row("env", Category::EnterpriseServed, Satisfied));
        let t = tally(&["env".into()], &default_questions(), &Points::default(), 5, &rows);
        assert!(t[0].suppressed, "{:?}", t[0]);
        assert_eq!((t[0].conduct_index, t[0].ballots, t[0].note.as_deref()), (None, None, Some(NOT_ENOUGH)));
        assert!(NOT_ENOUGH.contains("valid"));
        // Five valid and one "not enough contact": shown, 6 ballots of which 5 valid.
        let mut rows: Vec<_> = (0..5).map(|_| row("d", Category::EnterpriseServed, Satisfied)).collect();
        rows.push(row("d", Category::EnterpriseServed, NotEnoughContact));
        let t = tally(&["d".into()], &default_questions(), &Points::default(), 5, &rows);
        assert_eq!((t[0].suppressed, t[0].ballots, t[0].valid_ballots), (false, Some(6), Some(5)));
        // A question only two voters could judge shows its counts but no rate of its own.
        let mut rows: Vec<_> = (0..5)
            .map(|i| {
                let mut r = row("q", Category::EnterpriseServed, Satisfied);
                if i >= 2 {
                    r.answers.insert("integrity".into(), NotEnoughContact);
                }
                r
            })
            .collect();
        rows.push(row("q", Category::EnterpriseServed, NotEnoughContact));
        let t = tally(&["q".into()], &default_questions(), &Points::default(), 5, &rows);
        let qs = t[0].questions.as_ref().unwrap();
        let integrity = qs.iter().find(|q| q.key == "integrity").unwrap();
        assert_eq!((integrity.valid, integrity.satisfaction_rate, integrity.conduct_index), (2, None, None));
        let overall = qs.iter().find(|q| q.key == "overall").unwrap();
        assert_eq!((overall.valid, overall.satisfaction_rate), (5, Some(100.0)));
        // Categories: 5 valid served + 5 monitors of whom 4 said "not enough contact" → the
        // monitors are a group of one: no breakdown by category.
        let mut rows: Vec<_> = (0..5).map(|_| row("c", Category::EnterpriseServed, Satisfied)).collect();
        rows.extend((0..4).map(|_| row("c", Category::ConductMonitor, NotEnoughContact)));
        rows.push(row("c", Category::ConductMonitor, Dissatisfied));
        let t = tally(&["c".into()], &default_questions(), &Points::default(), 5, &rows);
        assert_eq!(t[0].valid_ballots, Some(6));
        assert!(t[0].by_category.is_none());
    }

    #[test]
    fn small_groups_are_suppressed_everywhere() {
        let rows: Vec<_> = (0..4).map(|_| row("small", Category::EnterpriseServed, Answer::Dissatisfied)).collect();
        let t = tally(&["small".into()], &default_questions(), &Points::default(), 5, &rows);
        assert!(t[0].suppressed);
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("dissatisfied") && !json.contains('4'), "{json}");
        // A department with 7 ballots, 6 + 1 by category: no category breakdown (7 − 6 = 1).
        let mut rows: Vec<_> = (0..6).map(|_| row("d7", Category::EnterpriseServed, Answer::Satisfied)).collect();
        rows.push(row("d7", Category::ConductMonitor, Answer::Dissatisfied));
        let t = tally(&["d7".into()], &default_questions(), &Points::default(), 5, &rows);
        assert_eq!(t[0].ballots, Some(7));
        assert!(t[0].by_category.is_none());
        // The bulletin withholds those categories; the recount is the same without them.
        let hidden: Vec<_> = rows.into_iter().map(|r| BallotRow { category: None, ..r }).collect();
        assert_eq!(tally(&["d7".into()], &default_questions(), &Points::default(), 5, &hidden), t);
    }
}
