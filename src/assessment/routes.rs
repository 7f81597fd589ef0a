//! `/api/v1/assessment/*`: the year's scores (JSON, CSV or HTML), one department's breakdown,
//! and finalisation.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::report::{self, AssessmentReport, NamedScore};
use crate::auth::roles::{AnyStaff, Assessors, CommissionOnly, DepartmentOnly};
use crate::auth::{Role, Staff};
use crate::db;
use crate::error::ApiError;
use crate::http::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(year_report)
        .service(department_breakdown)
        .service(finalize)
        .service(monthly)
        .service(bimonthly)
        .service(request_review)
        .service(list_reviews)
        .service(decide_review);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` (UTF-8 with BOM) or `html` (printable, with charts).
    #[param(pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
}

fn check_year(year: i32) -> Result<(), ApiError> {
    if (2017..=2100).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no assessment for {year}")))
    }
}

/// A report month from the query string, in the years an assessment covers (422 otherwise: the
/// value is wrong, no record is missing).
fn report_month(field: &str, raw: &str) -> Result<chrono::NaiveDate, ApiError> {
    let month = super::periodic::parse_month(field, raw)?;
    if (2017..=2100).contains(&chrono::Datelike::year(&month)) {
        Ok(month)
    } else {
        Err(ApiError::invalid(field, "out_of_range", "a month in 2017–2100"))
    }
}

/// The year's scores and ranking: the finalised snapshot if there is one, else computed now.
#[utoipa::path(get, path = "/api/v1/assessment/{year}", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path), FormatQuery),
    responses((status = 200, description = "in the format asked for", content((AssessmentReport = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 400, description = "an unknown query parameter", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "a year outside 2017–2100, or not a year", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/assessment/{year}")]
async fn year_report(
    state: web::Data<AppState>,
    _staff: Staff<Assessors>,
    path: web::Path<i32>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let format = query.into_inner().format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "html"].contains(&format.as_str()) {
        return Err(ApiError::invalid("format", "unknown", "json, csv or html"));
    }
    let (formula, cal) = (state.settings.assessment.clone(), state.calendar.current());
    let r = db::run(&state.pool, move |conn| report::current(conn, &cal, &formula, year, db::now())).await?;
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                crate::csv_export::attachment_disposition(&format!("assessment-{year}.csv")),
            ))
            .body(report::to_csv(&r)),
        "html" => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(report::to_html(&r)?),
        _ => HttpResponse::Ok().json(r),
    })
}

/// One department's score with every term, its inputs and the complaints and rounds used. A
/// department's own staff may read their own.
#[utoipa::path(get, path = "/api/v1/assessment/{year}/departments/{id}", tag = "assessment", security(("bearer" = [])),
    params(("year" = i32, Path), ("id" = String, Path)),
    responses((status = 200, body = NamedScore)))]
#[get("/api/v1/assessment/{year}/departments/{id}")]
async fn department_breakdown(
    state: web::Data<AppState>,
    staff: Staff<AnyStaff>,
    path: web::Path<(i32, String)>,
) -> Result<web::Json<NamedScore>, ApiError> {
    let (year, id) = path.into_inner();
    check_year(year)?;
    let allowed = match staff.role {
        Role::Coordinator | Role::Commission | Role::Admin => true,
        Role::Department => staff.department_id.as_deref() == Some(id.as_str()),
        Role::Operator => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden(
            "only the coordination office, the commission, administrators and the department itself see a breakdown"
                .into(),
        ));
    }
    let (formula, cal) = (state.settings.assessment.clone(), state.calendar.current());
    let r = db::run(&state.pool, move |conn| report::current(conn, &cal, &formula, year, db::now())).await?;
    r.departments
        .into_iter()
        .find(|d| d.score.department_id == id)
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound("no such department in this assessment".into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalizeRequest {
    /// Required when the year was finalised before (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// Freeze the year's scores as a new snapshot version (commission).
#[utoipa::path(post, path = "/api/v1/assessment/{year}/finalize", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path)),
    request_body = FinalizeRequest,
    responses((status = 200, body = AssessmentReport),
        (status = 404, description = "a year outside 2017–2100, or not a year", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/assessment/{year}/finalize")]
async fn finalize(
    state: web::Data<AppState>,
    staff: Staff<CommissionOnly>,
    path: web::Path<i32>,
    body: JsonBody<FinalizeRequest>,
) -> Result<web::Json<AssessmentReport>, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let reason = crate::fields::optional_text("reason", body.into_inner().reason.as_deref(), 2000)?;
    let (formula, actor, cal) = (state.settings.assessment.clone(), staff.id.clone(), state.calendar.current());
    db::run(&state.pool, move |conn| report::finalize(conn, &cal, &formula, year, reason.as_deref(), &actor, db::now()))
        .await
        .map(web::Json)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// The month, e.g. 2026-10 (2017–2100).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$", example = "2026-10")]
    pub month: String,
}

/// The monthly ranking: per department, complaints received and replied (on time), overdue now,
/// average working days to reply, satisfaction, contests, conduct index, score and rank.
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "assessment", security(("bearer" = [])), params(MonthQuery),
    responses((status = 200, body = super::periodic::MonthlyReport),
        (status = 400, description = "`month` missing, or an unknown query parameter", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/reports/monthly")]
async fn monthly(
    state: web::Data<AppState>,
    _staff: Staff<Assessors>,
    query: web::Query<MonthQuery>,
) -> Result<web::Json<super::periodic::MonthlyReport>, ApiError> {
    let month = report_month("month", &query.month)?;
    let (formula, cal) = (state.settings.assessment.clone(), state.calendar.current());
    db::run(&state.pool, move |conn| super::periodic::monthly(conn, &cal, &formula, month, db::now()))
        .await
        .map(web::Json)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BimonthlyQuery {
    /// The first of the two months, e.g. 2026-09 (2017–2100).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$", example = "2026-09")]
    pub from: String,
    /// `json` (default), `csv` or `html`.
    #[param(pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
}

/// The bi-monthly report to the level above: received, accepted, concluded, in progress,
/// terminated with reasons, overdue.
#[utoipa::path(get, path = "/api/v1/reports/bimonthly", tag = "assessment", security(("bearer" = [])), params(BimonthlyQuery),
    responses((status = 200, description = "in the format asked for", content((super::periodic::BimonthlyReport = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 400, description = "`from` missing, or an unknown query parameter", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/reports/bimonthly")]
async fn bimonthly(
    state: web::Data<AppState>,
    _staff: Staff<Assessors>,
    query: web::Query<BimonthlyQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let from = report_month("from", &q.from)?;
    let format = q.format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "html"].contains(&format.as_str()) {
        return Err(ApiError::invalid("format", "unknown", "json, csv or html"));
    }
    let r = db::run(&state.pool, move |conn| super::periodic::bimonthly(conn, from)).await?;
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                crate::csv_export::attachment_disposition(&format!("bimonthly-{}.csv", r.from)),
            ))
            .body(super::periodic::bimonthly_csv(&r)),
        "html" => {
            HttpResponse::Ok().content_type("text/html; charset=utf-8").body(super::periodic::bimonthly_html(&r)?)
        }
        _ => HttpResponse::Ok().json(r),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// Why the score should be reviewed, at most 4,000 characters.
    #[schema(max_length = 4000, pattern = r"\S")]
    pub reasons: String,
}

/// A department asks for a review (复核) of its published score, within 15 working days.
#[utoipa::path(post, path = "/api/v1/assessment/{year}/reviews", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path)),
    request_body = ReviewRequest,
    responses((status = 201, body = super::review::ReviewView),
        (status = 404, description = "a year outside 2017–2100, or not a year", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/assessment/{year}/reviews")]
async fn request_review(
    state: web::Data<AppState>,
    staff: Staff<DepartmentOnly>,
    path: web::Path<i32>,
    body: JsonBody<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let reasons = crate::fields::required_text("reasons", &body.into_inner().reasons, 4000)?;
    let department = staff
        .department_id
        .clone()
        .ok_or_else(|| ApiError::Forbidden("the account belongs to no department".into()))?;
    let (actor, cal) = (staff.id.clone(), state.calendar.current());
    let now = db::now();
    let row =
        db::run(&state.pool, move |conn| super::review::request(conn, &cal, year, &department, &reasons, &actor, now))
            .await?;
    Ok(HttpResponse::Created().json(super::review::view(&row, now)))
}

/// Review requests of the year: all for the coordination office, commission and administrators;
/// its own for a department.
#[utoipa::path(get, path = "/api/v1/assessment/{year}/reviews", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path)),
    responses((status = 200, body = Vec<super::review::ReviewView>),
        (status = 404, description = "a year outside 2017–2100, or not a year", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/assessment/{year}/reviews")]
async fn list_reviews(
    state: web::Data<AppState>,
    staff: Staff<AnyStaff>,
    path: web::Path<i32>,
) -> Result<web::Json<Vec<super::review::ReviewView>>, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let only = match staff.role {
        Role::Coordinator | Role::Commission | Role::Admin => None,
        Role::Department => Some(staff.department_id.clone().map(String::from).unwrap_or_default()),
        Role::Operator => return Err(ApiError::Forbidden("the role operator may not do this".into())),
    };
    let now = db::now();
    let rows = db::run(&state.pool, move |conn| super::review::list(conn, year, only.as_deref())).await?;
    Ok(web::Json(rows.iter().map(|r| super::review::view(r, now)).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// true: the score changes — a new finalised version is made, with this decision attached.
    pub changed: bool,
    /// At most 4,000 characters.
    #[schema(max_length = 4000, pattern = r"\S")]
    pub reason: String,
}

/// The commission decides a review (within 10 working days).
#[utoipa::path(post, path = "/api/v1/assessment/{year}/reviews/{id}/decision", tag = "assessment", security(("bearer" = [])),
    params(("year" = i32, Path), ("id" = String, Path)), request_body = ReviewDecision,
    responses((status = 200, body = super::review::ReviewView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/assessment/{year}/reviews/{id}/decision")]
async fn decide_review(
    state: web::Data<AppState>,
    staff: Staff<CommissionOnly>,
    path: web::Path<(i32, String)>,
    body: JsonBody<ReviewDecision>,
) -> Result<web::Json<super::review::ReviewView>, ApiError> {
    let (year, id) = path.into_inner();
    let b = body.into_inner();
    let reason = crate::fields::required_text("reason", &b.reason, 4000)?;
    let (actor, cal) = (staff.id.clone(), state.calendar.current());
    let now = db::now();
    let row =
        db::run(&state.pool, move |conn| super::review::decide(conn, &cal, year, &id, b.changed, &reason, &actor, now))
            .await?;
    Ok(web::Json(super::review::view(&row, now)))
}
