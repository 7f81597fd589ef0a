//! Builds the running service: opens the database, migrates, prepares keys, binds the listener
//! and assembles the actix `App` (state, middleware, route scopes).

use std::net::{IpAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::auth::keys::{self, KeyError};
use crate::auth::token::TokenKeys;
use crate::calendar::runtime::CalendarHandle;
use crate::complaints::service::Rules;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbSetupError, Pool};
use crate::error::{problem_response, ApiError};
use crate::http::rate_limit::KeyedLimit;
use crate::mail::transport::Mailer;

/// Shared by every request handler.
pub struct AppState {
    pub settings: Settings,
    pub pool: Pool,
    pub tokens: TokenKeys,
    pub limits: Limits,
    pub calendar: CalendarHandle,
    pub rules: Rules,
    pub mailer: Mailer,
    pub mail_from: lettre::message::Mailbox,
    /// SQLite has one writer: complaint writes of this instance take turns here rather than
    /// in SQLite's busy handler (which sleeps). `None` on PostgreSQL.
    pub write_gate: Option<std::sync::Arc<std::sync::Mutex<()>>>,
    /// The pages' templates and text.
    pub pages: crate::pages::Pages,
}

/// Per-instance rate limits (see docs/operations.md).
pub struct Limits {
    pub login_by_account: KeyedLimit<String>,
    pub login_by_client: KeyedLimit<IpAddr>,
    /// Password changes per account (user id): a stolen token must not guess the password
    /// faster than a sign-in could.
    pub password_change_by_account: KeyedLimit<String>,
    pub tracking_by_client: KeyedLimit<IpAddr>,
    pub filing_by_client: KeyedLimit<IpAddr>,
    pub ballot_by_client: KeyedLimit<IpAddr>,
}

impl AppState {
    /// Conditions `/readyz` reports without failing.
    pub fn readiness_warnings(&self) -> Vec<String> {
        crate::calendar::runtime::provisional_warnings(&self.calendar.current(), crate::db::now())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("start-up step `{step}` failed: {message}")]
    Step { step: &'static str, message: String },
}

/// Opens the pool and applies migrations; shared by `serve` and the CLI subcommands.
pub fn open_database(settings: &Settings) -> Result<Pool, StartError> {
    let url = DatabaseUrl::parse(&settings.database.url, settings.data_dir())
        .map_err(|e| StartError::Step { step: "database.url", message: e.to_string() })?;
    let pool = db::connect_pool(
        &url,
        settings.database.pool_size,
        Duration::from_secs(settings.database.connect_timeout_secs),
    )?;
    let mut conn = pool.get().map_err(|e| DbSetupError::Pool { url: url.redacted(), source: e })?;
    let applied =
        db::run_migrations(&mut conn).map_err(|message| DbSetupError::Migrate { url: url.redacted(), message })?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), database = %url.redacted(), "applied migrations");
    }
    crate::audit::install(keys::load_or_create_audit_key(settings)?);
    // Only the start that applies the keyed-audit migration re-seals on its own; after that a
    // re-seal takes `anshang audit reseal` (run by whoever holds the key).
    let upgrading = applied.iter().any(|v| v.replace('-', "").starts_with(KEYED_AUDIT_MIGRATION));
    seal_audit_trail(&mut conn, upgrading)?;
    Ok(pool)
}

/// The migration that made the audit trail keyed.
const KEYED_AUDIT_MIGRATION: &str = "20261130200002";

