//! SQLite's one writer, as an instance keeps it: complaint writes take turns on a connection of
//! their own instead of on whichever pooled connection a request got.
//!
//! SQLite lets one connection write at a time, so the turns cost nothing in parallelism. What a
//! connection of their own buys is its page cache: a connection drops its cached pages whenever
//! another connection has written, so writes spread over the pool re-read the tables' and
//! indexes' pages on every transaction. On one connection they stay cached (filings about a
//! third faster in docs/performance.md). Waiting here is a mutex hand-over, not SQLite's busy
//! handler, which sleeps for milliseconds.

use std::sync::{Mutex, MutexGuard};

use diesel::r2d2::ManageConnection;

use super::{ConnectionManager, DatabaseUrl, DbConnection};
use crate::error::ApiError;

pub struct SqliteWriter {
    manager: ConnectionManager,
    /// `None` after a write left the connection unusable, until the next write opens another.
    connection: Mutex<Option<DbConnection>>,
}

impl SqliteWriter {
    /// Opens the writer connection now, so that a file that cannot be opened stops the start.
    pub fn open(url: DatabaseUrl) -> Result<SqliteWriter, diesel::r2d2::Error> {
        let manager = ConnectionManager::new(url);
        let connection = manager.connect()?;
        Ok(SqliteWriter { manager, connection: Mutex::new(Some(connection)) })
    }

    /// Runs `work` on the writer connection once it is this caller's turn (blocking: call from
    /// the blocking pool). A connection a panic ran through, or whose transaction diesel no
    /// longer tracks, is closed and the next turn opens a new one, as the pool does.
    pub fn with<T>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut turn = self.turn();
        if turn.is_none() {
            *turn = Some(self.manager.connect().map_err(ApiError::database_unavailable)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn count(conn: &mut DbConnection, sql: &str) -> i64 {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
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
