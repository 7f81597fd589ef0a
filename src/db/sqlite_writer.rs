//! SQLite's one writer, as an instance keeps it: complaint writes take turns on a connection of
//! their own instead of on whichever pooled connection a request got.
//!
//! SQLite lets one connection write at a time, so the turns cost nothing in parallelism. What a
//! connection of their own buys is its page cache: a connection drops its cached pages whenever
//! another connection has written, so writes spread over the pool re-read the tables' and
//! indexes' pages on every transaction. On one connection they stay cached (filings about a
//! third faster in docs/performance.md). Waiting here is a mutex hand-over, not SQLite's busy
//! handler, which sleeps for milliseconds.
//!
//! The writer also hands the checkpoint (copying the write-ahead log into the database file,
//! and its flush) to a thread of its own ([`SqliteWriter::start_checkpointer`]), so that a
//! commit does not wait for it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;

use super::{ConnectionManager, DatabaseUrl, DbConnection};
use crate::error::ApiError;

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Pages the write-ahead log may reach before the writer checkpoints it itself (SQLite's
/// default is 1,000): a backstop for a checkpointer that cannot keep up. Below it, the writer's
/// commits never wait for a checkpoint and its flush — a fifth of a filing's time when the
/// writer checkpointed every 1,000 pages (docs/performance.md).
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 10_000;

pub struct SqliteWriter {
    manager: ConnectionManager,
    /// `None` after a write left the connection unusable, until the next write opens another.
    connection: Mutex<Option<DbConnection>>,
}

impl SqliteWriter {
    /// Opens the writer connection now, so that a file that cannot be opened stops the start.
    pub fn open(url: DatabaseUrl) -> Result<SqliteWriter, diesel::r2d2::Error> {
        let manager = ConnectionManager::new(url);
        let connection = writer_connection(&manager)?;
        Ok(SqliteWriter { manager, connection: Mutex::new(Some(connection)) })
    }

    /// Starts the thread that checkpoints the write-ahead log in the background (PASSIVE: it
    /// never blocks the writer or a reader) on a connection of its own, every
    /// [`CHECKPOINT_EVERY`]. It ends once the writer is dropped.
    pub fn start_checkpointer(writer: &Arc<SqliteWriter>) -> std::io::Result<()> {
        let alive = Arc::downgrade(writer);
        let manager = writer.manager.clone();
        std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
            let mut connection: Option<DbConnection> = None;
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                if alive.strong_count() == 0 {
                    return;
                }
                if connection.is_none() {
                    connection = manager
                        .connect()
                        .map_err(|e| tracing::warn!(error = %e, "SQLite checkpointer: cannot open the database"))
                        .ok();
                }
                if let Some(conn) = connection.as_mut() {
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        // The writer's own backstop checkpoints meanwhile; try again afresh.
                        tracing::warn!(error = %e, "SQLite checkpointer: checkpoint failed");
                        connection = None;
                    }
                }
            }
        })?;
        Ok(())
    }

    /// Runs `work` on the writer connection once it is this caller's turn (blocking: call from
    /// the blocking pool). A connection a panic ran through, or whose transaction diesel no
    /// longer tracks, is closed and the next turn opens a new one, as the pool does.
    pub fn with<T>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut turn = self.turn();
        if turn.is_none() {
            *turn = Some(writer_connection(&self.manager).map_err(ApiError::database_unavailable)?);
        }
        let conn = turn.as_mut().expect("opened above");
        let done = work(conn);
        // The pool's own rule for a connection not to hand out again.
        if self.manager.has_broken(conn) {
            *turn = None;
        }
        done
    }

    fn turn(&self) -> MutexGuard<'_, Option<DbConnection>> {
        match self.connection.lock() {
            Ok(turn) => turn,
            Err(poisoned) => {
                // The last write panicked part-way: its connection may hold an open transaction.
                let mut turn = poisoned.into_inner();
                *turn = None;
                self.connection.clear_poison();
                turn
            }
        }
    }
}

fn writer_connection(manager: &ConnectionManager) -> Result<DbConnection, diesel::r2d2::Error> {
    let mut conn = manager.connect()?;
    conn.batch_execute(&format!("PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}"))
        .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use crate::db::test_rows::count;

    #[test]
    fn the_log_is_checkpointed_in_the_background_not_by_the_writers_commits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.db");
        let writer = Arc::new(SqliteWriter::open(DatabaseUrl::Sqlite(file.clone())).unwrap());
        #[derive(QueryableByName)]
        struct Threshold {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            wal_autocheckpoint: i64,
        }
        let threshold = writer
            .with(|c| Ok(diesel::sql_query("PRAGMA wal_autocheckpoint").get_result::<Threshold>(c).unwrap()))
            .unwrap();
        assert_eq!(threshold.wal_autocheckpoint, i64::from(WRITER_AUTOCHECKPOINT_PAGES));
        // About 2 MB of rows: far below the writer's own threshold, so they stay in the log...
        writer
            .with(|c| {
                c.batch_execute(
                    "CREATE TABLE t (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                     WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(512)) FROM n",
                )?;
                Ok(())
            })
            .unwrap();
        let database_bytes = || std::fs::metadata(&file).unwrap().len();
        assert!(database_bytes() < 1_000_000, "the rows are in the log, not yet in the database file");
        // ...until the checkpointer copies them into the database file.
        SqliteWriter::start_checkpointer(&writer).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while database_bytes() < 2_000_000 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn writes_share_one_connection_until_a_panic_leaves_it_and_a_new_one_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let writer = SqliteWriter::open(DatabaseUrl::Sqlite(dir.path().join("w.db"))).unwrap();
        writer
            .with(|c| {
                // A mark only this connection has: temporary tables belong to their connection.
                c.batch_execute("CREATE TABLE t (x INTEGER); CREATE TEMP TABLE marked (x INTEGER)")?;
                Ok(())
            })
            .unwrap();
        let same = writer.with(|c| Ok(count(c, "SELECT count(*) AS n FROM sqlite_temp_master WHERE name = 'marked'")));
        assert_eq!(same.unwrap(), 1, "the second write ran on the first one's connection");

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            writer.with(|c| -> Result<(), ApiError> {
                let _: QueryResult<()> = c.transaction(|c| {
                    c.batch_execute("INSERT INTO t VALUES (1)")?;
                    panic!("a bug inside the transaction");
                });
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        let after = writer
            .with(|c| {
                c.transaction(|c| c.batch_execute("INSERT INTO t VALUES (2)"))?;
                Ok((
                    count(c, "SELECT count(*) AS n FROM sqlite_temp_master WHERE name = 'marked'"),
                    count(c, "SELECT count(*) AS n FROM t"),
                ))
            })
            .unwrap();
        assert_eq!(after, (0, 1), "a new connection; the panicked transaction's row was not kept");
    }
}
