//! The state every request handler and background worker shares (settings, the pool, keys,
//! rate limits, the calendar, the rules, the mailer, the pages), and how it is built at start:
//! the database opened and migrated, the audit trail sealed. Everything else imports this
//! module; it imports no front end (no `routes`, no page handlers, not `app`).

use std::net::IpAddr;
use std::time::Duration;

use actix_web::web;

use crate::auth::keys::{self, KeyError};
use crate::auth::token::TokenKeys;
use crate::calendar::runtime::CalendarHandle;
use crate::complaints::context::Rules;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbSetupError, Pool};
use crate::http::rate_limit::{Counting, Limit};
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
    /// SQLite has one writer: complaint writes of this instance take turns on this connection
    /// of their own (`db::sqlite_writer`). `None` on PostgreSQL.
    pub sqlite_writer: Option<std::sync::Arc<db::sqlite_writer::SqliteWriter>>,
    /// SQLite's short reads run on the request's own thread, with that thread's connection
    /// (`db::sqlite_readers`). `None` on PostgreSQL.
    pub sqlite_readers: Option<db::sqlite_readers::SqliteReaders>,
    /// Filings of this instance commit in groups, on a thread of their own
    /// (`db::group_commit`): one commit, and one hold of the tracking counter, for the filings
    /// that arrived meanwhile.
    pub filings: db::group_commit::GroupCommit<crate::complaints::filing::Filings>,
    /// The pages' templates and text.
    pub pages: crate::pages::engine::Pages,
    /// This instance's Prometheus series (`/metrics`).
    pub metrics: crate::metrics::Metrics,
}

/// Rate limits: shared by all instances on PostgreSQL, per instance on SQLite (see
/// docs/operations.md).
pub struct Limits {
    pub login_by_account: Limit<String>,
    pub login_by_client: Limit<IpAddr>,
    /// Password changes per account (user id): a stolen token must not guess the password
    /// faster than a sign-in could.
    pub password_change_by_account: Limit<String>,
    pub tracking_by_client: Limit<IpAddr>,
    pub filing_by_client: Limit<IpAddr>,
    pub ballot_by_client: Limit<IpAddr>,
    counting: Counting,
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
    let applied = db::run_migrations(&mut conn)
        .map_err(|e| DbSetupError::Migrate { url: url.redacted(), message: e.to_string() })?;
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

impl Limits {
    pub fn new(settings: &Settings, counting: Counting) -> Limits {
        let (auth, complaints) = (&settings.auth, &settings.complaints);
        let c = &counting;
        Limits {
            login_by_account: Limit::per_minute(c, "login_by_account", auth.login_per_account_per_minute),
            login_by_client: Limit::per_minute(c, "login_by_client", auth.login_per_client_per_minute),
            password_change_by_account: Limit::per_minute(c, "password_change", auth.login_per_account_per_minute),
            tracking_by_client: Limit::per_minute(c, "tracking", complaints.tracking_lookups_per_client_per_minute),
            filing_by_client: Limit::per_hour(c, "filing", complaints.filings_per_client_per_hour),
            ballot_by_client: Limit::per_minute(c, "ballot", settings.ballots.attempts_per_client_per_minute),
            counting,
        }
    }

    pub(crate) async fn forget_idle(&self) {
        self.login_by_account.forget_idle();
        self.login_by_client.forget_idle();
        self.password_change_by_account.forget_idle();
        self.tracking_by_client.forget_idle();
        self.filing_by_client.forget_idle();
        self.ballot_by_client.forget_idle();
        if let Counting::Shared { pool, .. } = &self.counting {
            let pruned = db::run(pool, crate::http::shared_limit::forget_idle).await;
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "pruning the shared rate limits failed; will retry");
            }
        }
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
        let rules = Rules::from_settings(&settings)
            .map_err(|e| StartError::Step { step: "email templates and ladder", message: e.to_string() })?;
        let mailer =
            Mailer::from_settings(&settings).map_err(|e| StartError::Step { step: "mail", message: e.to_string() })?;
        let mail_from = settings.mail.from.clone();
        let sqlite_url = match DatabaseUrl::parse(&settings.database.url, settings.data_dir()) {
            Ok(url @ DatabaseUrl::Sqlite(_)) => Some(url),
            _ => None,
        };
        let sqlite = sqlite_url.is_some();
        let sqlite_readers = sqlite_url.clone().map(db::sqlite_readers::SqliteReaders::new);
        let sqlite_writer = match sqlite_url {
            Some(url) => {
                let writer = std::sync::Arc::new(
                    db::sqlite_writer::SqliteWriter::open(url)
                        .map_err(|e| StartError::Step { step: "database", message: e.to_string() })?,
                );
                db::sqlite_writer::SqliteWriter::start_checkpointer(&writer)
                    .map_err(|e| StartError::Step { step: "database checkpointer", message: e.to_string() })?;
                Some(writer)
            }
            None => None,
        };
        let filings = db::group_commit::GroupCommit::start(
            match &sqlite_writer {
                Some(writer) => db::group_commit::Target::Writer(writer.clone()),
                None => db::group_commit::Target::Pool(pool.clone()),
            },
            crate::complaints::filing::Filings { rules: rules.clone() },
        )
        .map_err(|e| StartError::Step { step: "filing thread", message: e.to_string() })?;
        // PostgreSQL serves several instances: limits a client must not multiply by their
        // number are counted there.
        let counting = if sqlite {
            Counting::InMemory
        } else {
            Counting::Shared { pool: pool.clone(), key: crate::http::shared_limit::LimiterKey::derive(&secret) }
        };
        let limits = Limits::new(&settings, counting);
        let pages = crate::pages::engine::Pages::load()
            .map_err(|e| StartError::Step { step: "page templates", message: e.to_string() })?;
        Ok(AppState {
            pages,
            sqlite_writer,
            sqlite_readers,
            filings,
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
            metrics: crate::metrics::Metrics::new(),
        })
    }
}
