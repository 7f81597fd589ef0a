//! Reading a raw request body with a limit of the handler's choosing (uploads need a larger
//! limit than JSON bodies).

use actix_web::web;
use futures_util::StreamExt;

use crate::error::ApiError;

/// Reads the whole body; more than `max` bytes is a 413 (decided while streaming, so an
/// oversized upload is never held in memory).
pub async fn read_limited(mut payload: web::Payload, max: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(format!("at most {max} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
