//! `/api/v1/complaints/*` (filing, staff work) and `/api/v1/track/*` (the investor, with the
//! tracking number and access code). Handlers parse and authorise, call the service, map.

use super::context;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::context::Acting;
use super::intake::{self, limits, FileComplaintRequest};
use super::model::{hash_access_code, Language, Rating, ReplyOutcome, TrackingNumber};
use super::operations::{self, acting, open_by_code, open_with_department, with_ctx, with_ctx_admitted, Access};
use super::service::{self, IdempotencyKey};
use super::state::Status;
use super::store::{self, ListFilter};
use super::views::{self, ComplaintSummary, ComplaintView, TrackingView};
use crate::auth::roles::{
    AuditReaders, CoordinatorOnly, DepartmentOnly, Handlers, Intake, OperatorOnly, StatusReaders,
};
use crate::auth::{MaybeStaff, Role, Staff};
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::db;
use crate::error::ApiError;
use crate::fields::{optional_text, required_text};
use crate::http::rate_limit::Admission;
use crate::http::{ClientAddr, JsonBody, NoStore};
use crate::ids::{ComplaintId, DepartmentId};
use crate::state::AppState;

/// The hottest reads first (see `app::configure_routes`): the investor's tracking page, then a
/// clerk's inbox and a complaint's view.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(track)
        .service(file)
        .service(list)
        .service(get_one)
        .service(by_number)
        .service(events)
        .service(assign)
        .service(reassign)
        .service(reject)
        .service(possible_duplicates)
        .service(mark_duplicate)
        .service(return_to_office)
        .service(request_extension)
        .service(decide_extension)
        .service(request_info)
        .service(reply)
        .service(add_note)
        .service(withdraw_for_caller)
        .service(track_answer)
        .service(track_rate)
        .service(track_contest)
        .service(track_withdraw)
        .service(staff_upload)
        .service(staff_download)
        .service(track_upload)
        .service(track_download);
}

/// Loads the staff view after a change.
pub(crate) fn staff_view(
    conn: &mut db::DbConnection,
    ctx: &context::Ctx,
    id: &ComplaintId,
) -> ComplaintResult<ComplaintView> {
    let found = store::find_with_department(conn, id)?.ok_or(ComplaintError::NotFound)?;
    views::complaint_view(&service::load_viewed(conn, ctx, found)?, ctx)
}

// ---------------------------------------------------------------------------------------------
// Filing

#[derive(Serialize, utoipa::ToSchema)]
pub struct FiledResponse {
    pub id: String,
    pub tracking_number: String,
    /// The secret for the tracking page. Shown once: save it.
    pub access_code: Option<String>,
    pub received_at: chrono::DateTime<chrono::FixedOffset>,
    pub due_date: NaiveDate,
    pub due_at: chrono::DateTime<chrono::FixedOffset>,
    pub provisional: bool,
    /// True when this answers a retry with the same Idempotency-Key.
    pub replayed: bool,
}

