//! The escalation ladder as data, and when each rung falls due. Pure: the calendar and the
//! clock's due date go in, instants come out.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use serde::Deserialize;

use crate::calendar::{shanghai, WorkingCalendar};

/// `[escalation]` as configured: the ladder before it is parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSettings {
    pub working_hours: String,
    pub sweep_interval_secs: u64,
    pub reply: Vec<RungSettings>,
}

/// One `[[escalation.reply]]` rung as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungSettings {
    pub step: String,
    pub at: String,
    pub recipients: Vec<String>,
    pub working_hours_only: bool,
    pub marks_overdue: bool,
    /// Taking this rung is an escalation in the yearly assessment (its deduction applies).
    #[serde(default)]
    pub counts_as_escalation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Taken by the assignment itself (the department is told it holds the complaint).
    Assignment,
    /// At the start of the working day from which N working days are left.
    WorkingDaysBeforeDue(u32),
    /// At this local time on the due date.
    DueDateAt(NaiveTime),
    /// At the breach: the due instant.
    Breach,
    /// At the start of the N-th working day after the due date.
    WorkingDaysAfterBreach(u32),
}

/// Why the configured ladder is refused: each names the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("{0:?}: N must be 1–60")]
    Days(String),
    #[error("{0:?}: expected due_date_at:HH:MM")]
    DueDateAt(String),
    #[error("{0:?} is not a trigger (assignment, working_days_before_due:N, due_date_at:HH:MM, breach, working_days_after_breach:N)")]
    Trigger(String),
    #[error("{0:?} is not a recipient (department.contact_email, department.head_email, office:CODE)")]
    Recipient(String),
    #[error("working_hours: expected HH:MM-HH:MM")]
    HoursShape,
    #[error("working_hours: {0:?} is not HH:MM")]
    HoursTime(String),
    #[error("working_hours: the day must open before it closes")]
    HoursOrder,
    #[error("reply ladder: step {0:?} appears twice")]
    Twice(String),
    #[error("reply ladder: step {0:?} must be lower-case letters and '_'")]
    StepName(String),
    #[error("reply ladder: step {0:?} has no recipients")]
    NoRecipients(String),
    #[error("reply ladder, step {step:?}: {problem}")]
    InStep { step: String, problem: Box<LadderError> },
}

impl Trigger {
    pub fn parse(s: &str) -> Result<Trigger, LadderError> {
        let days = |n: &str| {
            n.parse::<u32>().ok().filter(|d| (1..=60).contains(d)).ok_or_else(|| LadderError::Days(s.to_string()))
        };
        match s.split_once(':') {
            None if s == "assignment" => Ok(Trigger::Assignment),
            None if s == "breach" => Ok(Trigger::Breach),
            Some(("working_days_before_due", n)) => days(n).map(Trigger::WorkingDaysBeforeDue),
            Some(("working_days_after_breach", n)) => days(n).map(Trigger::WorkingDaysAfterBreach),
            Some(("due_date_at", t)) => NaiveTime::parse_from_str(t, "%H:%M")
                .map(Trigger::DueDateAt)
                .map_err(|_| LadderError::DueDateAt(s.to_string())),
            _ => Err(LadderError::Trigger(s.to_string())),
        }
    }
}

/// Who gets a rung's email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    DepartmentContact,
    DepartmentHead,
    /// The contact address of the unit with this code (an escalation office).
    Office(String),
}

