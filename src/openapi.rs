//! The OpenAPI 3.1 document, generated from the handlers' annotations, and a self-contained
//! page that renders it (no external scripts or fonts).

use actix_web::{get, http::header, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "anshang", description = "Investor complaints with a legal response clock, and anonymous conduct ballots."),
    paths(
        crate::health::healthz, crate::health::readyz,
        crate::auth::routes::login, crate::auth::routes::me, crate::auth::routes::change_password,
        crate::auth::routes::create_user, crate::auth::routes::list_users, crate::auth::routes::update_user,
        crate::departments::routes::list_public, crate::departments::routes::list_admin,
        crate::departments::routes::create, crate::departments::routes::update,
        crate::calendar::routes::due, crate::calendar::routes::get_year, crate::calendar::routes::put_year,
        crate::complaints::routes::file, crate::complaints::routes::list, crate::complaints::routes::get_one,
        crate::complaints::routes::events, crate::complaints::routes::by_number,
        crate::complaints::routes::assign, crate::complaints::routes::reassign, crate::complaints::routes::reject,
        crate::complaints::routes::return_to_office, crate::complaints::routes::request_extension,
        crate::complaints::routes::decide_extension, crate::complaints::routes::request_info,
        crate::complaints::routes::reply, crate::complaints::routes::withdraw_for_caller,
        crate::complaints::routes::track, crate::complaints::routes::track_answer, crate::complaints::routes::track_rate,
        crate::complaints::routes::track_contest, crate::complaints::routes::track_withdraw,
        crate::complaints::routes::staff_upload, crate::complaints::routes::staff_download,
        crate::complaints::routes::track_upload, crate::complaints::routes::track_download,
        crate::mail::routes::list, crate::mail::routes::retry,
        crate::ballots::routes::create_round, crate::ballots::routes::list_rounds, crate::ballots::routes::import_voters,
        crate::ballots::routes::issue_codes, crate::ballots::routes::open_round, crate::ballots::routes::close_round,
        crate::ballots::routes::publish_round, crate::ballots::routes::get_round, crate::ballots::routes::check_code,
        crate::ballots::routes::cast, crate::ballots::routes::results, crate::ballots::routes::bulletin,
        crate::assessment::routes::year_report, crate::assessment::routes::department_breakdown, crate::assessment::routes::finalize,
        crate::assessment::routes::monthly, crate::assessment::routes::bimonthly,
        crate::assessment::routes::request_review, crate::assessment::routes::list_reviews, crate::assessment::routes::decide_review,
    ),
    modifiers(&BearerAuth),
    tags((name = "health"), (name = "auth"), (name = "users"), (name = "departments"), (name = "calendar"),
        (name = "complaints", description = "Filing and the staff's work on complaints"),
        (name = "tracking", description = "The investor, with tracking number and access code"),
        (name = "mail", description = "The outbox of notices"),
        (name = "ballots", description = "Anonymous conduct ballots"),
        (name = "assessment", description = "Yearly department scores"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json).service(docs_page).service(docs_script);
}

#[get("/api/v1/openapi.json")]
async fn openapi_json() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(|| ApiDoc::openapi().to_json().expect("OpenAPI document serialises"));
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}

#[get("/api/v1/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../assets/api-docs.html"))
}

#[get("/assets/api-docs.js")]
async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../assets/api-docs.js"))
}
