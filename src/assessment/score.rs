//! Yearly department scores from the complaint record and the published conduct ballots.
//! Pure: the same inputs give the same output, with every term and its inputs in the breakdown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The scoring formula, as configured for the year (`[assessment]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Formula {
    pub formula_version: String,
    pub conduct_points: f64,
    pub complaint_points: f64,
    pub on_time_weight: f64,
    pub satisfaction_weight: f64,
    pub uncontested_weight: f64,
    pub overdue_deduction: f64,
    pub escalated_deduction: f64,
    pub no_complaints_points: f64,
    /// Formula 2026.1 gave a department without a published result these conduct points; it is
    /// no longer applied (such a department has no conduct score and no rank). Accepted so that
    /// older settings and finalised snapshots still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conduct_fallback_points: Option<f64>,
    pub list_size: usize,
}

/// Why a configured formula is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormulaError {
    #[error("points, weights and deductions must be between 0 and 1000")]
    OutOfRange,
    #[error("at least one complaint weight must be positive")]
    NoWeight,
    #[error("formula_version must be set")]
    NoVersion,
}

impl Formula {
    pub fn validate(&self) -> Result<(), FormulaError> {
        let all = [
            self.conduct_points,
            self.complaint_points,
            self.on_time_weight,
            self.satisfaction_weight,
            self.uncontested_weight,
            self.overdue_deduction,
            self.escalated_deduction,
            self.no_complaints_points,
            self.conduct_fallback_points.unwrap_or(0.0),
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0 || *v > 1000.0) {
            return Err(FormulaError::OutOfRange);
        }
        if self.on_time_weight + self.satisfaction_weight + self.uncontested_weight <= 0.0 {
            return Err(FormulaError::NoWeight);
        }
        if self.formula_version.trim().is_empty() {
            return Err(FormulaError::NoVersion);
        }
        Ok(())
    }
}

/// How one reply clock ended, for the department accountable for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockOutcome {
    /// Replied (or refused) before the due instant.
    OnTime,
    /// Replied after the due instant.
    Late,
    /// Still open and past due: counts as late (a closed-only formula flatters slow departments).
    OverdueOpen,
    /// Still open, not yet due: not counted.
    Running,
}

/// One reply clock of the year, attributed to the department that held the complaint at the
/// breach (if breached) or that replied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClockRecord {
    pub tracking_number: String,
    pub department_id: String,
    pub outcome: ClockOutcome,
    /// A rung that counts as an escalation (`counts_as_escalation` in the ladder) was taken.
    pub escalated: bool,
    /// Ended by the department's reply (not a refusal or withdrawal).
    pub replied: bool,
    /// A later contest re-opened the case.
    pub contested: bool,
    /// The investor's rating of this reply, if any.
    pub rating: Option<String>,
    /// Working days from the clock's start to the reply or refusal.
    #[serde(default)]
    pub working_days_to_reply: Option<i64>,
    /// Local month (1–12) in which the clock started, for monthly trends.
    #[serde(default)]
    pub started_month: u32,
}

/// A department's published result in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoundResult {
    pub round_id: String,
    pub department_id: String,
    /// Ballots with at least one valid answer (not "not enough contact"); None when
    /// suppressed (fewer than k of them).
    pub valid_ballots: Option<u32>,
    pub conduct_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Term {
    pub name: String,
    pub value: f64,
    /// How the value was reached, in words and numbers.
    pub explanation: String,
}