/// Re-seals the chains written before the trail was keyed (complaint events that verify under
/// the old unkeyed recipe; the admin log, which had no chain) under the audit key, and logs the
/// re-seal — when `reseal` is true and the trail is not sealed yet. Otherwise only checks that
/// the key is the one the chains were sealed with. Returns whether it re-sealed.
pub fn seal_audit_trail(conn: &mut db::DbConnection, reseal: bool) -> Result<bool, StartError> {
    use crate::db::schema::audit_seals;
    use diesel::prelude::*;
    let key_id = crate::audit::key_id();
    let step = |e: diesel::result::Error| StartError::Step { step: "audit trail", message: e.to_string() };
    let sealed: Vec<(String, String)> =
        audit_seals::table.select((audit_seals::chain, audit_seals::key_id)).load(conn).map_err(step)?;
    if !sealed.is_empty() {
        if sealed.iter().any(|(_, k)| *k != key_id) {
            tracing::error!("the audit key is not the one the audit trail was sealed with: `anshang audit verify` will report it broken; restore the key (auth.audit_key / audit_key_file)");
        }
        return Ok(false);
    }
    if !reseal {
        tracing::error!("the audit trail is not sealed under the audit key: run `anshang audit reseal` once");
        return Ok(false);
    }
    let now = db::now();
    let result = conn.transaction(|conn| -> diesel::QueryResult<()> {
        db::write_lock(conn)?;
        for chain in ["complaint_events", "admin_events"] {
            diesel::insert_into(audit_seals::table)
                .values((audit_seals::chain.eq(chain), audit_seals::key_id.eq(&key_id), audit_seals::sealed_at.eq(db::to_db_time(now))))
                .execute(conn)?;
        }
        let events = crate::complaints::events::reseal_unkeyed(conn)?;
        let chained = crate::admin_log::chain_unchained(conn)?;
        if events.events > 0 || chained > 0 || !events.left_broken.is_empty() {
            if !events.left_broken.is_empty() {
                tracing::error!(complaints = ?events.left_broken, "complaint audit trails that did not verify before the re-seal were left as they are");
            }
            crate::admin_log::record(
                conn,
                now,
                None,
                "audit.reseal",
                "audit",
                serde_json::json!({
                    "complaint_events_resealed": events.events,
                    "complaints_resealed": events.complaints,
                    "complaints_left_broken": events.left_broken,
                    "admin_events_chained": chained,
                    "key_id": key_id,
                }),
            )?;
            tracing::info!(events = events.events, admin_events = chained, "audit trail re-sealed under the audit key");
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(true),
        // Another instance sealed it first.
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(step(e)),
    }
}

/// A built, bound service; `run` serves until stopped.
pub struct Application {
    port: u16,
    server: Server,
    /// The bootstrap admin's one-time password when this start created it (print once).
    pub bootstrap_password: Option<String>,
    background: web::Data<AppState>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        let pool = open_database(&settings)?;
        let now = db::now();
        let mut conn = pool.get().map_err(|e| StartError::Step { step: "database", message: e.to_string() })?;
        let bootstrap_password =
            crate::bootstrap::ensure_admin(&mut conn, now).map_err(step_error("bootstrap admin"))?;
        // Uploads stopped between writing and placing their file leave temporary files.
        let attachment_dir = settings.complaints.attachment_dir(settings.data_dir());
        let swept = crate::complaints::attachments::sweep_stray(&attachment_dir, &mut |sha| {
            crate::complaints::attachments::is_recorded(&mut conn, sha).unwrap_or(true)
        })
        .map_err(|e| StartError::Step { step: "attachment directory", message: e.to_string() })?;
        if swept != Default::default() {
            tracing::info!(completed = swept.completed, removed = swept.removed, "temporary attachment files settled");
        }
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
        Ok(Application { port, server, bootstrap_password, background })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get `server.shutdown_timeout_secs` to
    /// finish.
    pub async fn run(self) -> std::io::Result<()> {
        spawn_workers(self.background.clone());
        let state = self.background.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(CALENDAR_RELOAD_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                reload_calendar(&state).await;
                state.limits.forget_idle();
            }
        });
        self.server.await
    }
}

/// The sweeper (with the closing of due ballot rounds) and the delivery worker, on their
/// intervals. Every instance runs both; the complaint locks, the rung keys, the outbox leases
/// and the rounds' guarded status change keep each step, email and close to once.
fn spawn_workers(state: web::Data<AppState>) {
    let sweeper = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick =
            actix_web::rt::time::interval(Duration::from_secs(sweeper.settings.escalation.sweep_interval_secs));
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&sweeper, None).await {
                tracing::warn!(error = %e, "sweep failed; will try again");
            }
            if let Err(e) = close_due_rounds(&sweeper, None).await {
                tracing::warn!(error = %e, "closing due ballot rounds failed; will try again");
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(state.settings.mail.deliver_interval_secs));
        loop {
            tick.tick().await;
            if let Err(e) = deliver(&state, None).await {
                tracing::warn!(error = %e, "email delivery pass failed; will try again");
            }
        }
    });
}

