//! A deadline for a request's whole body. The head must arrive within
//! `server.client_request_timeout_secs` (actix enforces that); this middleware gives the body
//! `server.body_read_timeout_secs` from the moment the head was read. A body still arriving
//! then ends in an error for whoever reads it, the request is answered 408 and the connection
//! is closed — a stalled or trickling body cannot hold a worker, a connection or a descriptor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage as _;
use futures_util::Stream;

use crate::error::problem_response;

/// The deadline, as app data.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline(pub Duration);

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(deadline) = req.app_data::<BodyDeadline>().copied() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let expired = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    let guarded = DeadlinePayload {
        inner,
        sleep: Box::pin(actix_web::rt::time::sleep(deadline.0)),
        expired: expired.clone(),
        done: false,
    };
    req.set_payload(Payload::Stream { payload: Box::pin(guarded) });
    let result = next.call(req).await;
    if !expired.load(Ordering::Relaxed) {
        return result.map(ServiceResponse::map_into_boxed_body);
    }
    // Whatever the handler made of the failed read, the answer is 408 and the connection ends.
    let (http_req, _) = match result {
        Ok(res) => res.into_parts(),
        Err(e) => return Err(e),
    };
    let mut res = problem_response(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
        &format!("the request body did not arrive within {} seconds", deadline.0.as_secs()),
        Default::default(),
    );
    res.head_mut().set_connection_type(ConnectionType::Close);
    Ok(ServiceResponse::new(http_req, res))
}

struct DeadlinePayload {
    inner: Payload,
    sleep: Pin<Box<actix_web::rt::time::Sleep>>,
    expired: Arc<AtomicBool>,
    done: bool,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    self.expired.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
