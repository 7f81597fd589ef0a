//! HTTP plumbing shared by every domain: JSON bodies, client addresses, rate limits, request ids.

pub mod body;
pub mod body_deadline;
pub mod client;
pub mod hsts;
pub mod json;
pub mod no_store;
pub mod rate_limit;
pub mod request_log;
pub mod shared_limit;

pub use client::ClientAddr;
pub use json::JsonBody;
pub use no_store::NoStore;

/// Whether a secret a client presented (a form token, an access code's hash) equals the one
/// expected, compared in constant time (`subtle`) so the answer's timing says nothing about how
/// much of it was right. Lengths are not secret.
pub fn same_secret(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}
