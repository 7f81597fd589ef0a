//! Collects a year's inputs for scoring from the database: each reply clock attributed to the
//! department accountable for it, and the published ballot results.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::error::AssessmentResult;
use super::score::{ClockOutcome, ClockRecord, RoundResult};
use crate::complaints::model::StopReason;
use crate::complaints::store::{AssignmentRow, ClockRow};
use crate::db::schema::{
    ballot_rounds, clock_escalations, complaint_assignments, complaint_clocks, complaints, departments,
};
use crate::db::{to_db_time, DbConnection};
use crate::ids::ComplaintId;

/// The UTC instants bounding a local (Asia/Shanghai) date range [from, to).
pub fn local_range(from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let at = |d: NaiveDate| to_db_time(crate::calendar::start_of_local_day(d));
    (at(from), at(to))
}

/// Departments that take complaints (offices excluded), as (id, name_zh, name_en).
pub fn scored_departments(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, String)>> {
    departments::table
        .filter(departments::kind.ne("office"))
        .filter(departments::active.eq(true))
        .order(departments::code.asc())
        .select((departments::id, departments::name_zh, departments::name_en))
        .load(conn)
}

/// Every reply clock started in [from, to) (local dates), attributed as of `now`.
pub fn clock_records(
    conn: &mut DbConnection,
    cal: &crate::calendar::WorkingCalendar,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> AssessmentResult<Vec<ClockRecord>> {
    let (start, end) = local_range(from, to);
    let in_range = || {
        complaint_clocks::table
            .filter(complaint_clocks::kind.eq(crate::complaints::context::REPLY_CLOCK))
            .filter(complaint_clocks::started_at.ge(start))
            .filter(complaint_clocks::started_at.lt(end))
    };
    let clocks: Vec<ClockRow> = in_range().select(ClockRow::as_select()).load(conn)?;
    let complaint_ids = in_range().select(complaint_clocks::complaint_id);
    let facts: BTreeMap<ComplaintId, (String, Option<String>)> = complaints::table
        .filter(complaints::id.eq_any(complaint_ids))
        .select((complaints::id, complaints::tracking_number, complaints::rating))
        .load::<(ComplaintId, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, n, r)| (id, (n, r)))
        .collect();
    let mut assignments: BTreeMap<ComplaintId, Vec<AssignmentRow>> = BTreeMap::new();
    for a in complaint_assignments::table
        .filter(complaint_assignments::complaint_id.eq_any(in_range().select(complaint_clocks::complaint_id)))
        .select(AssignmentRow::as_select())
        .load::<AssignmentRow>(conn)?
    {
        assignments.entry(a.complaint_id.clone()).or_default().push(a);
    }
    let escalated: BTreeSet<String> = clock_escalations::table
        .filter(clock_escalations::counts_as_escalation.eq(true))
        .filter(clock_escalations::clock_id.eq_any(in_range().select(complaint_clocks::id)))
        .select(clock_escalations::clock_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    // The newest reply clock of each complaint (for ratings and contests); a later clock of one
    // of these complaints starts after `start`, possibly in the next year.
    let newest: BTreeMap<ComplaintId, i32> = complaint_clocks::table
        .filter(complaint_clocks::kind.eq(crate::complaints::context::REPLY_CLOCK))
        .filter(complaint_clocks::started_at.ge(start))
        .select((complaint_clocks::complaint_id, complaint_clocks::ordinal))
        .load::<(ComplaintId, i32)>(conn)?
        .into_iter()
        .fold(BTreeMap::new(), |mut m, (c, o)| {
            let e = m.entry(c).or_insert(o);
            *e = (*e).max(o);
            m
        });
    let now_db = to_db_time(now);
    let mut out = Vec::new();
    for c in clocks {
        let Some((number, rating)) = facts.get(&c.complaint_id) else { continue };
        let outcome = match (&c.stopped_at, c.stop_reason) {
            (Some(_), Some(StopReason::Withdrawn)) => continue,
            (Some(stopped), _) if *stopped < c.due_at => ClockOutcome::OnTime,
            (Some(_), _) => ClockOutcome::Late,
            (None, _) if c.due_at <= now_db => ClockOutcome::OverdueOpen,
            (None, _) => ClockOutcome::Running,
        };
        let held = assignments.get(&c.complaint_id).map(Vec::as_slice).unwrap_or(&[]);
        // Who held it at instant t; one released at exactly t (e.g. a reply at 00:00:00 on the
        // day after the due date) still held it when the clock ran out.
        let holding_at = |t: NaiveDateTime| {
            held.iter()
                .find(|a| a.assigned_at <= t && a.released_at.is_none_or(|r| r >= t))
                .map(|a| a.department_id.clone())
        };
        let department = match outcome {
            // A breach counts against whoever held the complaint when the clock ran out.
            ClockOutcome::Late | ClockOutcome::OverdueOpen => holding_at(c.due_at),
            ClockOutcome::OnTime => held
                .iter()
                .find(|a| a.release_reason.as_deref() == Some("replied") && a.released_at == c.stopped_at)
                .map(|a| a.department_id.clone()),
            ClockOutcome::Running => holding_at(now_db),
        };
        // Unassigned at the decisive moment: the coordination office's, not a department's.
        let Some(department_id) = department else { continue };
        let replied = c.stop_reason == Some(StopReason::Replied);
        let last = newest.get(&c.complaint_id).copied().unwrap_or(c.ordinal);
        out.push(ClockRecord {
            tracking_number: number.clone(),
            department_id: department_id.into(),
            outcome,
            escalated: escalated.contains(&c.id),
            replied,
            contested: replied && c.ordinal < last,
            rating: if replied && c.ordinal == last { rating.clone() } else { None },
            started_month: chrono::Datelike::month(&crate::calendar::local_date(crate::db::from_db_time(c.started_at))),
            working_days_to_reply: c.stopped_at.map(|stopped| {
                let day = |t: NaiveDateTime| crate::calendar::local_date(crate::db::from_db_time(t));
                cal.working_days_between(day(c.started_at), day(stopped)).max(0)
            }),
        });
    }
    out.sort_by(|a, b| a.tracking_number.cmp(&b.tracking_number));
    Ok(out)
}

/// Published rounds of the year and each department's result (None where suppressed: fewer
/// than k ballots with a valid answer).
pub fn round_results(conn: &mut DbConnection, year: i32) -> AssessmentResult<Vec<RoundResult>> {
    let ids: Vec<crate::ids::RoundId> = ballot_rounds::table
        .filter(ballot_rounds::year.eq(year))
        .filter(ballot_rounds::status.eq("published"))
        .order(ballot_rounds::id.asc())
        .select(ballot_rounds::id)
        .load(conn)?;
    let mut out = Vec::new();
    for id in ids {
        let round = crate::ballots::service::find(conn, &id)?;
        for t in crate::ballots::service::results(conn, &round)? {
            out.push(RoundResult {
                round_id: id.to_string(),
                department_id: t.department_id,
                valid_ballots: t.valid_ballots,
                conduct_index: t.conduct_index,
            });
        }
    }
    Ok(out)
}
