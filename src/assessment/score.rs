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
    pub conduct_fallback_points: f64,
    pub list_size: usize,
}

impl Formula {
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            self.conduct_points,
            self.complaint_points,
            self.on_time_weight,
            self.satisfaction_weight,
            self.uncontested_weight,
            self.overdue_deduction,
            self.escalated_deduction,
            self.no_complaints_points,
            self.conduct_fallback_points,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0 || *v > 1000.0) {
            return Err("points, weights and deductions must be between 0 and 1000".into());
        }
        if self.on_time_weight + self.satisfaction_weight + self.uncontested_weight <= 0.0 {
            return Err("at least one complaint weight must be positive".into());
        }
        if self.formula_version.trim().is_empty() {
            return Err("formula_version must be set".into());
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
    /// The overdue_escalated rung was taken.
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
    /// None when suppressed (below k).
    pub ballots: Option<u32>,
    pub conduct_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Term {
    pub name: String,
    pub value: f64,
    /// How the value was reached, in words and numbers.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DepartmentScore {
    pub department_id: String,
    pub conduct: f64,
    pub complaint_handling: f64,
    pub total: f64,
    pub rank: usize,
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

/// Scores every department: conduct + complaint handling, ranked by total (ties by id).
pub fn score(formula: &Formula, departments: &[String], clocks: &[ClockRecord], rounds: &[RoundResult]) -> Vec<DepartmentScore> {
    let mut scores: Vec<DepartmentScore> = departments.iter().map(|d| score_one(formula, d, clocks, rounds)).collect();
    scores.sort_by(|a, b| b.total.partial_cmp(&a.total).unwrap_or(std::cmp::Ordering::Equal).then(a.department_id.cmp(&b.department_id)));
    for (i, s) in scores.iter_mut().enumerate() {
        s.rank = i + 1;
    }
    scores
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

    // Conduct: ballot-weighted index of the published, unsuppressed results.
    let used: Vec<&RoundResult> = rounds.iter().filter(|r| r.department_id == dept && r.ballots.is_some() && r.conduct_index.is_some()).collect();
    let ballots: u32 = used.iter().map(|r| r.ballots.unwrap_or(0)).sum();
    let (conduct, conduct_index) = if ballots == 0 {
        terms.push(Term { name: "conduct".into(), value: f.conduct_fallback_points, explanation: format!("no published result at or above the group size: fallback {} points", f.conduct_fallback_points) });
        (f.conduct_fallback_points, None)
    } else {
        let index = used.iter().map(|r| r.conduct_index.unwrap_or(0.0) * f64::from(r.ballots.unwrap_or(0))).sum::<f64>() / f64::from(ballots);
        let value = index / 100.0 * f.conduct_points;
        terms.push(Term { name: "conduct".into(), value: round2(value), explanation: format!("conduct index {:.2} over {ballots} ballots in {} rounds / 100 × {}", index, used.len(), f.conduct_points) });
        (value, Some(round2(index)))
    };

    // Complaint handling.
    let judged: Vec<&&ClockRecord> = mine.iter().filter(|c| c.outcome != ClockOutcome::Running).collect();
    let on_time = judged.iter().filter(|c| c.outcome == ClockOutcome::OnTime).count();
    let late = judged.len() - on_time;
    let escalated = mine.iter().filter(|c| c.escalated).count();
    let replies: Vec<&&ClockRecord> = mine.iter().filter(|c| c.replied).collect();
    let rated: Vec<&&&ClockRecord> = replies.iter().filter(|c| c.rating.is_some()).collect();
    let satisfied = rated.iter().filter(|c| matches!(c.rating.as_deref(), Some("satisfied" | "basically_satisfied"))).count();
    let contested = replies.iter().filter(|c| c.contested).count();
    let on_time_rate = rate(on_time, judged.len());
    let satisfaction_rate = rate(satisfied, rated.len());
    let contest_rate = rate(contested, replies.len());
    let complaint_handling = if judged.is_empty() && replies.is_empty() {
        terms.push(Term { name: "complaint_handling".into(), value: f.no_complaints_points, explanation: format!("no complaint to judge in the year: {} points", f.no_complaints_points) });
        f.no_complaints_points
    } else {
        // A rate with nothing to measure drops out, its weight shared by the others.
        let parts = [(f.on_time_weight, on_time_rate, "on-time rate"), (f.satisfaction_weight, satisfaction_rate, "satisfaction rate"), (f.uncontested_weight, contest_rate.map(|r| 1.0 - r), "uncontested rate")];
        let weight: f64 = parts.iter().filter(|p| p.1.is_some()).map(|p| p.0).sum();
        let weighted: f64 = parts.iter().filter_map(|p| p.1.map(|r| p.0 * r)).sum();
        let base = if weight > 0.0 { f.complaint_points * weighted / weight } else { f.complaint_points };
        let words: Vec<String> = parts.iter().filter_map(|p| p.1.map(|r| format!("{} {:.4} × {}", p.2, r, p.0))).collect();
        terms.push(Term { name: "complaint_rates".into(), value: round2(base), explanation: format!("{} × ({}) / {}", f.complaint_points, words.join(" + "), weight) });
        let deduction = late as f64 * f.overdue_deduction + escalated as f64 * f.escalated_deduction;
        terms.push(Term { name: "deductions".into(), value: round2(-deduction), explanation: format!("{late} late × {} + {escalated} escalated × {}", f.overdue_deduction, f.escalated_deduction) });
        (base - deduction).max(0.0)
    };
    DepartmentScore {
        department_id: dept.to_string(),
        conduct: round2(conduct),
        complaint_handling: round2(complaint_handling),
        total: round2(conduct + complaint_handling),
        rank: 0,
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
            conduct_fallback_points: 8.0,
            list_size: 3,
        }
    }

    fn clock(n: &str, d: &str, outcome: ClockOutcome, replied: bool, rating: Option<&str>, contested: bool, escalated: bool) -> ClockRecord {
        ClockRecord { tracking_number: n.into(), department_id: d.into(), outcome, escalated, replied, contested, rating: rating.map(str::to_string), working_days_to_reply: None, started_month: 1 }
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
            RoundResult { round_id: "r1".into(), department_id: "a".into(), ballots: Some(10), conduct_index: Some(80.0) },
            RoundResult { round_id: "r2".into(), department_id: "a".into(), ballots: Some(30), conduct_index: Some(90.0) },
            RoundResult { round_id: "r3".into(), department_id: "b".into(), ballots: None, conduct_index: None },
        ];
        let s = score(&formula(), &["a".into(), "b".into()], &clocks, &rounds);
        let a = s.iter().find(|d| d.department_id == "a").unwrap();
        // Conduct: (80×10 + 90×30) / 40 = 87.5 → 8.75 points.
        assert_eq!(a.conduct_index, Some(87.5));
        assert_eq!(a.conduct, 8.75);
        // On time 2 of 4 judged (running excluded) = 0.5; satisfied 1 of 2 rated = 0.5;
        // contested 1 of 3 replies → uncontested 2/3.
        // 5 × (0.5×0.5 + 0.3×0.5 + 0.2×0.6667) / 1.0 = 5 × 0.53333 = 2.6667
        // minus 2 late × 0.5 + 1 escalated × 1.0 = 2.0 → 0.6667 → 0.67
        assert_eq!(a.on_time_rate, Some(50.0));
        assert_eq!(a.satisfaction_rate, Some(50.0));
        assert_eq!(a.contest_rate, Some(33.33));
        assert_eq!(a.complaint_handling, 0.67);
        assert_eq!(a.total, 9.42);
        // b: no published result (suppressed) → fallback 8; no complaints → 5.
        let b = s.iter().find(|d| d.department_id == "b").unwrap();
        assert_eq!((b.conduct, b.complaint_handling, b.total), (8.0, 5.0, 13.0));
        assert_eq!(b.rank, 1);
        assert_eq!(a.complaints["late"], vec!["CZ-3"]);
        assert_eq!(a.rounds, vec!["r1", "r2"]);
    }

    #[test]
    fn same_inputs_same_output_and_never_negative() {
        use ClockOutcome::*;
        let clocks: Vec<_> = (0..10).map(|i| clock(&format!("CZ-{i}"), "slow", Late, true, Some("dissatisfied"), true, true)).collect();
        let a = score(&formula(), &["slow".into()], &clocks, &[]);
        let b = score(&formula(), &["slow".into()], &clocks, &[]);
        assert_eq!(a, b);
        assert_eq!(a[0].complaint_handling, 0.0);
    }
}
