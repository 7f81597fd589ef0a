//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Each variant maps to one status and a stable `type` URI. Unexpected failures are wrapped as
//! `Internal`, logged with their cause chain and shown to the client only as a generic 500.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One offending field of a request, named by its JSON path (e.g. `complainant.email`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    /// Stable machine code (e.g. `too_long`, `required`) that pages translate.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.to_string(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {detail}")]
    Conflict { kind: &'static str, title: &'static str, detail: String, extensions: Map<String, Value> },
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// The detail is shown to the client: say what to do, never the cause (log that instead,
    /// see [`ApiError::database_unavailable`]).
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, code, message)])
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict { kind: "conflict", title: "Conflict", detail: detail.into(), extensions: Map::new() }
    }

    pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(anyhow::anyhow!("{context}: {cause}"))
    }

    /// The database cannot be reached (or is busy beyond its wait). The cause — driver text,
    /// host and port — goes to the log under the request's id; the client learns only that it
    /// should come back (`Retry-After`).
    pub fn database_unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "database unavailable");
        ApiError::Unavailable(DATABASE_UNAVAILABLE.into())
    }

    /// The stable relative `type` URI and the human title of this kind of problem.
    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::Invalid(_) => ("invalid-field", "Invalid field"),
            ApiError::Unauthenticated(_) => ("unauthenticated", "Authentication required"),
            ApiError::Forbidden(_) => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::Conflict { kind, title, .. } => (kind, title),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(d) | ApiError::Forbidden(d) | ApiError::NotFound(d) => d.clone(),
            ApiError::PayloadTooLarge(d) | ApiError::UnsupportedMediaType(d) | ApiError::Unavailable(d) => d.clone(),
            ApiError::Unauthenticated(d) => (*d).to_string(),
            ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::Invalid(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                format!("invalid value in: {}", names.join(", "))
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; try again in {retry_after_secs} s")
            }
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".into(),
        }
    }
}

/// Builds the problem document; also used for errors produced outside handlers.
pub fn problem_response(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: &str,
    extra: Map<String, Value>,
) -> HttpResponse {
    let mut body = Map::new();
    body.insert("type".into(), Value::String(format!("/problems/{kind}")));
    body.insert("title".into(), Value::String(title.into()));
    body.insert("status".into(), Value::from(status.as_u16()));
    body.insert("detail".into(), Value::String(detail.into()));
    body.extend(extra);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(Value::Object(body).to_string())
}

/// What a client is told while the database is out of reach.
pub const DATABASE_UNAVAILABLE: &str = "the service cannot reach its database at the moment; please try again shortly";

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let (kind, title) = self.kind_and_title();
        let mut extra = Map::new();
        match self {
            ApiError::Invalid(fields) => {
                extra.insert("errors".into(), serde_json::to_value(fields).unwrap_or(Value::Null));
            }
            ApiError::Conflict { extensions, .. } => extra.extend(extensions.clone()),
            _ => {}
        }
        let mut response = problem_response(self.status_code(), kind, title, &self.detail(), extra);
        match self {
            ApiError::TooManyRequests { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, (*retry_after_secs).into());
            }
            ApiError::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE_SECS.into());
            }
            ApiError::Unauthenticated(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound("no such record".into()),
            // The server went away, or SQLite stayed locked past its busy timeout: not a bug of
            // this request, and worth retrying.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => ApiError::database_unavailable(e),
            Error::DatabaseError(_, ref info) if is_unavailability(info.message()) => ApiError::database_unavailable(e),
            other => ApiError::Internal(anyhow::Error::new(other).context("database query")),
        }
    }
}

/// Driver messages that mean "the database is out of reach or busy", not "this query is wrong".
fn is_unavailability(message: &str) -> bool {
    const SIGNS: [&str; 6] = [
        "database is locked",
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "the database system is",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ApiError::database_unavailable(e)
    }
}

/// The problem document as the OpenAPI schema shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable relative URI, e.g. `/problems/invalid-field`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present on `/problems/invalid-field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// What every capability's error has besides its own cases: the `invalid` and `internal`
/// constructors, and the validators' [`InvalidFields`] / [`FieldError`] as its invalid-fields
/// case. The enum names its cases `Invalid(Vec<FieldError>)` and `Internal(anyhow::Error)`.
macro_rules! capability_error {
    ($name:ident) => {
        impl $name {
            pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
                $name::Invalid(vec![$crate::error::FieldError::new(field, code, message)])
            }

            pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Self {
                $name::Internal(anyhow::anyhow!("{context}: {cause}"))
            }
        }

        impl From<$crate::error::InvalidFields> for $name {
            fn from(e: $crate::error::InvalidFields) -> Self {
                $name::Invalid(e.0)
            }
        }

        impl From<$crate::error::FieldError> for $name {
            fn from(e: $crate::error::FieldError) -> Self {
                $name::Invalid(vec![e])
            }
        }
    };
}

pub(crate) use capability_error;

/// Every field a request got wrong, as a validator collects them; each capability's error (and
/// [`ApiError`]) takes them as its "invalid fields" case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFields(pub Vec<FieldError>);

impl From<InvalidFields> for ApiError {
    fn from(e: InvalidFields) -> Self {
        ApiError::Invalid(e.0)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(vec![e])
    }
}
