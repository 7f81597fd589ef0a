//! `Strict-Transport-Security` on every response that went out over TLS (directly, or as the
//! trusted proxy says in `X-Forwarded-Proto`). Over plain HTTP browsers ignore the header, so
//! it is only sent where it means something.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::middleware::Next;

/// One year; subdomains are the city's own business, so they are not included.
const HSTS: &str = "max-age=31536000";

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let over_tls = req.connection_info().scheme() == "https";
    let mut res = next.call(req).await?;
    if over_tls {
        res.headers_mut().insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    Ok(res)
}
