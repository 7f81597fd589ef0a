//! SQLite's short reads, as an instance keeps them: each thread that serves requests reads
//! through a connection of its own, on the thread itself.
//!
//! A read of one complaint by its key, or of an inbox page in an index's order, takes
//! microseconds on a local file. Sending it to the blocking pool costs more than the read: two
//! thread hand-overs, and the pool's mutex and condition variable (`perf` put a third of a
//! tracking read there). So these reads run on the request's own thread (an actix worker) with
//! that thread's connection. Only reads whose cost is bounded go here ([`Access::Lookup`]);
//! searches, exports and writes keep using the blocking pool or the writer connection.
//!
//! The connections are opened read-only (`PRAGMA query_only`), so a write sent here by mistake
//! fails instead of competing with the writer connection, and with a short busy timeout.
//!
//! [`Access::Lookup`]: crate::complaints::operations::Access::Lookup

use std::cell::RefCell;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;
use thread_local::ThreadLocal;

use super::{ConnectionManager, DatabaseUrl, DbConnection};
use crate::error::ApiError;

pub struct SqliteReaders {
    manager: ConnectionManager,
    /// `None` until the thread's first read, and after a read left its connection unusable.
    connections: ThreadLocal<RefCell<Option<DbConnection>>>,
}

impl SqliteReaders {
    pub fn new(url: DatabaseUrl) -> SqliteReaders {
        SqliteReaders { manager: ConnectionManager::new(url), connections: ThreadLocal::new() }
    }

    /// Runs `work` on the calling thread's read connection, opening it on the thread's first
    /// read. A connection whose transaction diesel no longer tracks (a read that panicked
    /// part-way) is closed and another opened (the pool's rule).
    pub fn with<T>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let slot = self.connections.get_or(|| RefCell::new(None));
        // Reads on one thread never nest (`work` is synchronous), but if one ever did, it gets
        // a connection of its own rather than a panic.
        let Ok(mut slot) = slot.try_borrow_mut() else {
            let mut conn = self.open()?;
            return work(&mut conn);
        };
        // A read that panicked part-way may have left a transaction open: start afresh.
        if slot.as_mut().is_some_and(|conn| self.manager.has_broken(conn)) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.open()?);
        }
        work(slot.as_mut().expect("opened above"))
    }

    fn open(&self) -> Result<DbConnection, ApiError> {
        let mut conn = self.manager.connect().map_err(ApiError::database_unavailable)?;
        // A reader waits on the request's own thread, which serves other requests too: when
        // the file stays locked (in WAL mode only a recovery or a backup's restore does that),
        // answer "come back later" after a quarter of a second rather than stall the thread
        // for the writers' ten.
        conn.batch_execute("PRAGMA query_only = ON; PRAGMA busy_timeout = 250").map_err(ApiError::from)?;
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cache_size: i64,
    }

    /// A mark only this connection has: its page-cache size is its own setting (and setting it
    /// writes nothing, so a read-only connection allows it).
    fn mark(conn: &mut DbConnection) -> Result<(), ApiError> {
        conn.batch_execute("PRAGMA cache_size = -777").map_err(ApiError::from)
    }

    fn marked(conn: &mut DbConnection) -> bool {
        diesel::sql_query("PRAGMA cache_size").get_result::<CacheSize>(conn).unwrap().cache_size == -777
    }

    #[test]
    fn each_thread_reads_on_a_read_only_connection_of_its_own_kept_between_reads() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("t.db"));
        ConnectionManager::new(url.clone()).connect().unwrap().batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let readers = std::sync::Arc::new(SqliteReaders::new(url));

        readers.with(mark).unwrap();
        assert!(readers.with(|c| Ok(marked(c))).unwrap(), "the next read on this thread uses the same connection");

        let elsewhere = readers.clone();
        let other_thread = std::thread::spawn(move || elsewhere.with(|c| Ok(marked(c))).unwrap()).join().unwrap();
        assert!(!other_thread, "another thread reads on a connection of its own");

        let write = readers.with(|c| c.batch_execute("INSERT INTO t VALUES (1)").map_err(ApiError::from));
        assert!(write.is_err(), "a write sent to a read connection fails");
    }

    #[test]
    fn a_connection_left_inside_a_transaction_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("t.db"));
        let readers = SqliteReaders::new(url);
        readers.with(mark).unwrap();
        assert!(readers.with(|c| Ok(marked(c))).unwrap());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            readers.with(|c| {
                let _: QueryResult<()> = c.transaction(|_| panic!("a bug inside the read"));
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        assert!(!readers.with(|c| Ok(marked(c))).unwrap(), "the next read opens a new connection");
        assert!(readers.with(|c| Ok(c.batch_execute("SELECT 1").is_ok())).unwrap());
    }
}
