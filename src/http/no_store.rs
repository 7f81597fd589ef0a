//! `NoStore<T>`: a response that must never be cached (tokens, access-code views).

use actix_web::http::header::{HeaderValue, CACHE_CONTROL};
use actix_web::{HttpRequest, HttpResponse, Responder};

pub struct NoStore<T>(pub T);

impl<T: Responder> Responder for NoStore<T> {
    type Body = T::Body;
    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        let mut res = self.0.respond_to(req);
        res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}
