//! anshang (安商): investor complaints with a legal response clock, and anonymous conduct
//! ballots, for a city's investment-promotion office. See docs/ARCHITECTURE.md for the map.

pub mod admin_log;
pub mod app;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod ballots;
pub mod bootstrap;
pub mod calendar;
pub mod cli;
pub mod complaints;
pub mod config;
pub mod csv_export;
pub mod db;
pub mod demo;
pub mod departments;
pub mod error;
pub mod escalation;
pub mod fields;
pub mod health;
pub mod http;
pub mod ids;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod state;
pub mod telemetry;
