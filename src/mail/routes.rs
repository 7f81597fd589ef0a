//! `/api/v1/admin/outbox`: what has been sent, what waits, what failed — and a retry.

use actix_web::{get, post, web};
use serde::Deserialize;

use super::outbox::{self, OutboxView};
use crate::auth::roles::AdminOnly;
use crate::auth::Staff;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(retry).service(withheld);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `sent`, `failed` or `cancelled`.
    #[param(pattern = "^(pending|sent|failed|cancelled)$")]
    pub status: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Recent outbox messages, newest first (admin). Bodies are never shown; recipients are masked.
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "mail", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, body = Vec<OutboxView>),
        (status = 400, description = "an unknown query parameter, or a value of the wrong type", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/admin/outbox")]
async fn list(
    state: web::Data<AppState>,
    _staff: Staff<AdminOnly>,
    query: web::Query<OutboxQuery>,
) -> Result<web::Json<Vec<OutboxView>>, ApiError> {
    let q = query.into_inner();
    if let Some(s) = &q.status {
        if ![outbox::PENDING, outbox::SENT, outbox::FAILED, outbox::CANCELLED].contains(&s.as_str()) {
            return Err(ApiError::invalid("status", "unknown", "pending, sent, failed or cancelled"));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "out_of_range", "between 1 and 200"));
    }
    let rows = db::run(&state.pool, move |conn| outbox::list(conn, q.status.as_deref(), limit)).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Send a failed message again (admin).
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "mail", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OutboxView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/admin/outbox/{id}/retry")]
async fn retry(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    path: web::Path<String>,
) -> Result<web::Json<OutboxView>, ApiError> {
    let id = path.into_inner();
    let actor = staff.id.clone();
    let row = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        conn.transaction(|conn| {
            crate::db::write_lock(conn)?;
            let row = outbox::find(conn, &id)?.ok_or_else(|| ApiError::NotFound("no such message".into()))?;
            if outbox::retry(conn, &id, db::now())? == 0 {
                return Err(ApiError::conflict(format!(
                    "only failed messages can be retried; this one is {}",
                    row.status
                )));
            }
            crate::admin_log::record(
                conn,
                db::now(),
                Some(&actor),
                "outbox.retry",
                &format!("outbox:{id}"),
                serde_json::json!({"notice": row.notice}),
            )?;
            Ok(outbox::find(conn, &id)?.expect("exists"))
        })
    })
    .await?;
    Ok(web::Json(row.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WithheldQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Investor emails withheld because their address had its day's budget (admin), newest first,
/// with the reason; recipients are masked. The filings and withdrawals themselves went through.
#[utoipa::path(get, path = "/api/v1/admin/mail/withheld", tag = "mail", security(("bearer" = [])), params(WithheldQuery),
    responses((status = 200, body = Vec<super::budget::WithheldView>),
        (status = 400, description = "an unknown query parameter, or a value of the wrong type", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/admin/mail/withheld")]
async fn withheld(
    state: web::Data<AppState>,
    _staff: Staff<AdminOnly>,
    query: web::Query<WithheldQuery>,
) -> Result<web::Json<Vec<super::budget::WithheldView>>, ApiError> {
    let limit = query.into_inner().limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "out_of_range", "between 1 and 200"));
    }
    Ok(web::Json(db::run(&state.pool, move |conn| super::budget::withheld(conn, limit)).await?))
}
