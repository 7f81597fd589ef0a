//! Storage plumbing: one connection type over PostgreSQL and SQLite, the pool, migrations.
//!
//! The backend is chosen from the URL scheme and nothing else. A PostgreSQL URL that fails is an
//! error — never a silent fallback to a SQLite file (that pattern has lost data elsewhere).

pub mod group_commit;
pub mod schema;
pub mod sqlite_readers;
pub mod sqlite_writer;
#[cfg(test)]
mod test_rows;
mod text_enum;
mod text_id;

pub(crate) use text_enum::text_enum;
pub(crate) use text_id::text_id;

/// Runs `$body` with `$c` bound to the backend's own connection instead of the multi-backend
/// [`DbConnection`]. The multi-backend connection writes a query's SQL out anew on every run,
/// even when the statement is prepared and cached (a tenth of a tracking read's time); a
/// backend's own connection finds its cached statement by the query's type. For the reads on
/// every request's path; elsewhere the difference does not matter. Also for multi-row INSERTs,
/// which the multi-backend connection cannot build.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// SQL functions both backends have, for the queries that need them.
pub mod functions {
    use diesel::sql_types::Text;
    diesel::define_sql_function!(fn lower(text: Text) -> Text);
    diesel::define_sql_function!(fn replace(text: Text, from: Text, to: Text) -> Text);
}

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 0x0061_6e73_6861_6e67;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Which database a configured URL designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unsupported database URL scheme `{0}`: use postgres://, postgresql:// or sqlite://")]
    UnsupportedScheme(String),
    #[error("the sqlite:// URL names no file")]
    EmptySqlitePath,
}

impl DatabaseUrl {
    /// Empty means the default SQLite file in the data directory.
    pub fn parse(url: &str, data_dir: &Path) -> Result<DatabaseUrl, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(DatabaseUrl::Sqlite(data_dir.join("anshang.db")));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::EmptySqlitePath);
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_string()));
        }
        if url.contains(':') && !url.starts_with('/') && !url.starts_with('.') {
            // e.g. "mysql:x" or "postgres:x" — a typo, not a file name.
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_string()));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
    }

    /// For messages: the URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// r2d2 manager that opens exactly the backend the URL names and sets SQLite's pragmas.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager { url }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url).map(DbConnection::Pg).map_err(r2d2::Error::ConnectionError)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    r2d2::Error::ConnectionError(ConnectionError::InvalidConnectionUrl(
                        "the SQLite path is not valid UTF-8".into(),
                    ))
                })?;
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; busy_timeout makes writers queue
                // instead of failing; NORMAL is durable in WAL mode except on power loss.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// Checked before each use. A SQLite connection is a handle on a local file and cannot go
    /// stale, so it is not asked (that saves a statement per request); a PostgreSQL connection
    /// may have been dropped by the server or the network while idle.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            DbConnection::Pg(_) => conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError),
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    /// Checked when a connection goes back to the pool: one dropped by a panic, or whose
    /// transaction state diesel no longer knows (a failed rollback, a transaction left open), is
    /// closed instead of being handed to the next request.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking()
            || match conn {
                DbConnection::Pg(pg) => pg.is_broken(),
                DbConnection::Sqlite(lite) => lite.is_broken(),
            }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: r2d2::Error },
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database pool for {url}: {source}")]
    Pool { url: String, source: diesel::r2d2::PoolError },
    #[error("migrations on {url} failed: {message}")]
    Migrate { url: String, message: String },
}

/// Opens the pool. The first connection is made by hand so the driver's real error is reported
/// (r2d2 itself only says "timed out").
pub fn connect_pool(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Pool, DbSetupError> {
    let manager = ConnectionManager::new(url.clone());
    if let DatabaseUrl::Sqlite(path) = url {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| DbSetupError::DataDir { path: dir.display().to_string(), source })?;
        }
    }
    let first = manager.connect().map_err(|source| DbSetupError::Connect { url: url.redacted(), source })?;
    drop(first);
    r2d2::Pool::builder()
        .max_size(size)
        // No background pre-connecting: a connect still in flight on r2d2's worker thread when
        // a CLI command exits races libpq/OpenSSL's exit handlers (seen as SIGSEGV at exit).
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .build(manager)
        .map_err(|source| DbSetupError::Pool { url: url.redacted(), source })
}

/// Why migrations could not be applied or read: the migration harness's error, or the
/// PostgreSQL advisory lock around it.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{0}")]
    Harness(Box<dyn std::error::Error + Send + Sync>),
    #[error("the migration lock: {0}")]
    Lock(#[from] diesel::result::Error),
}

/// Applies pending migrations; returns the versions applied. Safe to call from several
/// instances at once on PostgreSQL (an advisory lock serialises them).
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    match conn {
        DbConnection::Pg(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|versions| versions.iter().map(|v| v.to_string()).collect())
                .map_err(MigrationError::Harness);
            let unlocked = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
        DbConnection::Sqlite(lite) => lite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect())
            .map_err(MigrationError::Harness),
    }
}

