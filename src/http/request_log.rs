//! One middleware for every request: a request id, a tracing span, one log line per response,
//! and the guarantee that every error response is problem+json (actix's own plain-text errors,
//! e.g. for a malformed path or method, are rewritten here). A path holding an encoded NUL
//! (`%00`) names no resource and is answered 404 before routing: no id contains one, and
//! PostgreSQL cannot even compare a text with one.
//!
//! Only the method and the path are logged — never the query, headers or body, which may carry
//! access codes, ballot codes, passwords or tokens.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::error::{problem_response, PROBLEM_JSON};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %log_path(req.path()));
    let started = Instant::now();
    let result = if req.uri().path().contains("%00") {
        let not_found = problem_response(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no resource at this path",
            Default::default(),
        );
        Ok(req.into_response(not_found))
    } else {
        next.call(req).instrument(span.clone()).await.map(ServiceResponse::map_into_boxed_body)
    };
    let _entered = span.enter();
    let mut res = match result {
        Ok(res) => normalise_error_body(res),
        Err(err) => {
            // An error that escaped a handler: render it through its ResponseError.
            tracing::warn!(error = %err, "request failed before a response");
            return Err(err);
        }
    };
    let status = res.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(status, millis, "response");
    } else {
        tracing::info!(status, millis, "response");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

/// Ballot routes carry no identifying path parts, but the round id is fine to log; tracking
/// numbers are not secret. Everything after a `?` is never part of `path()`.
fn log_path(path: &str) -> &str {
    match path.char_indices().nth(200) {
        Some((cut, _)) => &path[..cut],
        None => path,
    }
}

fn normalise_error_body(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("text/html"));
    // Problem documents and the pages' own error pages are already what the client should see.
    if is_problem {
        return res;
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let kind = match status.as_u16() {
        400 => "bad-request",
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        431 => "headers-too-large",
        500..=599 => "internal",
        _ => "http-error",
    };
    let detail = if status.is_server_error() { "an unexpected error occurred; it has been logged" } else { title };
    let replacement = problem_response(status, kind, title, detail, Default::default());
    res.into_response(replacement)
}
