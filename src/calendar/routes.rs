//! `/api/v1/calendar/*`: the working-day calendar (public), deadline answers (public), and
//! loading an official year (admin) without a restart.

use actix_web::http::header;
use actix_web::{get, put, web, HttpRequest};
use serde::{Deserialize, Serialize};

use super::runtime::{self, DueAnswer};
use super::CalendarYear;
use crate::auth::roles::AdminOnly;
use crate::auth::Staff;
use crate::complaints::operations::{load_year, LoadedYear};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(due).service(get_year).service(put_year);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// Receipt instant, RFC 3339 with any offset (e.g. 2026-09-30T17:00:00+08:00 or …Z), in a
    /// year the calendar covers.
    #[param(format = DateTime, example = "2026-09-30T17:00:00+08:00")]
    pub received: String,
    /// Working days, 1–120 (default: the reply clock, 7).
    #[param(minimum = 1, maximum = 120)]
    pub days: Option<u32>,
}

/// When is a clock received at this instant due, and why. The same answer as `anshang calendar due`.
#[utoipa::path(get, path = "/api/v1/calendar/due", tag = "calendar", params(DueQuery),
    responses((status = 200, body = DueAnswer), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/calendar/due")]
async fn due(state: web::Data<AppState>, query: web::Query<DueQuery>) -> Result<web::Json<DueAnswer>, ApiError> {
    let q = query.into_inner();
    let received = runtime::parse_instant(&q.received)
        .map_err(|e| ApiError::invalid("received", "invalid_instant", e.to_string()))?;
    let days = q.days.unwrap_or(state.settings.clocks.reply.working_days);
    if !(1..=120).contains(&days) {
        return Err(ApiError::invalid("days", "out_of_range", "between 1 and 120 working days"));
    }
    let cal = state.calendar.current();
    if !super::SUPPORTED_YEARS.contains(&chrono::Datelike::year(&super::local_date(received))) {
        return Err(ApiError::invalid("received", "out_of_range", "outside the years the calendar covers"));
    }
    Ok(web::Json(runtime::due_answer(&cal, received, days, state.settings.clocks.cutoff)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct YearView {
    pub year: i32,
    /// Derived from the holiday law because no official notice is loaded.
    pub provisional: bool,
    pub version: String,
    #[schema(value_type = Object)]
    pub data: CalendarYear,
}

/// One year of the working-day calendar: off days with their holiday names, make-up workdays.
#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "calendar", params(("year" = i32, Path)),
    responses((status = 200, body = YearView)))]
#[get("/api/v1/calendar/{year}")]
async fn get_year(state: web::Data<AppState>, path: web::Path<i32>) -> Result<web::Json<YearView>, ApiError> {
    let year = path.into_inner();
    let cal = state.calendar.current();
    let data =
        cal.year(year).cloned().ok_or_else(|| ApiError::NotFound(format!("the calendar does not cover {year}")))?;
    Ok(web::Json(YearView { year, provisional: data.provisional, version: data.version(), data }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoadQuery {
    /// Report the deadlines the load would move, and store nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Load the official data of a year (TOML, as in config/calendar/cn-<year>.toml; or the same as
/// JSON). Validated, stored for every instance, open clocks recomputed, audited.
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "calendar", security(("bearer" = [])), params(("year" = i32, Path), LoadQuery),
    request_body(description = "the year's data as TOML (application/toml, text/x-toml or text/plain) or as JSON",
        content((String = "application/toml"), (String = "text/x-toml"), (String = "text/plain"), (Object = "application/json"))),
    responses((status = 200, body = LoadedYear), (status = 400, description = "the body is not UTF-8, or malformed JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "not a year", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "the body is larger than server.json_limit_bytes", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[put("/api/v1/calendar/{year}")]
async fn put_year(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    req: HttpRequest,
    path: web::Path<i32>,
    query: web::Query<LoadQuery>,
    body: web::Bytes,
) -> Result<web::Json<LoadedYear>, ApiError> {
    let year = path.into_inner();
    let dry_run = query.dry_run;
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let parsed = if content_type.starts_with("application/json") {
        let y: CalendarYear = crate::http::json::parse_json(&body)?;
        y.validate().map(|_| y)
    } else if content_type.starts_with("application/toml")
        || content_type.starts_with("text/plain")
        || content_type.starts_with("text/x-toml")
    {
        CalendarYear::from_toml_str(text)
    } else {
        return Err(ApiError::UnsupportedMediaType("send application/toml (or application/json)".into()));
    };
    let parsed = parsed.map_err(|e| ApiError::invalid("body", "invalid_calendar", e.to_string()))?;
    load_year(&state, staff.id.clone(), year, parsed, dry_run).await.map(web::Json)
}
