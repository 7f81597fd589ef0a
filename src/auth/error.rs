//! What can go wrong when accounts are created or read, mapped to [`ApiError`] once at the
//! bottom of this file. (Signing in and changing a password answer through `auth::service`,
//! which also applies the rate limits: their refusals are the HTTP edge's own.)

use crate::error::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("no such account")]
    NotFound,
    #[error("an administrator cannot deactivate their own account")]
    OwnAccount,
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] diesel::result::Error),
    /// A stored role no version knows, a password hasher failure: logged in full.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

crate::error::capability_error!(AccountError);

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::EmailTaken | AccountError::OwnAccount => ApiError::conflict(e.to_string()),
            AccountError::NotFound => ApiError::NotFound(e.to_string()),
            AccountError::Invalid(fields) => ApiError::Invalid(fields),
            AccountError::Storage(e) => ApiError::from(e),
            AccountError::Internal(e) => ApiError::Internal(e),
        }
    }
}
