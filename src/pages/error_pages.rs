//! Error pages for people: a browser that follows a wrong link (`/complaint`), uses a method an
//! address does not take, posts too much, is rate-limited or meets a server error reads a page
//! in its reader's language, with the language switch and a way back — not a problem+json
//! document. API clients, and anything under the API's, metrics' or health paths, keep the
//! problem+json every error gets (`http::request_log`).
//!
//! The pages' own handlers already answer their errors as pages; this catches what comes from
//! outside them: the router's 404 and 405, the body limits' 413, the limiters' 429 and errors
//! that escaped a handler.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::HttpRequest;

use super::render::Page;

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let for_a_person = wants_a_page(req.request());
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !for_a_person || !(status.is_client_error() || status.is_server_error()) || is_html(&res) {
        return Ok(res);
    }
    // A request the pages refuse outright (a form from another site) keeps its problem document.
    let Ok(page) = Page::of(res.request()) else { return Ok(res) };
    let mut shown = page.status_page(status);
    // What the original answer told the client besides its body: `Retry-After`, `Allow`, the
    // request id.
    for (name, value) in res.headers() {
        if !PAGE_OWN_HEADERS.contains(name) {
            shown.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(res.into_response(shown))
}

/// Headers the page sets itself, not copied from the problem document it replaces.
const PAGE_OWN_HEADERS: [header::HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_SECURITY_POLICY,
    header::CACHE_CONTROL,
    header::CONTENT_LANGUAGE,
];

/// A browser asking for a page: HTML is acceptable, and the path is not the API's, the
/// probes', the metrics' or a static asset's.
fn wants_a_page(req: &HttpRequest) -> bool {
    // The path first: an API request (the hot path) is answered without reading a header.
    let path = req.path();
    let machine_path = path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/assets/")
        || matches!(path, "/metrics" | "/healthz" | "/readyz");
    !machine_path
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.split(',').any(|part| part.trim().starts_with("text/html")))
}

fn is_html(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
}
