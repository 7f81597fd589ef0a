//! `JsonBody<T>`: a JSON extractor whose errors name the offending field.
//!
//! actix's own `Json` reports only "Json deserialize error"; here a malformed document is a 400
//! with its position, and a well-formed document with a wrong, missing or unknown field is a 422
//! naming that field by its path. Oversized bodies are 413. A string holding a NUL character
//! (`\u0000`) is a 422 too: no field takes one, and PostgreSQL cannot store or compare it.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
            }
            let bytes = bytes.await.map_err(payload_error)?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

/// For handlers that need the raw bytes too (e.g. to fingerprint a request): checks the
/// content type and parses like `JsonBody`.
pub fn parse_json_request<T: DeserializeOwned>(req: &HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
    }
    parse_json(bytes)
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
        .unwrap_or(false)
}

fn payload_error(e: actix_web::Error) -> ApiError {
    let status = e.as_response_error().status_code();
    if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("the request body exceeds the configured limit".into())
    } else {
        ApiError::BadRequest("the request body could not be read".into())
    }
}

/// Parses a JSON document into `T`, naming the field on type errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Data => {
                let field =
                    if path == "." { unknown_field_name(&inner).unwrap_or_else(|| "body".into()) } else { path };
                ApiError::Invalid(vec![FieldError::new(field, "invalid", strip_position(&inner.to_string()))])
            }
            Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest(format!("malformed JSON: {inner}")),
        }
    })?;
    de.end().map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    if has_escaped_nul(bytes) {
        let field = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| nul_path(&v, String::new()))
            .unwrap_or_else(|| "body".into());
        return Err(ApiError::Invalid(vec![FieldError::new(
            field,
            "nul_character",
            "the NUL character is not allowed",
        )]));
    }
    Ok(value)
}

/// Whether a string of the (well-formed) document holds `\u0000`, the only way JSON can carry a
/// NUL. Walks the strings, so an escaped backslash followed by `u0000` is not taken for one.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let (mut in_string, mut i) = (false, 0);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (false, b'"') => in_string = true,
            (true, b'"') => in_string = false,
            (true, b'\\') => {
                if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(&b"0000"[..]) {
                    return true;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// The path (as serde_path_to_error writes it) of the first string or key holding a NUL.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    let join = |key: &str| if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
    match value {
        serde_json::Value::String(s) => s.contains('\0').then(|| if at.is_empty() { "body".into() } else { at }),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{at}[{i}]")))
        }
        serde_json::Value::Object(map) => {
            map.iter().find_map(|(k, v)| if k.contains('\0') { Some(join(k)) } else { nul_path(v, join(k)) })
        }
        _ => None,
    }
}

fn unknown_field_name(e: &serde_json::Error) -> Option<String> {
    let msg = e.to_string();
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    fn field_of(r: Result<Outer, ApiError>) -> String {
        match r {
            Err(ApiError::Invalid(f)) => f[0].field.clone(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn data_errors_name_the_field() {
        assert_eq!(field_of(parse_json(br#"{"name":"a","inner":{"count":"x"}}"#)), "inner.count");
        assert_eq!(field_of(parse_json(br#"{"name":"a","inner":{"count":1},"extra":1}"#)), "extra");
        assert_eq!(field_of(parse_json(br#"{"name":5,"inner":{"count":1}}"#)), "name");
    }

    #[test]
    fn nul_characters_are_refused_by_field() {
        assert_eq!(field_of(parse_json(br#"{"name":"a\u0000b","inner":{"count":1}}"#)), "name");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct List {
            items: Vec<String>,
        }
        match parse_json::<List>(br#"{"items":["ok","\u0000"]}"#) {
            Err(ApiError::Invalid(f)) => {
                assert_eq!((f[0].field.as_str(), f[0].code.as_str()), ("items[1]", "nul_character"))
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        // An escaped backslash before `u0000` is two ordinary characters.
        assert!(parse_json::<List>(br#"{"items":["\\u0000"]}"#).is_ok());
        assert!(!has_escaped_nul(br#"{"a":"\\u0000","b":"u0000"}"#));
        assert!(has_escaped_nul(br#"{"a":"x\u0000"}"#));
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert!(matches!(parse_json::<Outer>(b"{\"name\":"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<Outer>(b"{\"name\":\"\xff\"}"), Err(ApiError::BadRequest(_))));
    }
}
