//! Writes that commit together: a thread of the instance's own runs the writes waiting for it
//! in one transaction and answers each once that transaction has committed.
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
//! A group is first offered to [`Work::together`], which may do the whole group's work in a few
//! statements (one multi-row INSERT per table instead of one per write: the thread's round
//! trips, not the database, bound the rate). When it cannot (or has no such way), the group's
//! transaction is rolled back and begun again, with each item run alone, one after another.
//!
//! The contract an item's work keeps when it runs alone: it does its writes inside a
//! transaction of its own (a savepoint here), as every service operation does, so that a write
//! refused for its input (a 4xx) leaves the group's transaction as it found it; it may be run
//! again (a failure of the storage in one write rolls the group back and the others run again,
//! without it). Nobody is answered before the group's commit.

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

/// What the committing thread does with the items submitted to it.
pub trait Work: Send + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;

    /// One item's work, in a transaction of its own (see the module's contract). It may run
    /// again, from the same item, after a rolled-back group.
    fn alone(&self, conn: &mut DbConnection, item: &Self::Item) -> Result<Self::Output, ApiError>;

    /// The whole group's work at once, one outcome per item in their order, where that saves
    /// round trips. An item refused here (a 4xx) must have written nothing. On `Err` the
    /// group's transaction is rolled back and each item runs alone, in a new one.
    #[allow(clippy::type_complexity)]
    fn together(
        &self,
        conn: &mut DbConnection,
        items: &[Self::Item],
    ) -> Result<Vec<Result<Self::Output, ApiError>>, ApiError>;
}

pub struct GroupCommit<W: Work> {
    waiting: mpsc::Sender<Queued<W>>,
}

impl<W: Work> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit { waiting: self.waiting.clone() }
    }
}

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, ApiError>>;

/// A submitted item and where its answer goes.
struct Queued<W: Work> {
    item: W::Item,
    reply: Reply<W::Output>,
}

impl<W: Work> GroupCommit<W> {
    /// Starts the committing thread. It ends once every handle to this `GroupCommit` is dropped.
    pub fn start(target: Target, work: W) -> std::io::Result<GroupCommit<W>> {
        let (queue, waiting) = mpsc::channel::<Queued<W>>();
        std::thread::Builder::new().name("group-commit".into()).spawn(move || {
            let mut kept = Kept::default();
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
                // ran through is not kept (`commit_on` took it): the pool's and the writer's own
                // rule then decide whether it is closed.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| commit_on(&target, &work, group, &mut kept)));
            }
        })?;
        Ok(GroupCommit { waiting: queue })
    }

    /// Does `item`'s work in the next group's transaction; answers once that transaction has
    /// committed.
    pub async fn submit(&self, item: W::Item) -> Result<W::Output, ApiError> {
        let answer = self.queue(item)?;
        answer.await.map_err(|_| ApiError::internal("group commit", "the write panicked"))?
    }

    /// Queues an item; the receiver gets its answer after the group's commit (or is dropped
    /// when the group's work panicked).
    fn queue(&self, item: W::Item) -> Result<tokio::sync::oneshot::Receiver<Result<W::Output, ApiError>>, ApiError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.waiting
            .send(Queued { item, reply })
            .map_err(|_| ApiError::internal("group commit", "the committing thread has stopped"))?;
        Ok(answer)
    }
}

/// How long the thread keeps its pooled connection between groups. Groups that follow one
/// another skip the pool's check of a connection it hands out (a `SELECT 1`, a round trip per
/// group); after a pause the next group takes a checked one (the database may have restarted).
const KEEP_BETWEEN_GROUPS: std::time::Duration = std::time::Duration::from_secs(1);

/// The pooled connection the last group committed on, and when (PostgreSQL).
#[derive(Default)]
struct Kept(Option<(diesel::r2d2::PooledConnection<super::ConnectionManager>, std::time::Instant)>);

fn commit_on<W: Work>(target: &Target, work: &W, group: Vec<Queued<W>>, kept: &mut Kept) {
    match target {
        Target::Pool(pool) => {
            let conn = match kept.0.take() {
                Some((conn, at)) if at.elapsed() < KEEP_BETWEEN_GROUPS => Ok(conn),
                _ => pool.get(),
            };
            match conn {
                Ok(mut conn) => {
                    // A connection whose transaction failed goes back to the pool, which
                    // closes it if it is broken.
                    if commit_together(&mut conn, work, group) {
                        kept.0 = Some((conn, std::time::Instant::now()));
                    }
                }
                Err(e) => fail_all(group.into_iter().map(|q| q.reply), ApiError::from(e)),
            }
        }
        Target::Writer(writer) => {
            let mut group = Some(group);
            let turn = writer.with(|conn| {
                commit_together(conn, work, group.take().expect("taken once"));
                Ok(())
            });
            if let (Err(e), Some(group)) = (turn, group) {
                // The writer could not open its connection; nothing ran.
                fail_all(group.into_iter().map(|q| q.reply), e);
            }
        }
    }
}

