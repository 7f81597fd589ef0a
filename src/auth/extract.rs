//! `Staff<R>`: the extractor that authenticates a bearer token and enforces the endpoint's
//! role rule `R`. No token or a bad one → 401; a valid token of another role → 403.

use std::marker::PhantomData;

use futures_util::future::LocalBoxFuture;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::roles::{Role, RoleRule};
use crate::error::ApiError;
use crate::ids::{DepartmentId, UserId};
use crate::state::AppState;

/// The signed-in staff member, as the token says.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: UserId,
    pub role: Role,
    pub department_id: Option<DepartmentId>,
}

pub struct Staff<R: RoleRule> {
    pub user: StaffUser,
    rule: PhantomData<R>,
}

impl<R: RoleRule> std::ops::Deref for Staff<R> {
    type Target = StaffUser;
    fn deref(&self) -> &StaffUser {
        &self.user
    }
}

impl<R: RoleRule + 'static> FromRequest for Staff<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = authenticate::<R>(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (staff, issued_at) = checked?;
            let state = state.ok_or_else(|| ApiError::internal("auth", "application state missing"))?;
            still_valid(&state, &staff.user.id, issued_at).await?;
            Ok(staff)
        })
    }
}

/// A token outlives neither its account's deactivation nor a change to the account (such as a
/// new password) made after it was issued.
pub(crate) async fn still_valid(state: &web::Data<AppState>, user_id: &str, issued_at: i64) -> Result<(), ApiError> {
    let id = user_id.to_string();
    let user = crate::db::lookup(&state.pool, state.sqlite_readers.as_ref(), move |conn| {
        super::users::find(conn, &UserId::new(id))
    })
    .await?;
    match user {
        Some(u) if u.active && u.updated_at.and_utc().timestamp_millis() <= issued_at => Ok(()),
        _ => Err(ApiError::Unauthenticated("the token is no longer valid; sign in again")),
    }
}

/// Checks the token and the role rule; returns the staff member and the token's issue time (ms).
fn authenticate<R: RoleRule>(req: &HttpRequest) -> Result<(Staff<R>, i64), ApiError> {
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("auth", "application state missing"))?;
    let token = bearer_token(req).ok_or(ApiError::Unauthenticated("sign in: send Authorization: Bearer <token>"))?;
    authorize(state.tokens.verify(token)?)
}

/// Checks a verified login token's claims (from the bearer header, or the pages' session
/// cookie) against the role rule `R`; returns the staff member and the issue time (ms).
pub(crate) fn authorize<R: RoleRule>(claims: super::token::Claims) -> Result<(Staff<R>, i64), ApiError> {
    if claims.pwc && !R::DURING_PASSWORD_CHANGE {
        return Err(ApiError::Forbidden(
            "this account must change its one-time password first (POST /api/v1/auth/password)".into(),
        ));
    }
    if !R::ALLOWED.contains(&claims.role) {
        return Err(ApiError::Forbidden(format!("the role {} may not do this", claims.role)));
    }
    // Tokens without the millisecond claim (none are issued) fall back to whole seconds.
    let issued_ms = if claims.iat_ms > 0 { claims.iat_ms } else { claims.iat * 1000 + 999 };
    if claims.role == Role::Department && claims.dept.is_none() {
        return Err(ApiError::Forbidden("a department account without a department".into()));
    }
    Ok((
        Staff {
            user: StaffUser {
                id: UserId::new(claims.sub),
                role: claims.role,
                department_id: claims.dept.map(DepartmentId::new),
            },
            rule: PhantomData,
        },
        issued_ms,
    ))
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// For endpoints open to the public that staff may also use (e.g. filing for a caller): no
/// `Authorization` header → `None`; a header → it must be a valid token of a role `R` admits.
pub struct MaybeStaff<R: RoleRule>(pub Option<Staff<R>>);

impl<R: RoleRule + 'static> FromRequest for MaybeStaff<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().get(header::AUTHORIZATION).is_none() {
            return Box::pin(std::future::ready(Ok(MaybeStaff(None))));
        }
        let staff = Staff::<R>::from_request(req, payload);
        Box::pin(async move { staff.await.map(|s| MaybeStaff(Some(s))) })
    }
}
