//! `/api/v1/assessment/*`: the year's scores (JSON, CSV or HTML), one department's breakdown,
//! and finalisation.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::report::{self, AssessmentReport, NamedScore};
use crate::app::AppState;
use crate::auth::roles::{AnyStaff, Assessors, CommissionOnly};
use crate::auth::{Role, Staff};
use crate::db;
use crate::error::ApiError;
use crate::http::JsonBody;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(year_report).service(department).service(finalize);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` (UTF-8 with BOM) or `html` (printable, with charts).
    pub format: Option<String>,
}

fn check_year(year: i32) -> Result<(), ApiError> {
    if (2017..=2100).contains(&year) { Ok(()) } else { Err(ApiError::NotFound(format!("no assessment for {year}"))) }
}

/// The year's scores and ranking: the finalised snapshot if there is one, else computed now.
#[utoipa::path(get, path = "/api/v1/assessment/{year}", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path), FormatQuery),
    responses((status = 200, body = AssessmentReport), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/assessment/{year}")]
async fn year_report(state: web::Data<AppState>, _staff: Staff<Assessors>, path: web::Path<i32>, query: web::Query<FormatQuery>) -> Result<HttpResponse, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let format = query.into_inner().format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "html"].contains(&format.as_str()) {
        return Err(ApiError::invalid("format", "unknown", "json, csv or html"));
    }
    let formula = state.settings.assessment.clone();
    let r = db::run(&state.pool, move |conn| report::current(conn, &formula, year, db::now())).await?;
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"assessment-{year}.csv\"")))
            .body(report::to_csv(&r)),
        "html" => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(report::to_html(&r)),
        _ => HttpResponse::Ok().json(r),
    })
}

/// One department's score with every term, its inputs and the complaints and rounds used. A
/// department's own staff may read their own.
#[utoipa::path(get, path = "/api/v1/assessment/{year}/departments/{id}", tag = "assessment", security(("bearer" = [])),
    params(("year" = i32, Path), ("id" = String, Path)),
    responses((status = 200, body = NamedScore), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/assessment/{year}/departments/{id}")]
async fn department(state: web::Data<AppState>, staff: Staff<AnyStaff>, path: web::Path<(i32, String)>) -> Result<web::Json<NamedScore>, ApiError> {
    let (year, id) = path.into_inner();
    check_year(year)?;
    let allowed = match staff.role {
        Role::Coordinator | Role::Commission | Role::Admin => true,
        Role::Department => staff.department_id.as_deref() == Some(id.as_str()),
        Role::Operator => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden("only the coordination office, the commission, administrators and the department itself see a breakdown".into()));
    }
    let formula = state.settings.assessment.clone();
    let r = db::run(&state.pool, move |conn| report::current(conn, &formula, year, db::now())).await?;
    r.departments.into_iter().find(|d| d.score.department_id == id).map(web::Json).ok_or_else(|| ApiError::NotFound("no such department in this assessment".into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalizeRequest {
    /// Required when the year was finalised before (at most 2,000 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Freeze the year's scores as a new snapshot version (commission).
#[utoipa::path(post, path = "/api/v1/assessment/{year}/finalize", tag = "assessment", security(("bearer" = [])), params(("year" = i32, Path)),
    request_body = FinalizeRequest,
    responses((status = 200, body = AssessmentReport), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/assessment/{year}/finalize")]
async fn finalize(state: web::Data<AppState>, staff: Staff<CommissionOnly>, path: web::Path<i32>, body: JsonBody<FinalizeRequest>) -> Result<web::Json<AssessmentReport>, ApiError> {
    let year = path.into_inner();
    check_year(year)?;
    let reason = crate::fields::optional_text("reason", body.into_inner().reason.as_deref(), 2000)?;
    let (formula, actor) = (state.settings.assessment.clone(), staff.id.clone());
    db::run(&state.pool, move |conn| report::finalize(conn, &formula, year, reason.as_deref(), &actor, db::now())).await.map(web::Json)
}
