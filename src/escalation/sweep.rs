//! The sweeper. Each clock carries its next rung and when it falls due (`next_step_at`,
//! indexed), so a sweep reads only the due ones. Each rung is taken in one transaction under the
//! complaint's lock: the outbox rows, the audit event, the overdue flag and the `taken` row
//! (whose primary key makes a second taking impossible) commit together. Several instances may
//! sweep at once; the lock and the key keep every rung to exactly once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::complaints::context::{calendar_clock, Acting, Ctx};
use crate::complaints::error::ComplaintResult;
use crate::complaints::notices;
use crate::complaints::service;
use crate::complaints::store::{self, ClockRow};
use crate::db::schema::{clock_escalations, complaint_clocks, complaints};
use crate::db::{from_db_time, to_db_time, DbConnection};

#[derive(Debug, Default, Clone, Serialize)]
pub struct SweepReport {
    /// (tracking number, rung) taken, in order.
    pub taken: Vec<(String, String)>,
    pub auto_closed: usize,
    /// Clocks whose rungs could not be taken this time (logged; retried next sweep).
    pub failed: usize,
}

/// One sweep as of `ctx.now`: takes every rung that has fallen due, then closes replies whose
/// contest window has passed.
pub fn sweep_once(conn: &mut DbConnection, ctx: &Ctx, batch: i64) -> ComplaintResult<SweepReport> {
    let mut report = SweepReport::default();
    loop {
        // Only `next_step_at` is filtered, so the lookup is a range scan of its index; stopped
        // and paused clocks have none (`schedule` clears it), and are re-checked under the lock.
        let due: Vec<String> = complaint_clocks::table
            .filter(complaint_clocks::next_step_at.le(to_db_time(ctx.now)))
            .order(complaint_clocks::next_step_at.asc())
            .limit(batch)
            .select(complaint_clocks::id)
            .load(conn)?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for clock_id in due {
            let before = report.taken.len();
            if let Err(e) = conn.transaction(|conn| take_due_rungs(conn, ctx, &clock_id, &mut report)) {
                // One bad clock must not hold up everyone else's escalations.
                tracing::error!(clock = %clock_id, error = %e, "could not take a due rung; continuing");
                report.failed += 1;
                continue;
            }
            progressed |= report.taken.len() > before;
        }
        if !progressed {
            // Everything due was taken by another instance meanwhile, or rescheduled.
            break;
        }
    }
    report.auto_closed = service::auto_close_expired(conn, ctx)?;
    service::purge_sealed_codes(conn, ctx.now)?;
    Ok(report)
}

fn take_due_rungs(conn: &mut DbConnection, ctx: &Ctx, clock_id: &str, report: &mut SweepReport) -> ComplaintResult<()> {
    // The complaint's lock first — before anything is read, so a SQLite writer queues instead of
    // failing — orders this against other sweepers and against staff actions.
    let owner =
        complaint_clocks::table.filter(complaint_clocks::id.eq(clock_id)).select(complaint_clocks::complaint_id);
    let locked = diesel::update(complaints::table.filter(complaints::id.eq_any(owner)))
        .set(complaints::version.eq(complaints::version + 1))
        .execute(conn)?;
    if locked == 0 {
        return Ok(());
    }
    let clock: ClockRow = complaint_clocks::table.find(clock_id).select(ClockRow::as_select()).first(conn)?;
    let row = store::find(conn, &clock.complaint_id)?.expect("locked");
    if clock.stopped_at.is_some() {
        return super::schedule::schedule(conn, ctx, &clock);
    }
    let pauses = store::pauses_of(conn, &clock.id)?;
    if calendar_clock(&clock, &pauses, ctx.rules.cutoff).is_paused(ctx.now) {
        return super::schedule::schedule(conn, ctx, &clock);
    }
    let status = row.status;
    loop {
        let done = super::schedule::taken(conn, &clock.id)?;
        let Some((rung, fell_due)) =
            ctx.rules.notices.ladder.next(&done, clock.due_date, from_db_time(clock.due_at), ctx.cal)
        else {
            break;
        };
        if fell_due > ctx.now {
            break;
        }
        diesel::insert_into(clock_escalations::table)
            .values((
                clock_escalations::clock_id.eq(&clock.id),
                clock_escalations::step.eq(&rung.step),
                clock_escalations::taken_at.eq(to_db_time(ctx.now)),
                clock_escalations::counts_as_escalation.eq(rung.counts_as_escalation),
            ))
            .execute(conn)?;
        let working_days_overdue =
            ctx.cal.working_days_between(clock.due_date, crate::calendar::local_date(fell_due)).max(0);
        let working_days_left =
            ctx.cal.working_days_between(crate::calendar::local_date(fell_due), clock.due_date).max(0);
        let mut detail = notices::rung_emails(
            conn,
            ctx,
            &row,
            &clock,
            rung,
            // A rung can be taken again after it was re-armed: each taking queues its own emails.
            &crate::db::new_id(),
            fell_due,
            json!({"working_days_left": working_days_left, "working_days_overdue": working_days_overdue}),
        )?;
        detail["fell_due"] = json!(fell_due.with_timezone(&crate::calendar::shanghai()).to_rfc3339());
        if rung.marks_overdue {
            diesel::update(complaints::table.find(&row.id)).set(complaints::overdue.eq(true)).execute(conn)?;
            diesel::update(complaint_clocks::table.find(&clock.id))
                .set(complaint_clocks::breached_at.eq(Some(clock.due_at)))
                .execute(conn)?;
            detail["breached_at"] =
                json!(from_db_time(clock.due_at).with_timezone(&crate::calendar::shanghai()).to_rfc3339());
        }
        service::record_event(conn, ctx, &row.id, &Acting::system(), "escalation", status, detail, false)?;
        report.taken.push((row.tracking_number.clone(), rung.step.clone()));
    }
    super::schedule::schedule(conn, ctx, &clock)
}

/// The instant a sweep uses: the given one (for `sweep --now`) or the current one.
pub fn sweep_instant(now: Option<DateTime<Utc>>) -> DateTime<Utc> {
    now.unwrap_or_else(crate::db::now)
}