/// True when every embedded migration has been applied.
pub fn is_migrated(conn: &mut DbConnection) -> Result<bool, MigrationError> {
    let pending = match conn {
        DbConnection::Pg(pg) => pg.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(lite) => lite.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending.map(|p| !p).map_err(MigrationError::Harness)
}

pub fn backend_name(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "postgres",
        DbConnection::Sqlite(_) => "sqlite",
    }
}

/// Instants are stored as UTC `NaiveDateTime` truncated to microseconds, so that SQLite
/// (nanosecond text) and PostgreSQL (microseconds) round-trip the same value.
pub fn to_db_time(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.trunc_subsecs(6).naive_utc()
}

pub fn from_db_time(stored: NaiveDateTime) -> DateTime<Utc> {
    stored.and_utc()
}

/// The current instant as stored: UTC, microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs blocking database work on actix's thread pool with a pooled connection.
pub async fn run<T, E, F>(pool: &Pool, work: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    E: Into<crate::error::ApiError>,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn).map_err(Into::into)
    })
    .await
    .map_err(|e| crate::error::ApiError::internal("blocking task", e))?
}

/// Runs a read whose cost is bounded by a key or an index. On SQLite (`readers` given) it runs
/// on the calling thread with that thread's read connection ([`sqlite_readers`]): the read takes
/// less than the hop to the blocking pool would. Elsewhere as [`run`].
pub async fn lookup<T, E, F>(
    pool: &Pool,
    readers: Option<&sqlite_readers::SqliteReaders>,
    work: F,
) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    E: Into<crate::error::ApiError>,
    T: Send + 'static,
{
    match readers {
        Some(readers) => readers.with(|conn| work(conn).map_err(Into::into)),
        None => run(pool, work).await,
    }
}

/// Makes the current transaction a writer before it reads anything. On SQLite a transaction
/// that reads first and writes later fails with SQLITE_BUSY when another writer got in between
/// (the busy timeout does not help then); a write as the first statement queues instead. The
/// statement changes nothing; on PostgreSQL it costs one round trip.
pub fn write_lock(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    conn.batch_execute("UPDATE tracking_counters SET last_seq = last_seq WHERE 1 = 0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_choose_the_backend_or_are_refused() {
        let dir = Path::new("data");
        assert_eq!(DatabaseUrl::parse("", dir).unwrap(), DatabaseUrl::Sqlite("data/anshang.db".into()));
        assert!(matches!(DatabaseUrl::parse("postgres://u@h/db", dir), Ok(DatabaseUrl::Postgres(_))));
        assert!(matches!(DatabaseUrl::parse("postgresql://u@h/db", dir), Ok(DatabaseUrl::Postgres(_))));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/x.db", dir).unwrap(), DatabaseUrl::Sqlite("/tmp/x.db".into()));
        assert_eq!(DatabaseUrl::parse("./x.db", dir).unwrap(), DatabaseUrl::Sqlite("./x.db".into()));
        assert_eq!(DatabaseUrl::parse("mysql://u@h/db", dir), Err(DatabaseUrlError::UnsupportedScheme("mysql".into())));
        assert_eq!(
            DatabaseUrl::parse("postgres:u@h", dir),
            Err(DatabaseUrlError::UnsupportedScheme("postgres".into()))
        );
        assert_eq!(DatabaseUrl::parse("sqlite://", dir), Err(DatabaseUrlError::EmptySqlitePath));
    }

    /// `.cargo/config.toml` builds the bundled SQLite with the query-planner stability
    /// guarantee; without it every statement with a bound LIMIT is compiled again on each use.
    #[test]
    fn the_bundled_sqlite_keeps_a_statements_plan_whatever_is_bound_to_it() {
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let dir = tempfile::tempdir().unwrap();
        let mut conn = ConnectionManager::new(DatabaseUrl::Sqlite(dir.path().join("t.db"))).connect().unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "SQLite built without ENABLE_QPSG: {options:?}");
    }

    #[test]
    fn a_connection_dropped_by_a_panic_inside_a_transaction_is_not_handed_out_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("t.db"));
        let pool = connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
        pool.get().unwrap().batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let in_thread = pool.clone();
        let panicked = std::thread::spawn(move || {
            let mut conn = in_thread.get().unwrap();
            // A mark only this connection has: temporary tables belong to their connection.
            conn.batch_execute("CREATE TEMP TABLE marked (x INTEGER)").unwrap();
            let _: QueryResult<()> = conn.transaction(|c| {
                c.batch_execute("INSERT INTO t VALUES (1)")?;
                panic!("a bug inside the transaction");
            });
        })
        .join();
        assert!(panicked.is_err());
        let mut conn = pool.get().unwrap();
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let marked: Count = diesel::sql_query("SELECT count(*) AS n FROM sqlite_temp_master WHERE name = 'marked'")
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(marked.n, 0, "the panicked connection was closed, this one is new");
        conn.transaction(|c| c.batch_execute("INSERT INTO t VALUES (2)")).unwrap();
    }

    #[test]
    fn redaction_hides_passwords() {
        let url = DatabaseUrl::Postgres("postgres://app:hunter2@db:5432/anshang".into());
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/anshang");
    }
}
