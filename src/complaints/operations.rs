//! The complaint operations as both front ends (the JSON API and the pages) call them: who is
//! acting, the blocking hop into the database with the current calendar and rules, the SQLite
//! writer connection, the lookups an investor's number and code open, and loading a calendar year (it
//! recomputes every open clock). Handlers parse and render; everything between them and
//! `service` is here, once.

use super::context;
use actix_web::web;
use chrono::NaiveDate;

use super::context::Acting;
use super::error::{ComplaintError, ComplaintResult};
use super::filing::Filing;
use super::intake::ValidComplaint;
use super::model::TrackingNumber;
use super::service::{self, Filed, IdempotencyKey};
use super::state::Actor;
use super::store;
use crate::auth::{Role, StaffUser};
use crate::db;
use crate::error::ApiError;
use crate::http::rate_limit::Admission;
use crate::state::AppState;

/// A signed-in staff member as the service sees them.
pub fn acting(user: &StaffUser) -> Acting {
    let actor = match user.role {
        Role::Operator => Actor::Operator,
        Role::Department => Actor::Department,
        Role::Coordinator => Actor::Coordinator,
        Role::Commission => Actor::Commission,
        Role::Admin => Actor::Admin,
    };
    Acting { actor, user_id: Some(user.id.clone()), department_id: user.department_id.clone() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read whose cost is bounded by a key or an index (one complaint, one inbox page): on
    /// SQLite it runs on the request's own thread (`db::sqlite_readers`), with no hop.
    Lookup,
    /// Any other read (a search, a scan).
    Read,
    Write,
}

/// Runs one complaint operation with the current calendar and rules. On SQLite, writes take
/// turns on the instance's writer connection (`db::sqlite_writer`) in a blocking task, and
/// lookups run on the request's own thread with its read connection (`db::sqlite_readers`);
/// other reads, and everything on PostgreSQL, take a pooled connection in a blocking task.
pub async fn with_ctx<T, F>(state: &web::Data<AppState>, access: Access, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx) -> ComplaintResult<T> + Send + 'static,
    T: Send + 'static,
{
    with_ctx_admitted(state, access, Admission::Counted, work).await
}

/// [`with_ctx`] for a public request whose rate-limit count may still be pending: it is made
/// first, on the same connection and outside the operation's transaction (a refused lookup
/// counts), so the request takes one blocking hop and one pooled connection.
pub async fn with_ctx_admitted<T, F>(
    state: &web::Data<AppState>,
    access: Access,
    admission: Admission,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx) -> ComplaintResult<T> + Send + 'static,
    T: Send + 'static,
{
    let cal = state.calendar.current();
    let rules = state.rules.clone();
    let operation = move |conn: &mut db::DbConnection| {
        admission.count_on(conn)?;
        let ctx = rules.ctx(&cal, db::now());
        // The one place a complaint operation's error becomes the front ends' error.
        work(conn, &ctx).map_err(ApiError::from)
    };
    match (&state.sqlite_writer, &state.sqlite_readers, access) {
        (Some(writer), _, Access::Write) => {
            let writer = writer.clone();
            web::block(move || writer.with(operation)).await.map_err(|e| ApiError::internal("blocking task", e))?
        }
        (_, readers, Access::Lookup) => db::lookup(&state.pool, readers.as_ref(), operation).await,
        _ => db::run(&state.pool, operation).await,
    }
}

/// Files a complaint in the instance's next group of filings (`db::group_commit`, `filing::Filings`),
/// answered once that group has committed. The client's rate-limit count is made first, on a
/// pooled connection of its own (a refused filing counts; the filing thread, which all filings
/// pass through one after another, is spared the round trip). The pages and the API all file
/// here.
pub async fn file(
    state: &web::Data<AppState>,
    admission: Admission,
    valid: ValidComplaint,
    acting: Acting,
    idempotency: Option<(IdempotencyKey, String)>,
) -> Result<Filed, ApiError> {
    admission.count_now(&state.pool).await?;
    state.filings.submit(Filing::new(state.calendar.current(), valid, acting, idempotency)).await
}

/// Finds the complaint the number and code open. Unknown numbers and wrong codes give the same
/// answer (the code hashes are compared in constant time); every lookup counts against the
/// client's rate limit, which the caller checks.
pub fn open_by_code(
    conn: &mut db::DbConnection,
    number: &str,
    code_hash: &str,
) -> ComplaintResult<store::ComplaintRow> {
    open_with_department(conn, number, code_hash).map(|(row, _)| row)
}

/// [`open_by_code`] with the handling department read in the same statement, for the views
/// (`service::load_viewed`).
pub fn open_with_department(
    conn: &mut db::DbConnection,
    number: &str,
    code_hash: &str,
) -> ComplaintResult<store::WithDepartment> {
    let number = TrackingNumber::parse(number).ok_or(ComplaintError::NoMatchForCode)?;
    let found = store::find_by_tracking_number_with_department(conn, &number.to_string())?
        .ok_or(ComplaintError::NoMatchForCode)?;
    if crate::http::same_secret(&found.0.access_code_hash, code_hash) {
        Ok(found)
    } else {
        Err(ComplaintError::NoMatchForCode)
    }
}

/// The stored instant that starts a "received from/to" filter date: midnight in Beijing of the
/// date, or of the day after it (`day_after`, for an inclusive end). A date outside
/// `STORABLE_YEARS` is refused by `field` (PostgreSQL could not even compare with it).
pub fn received_filter(field: &str, d: NaiveDate, day_after: bool) -> ComplaintResult<chrono::NaiveDateTime> {
    let out_of_range = || ComplaintError::invalid(field, "out_of_range", "a date between 1900 and 9999");
    if !crate::fields::STORABLE_YEARS.contains(&chrono::Datelike::year(&d)) {
        return Err(out_of_range());
    }
    let day = if day_after { d.succ_opt().ok_or_else(out_of_range)? } else { d };
    Ok(db::to_db_time(crate::calendar::start_of_local_day(day)))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoadedYear {
    pub year: i32,
    pub version: String,
    /// True when nothing was stored (`?dry_run=true`): `moved` is what a load would do.
    pub dry_run: bool,
    /// Open clocks whose due date or provisional flag changed (0 on a dry run).
    pub clocks_recomputed: usize,
    /// Open clocks whose due instant moves; their investors and departments are told.
    pub moved: Vec<service::MovedDeadline>,
}

/// Loads (or, as a dry run, checks) the official data of `year` for administrator `actor`: the
/// API's `PUT /api/v1/calendar/{year}` and the administrator's calendar page both come here.
/// The running instance switches to the new calendar once it is stored.
pub async fn load_year(
    state: &web::Data<AppState>,
    actor: crate::ids::UserId,
    year: i32,
    parsed: crate::calendar::CalendarYear,
    dry_run: bool,
) -> Result<LoadedYear, ApiError> {
    if parsed.year != year {
        return Err(ApiError::invalid(
            "year",
            "mismatch",
            format!("the data is for {}, the URL says {year}", parsed.year),
        ));
    }
    if parsed.provisional {
        return Err(ApiError::invalid("provisional", "not_official", "only official data can be loaded"));
    }
    let rules = state.rules.clone();
    let calendar_dir = state.settings.calendar.dir.clone();
    let version = parsed.version();
    let load = db::run(&state.pool, move |conn| {
        service::load_official_year(conn, &rules, &calendar_dir, &parsed, Some(&actor), db::now(), dry_run)
            .map_err(ApiError::from)
    })
    .await?;
    if dry_run {
        return Ok(LoadedYear { year, version, dry_run, clocks_recomputed: 0, moved: load.moved });
    }
    state.calendar.replace(load.calendar);
    tracing::info!(
        year,
        recomputed = load.clocks_recomputed,
        moved = load.moved.len(),
        "official calendar year loaded"
    );
    Ok(LoadedYear { year, version, dry_run, clocks_recomputed: load.clocks_recomputed, moved: load.moved })
}
