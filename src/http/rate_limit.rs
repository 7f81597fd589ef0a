//! Keyed rate limits (GCRA). On PostgreSQL they are counted in the database and hold across
//! instances ([`super::shared_limit`]); on SQLite, which serves one instance, in memory (via
//! `governor`).

use std::fmt::Display;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::shared_limit::{LimiterKey, PendingCount, SharedLimit};
use crate::db::{DbConnection, Pool};
use crate::error::ApiError;

/// Where limits are counted: in this process, or in the database all instances share.
#[derive(Clone)]
pub enum Counting {
    InMemory,
    Shared { pool: Pool, key: LimiterKey },
}

/// One limit, counted as [`Counting`] says.
pub enum Limit<K: Hash + Eq + Clone> {
    InMemory(KeyedLimit<K>),
    Shared(SharedLimit),
}

impl<K: Hash + Eq + Clone + Display> Limit<K> {
    /// `per_minute` events per key per minute, with a burst of the same size; `bucket` names
    /// the limit in the shared table.
    pub fn per_minute(counting: &Counting, bucket: &'static str, per_minute: u32) -> Self {
        Self::new(counting, bucket, per_minute, Duration::from_secs(60))
    }

    /// `per_hour` events per key per hour, with a burst of the same size.
    pub fn per_hour(counting: &Counting, bucket: &'static str, per_hour: u32) -> Self {
        Self::new(counting, bucket, per_hour, Duration::from_secs(3600))
    }

    fn new(counting: &Counting, bucket: &'static str, quota: u32, period: Duration) -> Self {
        match counting {
            Counting::InMemory if period.as_secs() == 60 => Limit::InMemory(KeyedLimit::per_minute(quota)),
            Counting::InMemory => Limit::InMemory(KeyedLimit::per_hour(quota)),
            Counting::Shared { pool, key } => {
                Limit::Shared(SharedLimit::new(pool.clone(), key.clone(), bucket, quota, period))
            }
        }
    }

    /// Counts one event for `key`; refuses with 429 and a Retry-After when over the limit.
    pub async fn check(&self, key: &K) -> Result<(), ApiError> {
        match self {
            Limit::InMemory(limit) => limit.check(key),
            Limit::Shared(limit) => limit.check(&key.to_string()).await,
        }
    }

    /// Counts one event for `key` where that costs nothing (in memory: refused here, as `check`
    /// would) and otherwise hands the count to the caller, who makes it on the connection the
    /// request takes anyway ([`Admission::count_on`]): one blocking hop and one pooled
    /// connection per request instead of two.
    pub fn admit(&self, key: &K) -> Result<Admission, ApiError> {
        match self {
            Limit::InMemory(limit) => limit.check(key).map(|()| Admission::Counted),
            Limit::Shared(limit) => Ok(Admission::Pending(limit.pending(&key.to_string()))),
        }
    }

    /// Drops in-memory state of quiet keys (the shared table is pruned as a whole, by
    /// [`super::shared_limit::forget_idle`]).
    pub fn forget_idle(&self) {
        if let Limit::InMemory(limit) = self {
            limit.forget_idle();
        }
    }
}

/// An event admitted by [`Limit::admit`]: already counted, or still to be counted in the
/// database before the request's own work.
#[derive(Debug)]
pub enum Admission {
    Counted,
    Pending(PendingCount),
}

impl Admission {
    /// Counts a pending event on `conn` (outside any transaction the request may roll back).
    pub fn count_on(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        match self {
            Admission::Counted => Ok(()),
            Admission::Pending(count) => count.count_on(conn),
        }
    }

    /// Counts a pending event now, in a blocking hop of its own, for work that runs where the
    /// count cannot (`complaints::operations::file`).
    pub async fn count_now(self, pool: &Pool) -> Result<(), ApiError> {
        match self {
            Admission::Counted => Ok(()),
            Admission::Pending(count) => count.count_alone(pool).await,
        }
    }

    /// For a request refused before its work: the refusal still counts (a pending count is made
    /// in a hop of its own). Answers the refusal, or what the count answers when it refuses (429)
    /// or fails (503).
    pub async fn count_refusal(self, pool: &Pool, refused: ApiError) -> ApiError {
        self.count_now(pool).await.err().unwrap_or(refused)
    }
}

pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `per_minute` events per key per minute, with a burst of the same size.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("nonzero");
        KeyedLimit { limiter: RateLimiter::keyed(Quota::per_minute(n)) }
    }

    /// `per_hour` events per key per hour, with a burst of the same size.
    pub fn per_hour(per_hour: u32) -> Self {
        let n = NonZeroU32::new(per_hour.max(1)).expect("nonzero");
        KeyedLimit { limiter: RateLimiter::keyed(Quota::per_hour(n)) }
    }

    /// Counts one event for `key`; refuses with 429 and a Retry-After when over the limit.
    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests { retry_after_secs: wait.as_secs().max(1) }
        })
    }

    /// Drops state of keys that have been quiet long enough to be full again.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_burst_per_key() {
        let limit = KeyedLimit::per_minute(3);
        for _ in 0..3 {
            limit.check(&"a").unwrap();
        }
        assert!(matches!(limit.check(&"a"), Err(ApiError::TooManyRequests { .. })));
        limit.check(&"b").unwrap();
    }
}
