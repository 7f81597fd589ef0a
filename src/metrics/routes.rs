//! `GET /metrics`: the Prometheus text exposition. On the main listener it answers the scraper's
//! token (`metrics.token`) or an admin's login token; no or a bad token → 401, staff of another
//! role → 403. `metrics.listen` adds a listener that serves only `/metrics`, open to whoever can
//! reach the address unless `metrics.token` is set, in which case that token is required there too.

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, App, FromRequest, HttpRequest, HttpResponse, HttpServer};

use super::{figures, PoolFigures, CONTENT_TYPE};
use crate::auth::extract::Staff;
use crate::auth::roles::AdminOnly;
use crate::db;
use crate::error::ApiError;
use crate::http::NoStore;
use crate::state::{AppState, StartError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

/// Marks the app of the dedicated listener.
#[derive(Clone, Copy)]
struct DedicatedListener;

async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<NoStore<HttpResponse>, ApiError> {
    authorise(&req, &state).await?;
    let now = db::now();
    let database = match db::run(&state.pool, move |conn| figures::read(conn, now)).await {
        Ok(figures) => Some(figures),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database figures could not be read");
            None
        }
    };
    let pool = state.pool.state();
    let pool = PoolFigures { connections: pool.connections, idle: pool.idle_connections, max: state.pool.max_size() };
    let body = state.metrics.render(database.as_ref(), pool);
    Ok(NoStore(HttpResponse::Ok().content_type(CONTENT_TYPE).body(body)))
}

async fn authorise(req: &HttpRequest, state: &web::Data<AppState>) -> Result<(), ApiError> {
    let scraper_token = &state.settings.metrics.token;
    if scraper_token.is_empty() && req.app_data::<DedicatedListener>().is_some() {
        return Ok(());
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if let Some(token) = presented {
        if !scraper_token.is_empty() && crate::http::same_secret(scraper_token, token) {
            return Ok(());
        }
    }
    Staff::<AdminOnly>::extract(req).await.map(|_| ())
}

/// The listener of `metrics.listen`, serving only `/metrics`; `None` when it is not set.
pub fn dedicated_server(state: web::Data<AppState>) -> Result<Option<(Server, u16)>, StartError> {
    let addr = state.settings.metrics.listen.clone();
    if addr.is_empty() {
        return Ok(None);
    }
    let listener =
        std::net::TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr: addr.clone(), source })?;
    let port = listener.local_addr().map_err(|source| StartError::Bind { addr: addr.clone(), source })?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(DedicatedListener)
            .wrap(from_fn(crate::http::request_log::middleware))
            .configure(routes)
    })
    .workers(1)
    .listen(listener)
    .map_err(|source| StartError::Bind { addr, source })?
    .shutdown_timeout(5)
    .run();
    Ok(Some((server, port)))
}
