//! The pages' stylesheet and script, embedded; cached by the browser for a day.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(stylesheet).service(script);
}

#[get("/assets/pages.css")]
async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("../../assets/pages.css"))
}

#[get("/assets/pages.js")]
async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", include_str!("../../assets/pages.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(body)
}
