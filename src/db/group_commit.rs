//! Writes that commit together: a thread of the instance's own runs the writes waiting for it
//! in one transaction, one after another, and answers each once that transaction has committed.
//!
//! Why: a filing takes the year's tracking counter, whose row stays locked until the commit has
//! reached the disk (numbers stay gapless: a rolled-back filing rolls its number back). Filings
//! each in their own transaction therefore queue behind one another's commit flush — on
//! PostgreSQL they could not pass one flush per filing however many arrived at once. Here the
//! filings that arrived while the previous group was committing share one transaction and one
//! flush; the counter is still taken inside the transaction that writes the rows carrying the
//! number, so numbering stays gapless under concurrency (other instances queue on the counter
//! row as before) and a crash before the commit loses only writes nobody was answered for.
//!
//! The contract a write submitted here keeps: it does its writes inside a transaction of its
//! own (a savepoint here), as every service operation does, so that a write refused for its
//! input (a 4xx) leaves the group's transaction as it found it; it may be run again (a failure
//! of the storage in one write rolls the group back and the others run again, without it).
//! Nobody is answered before the group's commit.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::Arc;

use actix_web::ResponseError;
use diesel::Connection;

use super::sqlite_writer::SqliteWriter;
use super::{DbConnection, Pool};
use crate::error::ApiError;

/// The most writes one transaction takes; the rest wait for the next one.
const MOST_PER_GROUP: usize = 64;

/// Where the group's transaction runs.
pub enum Target {
    /// PostgreSQL: a pooled connection per group.
    Pool(Pool),
    /// SQLite: the instance's writer connection (`db::sqlite_writer`), one group per turn.
    Writer(Arc<SqliteWriter>),
}

#[derive(Clone)]
pub struct GroupCommit {
    waiting: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Starts the committing thread. It ends once every handle to this `GroupCommit` is dropped.
    pub fn start(target: Target) -> std::io::Result<GroupCommit> {
        let (queue, waiting) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new().name("group-commit".into()).spawn(move || {
            while let Ok(first) = waiting.recv() {
                let mut group = vec![first];
                while group.len() < MOST_PER_GROUP {
                    match waiting.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                // A write that panics fails its group (each waiting caller sees its reply
                // dropped); the thread goes on with the next group. The connection the panic
                // ran through is closed, not reused (the pool's and the writer's own rule).
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| commit_on(&target, group)));
            }
        })?;
        Ok(GroupCommit { waiting: queue })
    }

    /// Runs `work` in the next group's transaction; answers once that transaction has
    /// committed.
    pub async fn submit<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let answer = self.queue(work)?;
        answer.await.map_err(|_| ApiError::internal("group commit", "the write panicked"))?
    }

    /// Queues a write; the receiver gets its answer after the group's commit (or is dropped when
    /// a write of the group panicked).
    fn queue<T, F>(&self, work: F) -> Result<tokio::sync::oneshot::Receiver<Result<T, ApiError>>, ApiError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Submitted { work, outcome: None, reply };
        self.waiting
            .send(Box::new(job))
            .map_err(|_| ApiError::internal("group commit", "the committing thread has stopped"))?;
        Ok(answer)
    }
}

/// A submitted write as the committing thread sees it.
trait Job: Send {
    /// Runs the write in the group's transaction and keeps its outcome. `Err` is a failure of
    /// the server's side (5xx), after which the transaction may not be usable.
    fn run(&mut self, conn: &mut DbConnection) -> Result<(), ApiError>;
    /// Answers with the kept outcome (the group has committed).
    fn answer(self: Box<Self>);
    fn fail(self: Box<Self>, error: ApiError);
}

struct Submitted<T, F> {
    work: F,
    outcome: Option<Result<T, ApiError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Job for Submitted<T, F>
where
    F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection) -> Result<(), ApiError> {
        match (self.work)(conn) {
            Err(e) if e.status_code().is_server_error() => Err(e),
            outcome => {
                self.outcome = Some(outcome);
                Ok(())
            }
        }
    }

    fn answer(self: Box<Self>) {
        let outcome = self.outcome.unwrap_or_else(|| Err(ApiError::internal("group commit", "answered before it ran")));
        // The caller may have gone (a closed connection); the write stands all the same.
        let _ = self.reply.send(outcome);
    }

    fn fail(self: Box<Self>, error: ApiError) {
        let _ = self.reply.send(Err(error));
    }
}

fn commit_on(target: &Target, group: Vec<Box<dyn Job>>) {
    match target {
        Target::Pool(pool) => match pool.get() {
            Ok(mut conn) => commit_together(&mut conn, group),
            Err(e) => fail_all(group, ApiError::from(e)),
        },
        Target::Writer(writer) => {
            let mut group = Some(group);
            let turn = writer.with(|conn| {
                commit_together(conn, group.take().expect("taken once"));
                Ok(())
            });
            if let (Err(e), Some(group)) = (turn, group) {
                // The writer could not open its connection; nothing ran.
                fail_all(group, e);
            }
        }
    }
}

