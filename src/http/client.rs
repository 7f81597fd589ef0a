//! The client's address, for rate limits. Forwarded headers are trusted only when configured,
//! since any client can forge them.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::{ready, Ready};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trust_forwarded =
            req.app_data::<web::Data<AppState>>().map(|s| s.settings.server.trust_forwarded_for).unwrap_or(false);
        // The rightmost entry is the one our own proxy appended; entries left of it are
        // whatever the client wrote and must not choose its rate-limit bucket.
        let forwarded = trust_forwarded
            .then(|| {
                req.headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
                    .map(str::trim)
                    .and_then(parse_host)
            })
            .flatten();
        let addr = forwarded.or_else(|| req.peer_addr().map(|a| a.ip())).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        ready(Ok(ClientAddr(addr)))
    }
}

fn parse_host(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}
