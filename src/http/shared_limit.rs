//! Rate limits counted in PostgreSQL, so that every instance counts against the same budget: the
//! same GCRA as the in-memory limiter (a quota per period, a burst of the whole quota), one row
//! per limit and client in `rate_limits`, checked and counted by one atomic upsert.
//!
//! Clients are stored as a keyed hash (HMAC-SHA256 under a key derived from the token-signing
//! secret every instance shares), so a dump of the table lists no addresses or emails, and
//! without the key nobody can test a guessed address against it.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Double, Text};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::{self, DbConnection, Pool};
use crate::error::ApiError;

/// The key that hashes limiter keys: derived from the token-signing secret (HKDF), so that all
/// instances that accept each other's tokens hash a client alike, and nothing new is to be kept.
#[derive(Clone)]
pub struct LimiterKey([u8; 32]);

impl LimiterKey {
    pub fn derive(signing_secret: &[u8]) -> LimiterKey {
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(None, signing_secret)
            .expand(b"anshang rate-limit keys v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        LimiterKey(key)
    }

    /// The stored form of a client within one limit (the limit's name is hashed along, so the
    /// same address has unrelated rows in different limits).
    pub fn hash(&self, bucket: &str, key: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(bucket.as_bytes());
        mac.update(&[0]);
        mac.update(key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for LimiterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LimiterKey(..)")
    }
}

/// One limit counted in the database.
pub struct SharedLimit {
    pool: Pool,
    key: LimiterKey,
    bucket: &'static str,
    /// Time one event uses up (the period over the quota), in seconds.
    emission_secs: f64,
    /// How far ahead of now the bucket's tat may be and still take one more (burst − 1 events).
    tolerance_secs: f64,
}

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Allowed,
    /// Refused; the next event is allowed after this many seconds.
    Refused {
        retry_after_secs: u64,
    },
}

impl SharedLimit {
    /// `quota` events per `period` per key, with a burst of the same size.
    pub fn new(pool: Pool, key: LimiterKey, bucket: &'static str, quota: u32, period: Duration) -> SharedLimit {
        let quota = quota.max(1);
        let emission_secs = period.as_secs_f64() / f64::from(quota);
        SharedLimit { pool, key, bucket, emission_secs, tolerance_secs: emission_secs * f64::from(quota - 1) }
    }

    /// Counts one event for `key`; refuses with 429 and a Retry-After when over the limit. On
    /// the blocking pool, as all database work; an unreachable database answers 503
    /// (`/problems/unavailable`), as any request needing it would.
    pub async fn check(&self, key: &str) -> Result<(), ApiError> {
        self.pending(key).count_alone(&self.pool).await
    }

    /// The count for `key`, to be made on a connection the request takes anyway (see
    /// [`PendingCount::count_on`]).
    pub fn pending(&self, key: &str) -> PendingCount {
        PendingCount {
            bucket: self.bucket,
            key_hash: self.key.hash(self.bucket, key),
            emission_secs: self.emission_secs,
            tolerance_secs: self.tolerance_secs,
        }
    }
}

/// One event not yet counted: what the upsert needs, the client already hashed.
#[derive(Debug)]
pub struct PendingCount {
    bucket: &'static str,
    key_hash: String,
    emission_secs: f64,
    tolerance_secs: f64,
}

impl PendingCount {
    /// Counts the event on `conn`, which must not be inside a transaction the request may roll
    /// back (a refused lookup must still count).
    pub fn count_on(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        let verdict = match conn {
            DbConnection::Pg(pg) => count(pg, self.bucket, &self.key_hash, self.emission_secs, self.tolerance_secs)?,
            DbConnection::Sqlite(_) => return Err(ApiError::internal("rate limit", "shared limits need PostgreSQL")),
        };
        match verdict {
            Verdict::Allowed => Ok(()),
            Verdict::Refused { retry_after_secs } => Err(ApiError::TooManyRequests { retry_after_secs }),
        }
    }

