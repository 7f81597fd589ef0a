//! `Staff<R>`: the extractor that authenticates a bearer token and enforces the endpoint's
//! role rule `R`. No token or a bad one → 401; a valid token of another role → 403.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::roles::{Role, RoleRule};
use crate::app::AppState;
use crate::error::ApiError;

/// The signed-in staff member, as the token says.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: String,
    pub role: Role,
    pub department_id: Option<String>,
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

impl<R: RoleRule> FromRequest for Staff<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate::<R>(req))
    }
}

fn authenticate<R: RoleRule>(req: &HttpRequest) -> Result<Staff<R>, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("auth", "application state missing"))?;
    let token = bearer_token(req).ok_or(ApiError::Unauthenticated("sign in: send Authorization: Bearer <token>"))?;
    let claims = state.tokens.verify(token)?;
    if claims.pwc && !R::DURING_PASSWORD_CHANGE {
        return Err(ApiError::Forbidden(
            "this account must change its one-time password first (POST /api/v1/auth/password)".into(),
        ));
    }
    if !R::ALLOWED.contains(&claims.role) {
        return Err(ApiError::Forbidden(format!("the role {} may not do this", claims.role)));
    }
    Ok(Staff {
        user: StaffUser { id: claims.sub, role: claims.role, department_id: claims.dept },
        rule: PhantomData,
    })
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// For endpoints open to the public that staff may also use (e.g. filing for a caller): no
/// `Authorization` header → `None`; a header → it must be a valid token of a role `R` admits.
pub struct MaybeStaff<R: RoleRule>(pub Option<Staff<R>>);

impl<R: RoleRule> FromRequest for MaybeStaff<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if req.headers().get(header::AUTHORIZATION).is_none() {
            return ready(Ok(MaybeStaff(None)));
        }
        ready(authenticate::<R>(req).map(|s| MaybeStaff(Some(s))))
    }
}
