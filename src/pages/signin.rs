//! Staff sign-in on the pages: `/staff/login`, `/staff/logout`, `/staff/password` (required
//! after a one-time password) and `/staff`, which sends each role to its start page.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::render::Page;
use super::session::{self, CsrfForm, StaffPage, STAFF_COOKIE};
use crate::auth::roles::{AnyStaff, PasswordChange, Role};
use crate::auth::service::{set_own_password, sign_in, PasswordChangeRequest};
use crate::error::ApiError;
use crate::http::ClientAddr;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form)
        .service(login)
        .service(logout)
        .service(password_form)
        .service(change_password)
        .service(home);
}

/// Where each role starts.
pub fn start_page(role: Role) -> &'static str {
    match role {
        Role::Operator => "/staff/intake",
        Role::Department | Role::Coordinator => "/staff/inbox",
        Role::Commission => "/staff/rounds",
        // The complaint pages admit those who handle complaints (as the API does); of the
        // pages, administrators read the assessment.
        Role::Admin => "/staff/assessment",
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// Set after a password change.
    changed: Option<String>,
}

#[get("/staff/login")]
async fn login_form(page: Page, query: web::Query<NextQuery>) -> HttpResponse {
    page.render(
        "signin/login.html",
        minijinja::context! { next => session::safe_next(query.next.as_deref()), changed => query.changed.is_some() },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Signs in with the same checks and limits as the API; the token goes into the HttpOnly
/// cookie and never into the page.
#[post("/staff/login")]
async fn login(page: Page, client: ClientAddr, form: web::Form<LoginForm>) -> HttpResponse {
    let LoginForm { email, password, next } = form.into_inner();
    let next = session::safe_next(Some(&next));
    match sign_in(&page.state, &client, email.clone(), password).await {
        Ok(signed) => {
            let target = if signed.must_change_password {
                "/staff/password".to_string()
            } else {
                next.unwrap_or_else(|| start_page(signed.role).to_string())
            };
            let max_age = (signed.expires_at - crate::db::now()).num_seconds();
            let mut res = page.see_other(&target);
            let _ = res.add_cookie(&session::staff_cookie(signed.token, page.secure, max_age));
            res
        }
        Err(e) => {
            let mut shown = page.explain(&e);
            if matches!(e, ApiError::Unauthenticated(_)) {
                shown.summary = page.text("signin.login.wrong");
            }
            page.render_status(
                shown.status,
                "signin/login.html",
                minijinja::context! { error => shown, email => email.chars().take(254).collect::<String>(), next => next },
            )
        }
    }
}

#[post("/staff/logout")]
async fn logout(staff: StaffPage<PasswordChange>, form: web::Form<CsrfForm>) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    // The token ends on the server too: a copy of the cookie is refused from now on.
    if let Err(e) = crate::auth::service::sign_out(&staff.state, &staff.user().id).await {
        return staff.error(&e);
    }
    let mut res = staff.see_other("/staff/login");
    let _ = res.add_cookie(&session::expired_cookie(STAFF_COOKIE, "/staff"));
    res
}

#[get("/staff/password")]
async fn password_form(staff: StaffPage<PasswordChange>) -> HttpResponse {
    staff.render(
        "signin/password.html",
        minijinja::context! { min_length => staff.state.settings.auth.min_password_length },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

/// A new password ends every session of the account, this one included: sign in again.
#[post("/staff/password")]
async fn change_password(staff: StaffPage<PasswordChange>, form: web::Form<PasswordForm>) -> HttpResponse {
    let form = form.into_inner();
    let changed = async {
        staff.check_csrf(&form.csrf)?;
        if form.new_password != form.repeat_password {
            return Err(ApiError::invalid("repeat_password", "mismatch", "the two new passwords differ"));
        }
        let request =
            PasswordChangeRequest { current_password: form.current_password, new_password: form.new_password };
        set_own_password(&staff.state, &staff.user().id, request).await
    }
    .await;
    match changed {
        Ok(()) => {
            let mut res = staff.see_other("/staff/login?changed=1");
            let _ = res.add_cookie(&session::expired_cookie(STAFF_COOKIE, "/staff"));
            res
        }
        Err(e) => {
            let shown = staff.explain(&e);
            staff.render_status(
                shown.status,
                "signin/password.html",
                minijinja::context! { field_errors => shown.by_field(), error => shown, min_length => staff.state.settings.auth.min_password_length },
            )
        }
    }
}

/// The staff start page for the signed-in role.
#[get("/staff")]
async fn home(staff: StaffPage<AnyStaff>) -> HttpResponse {
    staff.see_other(start_page(staff.user().role))
}