/// Gives every write of a group the error that stopped the group (said once in the log).
fn fail_all<T>(replies: impl IntoIterator<Item = Reply<T>>, error: ApiError) {
    let unavailable = matches!(error, ApiError::Unavailable(_));
    let cause = error.to_string();
    for reply in replies {
        let _ = reply.send(Err(if unavailable {
            ApiError::Unavailable(crate::error::DATABASE_UNAVAILABLE.into())
        } else {
            ApiError::internal("group commit", &cause)
        }));
    }
}

/// Why a group's transaction was rolled back.
enum RolledBack {
    /// [`Work::together`] could not write the group at once: each write runs alone, in a new
    /// transaction.
    GaveUp(ApiError),
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

/// Commits the group; answers every write. False when a transaction could not begin or
/// commit (the connection may be broken).
fn commit_together<W: Work>(conn: &mut DbConnection, work: &W, queued: Vec<Queued<W>>) -> bool {
    let (mut items, mut replies): (Vec<W::Item>, Vec<Reply<W::Output>>) =
        queued.into_iter().map(|q| (q.item, q.reply)).unzip();
    // First the whole group at once; once that gave up, one write after another.
    let mut together = true;
    while !items.is_empty() {
        let tried = conn.transaction::<_, RolledBack, _>(|conn| {
            // SQLite: the group writes before anything reads (a filing with an Idempotency-Key
            // looks it up first), so that it waits for another connection's write instead of
            // failing when that one commits between its first read and its first write.
            if let DbConnection::Sqlite(_) = conn {
                super::write_lock(conn)?;
            }
            if together {
                // No savepoint of its own (two round trips per group): when it gives up, the
                // group's transaction is rolled back and begun again.
                return work.together(conn, &items).map_err(RolledBack::GaveUp);
            }
            let mut outcomes = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match work.alone(conn, item) {
                    Err(e) if e.status_code().is_server_error() => return Err(RolledBack::Write(index, e)),
                    outcome => outcomes.push(outcome),
                }
            }
            Ok(outcomes)
        });
        match tried {
            Ok(outcomes) => {
                for (reply, outcome) in replies.drain(..).zip(outcomes) {
                    // The caller may have gone (a closed connection); the write stands all the same.
                    let _ = reply.send(outcome);
                }
                items.clear();
            }
            Err(RolledBack::GaveUp(e)) => {
                tracing::debug!(error = %e, "the group's writes run one at a time");
                together = false;
            }
            Err(RolledBack::Write(index, error)) => {
                items.remove(index);
                let _ = replies.remove(index).send(Err(error));
            }
            Err(RolledBack::Transaction(e)) => {
                items.clear();
                fail_all(replies.drain(..), ApiError::from(e));
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::r2d2::ManageConnection;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::db::test_rows::count;

    fn rows_named(conn: &mut DbConnection, name: &str) -> i64 {
        count(conn, &format!("SELECT COUNT(*) AS n FROM written WHERE name = '{name}'"))
    }

    fn all_rows(conn: &mut DbConnection) -> i64 {
        count(conn, "SELECT COUNT(*) AS n FROM written")
    }

    fn insert(conn: &mut DbConnection, name: &str) -> Result<(), ApiError> {
        conn.batch_execute(&format!("INSERT INTO written (name) VALUES ('{name}')")).map_err(ApiError::from)
    }

    type Answer = tokio::sync::oneshot::Receiver<Result<i64, ApiError>>;
    type Write = Box<dyn Fn(&mut DbConnection) -> Result<i64, ApiError> + Send>;
    type Together = fn(&mut DbConnection, &[Write]) -> Result<Vec<Result<i64, ApiError>>, ApiError>;

    /// Writes given as closures; `together` says what the group does at once.
    struct Closures {
        together: Together,
    }

    impl Work for Closures {
        type Item = Write;
        type Output = i64;

        fn alone(&self, conn: &mut DbConnection, write: &Write) -> Result<i64, ApiError> {
            write(conn)
        }

        fn together(&self, conn: &mut DbConnection, writes: &[Write]) -> Result<Vec<Result<i64, ApiError>>, ApiError> {
            (self.together)(conn, writes)
        }
    }

    fn one_at_a_time(_: &mut DbConnection, _: &[Write]) -> Result<Vec<Result<i64, ApiError>>, ApiError> {
        Err(ApiError::internal("test", "these writes run one at a time"))
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        manager: super::super::ConnectionManager,
        filings: GroupCommit<Closures>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture::with_together(one_at_a_time)
        }

        fn with_together(together: Together) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let url = super::super::DatabaseUrl::Sqlite(dir.path().join("g.db"));
            let manager = super::super::ConnectionManager::new(url.clone());
            // `tracking_counters` as the migrations make it: `db::write_lock` writes to it.
            manager
                .connect()
                .unwrap()
                .batch_execute(
                    "CREATE TABLE written (name TEXT NOT NULL); \
                     CREATE TABLE together_marks (n INTEGER NOT NULL); \
                     CREATE TABLE tracking_counters (year INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL);",
                )
                .unwrap();
            let writer = Arc::new(SqliteWriter::open(url).unwrap());
            Fixture {
                _dir: dir,
                manager,
                filings: GroupCommit::start(Target::Writer(writer), Closures { together }).unwrap(),
            }
        }

        /// Another connection, as another request's reader sees the file.
        fn reader(&self) -> DbConnection {
            self.manager.connect().unwrap()
        }

        /// Holds the committing thread in a group of its own until the returned sender is
        /// dropped, so that what is queued meanwhile makes the next group, together.
        fn hold(&self) -> (mpsc::Sender<()>, Answer) {
            let (started, running) = mpsc::channel();
            let (release, gate) = mpsc::channel::<()>();
            let held = self.queue(move |_| {
                // Once only: the group's `together` sees this write too.
                if started.send(()).is_ok() {
                    let _ = gate.recv();
                }
                Ok(0)
            });
            running.recv().unwrap();
            (release, held)
        }

        fn queue(&self, write: impl Fn(&mut DbConnection) -> Result<i64, ApiError> + Send + 'static) -> Answer {
            self.filings.queue(Box::new(write)).unwrap()
        }

        fn write(&self, name: &'static str) -> Answer {
            self.queue(move |conn| {
                conn.transaction(|conn| insert(conn, name))?;
                Ok(all_rows(conn))
            })
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
        let refused = f.queue(|conn| {
            conn.transaction(|conn| {
                insert(conn, "refused")?;
                Err(ApiError::NotFound("no such department".into()))
            })
        });
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
            f.queue(move |conn| {
                runs.fetch_add(1, Ordering::SeqCst);
                conn.transaction(|conn| insert(conn, "a"))?;
                Ok(0)
            })
        };
        let failing = f.queue(|conn| {
            // Outside a savepoint: only the group's rollback can undo it.
            insert(conn, "failed")?;
            Err(ApiError::internal("test", "the disk is full"))
        });
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
        let answer = f.queue(move |conn| {
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
        });
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
        let panicking = f.queue(|conn| {
            insert(conn, "panicked")?;
            panic!("a bug in a write")
        });
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        assert!(panicking.blocking_recv().is_err(), "the caller sees its answer dropped");
        assert!(a.blocking_recv().is_err(), "nothing of the group was committed, so nobody is told it was");
        assert_eq!(f.write("after").blocking_recv().unwrap().unwrap(), 1, "the thread goes on, on a new connection");
        let mut reader = f.reader();
        assert_eq!((rows_named(&mut reader, "a"), rows_named(&mut reader, "panicked")), (0, 0));
    }

    /// `together` for the tests below: runs each write, then marks the group as done together.
    fn marked_together(conn: &mut DbConnection, writes: &[Write]) -> Result<Vec<Result<i64, ApiError>>, ApiError> {
        let outcomes = writes.iter().map(|write| write(conn)).collect();
        conn.batch_execute("INSERT INTO together_marks (n) VALUES (1)").map_err(ApiError::from)?;
        Ok(outcomes)
    }

    /// Does the group's work, then gives up (as a multi-row INSERT that met a conflict would).
    fn gives_up(conn: &mut DbConnection, writes: &[Write]) -> Result<Vec<Result<i64, ApiError>>, ApiError> {
        marked_together(conn, writes)?;
        Err(ApiError::internal("test", "a conflict in the group's INSERT"))
    }

    #[test]
    fn a_group_done_together_is_answered_with_its_outcomes_after_one_commit() {
        let f = Fixture::with_together(marked_together);
        let (release, held) = f.hold();
        let answers: Vec<_> = ["a", "b", "c"].into_iter().map(|name| f.write(name)).collect();
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        let outcomes: Vec<i64> = answers.into_iter().map(|a| a.blocking_recv().unwrap().unwrap()).collect();
        assert_eq!(outcomes, vec![1, 2, 3]);
        let mut reader = f.reader();
        assert_eq!(all_rows(&mut reader), 3);
        assert_eq!(count(&mut reader, "SELECT COUNT(*) AS n FROM together_marks"), 2, "the held group and the three");
    }

    #[test]
    fn a_group_that_cannot_be_done_together_is_rolled_back_and_each_write_runs_alone() {
        let f = Fixture::with_together(gives_up);
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, held) = f.hold();
        let counted = {
            let runs = runs.clone();
            f.queue(move |conn| {
                runs.fetch_add(1, Ordering::SeqCst);
                conn.transaction(|conn| insert(conn, "a"))?;
                Ok(all_rows(conn))
            })
        };
        let b = f.write("b");
        drop(release);
        held.blocking_recv().unwrap().unwrap();
        assert_eq!((counted.blocking_recv().unwrap().unwrap(), b.blocking_recv().unwrap().unwrap()), (1, 2));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "once in the given-up attempt, once alone");
        let mut reader = f.reader();
        assert_eq!((rows_named(&mut reader, "a"), rows_named(&mut reader, "b")), (1, 1));
        assert_eq!(count(&mut reader, "SELECT COUNT(*) AS n FROM together_marks"), 0, "the attempt left nothing");
    }
}
