//! First start: make sure someone can sign in.

use crate::auth::users::{self, AccountRequest};
use crate::auth::Role;
use crate::db::DbConnection;
use crate::error::ApiError;

pub const BOOTSTRAP_ADMIN_EMAIL: &str = "admin@anshang.localhost";

/// Creates `admin@anshang.localhost` with a one-time password when no active admin exists.
/// Returns the password so the caller can print it once (it is never logged).
pub fn ensure_admin(conn: &mut DbConnection, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, ApiError> {
    if users::any_active_admin(conn)? {
        return Ok(None);
    }
    if users::find_by_email(conn, BOOTSTRAP_ADMIN_EMAIL)?.is_some() {
        // The bootstrap account exists but is inactive: an admin chose that; do not undo it.
        return Ok(None);
    }
    let req = AccountRequest::parse(BOOTSTRAP_ADMIN_EMAIL, "Administrator", Role::Admin, None, None, 12)?;
    let (_, password) = users::create(conn, &req, None, now)?;
    Ok(password)
}
