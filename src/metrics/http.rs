//! Counts every answered request and its latency by the route pattern actix matched (such as
//! `/api/v1/complaints/{id}`), never the raw path, so no tracking number or id becomes a label.
//! Requests that matched no route count as `unmatched`, as do the rare ones that failed inside
//! the middleware before any response named their route. A segment `{id}` is written `:id` in
//! the label (`/api/v1/complaints/:id`): braces inside label values, though valid, trip simple
//! exposition parsers (prometheus-parse stops a sample's labels at the first `}`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::state::AppState;

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let result = next.call(req).await;
    if let Some(state) = state {
        // Asked after routing: the router then names the resource it chose. Asked before, actix
        // finds it by matching the path against every route's pattern again (regular
        // expressions; a tenth of a tracking read's time).
        let (status, route) = match &result {
            Ok(res) => (res.status(), res.request().match_pattern()),
            Err(e) => (e.as_response_error().status_code(), None),
        };
        let route = route.as_deref().map_or_else(|| "unmatched".to_string(), route_label);
        state.metrics.record_request(&route, method.as_str(), status.as_u16(), started.elapsed());
    }
    result
}

/// `/a/{id}/b/{tail:.*}` → `/a/:id/b/:tail`.
fn route_label(pattern: &str) -> String {
    let mut label = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        label.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        label.push(':');
        label.push_str(name.split(':').next().unwrap_or(name));
        rest = &rest[open + close + 1..];
    }
    label.push_str(rest);
    label
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn segments_are_named_without_braces() {
        assert_eq!(route_label("/api/v1/complaints/{id}/assign"), "/api/v1/complaints/:id/assign");
        assert_eq!(route_label("/assets/{path:.*}"), "/assets/:path");
        assert_eq!(route_label("/healthz"), "/healthz");
        assert_eq!(route_label("/a/{x}{y}"), "/a/:x:y");
        assert_eq!(route_label("/a/{x"), "/a/{x");
    }
}