/// One sweep as of `now` (default: the current instant).
pub async fn sweep(
    state: &web::Data<AppState>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<crate::escalation::sweep::SweepReport, ApiError> {
    let cal = state.calendar.current();
    let rules = state.rules.clone();
    db::run(&state.pool, move |conn| {
        let ctx = rules.ctx(&cal, crate::escalation::sweep::sweep_instant(now));
        crate::escalation::sweep::sweep_once(conn, &ctx, 500)
    })
    .await
}

/// Closes the ballot rounds whose closing time has come, as of `now` (default: the current
/// instant). Returns the ids of the rounds closed.
pub async fn close_due_rounds(
    state: &web::Data<AppState>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<String>, ApiError> {
    db::run(&state.pool, move |conn| crate::ballots::service::close_due_rounds(conn, now.unwrap_or_else(db::now))).await
}

/// One delivery pass as of `now` (default: the current instant).
pub async fn deliver(
    state: &web::Data<AppState>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<crate::mail::worker::DeliveryReport, ApiError> {
    let s = state.clone();
    db::run(&state.pool, move |conn| {
        let now = now.unwrap_or_else(db::now);
        Ok(crate::mail::worker::deliver_once(
            conn,
            &s.mailer,
            &s.mail_from,
            &crate::complaints::notices::ClockFacts,
            s.settings.mail.max_attempts,
            now,
            100,
        )?)
    })
    .await
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

impl Limits {
    fn forget_idle(&self) {
        self.login_by_account.forget_idle();
        self.login_by_client.forget_idle();
        self.password_change_by_account.forget_idle();
        self.tracking_by_client.forget_idle();
        self.filing_by_client.forget_idle();
        self.ballot_by_client.forget_idle();
    }
}

/// The state the CLI's `sweep` and `mail deliver` need: the same as `serve`'s.
pub fn worker_state(settings: Settings) -> Result<web::Data<AppState>, StartError> {
    let pool = open_database(&settings)?;
    Ok(web::Data::new(AppState::new(settings, pool)?))
}

impl AppState {
    /// Everything a request or a background worker needs, from the settings and an open,
    /// migrated database.
    pub fn new(settings: Settings, pool: Pool) -> Result<AppState, StartError> {
        let mut conn = pool.get().map_err(|e| StartError::Step { step: "database", message: e.to_string() })?;
        let calendar = crate::calendar::runtime::build(&settings.calendar.dir, Some(&mut conn))
            .map_err(|e| StartError::Step { step: "calendar", message: e.to_string() })?;
        drop(conn);
        let secret = keys::load_or_create_secret(&settings)?;
        let limits = Limits {
            login_by_account: KeyedLimit::per_minute(settings.auth.login_per_account_per_minute),
            login_by_client: KeyedLimit::per_minute(settings.auth.login_per_client_per_minute),
            password_change_by_account: KeyedLimit::per_minute(settings.auth.login_per_account_per_minute),
            tracking_by_client: KeyedLimit::per_minute(settings.complaints.tracking_lookups_per_client_per_minute),
            filing_by_client: KeyedLimit::per_hour(settings.complaints.filings_per_client_per_hour),
            ballot_by_client: KeyedLimit::per_minute(settings.ballots.attempts_per_client_per_minute),
        };
        let rules = Rules::from_settings(&settings)
            .map_err(|message| StartError::Step { step: "email templates and ladder", message })?;
        let mailer = Mailer::from_settings(&settings).map_err(|message| StartError::Step { step: "mail", message })?;
        let mail_from = settings
            .mail
            .from
            .parse()
            .map_err(|_| StartError::Step { step: "mail.from", message: "not an address".into() })?;
        let write_gate =
            matches!(DatabaseUrl::parse(&settings.database.url, settings.data_dir()), Ok(DatabaseUrl::Sqlite(_)))
                .then(|| std::sync::Arc::new(std::sync::Mutex::new(())));
        let pages =
            crate::pages::Pages::load().map_err(|message| StartError::Step { step: "page templates", message })?;
        Ok(AppState {
            pages,
            write_gate,
            tokens: TokenKeys::with_previous(
                &secret,
                &settings.auth.previous_jwt_secrets.iter().map(|p| p.as_bytes().to_vec()).collect::<Vec<_>>(),
                settings.auth.token_ttl_minutes,
            ),
            settings,
            pool,
            limits,
            calendar: CalendarHandle::new(calendar),
            rules,
            mailer,
            mail_from,
        })
    }
}

fn step_error(step: &'static str) -> impl Fn(ApiError) -> StartError {
    move |e| StartError::Step { step, message: format!("{e:#}") }
}

pub fn configure_routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::health::routes)
        .configure(crate::openapi::routes)
        .configure(crate::auth::routes::routes)
        .configure(crate::departments::routes::routes)
        .configure(crate::calendar::routes::routes)
        .configure(crate::complaints::routes::routes)
        .configure(crate::mail::routes::routes)
        .configure(crate::ballots::routes::routes)
        .configure(crate::assessment::routes::routes)
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
