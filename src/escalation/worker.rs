//! The sweeper as a background worker and as one pass (`anshang sweep`): it takes the due rungs
//! and, on the same tick, closes the ballot rounds whose closing time has come.

use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// One sweep as of `now` (default: the current instant).
pub async fn sweep(
    state: &web::Data<AppState>,
    now: Option<DateTime<Utc>>,
) -> Result<super::sweep::SweepReport, ApiError> {
    let cal = state.calendar.current();
    let rules = state.rules.clone();
    db::run(&state.pool, move |conn| {
        let ctx = rules.ctx(&cal, super::sweep::sweep_instant(now));
        super::sweep::sweep_once(conn, &ctx, 500).map_err(ApiError::from)
    })
    .await
}

/// Every `escalation.sweep_interval_secs`: a sweep, then the due ballot rounds closed. A failed
/// pass is logged and tried again on the next tick.
pub fn spawn(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut tick =
            actix_web::rt::time::interval(Duration::from_secs(state.settings.escalation.sweep_interval_secs));
        loop {
            tick.tick().await;
            let started = std::time::Instant::now();
            let swept = sweep(&state, None).await;
            state.metrics.sweep.finished(started.elapsed(), swept.is_ok());
            match swept {
                Ok(report) => state.metrics.record_rungs_taken(report.taken.iter().map(|(_, step)| step.as_str())),
                Err(e) => tracing::warn!(error = %e, "sweep failed; will try again"),
            }
            if let Err(e) = crate::ballots::worker::close_due_rounds(&state, None).await {
                tracing::warn!(error = %e, "closing due ballot rounds failed; will try again");
            }
        }
    });
}
