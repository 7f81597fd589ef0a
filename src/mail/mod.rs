//! Email: templates (zh/en), the transactional outbox, transports and the delivery worker.

pub mod budget;
pub mod outbox;
pub mod routes;
pub mod templates;
pub mod transport;
pub mod worker;