/// Gives every write of a group the error that stopped the group (said once in the log).
fn fail_all(jobs: impl IntoIterator<Item = Box<dyn Job>>, error: ApiError) {
    let unavailable = matches!(error, ApiError::Unavailable(_));
    let cause = error.to_string();
    for job in jobs {
        job.fail(if unavailable {
            ApiError::Unavailable(crate::error::DATABASE_UNAVAILABLE.into())
        } else {
            ApiError::internal("group commit", &cause)
        });
    }
}

/// Why a group's transaction was rolled back.
enum RolledBack {
    /// The write at this index failed on the server's side; the others run again without it.
    Write(usize, ApiError),
    /// BEGIN or COMMIT failed: every write of the group fails.
    Transaction(diesel::result::Error),
}

impl From<diesel::result::Error> for RolledBack {
    fn from(e: diesel::result::Error) -> Self {
        RolledBack::Transaction(e)
    }
}

fn commit_together(conn: &mut DbConnection, mut jobs: Vec<Box<dyn Job>>) {
    while !jobs.is_empty() {
        let tried = conn.transaction::<(), RolledBack, _>(|conn| {
            // SQLite: the group writes before anything reads (a filing with an Idempotency-Key
            // looks it up first), so that it waits for another connection's write instead of
            // failing when that one commits between its first read and its first write.
            if let DbConnection::Sqlite(_) = conn {
                super::write_lock(conn)?;
            }
            for (index, job) in jobs.iter_mut().enumerate() {
                job.run(conn).map_err(|e| RolledBack::Write(index, e))?;
            }
            Ok(())
        });
        match tried {
            Ok(()) => {
                for job in jobs.drain(..) {
                    job.answer();
                }
            }
            Err(RolledBack::Write(index, error)) => jobs.remove(index).fail(error),
            Err(RolledBack::Transaction(e)) => fail_all(jobs.drain(..), ApiError::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::r2d2::ManageConnection;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn rows_named(conn: &mut DbConnection, name: &str) -> i64 {
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM written WHERE name = '{name}'"))
            .get_result::<Count>(conn)
            .unwrap()
            .n
    }

    fn all_rows(conn: &mut DbConnection) -> i64 {
        diesel::sql_query("SELECT COUNT(*) AS n FROM written").get_result::<Count>(conn).unwrap().n
    }

    fn insert(conn: &mut DbConnection, name: &str) -> Result<(), ApiError> {
        conn.batch_execute(&format!("INSERT INTO written (name) VALUES ('{name}')")).map_err(ApiError::from)
    }

    type Answer<T> = tokio::sync::oneshot::Receiver<Result<T, ApiError>>;

    struct Fixture {
        _dir: tempfile::TempDir,
        manager: super::super::ConnectionManager,
        filings: GroupCommit,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let url = super::super::DatabaseUrl::Sqlite(dir.path().join("g.db"));
            let manager = super::super::ConnectionManager::new(url.clone());
            // `tracking_counters` as the migrations make it: `db::write_lock` writes to it.
            manager
                .connect()
                .unwrap()
                .batch_execute(
                    "CREATE TABLE written (name TEXT NOT NULL); \
                     CREATE TABLE tracking_counters (year INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL);",
                )
                .unwrap();
            let writer = Arc::new(SqliteWriter::open(url).unwrap());
            Fixture { _dir: dir, manager, filings: GroupCommit::start(Target::Writer(writer)).unwrap() }
        }

        /// Another connection, as another request's reader sees the file.
        fn reader(&self) -> DbConnection {
            self.manager.connect().unwrap()
        }

        /// Holds the committing thread in a group of its own until the returned sender is
        /// dropped, so that what is queued meanwhile makes the next group, together.
        fn hold(&self) -> (mpsc::Sender<()>, Answer<()>) {
            let (started, running) = mpsc::channel();
            let (release, gate) = mpsc::channel::<()>();
            let held = self
                .filings
                .queue(move |_| {
                    started.send(()).unwrap();
                    let _ = gate.recv();
                    Ok(())
                })
                .unwrap();
            running.recv().unwrap();
            (release, held)
        }

        fn write(&self, name: &'static str) -> Answer<i64> {
            self.filings
                .queue(move |conn| {
                    conn.transaction(|conn| insert(conn, name))?;
                    Ok(all_rows(conn))
                })
                .unwrap()
        }
    }

    #[test]
    fn writes_that_arrive_while_a_group_commits_share_one_transaction_and_are_answered_after_it() {
        let f = Fixture::new();
        let (release, held) = f.hold();
        let answers: Vec<_> = ["a", "b", "c"].into_iter().map(|name| f.write(name)).collect();
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        let mut answers = answers.into_iter();
        let first = answers.next().unwrap().blocking_recv().unwrap().unwrap();
        // Answered means committed, with the whole group: another connection sees every row.
        assert_eq!(all_rows(&mut f.reader()), 3);
        // Each write saw the earlier ones of its group before any commit: one transaction.
        let rest: Vec<i64> = answers.map(|a| a.blocking_recv().unwrap().unwrap()).collect();
        assert_eq!((first, rest), (1, vec![2, 3]));
    }

    #[test]
    fn a_write_refused_for_its_input_leaves_the_rest_of_its_group_standing() {
        let f = Fixture::new();
        let (release, held) = f.hold();
        let a = f.write("a");
        let refused = f
            .filings
            .queue(|conn| -> Result<(), ApiError> {
                conn.transaction(|conn| {
                    insert(conn, "refused")?;
                    Err(ApiError::NotFound("no such department".into()))
                })
            })
            .unwrap();
        let c = f.write("c");
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        assert!(matches!(refused.blocking_recv().unwrap(), Err(ApiError::NotFound(_))));
        assert_eq!(a.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(c.blocking_recv().unwrap().unwrap(), 2, "the refused write's row was rolled back");
        let mut reader = f.reader();
        assert_eq!(
            (rows_named(&mut reader, "a"), rows_named(&mut reader, "refused"), rows_named(&mut reader, "c")),
            (1, 0, 1)
        );
    }

    #[test]
    fn a_failure_on_the_server_side_rolls_the_group_back_and_the_others_run_again_without_it() {
        let f = Fixture::new();
        let (release, held) = f.hold();
        let runs = Arc::new(AtomicUsize::new(0));
        let first = {
            let runs = runs.clone();
            f.filings
                .queue(move |conn| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    conn.transaction(|conn| insert(conn, "a"))?;
                    Ok(())
                })
                .unwrap()
        };
        let failing = f
            .filings
            .queue(|conn| -> Result<(), ApiError> {
                // Outside a savepoint: only the group's rollback can undo it.
                insert(conn, "failed")?;
                Err(ApiError::internal("test", "the disk is full"))
            })
            .unwrap();
        let c = f.write("c");
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        assert!(matches!(failing.blocking_recv().unwrap(), Err(ApiError::Internal(_))));
        first.blocking_recv().unwrap().unwrap();
        assert_eq!(c.blocking_recv().unwrap().unwrap(), 2, "run again after the rollback: a's row and its own");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "the first write ran once in the rolled-back group, once again");
        let mut reader = f.reader();
        let seen: Vec<i64> = ["a", "failed", "c"].iter().map(|n| rows_named(&mut reader, n)).collect();
        assert_eq!(seen, vec![1, 0, 1]);
    }

    #[test]
    fn a_write_that_reads_first_waits_for_another_connections_write_instead_of_failing() {
        let f = Fixture::new();
        let (other_wrote, wait_for_other) = mpsc::channel();
        let manager = f.manager.clone();
        let answer = f
            .filings
            .queue(move |conn| {
                // A filing with an Idempotency-Key looks it up before it writes.
                let before = all_rows(conn);
                let manager = manager.clone();
                let other_wrote = other_wrote.clone();
                std::thread::spawn(move || {
                    // Another of the instance's connections (the outbox worker, the sweeper).
                    let wrote = manager.connect().unwrap().batch_execute("INSERT INTO written (name) VALUES ('other')");
                    other_wrote.send(wrote.is_ok()).unwrap();
                });
                // Long enough for the other write to commit first, were it not made to wait.
                std::thread::sleep(std::time::Duration::from_millis(300));
                conn.transaction(|conn| insert(conn, "filed"))?;
                Ok(before)
            })
            .unwrap();
        assert_eq!(answer.blocking_recv().unwrap().unwrap(), 0);
        assert!(wait_for_other.recv().unwrap(), "the other connection's write went through after the group");
        let mut reader = f.reader();
        assert_eq!((rows_named(&mut reader, "filed"), rows_named(&mut reader, "other")), (1, 1));
    }

    #[test]
    fn a_write_that_panics_fails_its_group_and_the_next_group_commits() {
        let f = Fixture::new();
        let (release, held) = f.hold();
        let a = f.write("a");
        let panicking = f
            .filings
            .queue(|conn| -> Result<(), ApiError> {
                insert(conn, "panicked")?;
                panic!("a bug in a write")
            })
            .unwrap();
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        assert!(panicking.blocking_recv().is_err(), "the caller sees its answer dropped");
        assert!(a.blocking_recv().is_err(), "nothing of the group was committed, so nobody is told it was");
        assert_eq!(f.write("after").blocking_recv().unwrap().unwrap(), 1, "the thread goes on, on a new connection");
        let mut reader = f.reader();
        assert_eq!((rows_named(&mut reader, "a"), rows_named(&mut reader, "panicked")), (0, 0));
    }
}
