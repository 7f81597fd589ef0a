//! Chasing the reply clock: the ladder (pure) and the sweeper that takes each rung exactly once,
//! writing its outbox rows and audit event in one transaction, safe across instances.

pub mod ladder;
pub mod sweep;
