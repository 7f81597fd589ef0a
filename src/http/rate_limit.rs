//! Keyed rate limits (GCRA, via `governor`). They hold per instance: with N instances behind a
//! proxy a client gets at most N times the configured rate (documented in docs/operations.md).

use std::hash::Hash;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

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
