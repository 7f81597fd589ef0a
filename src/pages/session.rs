//! Signing in on the pages. The staff login token lives in an HttpOnly, SameSite=Strict cookie
//! scoped to `/staff` (script never reads it); every staff form carries a token derived from it
//! (CSRF), and `Page` refuses posts from another origin. The JSON API never reads this cookie.
//!
//! The investor's tracking page keeps a short signed session (number and the code's hash) in
//! its own HttpOnly cookie scoped to `/track`, so a reload does not ask for the code again.

use std::cell::RefCell;
use std::marker::PhantomData;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::render::{Page, SignedIn};
use crate::auth::extract::{authorize, still_valid};
use crate::auth::roles::RoleRule;
use crate::auth::StaffUser;
use crate::error::ApiError;

pub const STAFF_COOKIE: &str = "anshang_staff";
pub const TRACK_COOKIE: &str = "anshang_track";
/// How long a tracking-page session lasts.
pub const TRACK_MINUTES: i64 = 30;

/// A staff page whose role rule is `R`. Not signed in → to the sign-in page; one-time password
/// → to the password page; another role → a 403 page.
pub struct StaffPage<R: RoleRule> {
    pub page: Page,
    rule: PhantomData<R>,
}

impl<R: RoleRule> std::ops::Deref for StaffPage<R> {
    type Target = Page;
    fn deref(&self) -> &Page {
        &self.page
    }
}

impl<R: RoleRule> StaffPage<R> {
    pub fn user(&self) -> &StaffUser {
        &self.page.staff.as_ref().expect("a staff page has a signed-in user").user
    }

    /// The form's token must be this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ApiError> {
        let expected = &self.page.staff.as_ref().expect("signed in").csrf;
        if crate::http::same_secret(expected, given) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("the form has expired; open the page again".into()))
        }
    }
}

/// The form token of a session: derived from the (HttpOnly) login token, so a page of another
/// site can neither read nor guess it.
pub fn csrf_for(login_token: &str) -> String {
    let digest = Sha256::digest(format!("anshang/pages/csrf\n{login_token}").as_bytes());
    hex::encode(&digest[..16])
}

impl<R: RoleRule + 'static> FromRequest for StaffPage<R> {
    type Error = PageReject;
    type Future = LocalBoxFuture<'static, Result<Self, PageReject>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let page = Page::of(req);
        let token = req.cookie(STAFF_COOKIE).map(|c| c.value().to_string());
        // After signing in, come back to this page; a form post cannot be repeated by a
        // redirect, so its session start page is the way back.
        let next = if matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD) {
            req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default()
        } else {
            "/staff".to_string()
        };
        Box::pin(async move {
            let mut page = page.map_err(PageReject::api)?;
            let to_login =
                |page: &Page| PageReject::response(page.see_other(&format!("/staff/login?next={}", url_path(&next))));
            let Some(token) = token else { return Err(to_login(&page)) };
            let claims = match page.state.tokens.verify(&token) {
                Ok(c) => c,
                Err(_) => return Err(to_login(&page)),
            };
            if claims.pwc && !R::DURING_PASSWORD_CHANGE {
                return Err(PageReject::response(page.see_other("/staff/password")));
            }
            let (staff, issued_at) = match authorize::<R>(claims.clone()) {
                Ok(ok) => ok,
                Err(ApiError::Unauthenticated(_)) => return Err(to_login(&page)),
                Err(e) => {
                    // Another role's page: refused, with the signed-in person's own navigation.
                    let user = StaffUser {
                        id: crate::ids::UserId::new(claims.sub.clone()),
                        role: claims.role,
                        department_id: claims.dept.clone().map(crate::ids::DepartmentId::new),
                    };
                    page.staff = Some(SignedIn { user, csrf: csrf_for(&token) });
                    return Err(PageReject::response(page.error(&e)));
                }
            };
            match still_valid(&page.state, &staff.user.id, issued_at).await {
                Ok(()) => {}
                Err(ApiError::Unauthenticated(_)) => return Err(to_login(&page)),
                Err(e) => return Err(PageReject::response(page.error(&e))),
            }
            page.staff = Some(SignedIn { user: staff.user.clone(), csrf: csrf_for(&token) });
            Ok(StaffPage { page, rule: PhantomData })
        })
    }
}

/// Only our own paths go into `next` (no open redirect), and without characters that would
/// need escaping.
fn url_path(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && next.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '<' && c != '>')
    {
        next.replace('&', "%26").replace('?', "%3F").replace('=', "%3D")
    } else {
        "/staff".to_string()
    }
}

/// Where sign-in goes afterwards: `next` when it is one of our staff pages.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| {
        n.starts_with("/staff/") && !n.starts_with("//") && !n.contains("..") && n.chars().all(|c| c.is_ascii_graphic())
    })
    .map(str::to_string)
}

pub fn staff_cookie(token: String, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(STAFF_COOKIE, token)
        .path("/staff")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs.max(0)))
        .finish()
}

pub fn track_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(TRACK_COOKIE, token)
        .path("/track")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::minutes(TRACK_MINUTES))
        .finish()
}

/// A cookie that removes `name` at `path`.
pub fn expired_cookie(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path(path).http_only(true).same_site(SameSite::Strict).finish();
    c.make_removal();
    c
}

/// A page-shaped refusal from an extractor (a redirect to sign in, or an error page).
pub struct PageReject(RefCell<Option<HttpResponse>>);

impl PageReject {
    pub fn response(res: HttpResponse) -> Self {
        PageReject(RefCell::new(Some(res)))
    }

    fn api(e: ApiError) -> Self {
        PageReject::response(e.error_response())
    }
}

impl std::fmt::Debug for PageReject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("page refused")
    }
}

impl std::fmt::Display for PageReject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("page refused")
    }
}

impl ResponseError for PageReject {
    fn status_code(&self) -> StatusCode {
        self.0.borrow().as_ref().map(|r| r.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0.borrow_mut().take().unwrap_or_else(|| {
            HttpResponse::InternalServerError()
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .body("internal error")
        })
    }
}

/// A staff form that carries nothing but the session's form token (a button that acts).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}
