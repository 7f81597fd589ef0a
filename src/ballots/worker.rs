//! Rounds close themselves: the sweeper's tick (and `anshang sweep`) calls this.

use actix_web::web;
use chrono::{DateTime, Utc};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Closes the ballot rounds whose closing time has come, as of `now` (default: the current
/// instant), exactly as an officer's close would. Returns the ids of the rounds closed.
pub async fn close_due_rounds(
    state: &web::Data<AppState>,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<String>, ApiError> {
    db::run(&state.pool, move |conn| super::service::close_due_rounds(conn, now.unwrap_or_else(db::now))).await
}
