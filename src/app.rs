//! Builds the running service: opens the database, migrates, prepares keys, binds the listener
//! and assembles the actix `App` (state, middleware, route scopes).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::config::Settings;
use crate::db;
use crate::error::{problem_response, ApiError};
use crate::state::{open_database, AppState, StartError};

/// A built, bound service; `run` serves until stopped.
pub struct Application {
    port: u16,
    server: Server,
    /// The bootstrap admin's one-time password when this start created it (print once).
    pub bootstrap_password: Option<String>,
    background: web::Data<AppState>,
    /// The listener of `metrics.listen`, when set, and its port.
    metrics_server: Option<(Server, u16)>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        let pool = open_database(&settings)?;
        let now = db::now();
        let mut conn = pool.get().map_err(|e| StartError::Step { step: "database", message: e.to_string() })?;
        let bootstrap_password =
            crate::bootstrap::ensure_admin(&mut conn, now).map_err(step_error("bootstrap admin"))?;
        let attachment_dir = settings.complaints.attachment_dir(settings.data_dir());
        settle_attachment_dir(&mut conn, &attachment_dir)?;
        if settings.server.demo {
            let loaded = crate::demo::load(&mut conn, now).map_err(step_error("demo data"))?;
            tracing::info!(departments = loaded.departments_created, users = loaded.users_created, "demo data loaded");
        }
        drop(conn);
        let state = AppState::new(settings, pool)?;
        tracing::info!(transport = %state.mailer.describe(), "email");
        let settings = &state.settings;
        let addr = format!("{}:{}", settings.server.bind, settings.server.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr: addr.clone(), source })?;
        let port = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?.port();
        let json_limit = settings.server.json_limit_bytes;
        let (client_request_timeout, shutdown_timeout) =
            (settings.server.client_request_timeout_secs, settings.server.shutdown_timeout_secs);
        let body_deadline =
            crate::http::body_deadline::BodyDeadline(Duration::from_secs(settings.server.body_read_timeout_secs));
        let state = web::Data::new(state);
        let background = state.clone();
        let metrics_server = crate::metrics::routes::dedicated_server(state.clone())?;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(body_deadline)
                .app_data(web::PayloadConfig::new(json_limit))
                // The pages' forms: a 10,000-character Chinese reply is ~90 KB once URL-encoded.
                .app_data(web::FormConfig::default().limit(json_limit))
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::BadRequest(format!("query string: {e}")).into()),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|e, _| ApiError::NotFound(format!("path: {e}")).into()),
                )
                .wrap(from_fn(crate::http::body_deadline::middleware))
                .wrap(from_fn(crate::http::request_log::middleware))
                // Outside the request log's problem+json rewrite: a browser gets a page instead.
                .wrap(from_fn(crate::pages::error_pages::middleware))
                .wrap(from_fn(crate::metrics::http::middleware))
                .wrap(security_headers())
                // Outermost, so error bodies rewritten inside keep the header.
                .wrap(from_fn(crate::http::hsts::middleware))
                .configure(configure_routes)
                .default_service(web::to(not_found))
        })
        .listen(listener)
        .map_err(|source| StartError::Bind { addr: format!("port {port}"), source })?
        .client_request_timeout(Duration::from_secs(client_request_timeout))
        .client_disconnect_timeout(Duration::from_secs(5))
        .shutdown_timeout(shutdown_timeout)
        .run();
        Ok(Application { port, server, bootstrap_password, background, metrics_server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `metrics.listen` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get `server.shutdown_timeout_secs` to
    /// finish.
    pub async fn run(self) -> std::io::Result<()> {
        spawn_workers(self.background.clone());
        if let Some((metrics_server, _)) = self.metrics_server {
            actix_web::rt::spawn(metrics_server);
        }
        let state = self.background.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(CALENDAR_RELOAD_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                reload_calendar(&state).await;
                state.limits.forget_idle().await;
            }
        });
        self.server.await
    }
}

/// The sweeper (with the closing of due ballot rounds) and the delivery worker, on their
/// intervals. Every instance runs both; the complaint locks, the rung keys, the outbox leases
/// and the rounds' guarded status change keep each step, email and close to once.
fn spawn_workers(state: web::Data<AppState>) {
    crate::escalation::worker::spawn(state.clone());
    crate::mail::worker::spawn(state);
}

/// How often an instance re-reads calendar years other instances may have stored.
const CALENDAR_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

async fn reload_calendar(state: &web::Data<AppState>) {
    let dir = state.settings.calendar.dir.clone();
    let rebuilt = db::run(&state.pool, move |conn| {
        crate::calendar::runtime::build(&dir, Some(conn)).map_err(|e| ApiError::internal("calendar reload", e))
    })
    .await;
    match rebuilt {
        Ok(calendar) => {
            if state.calendar.replace_if_changed(calendar) {
                // Edited files (or a year stored by another instance): move stored deadlines.
                let (cal, rules) = (state.calendar.current(), state.rules.clone());
                let moved = db::run(&state.pool, move |conn| {
                    let ctx = rules.ctx(&cal, db::now());
                    crate::complaints::service::recompute_open_clocks(conn, &ctx, "calendar data changed", None)
                        .map_err(ApiError::from)
                })
                .await;
                match moved {
                    Ok(n) => tracing::info!(moved = n, "calendar changed; open clocks recomputed"),
                    Err(e) => tracing::warn!(error = %e, "calendar changed but recomputing open clocks failed"),
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "calendar reload failed; keeping the current calendar"),
    }
}

/// Removes temporary files of uploads a stop cut short, and copies files earlier versions kept
/// on disk into the database (where every instance serves them); the files themselves are left.
fn settle_attachment_dir(conn: &mut db::DbConnection, dir: &std::path::Path) -> Result<(), StartError> {
    use crate::complaints::{attachment_store, attachments};
    let removed = attachments::sweep_stray(dir, attachments::STRAY_AFTER)
        .map_err(|e| StartError::Step { step: "attachment directory", message: e.to_string() })?;
    if removed > 0 {
        tracing::info!(removed, "temporary attachment files removed");
    }
    let done = attachment_store::import_from_disk(conn, dir).map_err(step_error("attachment import"))?;
    if done.imported > 0 {
        tracing::info!(imported = done.imported, "attachment files from disk copied into the database");
    }
    if done.missing > 0 || done.failed > 0 {
        tracing::error!(
            missing = done.missing,
            failed = done.failed,
            dir = %dir.display(),
            "attachments named in the database are in neither the database nor the attachment directory; they cannot be downloaded until their files are put back and the service restarted"
        );
    }
    Ok(())
}

fn step_error<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> StartError {
    move |e| StartError::Step { step, message: format!("{e:#}") }
}

/// actix tries the routes in the order they are registered here, and runs a regular expression
/// for each one with a parameter in its path until one matches: the complaints' routes (the
/// tracking read first among them) come first. Behind twenty such routes, matching was 7 % of a
/// tracking read's time (docs/performance.md). No two routes here match the same path, so the
/// order changes nothing else.
pub fn configure_routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::complaints::routes::routes)
        .configure(crate::health::routes)
        .configure(crate::openapi::routes)
        .configure(crate::auth::routes::routes)
        .configure(crate::departments::routes::routes)
        .configure(crate::calendar::routes::routes)
        .configure(crate::mail::routes::routes)
        .configure(crate::ballots::routes::routes)
        .configure(crate::assessment::routes::routes)
        .configure(crate::metrics::routes::routes)
        .configure(crate::pages::routes);
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    problem_response(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        &format!("no resource at {}", req.path()),
        Default::default(),
    )
}