/// Shown for a department without a conduct score.
pub const NOT_ENOUGH_VALID: &str = "not enough valid votes / 有效票数不足";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DepartmentScore {
    pub department_id: String,
    /// None when no published round gave the department at least k valid ballots: it then has
    /// no total and no rank, and is on neither list (see `note`).
    pub conduct: Option<f64>,
    pub complaint_handling: f64,
    pub total: Option<f64>,
    /// 1 = best; None for a department without a conduct score. Ties: see [`rank`].
    pub rank: Option<usize>,
    /// "not enough valid votes / 有效票数不足" when the department has no conduct score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub terms: Vec<Term>,
    /// Complaints (tracking numbers) counted, by outcome.
    #[schema(value_type = Object)]
    pub complaints: BTreeMap<String, Vec<String>>,
    /// Rounds whose published results were used.
    pub rounds: Vec<String>,
    pub on_time_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub contest_rate: Option<f64>,
    pub conduct_index: Option<f64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn rate(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Scores every department: conduct + complaint handling, then ranks them (see [`rank`]).
/// `departments` are in the order of their department codes.
pub fn score(
    formula: &Formula,
    departments: &[String],
    clocks: &[ClockRecord],
    rounds: &[RoundResult],
) -> Vec<DepartmentScore> {
    let mut scores: Vec<DepartmentScore> = departments.iter().map(|d| score_one(formula, d, clocks, rounds)).collect();
    rank(&mut scores, departments);
    scores
}

/// Orders and numbers the scores. Departments with a total come first, by total (higher
/// first); ties by conduct points, then complaint-handling points (higher first), then by the
/// department's place in `code_order` (its department code, alphabetically) — a stable rule,
/// the same on every run. Departments without a total (not enough valid votes) follow, unranked,
/// in code order. Equal figures share nothing: every ranked department gets its own number.
pub fn rank(scores: &mut [DepartmentScore], code_order: &[String]) {
    use std::cmp::Ordering;
    let place = |id: &str| code_order.iter().position(|d| d == id).unwrap_or(usize::MAX);
    let desc = |a: Option<f64>, b: Option<f64>| {
        b.unwrap_or(f64::NEG_INFINITY).partial_cmp(&a.unwrap_or(f64::NEG_INFINITY)).unwrap_or(Ordering::Equal)
    };
    scores.sort_by(|a, b| {
        b.total
            .is_some()
            .cmp(&a.total.is_some())
            .then(desc(a.total, b.total))
            .then(desc(a.conduct, b.conduct))
            .then(desc(Some(a.complaint_handling), Some(b.complaint_handling)))
            .then(place(&a.department_id).cmp(&place(&b.department_id)))
            .then(a.department_id.cmp(&b.department_id))
    });
    let mut next = 1;
    for s in scores.iter_mut() {
        s.rank = s.total.map(|_| {
            next += 1;
            next - 1
        });
    }
}

/// The red list (top `size`) and black list (bottom `size`, worst first) of ranked scores:
/// only departments with a rank, and at most half of them on each list.
pub fn lists(ranked: &[&DepartmentScore], size: usize) -> (Vec<String>, Vec<String>) {
    let ranked: Vec<&&DepartmentScore> = ranked.iter().filter(|s| s.rank.is_some()).collect();
    let n = size.min(ranked.len() / 2);
    (
        ranked.iter().take(n).map(|s| s.department_id.clone()).collect(),
        ranked.iter().rev().take(n).map(|s| s.department_id.clone()).collect(),
    )
}

fn score_one(f: &Formula, dept: &str, clocks: &[ClockRecord], rounds: &[RoundResult]) -> DepartmentScore {
    let mine: Vec<&ClockRecord> = clocks.iter().filter(|c| c.department_id == dept).collect();
    let mut terms = Vec::new();
    let mut complaints: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &mine {
        let key = match c.outcome {
            ClockOutcome::OnTime => "on_time",
            ClockOutcome::Late => "late",
            ClockOutcome::OverdueOpen => "overdue_open",
            ClockOutcome::Running => "running",
        };
        complaints.entry(key.into()).or_default().push(c.tracking_number.clone());
        if c.escalated {
            complaints.entry("escalated".into()).or_default().push(c.tracking_number.clone());
        }
    }

    // Conduct: index of the published results with at least k valid ballots, weighted by
    // their valid ballots. Without one, no conduct score (and so no total and no rank).
    let used: Vec<&RoundResult> = rounds
        .iter()
        .filter(|r| r.department_id == dept && r.valid_ballots.is_some_and(|n| n > 0) && r.conduct_index.is_some())
        .collect();
    let ballots: u32 = used.iter().map(|r| r.valid_ballots.unwrap_or(0)).sum();
    let (conduct, conduct_index) = if ballots == 0 {
        terms.push(Term {
            name: "conduct".into(),
            value: 0.0,
            explanation: "no published round with at least k valid ballots: no conduct score, no rank / 有效票数不足"
                .into(),
        });
        (None, None)
    } else {
        let index =
            used.iter().map(|r| r.conduct_index.unwrap_or(0.0) * f64::from(r.valid_ballots.unwrap_or(0))).sum::<f64>()
                / f64::from(ballots);
        let value = index / 100.0 * f.conduct_points;
        terms.push(Term {
            name: "conduct".into(),
            value: round2(value),
            explanation: format!(
                "conduct index {:.2} over {ballots} valid ballots in {} rounds / 100 × {}",
                index,
                used.len(),
                f.conduct_points
            ),
        });
        (Some(value), Some(round2(index)))
    };

    // Complaint handling.
    let judged: Vec<&&ClockRecord> = mine.iter().filter(|c| c.outcome != ClockOutcome::Running).collect();
    let on_time = judged.iter().filter(|c| c.outcome == ClockOutcome::OnTime).count();
    let late = judged.len() - on_time;
    let escalated = mine.iter().filter(|c| c.escalated).count();
    let replies: Vec<&&ClockRecord> = mine.iter().filter(|c| c.replied).collect();
    let rated: Vec<&&&ClockRecord> = replies.iter().filter(|c| c.rating.is_some()).collect();
    let satisfied =
        rated.iter().filter(|c| matches!(c.rating.as_deref(), Some("satisfied" | "basically_satisfied"))).count();
    let contested = replies.iter().filter(|c| c.contested).count();
    let on_time_rate = rate(on_time, judged.len());
    let satisfaction_rate = rate(satisfied, rated.len());
    let contest_rate = rate(contested, replies.len());
    // An escalated complaint always counts, even while its clock is still running.
    let complaint_handling = if judged.is_empty() && replies.is_empty() && escalated == 0 {
        terms.push(Term {
            name: "complaint_handling".into(),
            value: f.no_complaints_points,
            explanation: format!("no complaint to judge in the year: {} points", f.no_complaints_points),
        });
        f.no_complaints_points
    } else {
        // A rate with nothing to measure drops out, its weight shared by the others.
        let parts = [
            (f.on_time_weight, on_time_rate, "on-time rate"),
            (f.satisfaction_weight, satisfaction_rate, "satisfaction rate"),
            (f.uncontested_weight, contest_rate.map(|r| 1.0 - r), "uncontested rate"),
        ];
        let weight: f64 = parts.iter().filter(|p| p.1.is_some()).map(|p| p.0).sum();
        let weighted: f64 = parts.iter().filter_map(|p| p.1.map(|r| p.0 * r)).sum();
        let base = if weight > 0.0 { f.complaint_points * weighted / weight } else { f.complaint_points };
        let words: Vec<String> =
            parts.iter().filter_map(|p| p.1.map(|r| format!("{} {:.4} × {}", p.2, r, p.0))).collect();
        let explanation = if weight > 0.0 {
            format!("{} × ({}) / {}", f.complaint_points, words.join(" + "), weight)
        } else {
            format!("no rate to measure yet: {} points", f.complaint_points)
        };
        terms.push(Term { name: "complaint_rates".into(), value: round2(base), explanation });
        let deduction = late as f64 * f.overdue_deduction + escalated as f64 * f.escalated_deduction;
        terms.push(Term {
            name: "deductions".into(),
            value: round2(-deduction),
            explanation: format!(
                "{late} late × {} + {escalated} escalated × {}",
                f.overdue_deduction, f.escalated_deduction
            ),
        });
        (base - deduction).max(0.0)
    };
    DepartmentScore {
        department_id: dept.to_string(),
        conduct: conduct.map(round2),
        complaint_handling: round2(complaint_handling),
        total: conduct.map(|c| round2(c + complaint_handling)),
        rank: None,
        note: conduct.is_none().then(|| NOT_ENOUGH_VALID.to_string()),
        terms,
        complaints,
        rounds: used.iter().map(|r| r.round_id.clone()).collect(),
        on_time_rate: on_time_rate.map(|r| round2(r * 100.0)),
        satisfaction_rate: satisfaction_rate.map(|r| round2(r * 100.0)),
        contest_rate: contest_rate.map(|r| round2(r * 100.0)),
        conduct_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formula() -> Formula {
        Formula {
            formula_version: "test".into(),
            conduct_points: 10.0,
            complaint_points: 5.0,
            on_time_weight: 0.5,
            satisfaction_weight: 0.3,
            uncontested_weight: 0.2,
            overdue_deduction: 0.5,
            escalated_deduction: 1.0,
            no_complaints_points: 5.0,
            conduct_fallback_points: None,
            list_size: 3,
        }
    }

    fn clock(
        n: &str,
        d: &str,
        outcome: ClockOutcome,
        replied: bool,
        rating: Option<&str>,
        contested: bool,
        escalated: bool,
    ) -> ClockRecord {
        ClockRecord {
            tracking_number: n.into(),
            department_id: d.into(),
            outcome,
            escalated,
            replied,
            contested,
            rating: rating.map(str::to_string),
            working_days_to_reply: None,
            started_month: 1,
        }
    }

    #[test]
    fn hand_computed_scores() {
        use ClockOutcome::*;
        let clocks = vec![
            clock("CZ-1", "a", OnTime, true, Some("satisfied"), false, false),
            clock("CZ-2", "a", OnTime, true, Some("dissatisfied"), true, false),
            clock("CZ-3", "a", Late, true, None, false, false),
            clock("CZ-4", "a", OverdueOpen, false, None, false, true),
            clock("CZ-5", "a", Running, false, None, false, false),
        ];
        let rounds = vec![
            RoundResult {
                round_id: "r1".into(),
                department_id: "a".into(),
                valid_ballots: Some(10),
                conduct_index: Some(80.0),
            },
            RoundResult {
                round_id: "r2".into(),
                department_id: "a".into(),
                valid_ballots: Some(30),
                conduct_index: Some(90.0),
            },
            RoundResult { round_id: "r3".into(), department_id: "b".into(), valid_ballots: None, conduct_index: None },
        ];
        let s = score(&formula(), &["a".into(), "b".into()], &clocks, &rounds);
        let a = s.iter().find(|d| d.department_id == "a").unwrap();
        // Conduct: (80×10 + 90×30) / 40 = 87.5 → 8.75 points.
        assert_eq!(a.conduct_index, Some(87.5));
        assert_eq!(a.conduct, Some(8.75));
        // On time 2 of 4 judged (running excluded) = 0.5; satisfied 1 of 2 rated = 0.5;
        // contested 1 of 3 replies → uncontested 2/3.
        // 5 × (0.5×0.5 + 0.3×0.5 + 0.2×0.6667) / 1.0 = 5 × 0.53333 = 2.6667
        // minus 2 late × 0.5 + 1 escalated × 1.0 = 2.0 → 0.6667 → 0.67
        assert_eq!(a.on_time_rate, Some(50.0));
        assert_eq!(a.satisfaction_rate, Some(50.0));
        assert_eq!(a.contest_rate, Some(33.33));
        assert_eq!(a.complaint_handling, 0.67);
        assert_eq!(a.total, Some(9.42));
        assert_eq!(a.rank, Some(1));
        // b: no published result (suppressed): no conduct score, no total, no rank — it does
        // not outrank a rated department on the 5 points of an empty complaint record.
        let b = s.iter().find(|d| d.department_id == "b").unwrap();
        assert_eq!((b.conduct, b.complaint_handling, b.total, b.rank), (None, 5.0, None, None));
        assert_eq!(b.note.as_deref(), Some(NOT_ENOUGH_VALID));
        assert_eq!(s.iter().map(|d| d.department_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(a.complaints["late"], vec!["CZ-3"]);
        assert_eq!(a.rounds, vec!["r1", "r2"]);
    }

    #[test]
    fn same_inputs_same_output_and_never_negative() {
        use ClockOutcome::*;
        let clocks: Vec<_> =
            (0..10).map(|i| clock(&format!("CZ-{i}"), "slow", Late, true, Some("dissatisfied"), true, true)).collect();
        let a = score(&formula(), &["slow".into()], &clocks, &[]);
        let b = score(&formula(), &["slow".into()], &clocks, &[]);
        assert_eq!(a, b);
        assert_eq!(a[0].complaint_handling, 0.0);
    }

    #[test]
    fn an_escalated_complaint_whose_clock_still_runs_loses_the_escalation_points() {
        use ClockOutcome::*;
        // The department's only complaint: escalated, then its clock runs again (e.g. paused
        // and resumed, or extended): nothing judged, nothing replied — but escalated.
        let clocks = vec![clock("CZ-1", "a", Running, false, None, false, true)];
        let s = score(&formula(), &["a".into()], &clocks, &[]);
        assert_eq!(s[0].complaint_handling, 4.0, "{:?}", s[0].terms);
        assert!(s[0].terms.iter().any(|t| t.name == "deductions" && t.value == -1.0));
        // Without the escalation the record is empty: the no-complaints points.
        let clocks = vec![clock("CZ-1", "a", Running, false, None, false, false)];
        assert_eq!(score(&formula(), &["a".into()], &clocks, &[])[0].complaint_handling, 5.0);
    }

    #[test]
    fn ties_are_broken_by_conduct_then_complaints_then_department_code_on_every_run() {
        use ClockOutcome::*;
        let r = |d: &str, idx: f64| RoundResult {
            round_id: "r".into(),
            department_id: d.into(),
            valid_ballots: Some(5),
            conduct_index: Some(idx),
        };
        // "z" and "y" both total 13.5: z by 10 + 3.5 (one on-time reply rated dissatisfied),
        // y by 8.5 + 5 → z first (more conduct points).
        // "m" and "n": identical figures → code order as given (m before n), whatever the ids.
        let clocks = vec![clock("CZ-1", "z", OnTime, true, Some("dissatisfied"), false, false)];
        let rounds = vec![r("z", 100.0), r("y", 85.0), r("n", 70.0), r("m", 70.0)];
        let order: Vec<String> = ["m", "n", "u", "y", "z"].iter().map(|s| s.to_string()).collect();
        for _ in 0..3 {
            let s = score(&formula(), &order, &clocks, &rounds);
            let ids: Vec<(&str, Option<usize>)> = s.iter().map(|d| (d.department_id.as_str(), d.rank)).collect();
            assert_eq!(ids, [("z", Some(1)), ("y", Some(2)), ("m", Some(3)), ("n", Some(4)), ("u", None)]);
            let refs: Vec<&DepartmentScore> = s.iter().collect();
            // Four ranked: two on each list; the unrated "u" on neither.
            assert_eq!(
                lists(&refs, 3),
                (vec!["z".to_string(), "y".to_string()], vec!["n".to_string(), "m".to_string()])
            );
        }
    }
}