impl Recipient {
    pub fn parse(s: &str) -> Result<Recipient, LadderError> {
        match s {
            "department.contact_email" => Ok(Recipient::DepartmentContact),
            "department.head_email" => Ok(Recipient::DepartmentHead),
            _ => match s.strip_prefix("office:") {
                Some(code) if !code.is_empty() => Ok(Recipient::Office(code.to_string())),
                _ => Err(LadderError::Recipient(s.to_string())),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rung {
    pub step: String,
    pub trigger: Trigger,
    pub recipients: Vec<Recipient>,
    pub working_hours_only: bool,
    pub marks_overdue: bool,
    /// Recorded with the rung when it is taken; the assessment deducts for such rungs.
    pub counts_as_escalation: bool,
}

#[derive(Debug, Clone)]
pub struct Ladder {
    pub rungs: Vec<Rung>,
    pub hours: (NaiveTime, NaiveTime),
}

impl Ladder {
    pub fn from_settings(s: &EscalationSettings) -> Result<Ladder, LadderError> {
        let (open, close) = s.working_hours.split_once('-').ok_or(LadderError::HoursShape)?;
        let parse =
            |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| LadderError::HoursTime(t.to_string()));
        let hours = (parse(open)?, parse(close)?);
        if hours.0 >= hours.1 {
            return Err(LadderError::HoursOrder);
        }
        let mut rungs = Vec::new();
        for r in &s.reply {
            rungs.push(rung(r)?);
        }
        for (i, r) in rungs.iter().enumerate() {
            if rungs[..i].iter().any(|o| o.step == r.step) {
                return Err(LadderError::Twice(r.step.clone()));
            }
        }
        Ok(Ladder { rungs, hours })
    }

    pub fn at_assignment(&self) -> impl Iterator<Item = &Rung> {
        self.rungs.iter().filter(|r| r.trigger == Trigger::Assignment)
    }

    /// The earliest rung not yet taken, with the instant it falls due.
    pub fn next<'a>(
        &'a self,
        taken: &[String],
        due_date: NaiveDate,
        due_at: DateTime<Utc>,
        cal: &WorkingCalendar,
    ) -> Option<(&'a Rung, DateTime<Utc>)> {
        self.rungs
            .iter()
            .filter(|r| !taken.contains(&r.step))
            .filter_map(|r| rung_time(r.trigger, due_date, due_at, cal).map(|t| (r, t)))
            .min_by_key(|(_, t)| *t)
    }

    /// When a rung's email may go out: at `t`, or the next opening of working hours.
    pub fn send_time(&self, rung: &Rung, t: DateTime<Utc>, cal: &WorkingCalendar) -> DateTime<Utc> {
        if !rung.working_hours_only {
            return t;
        }
        let local = t.with_timezone(&shanghai());
        let (open, close) = self.hours;
        let mut day = local.date_naive();
        let time = local.time();
        if cal.is_working_day(day) && time >= open && time < close {
            return t;
        }
        if !(cal.is_working_day(day) && time < open) {
            day = cal.add_working_days(day, 1).date;
        }
        local_instant(day, open)
    }
}

fn rung(r: &RungSettings) -> Result<Rung, LadderError> {
    if r.step.is_empty() || !r.step.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return Err(LadderError::StepName(r.step.clone()));
    }
    if r.recipients.is_empty() {
        return Err(LadderError::NoRecipients(r.step.clone()));
    }
    let in_step = |e: LadderError| LadderError::InStep { step: r.step.clone(), problem: Box::new(e) };
    Ok(Rung {
        step: r.step.clone(),
        trigger: Trigger::parse(&r.at).map_err(in_step)?,
        recipients: r.recipients.iter().map(|x| Recipient::parse(x)).collect::<Result<_, _>>().map_err(in_step)?,
        working_hours_only: r.working_hours_only,
        marks_overdue: r.marks_overdue,
        counts_as_escalation: r.counts_as_escalation,
    })
}

fn local_instant(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    day.and_time(time).and_local_timezone(shanghai()).single().expect("fixed offset").with_timezone(&Utc)
}

/// When a time-based rung falls due for a clock due on `due_date` (instant `due_at`).
pub fn rung_time(
    trigger: Trigger,
    due_date: NaiveDate,
    due_at: DateTime<Utc>,
    cal: &WorkingCalendar,
) -> Option<DateTime<Utc>> {
    match trigger {
        Trigger::Assignment => None,
        Trigger::Breach => Some(due_at),
        Trigger::DueDateAt(t) => Some(local_instant(due_date, t)),
        Trigger::WorkingDaysBeforeDue(n) => {
            // The working day d with exactly n working days after it up to the due date.
            let mut d = due_date;
            for _ in 0..n {
                d = previous_working_day(d, cal);
            }
            Some(local_instant(d, NaiveTime::MIN))
        }
        Trigger::WorkingDaysAfterBreach(n) => {
            // The start of the n-th working day after the due date (working days left = −n).
            let day = cal.add_working_days(due_date, n).date;
            Some(local_instant(day, NaiveTime::MIN).max(due_at))
        }
    }
}

fn previous_working_day(d: NaiveDate, cal: &WorkingCalendar) -> NaiveDate {
    let mut p = d.pred_opt().expect("date in range");
    while !cal.is_working_day(p) {
        p = p.pred_opt().expect("date in range");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::runtime;

    fn cal() -> WorkingCalendar {
        runtime::build(std::path::Path::new("/nonexistent"), None).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn triggers_parse_or_name_the_problem() {
        assert_eq!(Trigger::parse("working_days_before_due:2").unwrap(), Trigger::WorkingDaysBeforeDue(2));
        assert_eq!(
            Trigger::parse("due_date_at:09:00").unwrap(),
            Trigger::DueDateAt(NaiveTime::from_hms_opt(9, 0, 0).unwrap())
        );
        assert!(Trigger::parse("soon").unwrap_err().to_string().contains("soon"));
        assert!(Trigger::parse("working_days_before_due:0").is_err());
    }

    #[test]
    fn rung_times_follow_the_calendar() {
        let cal = cal();
        // Due Thursday 2026-10-15 (received 2026-09-30, across National Day).
        let due_date = d("2026-10-15");
        let due_at = at("2026-10-16T00:00:00+08:00");
        // Two working days left from the start of Tuesday 10-13 (10-14 and 10-15 remain).
        assert_eq!(
            rung_time(Trigger::WorkingDaysBeforeDue(2), due_date, due_at, &cal),
            Some(at("2026-10-13T00:00:00+08:00"))
        );
        assert_eq!(
            rung_time(Trigger::DueDateAt(NaiveTime::from_hms_opt(9, 0, 0).unwrap()), due_date, due_at, &cal),
            Some(at("2026-10-15T09:00:00+08:00"))
        );
        assert_eq!(rung_time(Trigger::Breach, due_date, due_at, &cal), Some(due_at));
        // Third working day after Thursday's due date: Fri 16, Mon 19, Tue 20.
        assert_eq!(
            rung_time(Trigger::WorkingDaysAfterBreach(3), due_date, due_at, &cal),
            Some(at("2026-10-20T00:00:00+08:00"))
        );
        // Across a holiday the reminder reaches back before it: due Friday 2026-10-09, with
        // 10-01..07 off, two working days (10-08, 10-09) are left from the start of 09-30.
        assert_eq!(
            rung_time(Trigger::WorkingDaysBeforeDue(2), d("2026-10-09"), at("2026-10-10T00:00:00+08:00"), &cal),
            Some(at("2026-09-30T00:00:00+08:00"))
        );
        assert_eq!(
            rung_time(Trigger::WorkingDaysBeforeDue(1), d("2026-10-09"), at("2026-10-10T00:00:00+08:00"), &cal),
            Some(at("2026-10-08T00:00:00+08:00"))
        );
    }

    /// The ladder of config/default.toml.
    fn shipped_ladder() -> Ladder {
        let file: toml::Table = toml::from_str(include_str!("../../config/default.toml")).unwrap();
        let settings: EscalationSettings = file["escalation"].clone().try_into().unwrap();
        Ladder::from_settings(&settings).unwrap()
    }

    #[test]
    fn only_the_configured_rung_counts_as_an_escalation() {
        let counted: Vec<String> =
            shipped_ladder().rungs.iter().filter(|r| r.counts_as_escalation).map(|r| r.step.clone()).collect();
        assert_eq!(counted.len(), 1, "{counted:?}");
    }

    #[test]
    fn emails_wait_for_working_hours() {
        let cal = cal();
        let ladder = shipped_ladder();
        let overdue = ladder.rungs.iter().find(|r| r.step == "overdue").unwrap();
        // Breach at Friday 24:00 → Monday 08:30.
        assert_eq!(ladder.send_time(overdue, at("2026-10-17T00:00:00+08:00"), &cal), at("2026-10-19T08:30:00+08:00"));
        // Within hours: now.
        assert_eq!(ladder.send_time(overdue, at("2026-10-19T10:00:00+08:00"), &cal), at("2026-10-19T10:00:00+08:00"));
        // Early morning of a working day: 08:30 the same day; evening: next working day.
        assert_eq!(ladder.send_time(overdue, at("2026-10-19T06:00:00+08:00"), &cal), at("2026-10-19T08:30:00+08:00"));
        assert_eq!(ladder.send_time(overdue, at("2026-10-19T18:00:00+08:00"), &cal), at("2026-10-20T08:30:00+08:00"));
        // Before National Day: the next opening is 10-08.
        assert_eq!(ladder.send_time(overdue, at("2026-09-30T18:00:00+08:00"), &cal), at("2026-10-08T08:30:00+08:00"));
        let assigned = ladder.rungs.iter().find(|r| r.step == "assigned").unwrap();
        assert_eq!(ladder.send_time(assigned, at("2026-10-03T03:00:00+08:00"), &cal), at("2026-10-03T03:00:00+08:00"));
    }

    #[test]
    fn next_rung_skips_taken_ones_in_time_order() {
        let cal = cal();
        let ladder = shipped_ladder();
        let (due_date, due_at) = (d("2026-10-15"), at("2026-10-16T00:00:00+08:00"));
        let order: Vec<String> = {
            let mut taken: Vec<String> = vec!["assigned".into()];
            while let Some((r, _)) = ladder.next(&taken, due_date, due_at, &cal) {
                taken.push(r.step.clone());
            }
            taken
        };
        // Every rung, in the order the shipped ladder lists them (which is time order).
        let listed: Vec<String> = ladder.rungs.iter().map(|r| r.step.clone()).collect();
        assert_eq!(order, listed);
        assert_eq!(order.len(), 5);
    }
}
