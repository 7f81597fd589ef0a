//! The account operations both front ends call (the JSON API and the pages' sign-in and
//! password forms): signing in under the rate limits, signing out, changing one's password.

use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Deserialize;

use super::roles::Role;
use super::{password, users};
use crate::db;
use crate::error::{ApiError, FieldError};
use crate::http::ClientAddr;
use crate::state::AppState;

/// A successful sign-in (the API answers with it; the pages keep the token in a cookie).
pub struct SignedIn {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
    pub department_id: Option<String>,
    pub must_change_password: bool,
}

/// Checks the password under the per-client and per-account limits; one answer for every
/// failure, and the same work for unknown accounts.
pub async fn sign_in(
    state: &web::Data<AppState>,
    client: &ClientAddr,
    email: String,
    given: String,
) -> Result<SignedIn, ApiError> {
    // No account's email holds a control character (and PostgreSQL refuses a NUL in a query).
    if email.len() > 254 || given.len() > 1024 || email.chars().any(char::is_control) {
        return Err(ApiError::Unauthenticated("wrong email or password"));
    }
    state.limits.login_by_client.check(&client.0).await?;
    state.limits.login_by_account.check(&email.trim().to_lowercase()).await?;
    let found = db::run(&state.pool, move |conn| users::find_by_email(conn, &email)).await?;
    let user = web::block(move || match found {
        Some(u) if password::verify_password(&given, &u.password_hash) && u.active => Some(u),
        Some(_) => None,
        None => {
            password::verify_against_dummy(&given);
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal("password check", e))?
    .ok_or(ApiError::Unauthenticated("wrong email or password"))?;
    let role = user.role()?;
    let (token, expires_at) =
        state.tokens.issue(&user.id, role, user.department_id.as_deref(), user.must_change_password, db::now())?;
    tracing::info!(user = %user.id, role = %role, "signed in");
    Ok(SignedIn {
        token,
        expires_at,
        role,
        department_id: user.department_id.map(String::from),
        must_change_password: user.must_change_password,
    })
}

/// Ends the account's tokens issued up to now (the API's and the pages' sign-out).
pub async fn sign_out(state: &web::Data<AppState>, user_id: &str) -> Result<(), ApiError> {
    let id = user_id.to_string();
    db::run(&state.pool, move |conn| {
        let now = db::now();
        conn.transaction(|conn| {
            users::end_sessions(conn, &id, now)?;
            crate::admin_log::record(
                conn,
                now,
                Some(&id),
                "user.sign_out",
                &format!("user:{id}"),
                serde_json::json!({}),
            )
        })?;
        Ok::<_, ApiError>(())
    })
    .await?;
    tracing::info!(user = %user_id, "signed out");
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Replaces the account's password after checking the current one and the policy; earlier
/// tokens stop working. Every check of the current password counts against the account's
/// limit, as a sign-in does.
pub async fn set_own_password(
    state: &web::Data<AppState>,
    user_id: &str,
    req: PasswordChangeRequest,
) -> Result<(), ApiError> {
    password::check_policy(&req.new_password, state.settings.auth.min_password_length)
        .map_err(|m| ApiError::Invalid(vec![FieldError::new("new_password", "weak_password", m.to_string())]))?;
    if req.new_password == req.current_password {
        return Err(ApiError::invalid("new_password", "unchanged", "choose a password different from the current one"));
    }
    state.limits.password_change_by_account.check(&user_id.to_string()).await?;
    let id = user_id.to_string();
    db::run(&state.pool, move |conn| {
        let user = users::find(conn, &crate::ids::UserId::new(id.as_str()))?
            .ok_or(ApiError::Unauthenticated("account no longer exists"))?;
        if !password::verify_password(&req.current_password, &user.password_hash) {
            return Err(ApiError::invalid("current_password", "wrong_password", "the current password is wrong"));
        }
        let hash = password::hash_password(&req.new_password)?;
        let now = db::now();
        conn.transaction(|conn| {
            users::set_password(conn, &id, &hash, false, now)?;
            crate::admin_log::record(
                conn,
                now,
                Some(&id),
                "user.password_change",
                &format!("user:{id}"),
                serde_json::json!({}),
            )
        })?;
        Ok(())
    })
    .await
}
