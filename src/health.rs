//! `/healthz` (the process answers) and `/readyz` (the database answers and is migrated).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Liveness)))]
#[get("/healthz")]
async fn healthz() -> web::Json<Liveness> {
    web::Json(Liveness { status: "alive" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`
    pub status: &'static str,
    /// `sqlite` or `postgres`
    pub database: &'static str,
    /// Conditions that do not stop service but need an administrator, e.g. a provisional calendar year.
    pub warnings: Vec<String>,
}

/// Ready to serve: the database is reachable and fully migrated. 503 with the reason otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let database = db::run(&state.pool, |conn| {
        let migrated = db::is_migrated(conn).map_err(ApiError::database_unavailable)?;
        if !migrated {
            return Err(ApiError::Unavailable("database migrations are pending: run `anshang migrate`".into()));
        }
        Ok(db::backend_name(conn))
    })
    .await
    .map_err(|e| match e {
        ApiError::Unavailable(m) => ApiError::Unavailable(m),
        other => ApiError::database_unavailable(other),
    })?;
    let warnings = state.readiness_warnings();
    Ok(HttpResponse::Ok().json(Readiness { status: "ready", database, warnings }))
}
