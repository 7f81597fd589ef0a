//! Staff authentication: roles, password hashing, login tokens (JWT), the role-checking
//! extractor, staff accounts and their routes.

pub mod error;
pub mod extract;
pub mod keys;
pub mod password;
pub mod roles;
pub mod routes;
pub mod service;
pub mod token;
pub mod users;

pub use extract::{MaybeStaff, Staff, StaffUser};
pub use roles::Role;
