//! The figures `/metrics` reads from the database at each scrape: a handful of aggregate
//! queries (counts and one minimum, each over an indexed or small set), the same on SQLite and
//! PostgreSQL, so every instance reports the same state and a restart loses nothing.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::ballots::model::RoundStatus;
use crate::complaints::state::Status;
use crate::db::schema::{ballot_credentials, ballot_rounds, clock_escalations, complaint_clocks, complaints, outbox};
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::mail::outbox::{CANCELLED, FAILED, PENDING};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseFigures {
    /// Every open status, with 0 for the empty ones (a series does not vanish when it empties).
    pub open_by_status: Vec<(String, i64)>,
    pub overdue: i64,
    pub rungs_due: i64,
    pub rungs_taken: Vec<(String, i64)>,
    /// pending, failed and cancelled (sent grows without bound and is not counted).
    pub outbox_by_status: Vec<(String, i64)>,
    pub oldest_pending_age_secs: f64,
    pub rounds_open: i64,
    pub ballots_cast_in_open_rounds: i64,
}

/// Reads the figures as of `now`.
pub fn read(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<DatabaseFigures> {
    let open: Vec<&str> = Status::ALL.iter().filter(|s| !s.is_terminal()).map(|s| s.as_str()).collect();
    let counted: Vec<(String, i64)> = complaints::table
        .filter(complaints::status.eq_any(&open))
        .group_by(complaints::status)
        .select((complaints::status, count_star()))
        .load(conn)?;
    let open_by_status = with_zeros(&open, counted);
    let overdue: i64 = complaints::table
        .filter(complaints::status.eq_any(&open))
        .filter(complaints::overdue.eq(true))
        .count()
        .get_result(conn)?;
    let rungs_due: i64 =
        complaint_clocks::table.filter(complaint_clocks::next_step_at.le(to_db_time(now))).count().get_result(conn)?;
    let rungs_taken: Vec<(String, i64)> = clock_escalations::table
        .group_by(clock_escalations::step)
        .select((clock_escalations::step, count_star()))
        .order(clock_escalations::step.asc())
        .load(conn)?;
    let watched = [PENDING, FAILED, CANCELLED];
    let counted: Vec<(String, i64)> = outbox::table
        .filter(outbox::status.eq_any(watched))
        .group_by(outbox::status)
        .select((outbox::status, count_star()))
        .load(conn)?;
    let outbox_by_status = with_zeros(&watched, counted);
    // A first attempt deliberately held back (an overdue notice waiting for working hours) is
    // not late; one that is due, or already failed once and waits for its retry, is.
    let oldest: Option<chrono::NaiveDateTime> = outbox::table
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::next_attempt_at.le(to_db_time(now)).or(outbox::attempts.gt(0)))
        .select(min(outbox::created_at))
        .first(conn)?;
    let oldest_pending_age_secs =
        oldest.map(|t| (now - from_db_time(t)).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0);
    let open_round = ballot_rounds::status.eq(RoundStatus::Open.as_str());
    let rounds_open: i64 = ballot_rounds::table.filter(open_round).count().get_result(conn)?;
    let open_rounds = ballot_rounds::table.filter(open_round).select(ballot_rounds::id);
    let ballots_cast_in_open_rounds: i64 = ballot_credentials::table
        .filter(ballot_credentials::round_id.eq_any(open_rounds))
        .filter(ballot_credentials::used.eq(true))
        .count()
        .get_result(conn)?;
    Ok(DatabaseFigures {
        open_by_status,
        overdue,
        rungs_due,
        rungs_taken,
        outbox_by_status,
        oldest_pending_age_secs,
        rounds_open,
        ballots_cast_in_open_rounds,
    })
}

/// `names` in order, each with its count from `counted` or 0.
fn with_zeros(names: &[&str], counted: Vec<(String, i64)>) -> Vec<(String, i64)> {
    names
        .iter()
        .map(|name| {
            let n = counted.iter().find(|(k, _)| k == name).map_or(0, |(_, n)| *n);
            (name.to_string(), n)
        })
        .collect()
}
