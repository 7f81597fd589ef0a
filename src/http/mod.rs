//! HTTP plumbing shared by every domain: JSON bodies, client addresses, rate limits, request ids.

pub mod body;
pub mod body_deadline;
pub mod client;
pub mod hsts;
pub mod json;
pub mod no_store;
pub mod rate_limit;
pub mod request_log;

pub use client::ClientAddr;
pub use json::JsonBody;
pub use no_store::NoStore;