/// File a complaint. Public (the web form); hotline operators file for callers with their token
/// and a channel. `Idempotency-Key` makes a retry return the first filing.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = FileComplaintRequest, security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "8–200 visible ASCII characters; a retry with the same key returns the same complaint",
        min_length = 8, max_length = 200, pattern = r"^[\x21-\x7E]+$")),
    responses((status = 201, body = FiledResponse, headers(("Location" = String, description = "/api/v1/complaints/{id}"))),
        (status = 200, description = "a replayed retry", body = FiledResponse, headers(("Location" = String, description = "/api/v1/complaints/{id}"))),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints")]
async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    staff: MaybeStaff<OperatorOnly>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let parsed: FileComplaintRequest = crate::http::json::parse_json_request(&req, &body)?;
    let idempotency = match req.headers().get("idempotency-key") {
        Some(v) => {
            let key = IdempotencyKey::parse(
                v.to_str().map_err(|_| ApiError::BadRequest("Idempotency-Key is not ASCII".into()))?,
            )?;
            Some((key, hex::encode(Sha256::digest(&body))))
        }
        None => None,
    };
    // The public's filings count against the client's limit — refused ones too.
    let admission = match staff.0 {
        None => state.limits.filing_by_client.admit(&client.0)?,
        Some(_) => Admission::Counted,
    };
    let acting = staff.0.as_ref().map(|s| acting(s)).unwrap_or_else(Acting::investor);
    let valid = match intake::validate(parsed, staff.0.is_some()) {
        Ok(valid) => valid,
        Err(refused) => return Err(admission.count_refusal(&state.pool, refused.into()).await),
    };
    let filed = operations::file(&state, admission, valid, acting, idempotency).await?;
    let due_at = db::from_db_time(filed.clock.due_at).with_timezone(&crate::calendar::shanghai());
    let response = FiledResponse {
        id: filed.complaint.id.to_string(),
        tracking_number: filed.complaint.tracking_number.clone(),
        access_code: filed.access_code,
        received_at: db::from_db_time(filed.complaint.received_at).with_timezone(&crate::calendar::shanghai()),
        due_date: filed.clock.due_date,
        due_at,
        provisional: filed.clock.provisional,
        replayed: filed.replayed,
    };
    let mut builder = if filed.replayed { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(builder
        .insert_header((header::LOCATION, format!("/api/v1/complaints/{}", response.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response))
}

// ---------------------------------------------------------------------------------------------
// Staff reads

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Filter by status.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Filter by the assigned department (coordinators; department staff always see their own).
    #[param(max_length = 64)]
    pub department_id: Option<String>,
    pub overdue: Option<bool>,
    /// Received on or after this local date (YYYY-MM-DD, years 1900–9999).
    pub received_from: Option<NaiveDate>,
    /// Received on or before this local date (YYYY-MM-DD, years 1900–9999).
    pub received_to: Option<NaiveDate>,
    /// Text in the subject, tracking number, company or project, at most 100 characters.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ComplaintPage {
    pub items: Vec<ComplaintSummary>,
    pub next_cursor: Option<String>,
}

/// Complaints in the inbox order: clock running (overdue first, then by time left, the oldest
/// first among equal deadlines), then paused while the investor is asked, then no running clock.
/// Coordinators see all; department staff only their department's.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ComplaintPage),
        (status = 400, description = "an unknown query parameter, or a value of the wrong type", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit`, `status`, `q`, `cursor` or a date out of range", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/complaints")]
async fn list(
    state: web::Data<AppState>,
    staff: Staff<Handlers>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<ComplaintPage>, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "out_of_range", "between 1 and 200"));
    }
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse(s).ok_or_else(|| ApiError::invalid("status", "unknown", "not a complaint status")))
        .transpose()?;
    let text = optional_text("q", q.q.as_deref(), 100)?;
    let department_id = if staff.role == Role::Department {
        staff.department_id.clone()
    } else {
        optional_text("department_id", q.department_id.as_deref(), 64)?.map(DepartmentId::new)
    };
    let filter = ListFilter {
        status,
        department_id,
        overdue: q.overdue,
        received_from: q
            .received_from
            .map(|d| super::operations::received_filter("received_from", d, false))
            .transpose()?,
        received_before: q
            .received_to
            .map(|d| super::operations::received_filter("received_to", d, true))
            .transpose()?,
        text,
        after: q.cursor.as_deref().map(store::decode_cursor).transpose().map_err(|e| ApiError::Invalid(vec![e]))?,
        limit: limit + 1,
    };
    let mut rows = if filter.reads_in_index_order() {
        db::lookup(&state.pool, state.sqlite_readers.as_ref(), move |conn| store::list(conn, &filter)).await?
    } else {
        db::run(&state.pool, move |conn| store::list(conn, &filter)).await?
    };
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| store::encode_cursor(&r.position()))
    } else {
        None
    };
    Ok(web::Json(ComplaintPage { items: rows.iter().map(views::summary).collect(), next_cursor }))
}

/// One complaint with its clock, explanation, assignments, extensions and pauses.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ComplaintView)))]
#[get("/api/v1/complaints/{id}")]
async fn get_one(
    state: web::Data<AppState>,
    staff: Staff<Handlers>,
    path: web::Path<ComplaintId>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let id = path.into_inner();
    let acting = acting(&staff);
    with_ctx(&state, Access::Lookup, move |conn, ctx| {
        let found = store::find_with_department(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&found.0, &acting)?;
        views::complaint_view(&service::load_viewed(conn, ctx, found)?, ctx)
    })
    .await
    .map(web::Json)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsResponse {
    pub events: Vec<super::events::EventView>,
    /// The hash chain verifies: no event was edited, removed or reordered.
    pub chain_valid: bool,
    pub chain_break: Option<super::events::ChainBreak>,
}

/// The audit trail of a complaint, with the verdict of its hash chain.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/events", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = EventsResponse)))]
#[get("/api/v1/complaints/{id}/events")]
async fn events(
    state: web::Data<AppState>,
    staff: Staff<AuditReaders>,
    path: web::Path<ComplaintId>,
) -> Result<web::Json<EventsResponse>, ApiError> {
    let id = path.into_inner();
    let (acting, role) = (acting(&staff), staff.role);
    db::run(&state.pool, move |conn| {
        let row = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&row, &acting)?;
        let rows = super::events::for_complaint(conn, &id)?;
        let verdict = super::events::verify_chain(&rows);
        let mut events: Vec<super::events::EventView> = rows.iter().map(Into::into).collect();
        if !super::attachments::may_open(row.confidential, role) {
            views::hide_file_names_in_events(&mut events);
        }
        Ok::<_, ApiError>(EventsResponse { events, chain_valid: verdict.is_ok(), chain_break: verdict.err() })
    })
    .await
    .map(web::Json)
}

/// Status read-back for a caller on the hotline (no access code: the operator is signed in).
#[utoipa::path(get, path = "/api/v1/complaints/by-number/{tracking_number}", tag = "complaints", security(("bearer" = [])),
    params(("tracking_number" = String, Path), ("lang" = Option<String>, Query)),
    responses((status = 200, body = TrackingView)))]
#[get("/api/v1/complaints/by-number/{tracking_number}")]
async fn by_number(
    state: web::Data<AppState>,
    staff: Staff<StatusReaders>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<web::Json<TrackingView>, ApiError> {
    let number = TrackingNumber::parse(&path.into_inner()).ok_or(ComplaintError::UnknownTrackingNumber)?;
    let lang = requested_language(&req);
    let role = staff.role;
    with_ctx(&state, Access::Lookup, move |conn, ctx| {
        let found = store::find_by_tracking_number_with_department(conn, &number.to_string())?
            .ok_or(ComplaintError::UnknownTrackingNumber)?;
        let lang = lang.unwrap_or_else(|| Language::parse(&found.0.language).unwrap_or(Language::Zh));
        let may_open = super::attachments::may_open(found.0.confidential, role);
        let mut view = views::tracking_view(&service::load_viewed(conn, ctx, found)?, ctx, lang)?;
        if !may_open {
            view.hide_file_names();
        }
        Ok(view)
    })
    .await
    .map(web::Json)
}

// ---------------------------------------------------------------------------------------------
// Staff actions

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub department_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    pub department_id: String,
    /// Why, at most 2,000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// At most 2,000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Working days asked for, at most `complaints.max_extension_working_days` (default 30).
    #[schema(minimum = 1)]
    pub days: u32,
    /// At most 2,000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDecision {
    pub approve: bool,
    /// Working days granted (required when approving, absent when refusing; may differ from the
    /// request), at most `complaints.max_extension_working_days` (default 30).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub days: Option<u32>,
    /// The coordination office's own record of why; never shown to the investor. At most 2,000
    /// characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub reason: String,
    /// What the investor is told with the new due date when the extension is approved
    /// (optional; a refusal is not shown to the investor). At most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub investor_note: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InfoRequest {
    /// What the investor should supply; they see it on the tracking page. At most 2,000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub question: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note, for staff only: the investor never sees it. At most 2,000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub text: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The clear reply, at most 10,000 characters.
    #[schema(max_length = 10000, pattern = r"\S")]
    pub text: String,
    pub outcome: ReplyOutcome,
}

/// Assign to a department (from `received` or `contested`).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/assign", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = AssignRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/assign")]
async fn assign(
    state: web::Data<AppState>,
    staff: Staff<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<AssignRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting, b) = (path.into_inner(), acting(&staff), body.into_inner());
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::assign(conn, ctx, &id, &acting, &DepartmentId::new(b.department_id.trim()))?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Move to another department with a reason; the clock keeps running.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/reassign", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ReassignRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/reassign")]
async fn reassign(
    state: web::Data<AppState>,
    staff: Staff<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ReassignRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting, b) = (path.into_inner(), acting(&staff), body.into_inner());
    let reason = required_text("reason", &b.reason, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::reassign(conn, ctx, &id, &acting, &DepartmentId::new(b.department_id.trim()), &reason)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Refuse as not investment-related; the refusal is the clear reply.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/reject", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/reject")]
async fn reject(
    state: web::Data<AppState>,
    staff: Staff<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ReasonRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let reason = required_text("reason", &body.into_inner().reason, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::reject(conn, ctx, &id, &acting, &reason)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PossibleDuplicates {
    /// Same email address or company, a similar subject, within 30 days; the most similar first.
    pub items: Vec<super::duplicates::PossibleDuplicate>,
}

/// Complaints that may repeat this one (for the coordination office to decide; nothing changes).
#[utoipa::path(get, path = "/api/v1/complaints/{id}/possible-duplicates", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PossibleDuplicates)))]
#[get("/api/v1/complaints/{id}/possible-duplicates")]
async fn possible_duplicates(
    state: web::Data<AppState>,
    _staff: Staff<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
) -> Result<web::Json<PossibleDuplicates>, ApiError> {
    let id = path.into_inner();
    with_ctx(&state, Access::Read, move |conn, _| {
        let row = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        Ok(PossibleDuplicates { items: super::duplicates::possible(conn, &row)? })
    })
    .await
    .map(web::Json)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    /// The tracking number of the complaint that carries the matter.
    #[schema(max_length = 40, example = "CZ-2026-000041")]
    pub duplicate_of: String,
}

/// Refuse as a duplicate of another complaint: the clock stops (reason `duplicate`) and the
/// investor is told, in their language, which complaint carries the matter.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/mark-duplicate", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = DuplicateRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/mark-duplicate")]
async fn mark_duplicate(
    state: web::Data<AppState>,
    staff: Staff<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<DuplicateRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let original = required_text("duplicate_of", &body.into_inner().duplicate_of, 40)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::mark_duplicate(conn, ctx, &id, &acting, &original)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Hand back to the coordination office as outside the department's remit (回退).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/return", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/return")]
async fn return_to_office(
    state: web::Data<AppState>,
    staff: Staff<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ReasonRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let reason = required_text("reason", &body.into_inner().reason, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::return_to_office(conn, ctx, &id, &acting, &reason)?;
        // The department no longer holds it: show the coordinator's view of what was returned.
        let found = store::find_with_department(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        views::complaint_view(&service::load_viewed(conn, ctx, found)?, ctx)
    })
    .await
    .map(web::Json)
}

/// Ask for more working days, before the due time.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/extension-requests", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ExtensionRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/extension-requests")]
async fn request_extension(
    state: web::Data<AppState>,
    staff: Staff<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ExtensionRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting, b) = (path.into_inner(), acting(&staff), body.into_inner());
    let reason = required_text("reason", &b.reason, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::request_extension(conn, ctx, &id, &acting, b.days, &reason)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Approve (with a number of working days) or refuse an extension request.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/extension-requests/{request_id}/decision", tag = "complaints", security(("bearer" = [])),
    params(("id" = String, Path), ("request_id" = String, Path)), request_body = ExtensionDecision,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/extension-requests/{request_id}/decision")]
async fn decide_extension(
    state: web::Data<AppState>,
    staff: Staff<CoordinatorOnly>,
    path: web::Path<(ComplaintId, String)>,
    body: JsonBody<ExtensionDecision>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let ((id, request_id), acting, b) = (path.into_inner(), acting(&staff), body.into_inner());
    let reason = required_text("reason", &b.reason, limits::SHORT_TEXT)?;
    let note = crate::fields::optional_text("investor_note", b.investor_note.as_deref(), limits::SHORT_TEXT)?;
    let days = match (b.approve, b.days) {
        (true, Some(d)) => Some(d),
        (true, None) => return Err(ApiError::invalid("days", "required", "say how many working days are granted")),
        (false, Some(_)) => return Err(ApiError::invalid("days", "not_allowed", "a refusal grants no days")),
        (false, None) => None,
    };
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::decide_extension(
            conn,
            ctx,
            &id,
            &acting,
            service::ExtensionDecision {
                request_id: &request_id,
                approved_days: days,
                reason: &reason,
                investor_note: note.as_deref(),
            },
        )?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Ask the investor for more information; the clock pauses until they answer.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/request-info", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = InfoRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/request-info")]
async fn request_info(
    state: web::Data<AppState>,
    staff: Staff<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<InfoRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let question = required_text("question", &body.into_inner().question, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::request_info(conn, ctx, &id, &acting, &question)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// An internal note on a complaint: kept in its trail, shown to the staff who may handle it (the
/// coordination office; the holding department), never to the investor. Changes nothing else.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/notes", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = NoteRequest,
    responses((status = 200, body = ComplaintView),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/notes")]
async fn add_note(
    state: web::Data<AppState>,
    staff: Staff<Handlers>,
    path: web::Path<ComplaintId>,
    body: JsonBody<NoteRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let text = required_text("text", &body.into_inner().text, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::add_note(conn, ctx, &id, &acting, &text)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// The clear reply; stops the clock.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/reply", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ReplyRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/reply")]
async fn reply(
    state: web::Data<AppState>,
    staff: Staff<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ReplyRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting, b) = (path.into_inner(), acting(&staff), body.into_inner());
    let text = required_text("text", &b.text, limits::REPLY)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::reply(conn, ctx, &id, &acting, &text, b.outcome)?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

/// Withdraw for a caller who asks on the hotline.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/withdraw", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = ComplaintView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/withdraw")]
async fn withdraw_for_caller(
    state: web::Data<AppState>,
    staff: Staff<OperatorOnly>,
    path: web::Path<ComplaintId>,
    body: JsonBody<ReasonRequest>,
) -> Result<web::Json<ComplaintView>, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let reason = required_text("reason", &body.into_inner().reason, limits::SHORT_TEXT)?;
    with_ctx(&state, Access::Write, move |conn, ctx| {
        service::withdraw(conn, ctx, &id, &acting, Some(&reason))?;
        staff_view(conn, ctx, &id)
    })
    .await
    .map(web::Json)
}

// ---------------------------------------------------------------------------------------------
// The investor: tracking number + access code

fn requested_language(req: &HttpRequest) -> Option<Language> {
    let from_query = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("lang").and_then(|l| Language::parse(l)));
    from_query.or_else(|| {
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Language::from_accept_language)
    })
}

struct Investor {
    number: String,
    code_hash: String,
    lang: Option<Language>,
}

async fn investor(
    state: &AppState,
    req: &HttpRequest,
    client: &ClientAddr,
    number: String,
) -> Result<Investor, ApiError> {
    state.limits.tracking_by_client.check(&client.0).await?;
    investor_presenting_code(req, number)
}

/// The investor as the request presents them, the rate limit aside (the caller counts it).
fn investor_presenting_code(req: &HttpRequest, number: String) -> Result<Investor, ApiError> {
    let code = req
        .headers()
        .get("x-access-code")
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.trim().is_empty() && c.len() <= 64)
        .ok_or(ApiError::Unauthenticated("send the access code in the X-Access-Code header"))?;
    Ok(Investor { number, code_hash: hash_access_code(code), lang: requested_language(req) })
}

async fn investor_action<F>(
    state: web::Data<AppState>,
    who: Investor,
    access: Access,
    action: F,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError>
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx, &ComplaintId) -> ComplaintResult<()> + Send + 'static,
{
    investor_action_admitted(state, who, access, Admission::Counted, action).await
}

/// [`investor_action`] with the client's rate-limit count still to be made (see
/// [`with_ctx_admitted`]).
async fn investor_action_admitted<F>(
    state: web::Data<AppState>,
    who: Investor,
    access: Access,
    admission: Admission,
    action: F,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError>
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx, &ComplaintId) -> ComplaintResult<()> + Send + 'static,
{
    with_ctx_admitted(&state, access, admission, move |conn, ctx| {
        let mut found = open_with_department(conn, &who.number, &who.code_hash)?;
        action(conn, ctx, &found.0.id)?;
        if access == Access::Write {
            // As the action left it (a read leaves the row as read).
            found = store::find_with_department(conn, &found.0.id)?.expect("exists");
        }
        let lang = who.lang.unwrap_or_else(|| Language::parse(&found.0.language).unwrap_or(Language::Zh));
        views::tracking_view(&service::load_viewed(conn, ctx, found)?, ctx, lang)
    })
    .await
    .map(|v| NoStore(web::Json(v)))
}

/// The investor's view: status, due date and why, the reply, history. Needs `X-Access-Code`.
#[utoipa::path(get, path = "/api/v1/track/{tracking_number}", tag = "tracking",
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64), ("lang" = Option<String>, Query, description = "zh or en")),
    responses((status = 200, body = TrackingView), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown number or wrong code (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/track/{tracking_number}")]
async fn track(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    // The read counts against the client's limit in the same hop as the read itself; a
    // request refused for its missing code counts too.
    let admission = state.limits.tracking_by_client.admit(&client.0)?;
    let who = match investor_presenting_code(&req, path.into_inner()) {
        Ok(who) => who,
        Err(refused) => return Err(admission.count_refusal(&state.pool, refused).await),
    };
    investor_action_admitted(state, who, Access::Lookup, admission, |_, _, _| Ok(())).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The information asked for, at most 10,000 characters.
    #[schema(max_length = 10000, pattern = r"\S")]
    pub answer: String,
}

/// Answer the department's request for information; the clock resumes.
#[utoipa::path(post, path = "/api/v1/track/{tracking_number}/answer", tag = "tracking", request_body = AnswerRequest,
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64)),
    responses((status = 200, body = TrackingView), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/track/{tracking_number}/answer")]
async fn track_answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
    body: JsonBody<AnswerRequest>,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    let who = investor(&state, &req, &client, path.into_inner()).await?;
    let answer = required_text("answer", &body.into_inner().answer, limits::FACTS)?;
    investor_action(state, who, Access::Write, move |conn, ctx, id| {
        service::answer_info(conn, ctx, id, &Acting::investor(), &answer)
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    pub rating: Rating,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// Rate the reply; closes the complaint.
#[utoipa::path(post, path = "/api/v1/track/{tracking_number}/rate", tag = "tracking", request_body = RateRequest,
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64)),
    responses((status = 200, body = TrackingView), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/track/{tracking_number}/rate")]
async fn track_rate(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
    body: JsonBody<RateRequest>,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    let who = investor(&state, &req, &client, path.into_inner()).await?;
    let b = body.into_inner();
    let comment = optional_text("comment", b.comment.as_deref(), limits::SHORT_TEXT)?;
    investor_action(state, who, Access::Write, move |conn, ctx, id| {
        service::rate(conn, ctx, id, &Acting::investor(), b.rating, comment.as_deref())
    })
    .await
}

/// Contest the reply (within the contest window); a new clock starts.
#[utoipa::path(post, path = "/api/v1/track/{tracking_number}/contest", tag = "tracking", request_body = ReasonRequest,
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64)),
    responses((status = 200, body = TrackingView), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/track/{tracking_number}/contest")]
async fn track_contest(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
    body: JsonBody<ReasonRequest>,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    let who = investor(&state, &req, &client, path.into_inner()).await?;
    let reason = required_text("reason", &body.into_inner().reason, limits::SHORT_TEXT)?;
    investor_action(state, who, Access::Write, move |conn, ctx, id| {
        service::contest(conn, ctx, id, &Acting::investor(), &reason)
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// Withdraw the complaint.
#[utoipa::path(post, path = "/api/v1/track/{tracking_number}/withdraw", tag = "tracking", request_body = WithdrawRequest,
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64)),
    responses((status = 200, body = TrackingView), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/track/{tracking_number}/withdraw")]
async fn track_withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
    body: JsonBody<WithdrawRequest>,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    let who = investor(&state, &req, &client, path.into_inner()).await?;
    let reason = optional_text("reason", body.into_inner().reason.as_deref(), limits::SHORT_TEXT)?;
    investor_action(state, who, Access::Write, move |conn, ctx, id| {
        service::withdraw(conn, ctx, id, &Acting::investor(), reason.as_deref())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Attachments

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name as the uploader knows it (sanitised; the extension must match the content).
    pub filename: String,
}

/// Reads, sniffs and stages an upload (written under a temporary name); returns (sanitised
/// name, content type, the staged file). The caller records it, which stores its content.
async fn receive_upload(
    state: &AppState,
    filename: &str,
    payload: web::Payload,
) -> Result<(String, &'static str, super::attachments::Staged), ApiError> {
    let filename = super::attachments::sanitize_filename(filename)?;
    let bytes = crate::http::body::read_limited(payload, state.settings.complaints.attachment_max_bytes).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("file", "empty", "the file is empty"));
    }
    let kind = super::attachments::sniff(&bytes, &filename)?;
    let dir = state.settings.complaints.attachment_dir(state.settings.data_dir());
    let staged = web::block(move || super::attachments::stage(&dir, &bytes))
        .await
        .map_err(|e| ApiError::internal("attachment write", e))??;
    Ok((filename, kind, staged))
}

/// Add a file for a caller (hotline) or to a case (coordination office).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/attachments", tag = "complaints", security(("bearer" = [])), params(("id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file; PDF, PNG, JPEG, DOCX, XLSX or UTF-8 text, sniffed"),
    responses((status = 201, body = super::attachments::AttachmentView),
        (status = 400, description = "`filename` missing, or the body could not be read", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 413, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/complaints/{id}/attachments")]
async fn staff_upload(
    state: web::Data<AppState>,
    staff: Staff<Intake>,
    path: web::Path<ComplaintId>,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, acting) = (path.into_inner(), acting(&staff));
    let max = state.settings.complaints.attachment_max_count;
    // The complaint, the caller's scope, its state and the count are checked before the body is read.
    let (check_id, check_acting) = (id.clone(), acting.clone());
    with_ctx(&state, Access::Read, move |conn, _| service::check_attachable(conn, &check_id, &check_acting, max))
        .await?;
    let (filename, kind, staged) = receive_upload(&state, &query.filename, payload).await?;
    let view = with_ctx(&state, Access::Write, move |conn, ctx| {
        let attachment_id = service::attach(conn, ctx, &id, &acting, &filename, kind, &staged, max)?;
        let row = super::attachments::find(conn, &id, &attachment_id)?
            .ok_or_else(|| ComplaintError::internal("attachment", "row vanished"))?;
        Ok(super::attachments::AttachmentView::from(&row))
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Download a file. Files of confidential complaints only reach the assigned department and
/// the coordination office.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/attachments/{attachment_id}", tag = "complaints", security(("bearer" = [])),
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "the file, as the type it was recognised as", content(("application/pdf"), ("image/png"), ("image/jpeg"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/plain")))))]
#[get("/api/v1/complaints/{id}/attachments/{attachment_id}")]
async fn staff_download(
    state: web::Data<AppState>,
    staff: Staff<AuditReaders>,
    path: web::Path<(ComplaintId, String)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, attachment_id), acting) = (path.into_inner(), acting(&staff));
    let role = staff.role;
    let row = db::run(&state.pool, move |conn| {
        let complaint = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&complaint, &acting)?;
        if !super::attachments::may_open(complaint.confidential, role) {
            return Err(ApiError::Forbidden(
                "trade secrets: only the assigned department and the coordination office see these files".into(),
            ));
        }
        super::attachments::find(conn, &id, &attachment_id)?
            .ok_or_else(|| ApiError::NotFound("no such attachment".into()))
    })
    .await?;
    super::attachments::download_response(&state.pool, &row).await
}

/// Add a file to one's own complaint.
#[utoipa::path(post, path = "/api/v1/track/{tracking_number}/attachments", tag = "tracking",
    params(("tracking_number" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file; PDF, PNG, JPEG, DOCX, XLSX or UTF-8 text, sniffed"),
    responses((status = 200, body = TrackingView),
        (status = 400, description = "`filename` missing, or the body could not be read", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/track/{tracking_number}/attachments")]
async fn track_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<String>,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<NoStore<web::Json<TrackingView>>, ApiError> {
    let who = investor(&state, &req, &client, path.into_inner()).await?;
    // The code, the complaint's state and the count are checked before the body is read.
    let (number, code_hash) = (who.number.clone(), who.code_hash.clone());
    let max = state.settings.complaints.attachment_max_count;
    with_ctx(&state, Access::Read, move |conn, _| {
        let complaint = open_by_code(conn, &number, &code_hash)?;
        service::check_attachable(conn, &complaint.id, &Acting::investor(), max)
    })
    .await?;
    let (filename, kind, staged) = receive_upload(&state, &query.filename, payload).await?;
    investor_action(state, who, Access::Write, move |conn, ctx, id| {
        service::attach(conn, ctx, id, &Acting::investor(), &filename, kind, &staged, max).map(|_| ())
    })
    .await
}

/// Download a file of one's own complaint.
#[utoipa::path(get, path = "/api/v1/track/{tracking_number}/attachments/{attachment_id}", tag = "tracking",
    params(("tracking_number" = String, Path), ("attachment_id" = String, Path), ("X-Access-Code" = String, Header, description = "the access code given at filing", max_length = 64)),
    responses((status = 200, description = "the file, as the type it was recognised as", content(("application/pdf"), ("image/png"), ("image/jpeg"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("text/plain"))),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/track/{tracking_number}/attachments/{attachment_id}")]
async fn track_download(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientAddr,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (number, attachment_id) = path.into_inner();
    let who = investor(&state, &req, &client, number).await?;
    let row = db::run(&state.pool, move |conn| {
        let complaint = open_by_code(conn, &who.number, &who.code_hash)?;
        super::attachments::find(conn, &complaint.id, &attachment_id)?
            .ok_or_else(|| ApiError::NotFound("no such attachment".into()))
    })
    .await?;
    super::attachments::download_response(&state.pool, &row).await
}
