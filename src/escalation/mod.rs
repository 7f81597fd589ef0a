//! Chasing the reply clock: the ladder (pure) and the sweeper that takes each rung exactly once,
//! writing its outbox rows and audit event in one transaction, safe across instances; `worker`
//! runs it on its interval.

pub mod ladder;
pub mod schedule;
pub mod sweep;
pub mod worker;
