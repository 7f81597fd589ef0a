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
    ),
    modifiers(&BearerAuth),
    tags((name = "health"), (name = "auth"), (name = "users"), (name = "departments"))
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
