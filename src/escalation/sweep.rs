//! The sweeper. Each clock carries its next rung and when it falls due (`next_step_at`,
//! indexed), so a sweep reads only the due ones. Each rung is taken in one transaction under the
//! complaint's lock: the outbox rows, the audit event, the overdue flag and the `taken` row
//! (whose primary key makes a second taking impossible) commit together. Several instances may
//! sweep at once; the lock and the key keep every rung to exactly once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::complaints::notices;
use crate::complaints::service::{self, Acting, Ctx, REPLY_CLOCK};
use crate::complaints::store::{self, ClockRow};
use crate::db::schema::{clock_escalations, complaint_clocks, complaints};
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::error::ApiError;
use crate::mail::outbox;

use super::ladder::rung_time;

fn taken(conn: &mut DbConnection, clock_id: &str) -> QueryResult<Vec<String>> {
    clock_escalations::table.filter(clock_escalations::clock_id.eq(clock_id)).select(clock_escalations::step).load(conn)
}

/// Sets the clock's next rung from its current due date. Stopped and paused clocks get none:
/// a reply cancels the ladder, a pause holds it (the resume reschedules). A running reply
/// clock's ladder is first re-armed for the facts as they are now (`rearm`).
pub fn schedule(conn: &mut DbConnection, ctx: &Ctx, clock: &ClockRow) -> Result<(), ApiError> {
    if clock.kind == REPLY_CLOCK && clock.stopped_at.is_none() {
        rearm(conn, ctx, clock)?;
    }
    let next = if clock.kind != REPLY_CLOCK || clock.stopped_at.is_some() {
        None
    } else {
        let pauses = store::pauses_of(conn, &clock.id)?;
        if service::calendar_clock(clock, &pauses, ctx.cutoff).is_paused(ctx.now) {
            None
        } else {
            let done = taken(conn, &clock.id)?;
            ctx.notices
                .ladder
                .next(&done, clock.due_date, from_db_time(clock.due_at), ctx.cal)
                .map(|(r, t)| (r.step.clone(), to_db_time(t)))
        }
    };
    diesel::update(complaint_clocks::table.find(&clock.id))
        .set((
            complaint_clocks::next_step.eq(next.as_ref().map(|n| n.0.clone())),
            complaint_clocks::next_step_at.eq(next.map(|n| n.1)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A rung taken earlier is taken again when what it said no longer holds: under the current due
/// date it falls due after the moment it was taken (the due time moved later: an extension, a
/// pause, a new calendar), or every email it queued was cancelled before it went out (paused,
/// reassigned, returned meanwhile). A breach that the due time now covers — an extension granted
/// after the clock ran out, on a request made before it did — is lifted: the complaint is no
/// longer overdue and the breach is not counted. Both compare the facts with each other, never
/// with the reading of the clock, so a sweep run for a drill instant cannot un-take rungs.
fn rearm(conn: &mut DbConnection, ctx: &Ctx, clock: &ClockRow) -> Result<(), ApiError> {
    let due_at = from_db_time(clock.due_at);
    let taken_rungs: Vec<(String, chrono::NaiveDateTime)> = clock_escalations::table
        .filter(clock_escalations::clock_id.eq(&clock.id))
        .select((clock_escalations::step, clock_escalations::taken_at))
        .load(conn)?;
    for (step, taken_at) in taken_rungs {
        let Some(rung) = ctx.notices.ladder.rungs.iter().find(|r| r.step == step) else { continue };
        let now_later =
            rung_time(rung.trigger, clock.due_date, due_at, ctx.cal).is_some_and(|t| t > from_db_time(taken_at));
        let statuses = outbox::statuses_of_notice(conn, &clock.id, &step)?;
        let never_told = !statuses.is_empty() && statuses.iter().all(|s| s == outbox::CANCELLED);
        if now_later || never_told {
            diesel::delete(
                clock_escalations::table
                    .filter(clock_escalations::clock_id.eq(&clock.id))
                    .filter(clock_escalations::step.eq(&step)),
            )
            .execute(conn)?;
        }
    }
    if clock.breached_at.is_some_and(|breached| clock.due_at > breached) {
        diesel::update(complaint_clocks::table.find(&clock.id))
            .set(complaint_clocks::breached_at.eq(None::<chrono::NaiveDateTime>))
            .execute(conn)?;
        diesel::update(complaints::table.find(&clock.complaint_id)).set(complaints::overdue.eq(false)).execute(conn)?;
    }
    Ok(())
}

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
pub fn sweep_once(conn: &mut DbConnection, ctx: &Ctx, batch: i64) -> Result<SweepReport, ApiError> {
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

fn take_due_rungs(
    conn: &mut DbConnection,
    ctx: &Ctx,
    clock_id: &str,
    report: &mut SweepReport,
) -> Result<(), ApiError> {
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
        return schedule(conn, ctx, &clock);
    }
    let pauses = store::pauses_of(conn, &clock.id)?;
    if service::calendar_clock(&clock, &pauses, ctx.cutoff).is_paused(ctx.now) {
        return schedule(conn, ctx, &clock);
    }
    let status = service::status_of(&row)?;
    loop {
        let done = taken(conn, &clock.id)?;
        let Some((rung, fell_due)) =
            ctx.notices.ladder.next(&done, clock.due_date, from_db_time(clock.due_at), ctx.cal)
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
    schedule(conn, ctx, &clock)
}

/// The instant a sweep uses: the given one (for `sweep --now`) or the current one.
pub fn sweep_instant(now: Option<DateTime<Utc>>) -> DateTime<Utc> {
    now.unwrap_or_else(crate::db::now)
}
