//! `/api/v1/departments` (public list) and the admin endpoints that manage departments.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;

use super::store::{self, DepartmentChange, DepartmentView, PublicDepartment};
use super::{DepartmentDraft, DepartmentKind};
use crate::auth::roles::AdminOnly;
use crate::auth::Staff;
use crate::db;
use crate::error::ApiError;
use crate::fields::{required_text, Checker, EmailAddress};
use crate::http::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_public).service(list_admin).service(create).service(update);
}

/// Active departments, for the complaint form (public).
#[utoipa::path(get, path = "/api/v1/departments", tag = "departments", responses((status = 200, body = Vec<PublicDepartment>)))]
#[get("/api/v1/departments")]
async fn list_public(state: web::Data<AppState>) -> Result<web::Json<Vec<PublicDepartment>>, ApiError> {
    let rows = db::run(&state.pool, |conn| store::list(conn, false)).await?;
    Ok(web::Json(rows.into_iter().map(|d| d.public()).collect()))
}

/// All departments with their email addresses, including inactive ones (admin).
#[utoipa::path(get, path = "/api/v1/admin/departments", tag = "departments", security(("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentView>)))]
#[get("/api/v1/admin/departments")]
async fn list_admin(
    state: web::Data<AppState>,
    _staff: Staff<AdminOnly>,
) -> Result<web::Json<Vec<DepartmentView>>, ApiError> {
    let rows = db::run(&state.pool, |conn| store::list(conn, true)).await?;
    Ok(web::Json(rows.into_iter().map(|d| d.view()).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartmentRequest {
    /// Short stable slug, 2–40 characters of a–z, 0–9 and '-', not starting with '-'.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,39}$")]
    pub code: String,
    /// At most 100 characters.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name_zh: String,
    /// At most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub name_en: String,
    pub kind: DepartmentKind,
    /// Receives assignment notices and reminders.
    #[schema(format = Email, max_length = 254)]
    pub contact_email: String,
    /// Receives the overdue escalation.
    #[schema(format = Email, max_length = 254)]
    pub head_email: String,
}

/// Create a department (admin).
#[utoipa::path(post, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])), request_body = CreateDepartmentRequest,
    responses((status = 201, body = DepartmentView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/departments")]
async fn create(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    body: JsonBody<CreateDepartmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let draft = DepartmentDraft::parse(&b.code, &b.name_zh, &b.name_en, b.kind, &b.contact_email, &b.head_email)?;
    let actor = staff.id.clone();
    let dept = db::run(&state.pool, move |conn| store::create(conn, &draft, Some(&actor), db::now())).await?;
    Ok(HttpResponse::Created().json(dept.view()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDepartmentRequest {
    /// At most 100 characters.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name_zh: Option<String>,
    /// At most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub name_en: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub contact_email: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub head_email: Option<String>,
    /// false deactivates: the department no longer takes new assignments.
    pub active: Option<bool>,
}

/// Rename, change addresses, deactivate or reactivate a department (admin).
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "departments", security(("bearer" = [])), request_body = UpdateDepartmentRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = DepartmentView)))]
#[patch("/api/v1/departments/{id}")]
async fn update(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<UpdateDepartmentRequest>,
) -> Result<web::Json<DepartmentView>, ApiError> {
    let b = body.into_inner();
    let mut check = Checker::default();
    let change = DepartmentChange {
        name_zh: b.name_zh.and_then(|n| check.check(required_text("name_zh", &n, 100))),
        name_en: b.name_en.and_then(|n| check.check(required_text("name_en", &n, 200))),
        contact_email: b
            .contact_email
            .and_then(|e| check.check(EmailAddress::parse("contact_email", &e)))
            .map(EmailAddress::into_inner),
        head_email: b
            .head_email
            .and_then(|e| check.check(EmailAddress::parse("head_email", &e)))
            .map(EmailAddress::into_inner),
        active: b.active,
    };
    check.finish()?;
    let id = crate::ids::DepartmentId::new(path.into_inner());
    let actor = staff.id.clone();
    let dept = db::run(&state.pool, move |conn| store::update(conn, &id, change, Some(&actor), db::now())).await?;
    Ok(web::Json(dept.view()))
}