    /// Counts the event in a blocking hop of its own.
    pub async fn count_alone(self, pool: &Pool) -> Result<(), ApiError> {
        db::run(pool, move |conn| self.count_on(conn)).await
    }
}

#[derive(QueryableByName)]
struct Waited {
    /// 0 when the event was counted; else seconds until the next one is allowed.
    #[diesel(sql_type = Double)]
    wait_secs: f64,
}

/// The GCRA step in one statement: insert the bucket, or move its tat on by one emission when
/// that keeps it within the tolerance — the row lock of the upsert serialises concurrent checks
/// of one key across instances. The database's clock is the one clock all instances share.
/// A refused check changes nothing; the second branch reads how long to wait (from the
/// statement's snapshot, which the refused upsert did not change).
///
/// Parameters: $1 bucket, $2 key hash, $3 emission and $4 tolerance in seconds. The text is cut
/// where each parameter first appears, in that order, so that [`CountStatement`] binds them
/// there; later uses name them by number.
const COUNT_SQL: [&str; 5] = [
    "WITH counted AS (
    INSERT INTO rate_limits AS r (bucket, key_hash, tat)
    VALUES (",
    ", ",
    ", now() + make_interval(secs => ",
    "))
    ON CONFLICT (bucket, key_hash) DO UPDATE
        SET tat = GREATEST(r.tat, now()) + make_interval(secs => $3)
        WHERE GREATEST(r.tat, now()) <= now() + make_interval(secs => ",
    ")
    RETURNING 0::float8 AS wait_secs
)
SELECT wait_secs FROM counted
UNION ALL
SELECT EXTRACT(EPOCH FROM (r.tat - make_interval(secs => $4) - now()))::float8 AS wait_secs
FROM rate_limits r
WHERE r.bucket = $1 AND r.key_hash = $2 AND NOT EXISTS (SELECT 1 FROM counted)",
];

/// [`COUNT_SQL`] as a statement diesel prepares once per connection and reuses (a `sql_query`
/// is parsed and planned by PostgreSQL on every call: over half of the database's time in a
/// tracking read, docs/performance.md).
struct CountStatement<'a> {
    bucket: &'a str,
    key_hash: &'a str,
    emission_secs: f64,
    tolerance_secs: f64,
}

impl diesel::query_builder::QueryId for CountStatement<'_> {
    type QueryId = CountStatement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for CountStatement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CountStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql(COUNT_SQL[0]);
        out.push_bind_param::<Text, _>(&self.bucket)?;
        out.push_sql(COUNT_SQL[1]);
        out.push_bind_param::<Text, _>(&self.key_hash)?;
        out.push_sql(COUNT_SQL[2]);
        out.push_bind_param::<Double, _>(&self.emission_secs)?;
        out.push_sql(COUNT_SQL[3]);
        out.push_bind_param::<Double, _>(&self.tolerance_secs)?;
        out.push_sql(COUNT_SQL[4]);
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for CountStatement<'_> {}

pub fn count(
    conn: &mut PgConnection,
    bucket: &str,
    key_hash: &str,
    emission_secs: f64,
    tolerance_secs: f64,
) -> QueryResult<Verdict> {
    let rows: Vec<Waited> = CountStatement { bucket, key_hash, emission_secs, tolerance_secs }.load(conn)?;
    Ok(match rows.first().map(|r| r.wait_secs) {
        // Refusal means the tat is beyond the tolerance, so its wait is above 0.
        Some(wait) if wait > 0.0 => Verdict::Refused { retry_after_secs: (wait.ceil() as u64).max(1) },
        Some(_) => Verdict::Allowed,
        // Refused, but the row appeared after this statement's snapshot (another instance
        // inserted it at the same moment): try again shortly.
        None => Verdict::Refused { retry_after_secs: 1 },
    })
}

/// Deletes buckets that are full again (their tat has passed): they count like absent ones.
pub fn forget_idle(conn: &mut DbConnection) -> QueryResult<usize> {
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query("DELETE FROM rate_limits WHERE tat < now()").execute(pg),
        DbConnection::Sqlite(_) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement numbers its four binds where each parameter first appears; later uses
    /// must name the same numbers.
    #[test]
    fn the_count_statement_binds_each_parameter_where_it_first_appears() {
        let statement = CountStatement { bucket: "b", key_hash: "k", emission_secs: 1.5, tolerance_secs: 60.0 };
        let shown = diesel::debug_query::<diesel::pg::Pg, _>(&statement).to_string();
        let (sql, binds) = shown.split_once(" -- binds: ").unwrap();
        assert_eq!(binds, r#"["b", "k", 1.5, 60.0]"#);
        let first: Vec<usize> = (1..=4).map(|n| sql.find(&format!("${n}")).unwrap()).collect();
        assert!(first.windows(2).all(|w| w[0] < w[1]), "first uses in order: {sql}");
        assert!(!sql.contains("$5"));
        assert!(sql.contains("VALUES ($1, $2, now() + make_interval(secs => $3))"), "{sql}");
        assert!(sql.contains("<= now() + make_interval(secs => $4)"), "{sql}");
        assert!(sql.contains("WHERE r.bucket = $1 AND r.key_hash = $2"), "{sql}");
    }

    #[test]
    fn keys_are_hashed_per_limit_under_the_shared_secret() {
        let key = LimiterKey::derive(b"a signing secret of at least thirty-two bytes");
        let again = LimiterKey::derive(b"a signing secret of at least thirty-two bytes");
        let other = LimiterKey::derive(b"another signing secret, also thirty-two bytes");
        let hashed = key.hash("tracking", "203.0.113.7");
        assert_eq!(hashed, again.hash("tracking", "203.0.113.7"), "every instance hashes alike");
        assert_ne!(hashed, other.hash("tracking", "203.0.113.7"), "keyed: another secret, another hash");
        assert_ne!(hashed, key.hash("filing", "203.0.113.7"), "unrelated across limits");
        assert!(!hashed.contains("203.0.113.7") && hashed.len() == 64);
    }
}
