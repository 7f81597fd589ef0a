//! Investor complaints: intake, tracking, triage and assignment, department work, the
//! investor's follow-up, and the hash-chained audit trail.
//!
//! `state` (the transition table) and `model` are pure; `store` is storage; `service` runs each
//! operation in one transaction; `operations` is what both front ends call around it; `views` shape responses; `routes` are the HTTP handlers.

pub mod attachment_store;
pub mod attachments;
pub mod callbacks;
pub mod code_reset;
pub mod context;
pub mod duplicates;
pub mod error;
pub mod events;
pub mod filing;
pub mod intake;
pub mod model;
pub mod notices;
pub mod operations;
pub mod read_back;
pub mod related_cache;
pub mod routes;
pub mod service;
pub mod state;
pub mod store;
pub mod thread;
pub mod views;
