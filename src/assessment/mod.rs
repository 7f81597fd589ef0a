//! Department assessment (年终综合绩效考核): yearly scores from the complaint record and the
//! published conduct ballots, explained term by term, frozen when finalised, exported as JSON,
//! CSV and a printable HTML report with charts.
//!
//! `score` is pure; `gather` reads the year's inputs; `report` builds, stores and exports.

pub mod charts;
pub mod error;
pub mod gather;
pub mod periodic;
pub mod printable;
pub mod report;
pub mod review;
pub mod routes;
pub mod score;
