//! `/api/v1/auth/*` (sign-in, own account) and `/api/v1/users` (account administration).

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::roles::{AdminOnly, AnyStaff, PasswordChange, Role};
use super::service::{set_own_password, sign_in, sign_out, PasswordChangeRequest};
use super::users::{self, AccountRequest, UserView};
use super::Staff;
use crate::db;
use crate::error::ApiError;
use crate::http::{ClientAddr, JsonBody, NoStore};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login)
        .service(logout)
        .service(me)
        .service(change_password)
        .service(create_user)
        .service(list_users)
        .service(update_user)
        .service(reset_password);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
    pub department_id: Option<String>,
    /// The account holds a one-time password: only POST /api/v1/auth/password is allowed.
    pub must_change_password: bool,
}

/// Sign in with email and password; returns a short-lived bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "wrong email or password", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many attempts", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/auth/login")]
async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: JsonBody<LoginRequest>,
) -> Result<NoStore<web::Json<LoginResponse>>, ApiError> {
    let LoginRequest { email, password: given } = body.into_inner();
    let signed = sign_in(&state, &client, email, given).await?;
    Ok(NoStore(web::Json(LoginResponse {
        token: signed.token,
        token_type: "Bearer",
        expires_at: signed.expires_at,
        role: signed.role,
        department_id: signed.department_id,
        must_change_password: signed.must_change_password,
    })))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView)))]
#[get("/api/v1/auth/me")]
async fn me(state: web::Data<AppState>, staff: Staff<AnyStaff>) -> Result<web::Json<UserView>, ApiError> {
    let id = staff.id.clone();
    let user = db::run(&state.pool, move |conn| users::find(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("account no longer exists".into()))?;
    Ok(web::Json(user.try_into()?))
}

/// Sign out: ends this token and every other token of the account issued before now (on every
/// instance: the end is kept in the database). Sign in again to get a new one.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "signed out; the token is refused from now on")))]
#[post("/api/v1/auth/logout")]
async fn logout(state: web::Data<AppState>, staff: Staff<PasswordChange>) -> Result<HttpResponse, ApiError> {
    sign_out(&state, &staff.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the own password (required after a one-time password). Sign in again afterwards.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChangeRequest,
    responses((status = 204),
        (status = 429, description = "too many attempts for this account (auth.login_per_account_per_minute)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/auth/password")]
async fn change_password(
    state: web::Data<AppState>,
    staff: Staff<PasswordChange>,
    body: JsonBody<PasswordChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    set_own_password(&state, &staff.id, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[serde(default)]
    pub department_id: Option<String>,
    /// Omit to generate a one-time password (returned once).
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    /// Present when generated: give it to the person; it must be changed at first sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_password: Option<String>,
}

/// Create a staff account (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUser),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users")]
async fn create_user(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    body: JsonBody<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = AccountRequest::parse(
        &b.email,
        &b.display_name,
        b.role,
        b.department_id.map(crate::ids::DepartmentId::new),
        b.password,
        state.settings.auth.min_password_length,
    )?;
    let actor = staff.id.clone();
    let (user, one_time_password) =
        db::run(&state.pool, move |conn| users::create(conn, &req, Some(&actor), db::now())).await?;
    Ok(HttpResponse::Created().json(CreatedUser { user: user.try_into()?, one_time_password }))
}

/// All staff accounts (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>)))]
#[get("/api/v1/users")]
async fn list_users(
    state: web::Data<AppState>,
    _staff: Staff<AdminOnly>,
) -> Result<web::Json<Vec<UserView>>, ApiError> {
    let rows = db::run(&state.pool, users::list).await?;
    Ok(web::Json(rows.into_iter().map(UserView::try_from).collect::<Result<_, _>>()?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordReset {
    pub user: UserView,
    /// Give it to the person; it must be changed at the next sign-in. Shown once.
    pub one_time_password: String,
}

/// Replace an account's password with a one-time password (admin): for a member who forgot
/// theirs. Their sessions end; the new password is answered once and must be changed at the
/// next sign-in.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PasswordReset)))]
#[post("/api/v1/users/{id}/reset-password")]
async fn reset_password(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::ids::UserId::new(path.into_inner());
    let actor = staff.id.clone();
    let (user, one_time_password) =
        db::run(&state.pool, move |conn| users::reset_to_one_time_password(conn, &actor, &id, db::now())).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(PasswordReset { user: user.try_into()?, one_time_password }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub active: bool,
}

/// Activate or deactivate an account (admin). Deactivated accounts cannot sign in, and a
/// deactivation ends the account's tokens; asking for the state the account already has changes
/// nothing.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UpdateUserRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = UserView),
        (status = 409, description = "an administrator cannot deactivate their own account", body = crate::error::Problem, content_type = "application/problem+json")))]
#[patch("/api/v1/users/{id}")]
async fn update_user(
    state: web::Data<AppState>,
    staff: Staff<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<UpdateUserRequest>,
) -> Result<web::Json<UserView>, ApiError> {
    let id = crate::ids::UserId::new(path.into_inner());
    let active = body.into_inner().active;
    let actor = staff.id.clone();
    let user = db::run(&state.pool, move |conn| users::change_active(conn, &actor, &id, active, db::now())).await?;
    Ok(web::Json(user.try_into()?))
}
