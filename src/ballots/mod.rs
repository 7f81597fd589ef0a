//! Anonymous conduct ballots (无记名行风评议): rounds, the roll, sealed one-time codes, casting,
//! small-group suppression, and a public bulletin anyone can recount. See
//! docs/ballot-anonymity.md for the threat model.
//!
//! `codes`, `model`, `tally` and `bulletin` are pure; `service` is storage and rules; `routes`
//! the HTTP handlers.

pub mod bulletin;
pub mod codes;
pub mod error;
pub mod letters;
pub mod model;
pub mod revocation;
pub mod routes;
pub mod scope;
pub mod seal;
pub mod service;
pub mod tally;
pub mod worker;
