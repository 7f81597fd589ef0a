//! Where a clock stands on its ladder: which rungs are taken, which is next and when. The
//! complaint operations call `schedule` whenever a clock's facts change (opened, paused,
//! extended, moved by a new calendar, stopped), and the sweeper after taking a rung; it calls
//! back into neither.

use diesel::prelude::*;

use super::ladder::rung_time;
use crate::complaints::context::{calendar_clock, Ctx, REPLY_CLOCK};
use crate::complaints::error::ComplaintResult;
use crate::complaints::store::{self, ClockRow};
use crate::db::schema::{clock_escalations, complaint_clocks, complaints};
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::mail::outbox;

/// The rungs already taken on a clock.
pub fn taken(conn: &mut DbConnection, clock_id: &str) -> QueryResult<Vec<String>> {
    clock_escalations::table.filter(clock_escalations::clock_id.eq(clock_id)).select(clock_escalations::step).load(conn)
}

/// Sets the clock's next rung from its current due date. Stopped and paused clocks get none:
/// a reply cancels the ladder, a pause holds it (the resume reschedules). A running reply
/// clock's ladder is first re-armed for the facts as they are now (`rearm`).
pub fn schedule(conn: &mut DbConnection, ctx: &Ctx, clock: &ClockRow) -> ComplaintResult<()> {
    if clock.kind == REPLY_CLOCK && clock.stopped_at.is_none() {
        rearm(conn, ctx, clock)?;
    }
    let next = if clock.kind != REPLY_CLOCK || clock.stopped_at.is_some() {
        None
    } else {
        let pauses = store::pauses_of(conn, &clock.id)?;
        if calendar_clock(clock, &pauses, ctx.rules.cutoff).is_paused(ctx.now) {
            None
        } else {
            let done = taken(conn, &clock.id)?;
            ctx.rules
                .notices
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

/// The first rung of a clock opened now, for the clock's INSERT: what [`schedule`] would find
/// for it (nothing taken, no pause, no mail queued yet) without asking the database.
pub fn first_rung(ctx: &Ctx, clock: &ClockRow) -> Option<(String, chrono::NaiveDateTime)> {
    if clock.kind != REPLY_CLOCK || clock.stopped_at.is_some() {
        return None;
    }
    ctx.rules
        .notices
        .ladder
        .next(&[], clock.due_date, from_db_time(clock.due_at), ctx.cal)
        .map(|(r, t)| (r.step.clone(), to_db_time(t)))
}

/// A rung taken earlier is taken again when what it said no longer holds: under the current due
/// date it falls due after the moment it was taken (the due time moved later: an extension, a
/// pause, a new calendar), or every email it queued was cancelled before it went out (paused,
/// reassigned, returned meanwhile). A breach that the due time now covers — an extension granted
/// after the clock ran out, on a request made before it did — is lifted: the complaint is no
/// longer overdue and the breach is not counted. Both compare the facts with each other, never
/// with the reading of the clock, so a sweep run for a drill instant cannot un-take rungs.
fn rearm(conn: &mut DbConnection, ctx: &Ctx, clock: &ClockRow) -> ComplaintResult<()> {
    let due_at = from_db_time(clock.due_at);
    let taken_rungs: Vec<(String, chrono::NaiveDateTime)> = clock_escalations::table
        .filter(clock_escalations::clock_id.eq(&clock.id))
        .select((clock_escalations::step, clock_escalations::taken_at))
        .load(conn)?;
    for (step, taken_at) in taken_rungs {
        let Some(rung) = ctx.rules.notices.ladder.rungs.iter().find(|r| r.step == step) else { continue };
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
