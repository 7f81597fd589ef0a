//! What can go wrong when departments are created or changed, mapped to [`ApiError`] once at
//! the bottom of this file.

use crate::error::{ApiError, FieldError, InvalidFields};

#[derive(Debug, thiserror::Error)]
pub enum DepartmentError {
    #[error("a department with code {code} already exists")]
    CodeTaken { code: String },
    #[error("no such department")]
    NotFound,
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] diesel::result::Error),
}

impl From<InvalidFields> for DepartmentError {
    fn from(e: InvalidFields) -> Self {
        DepartmentError::Invalid(e.0)
    }
}

impl From<DepartmentError> for ApiError {
    fn from(e: DepartmentError) -> Self {
        match e {
            DepartmentError::CodeTaken { .. } => ApiError::conflict(e.to_string()),
            DepartmentError::NotFound => ApiError::NotFound(e.to_string()),
            DepartmentError::Invalid(fields) => ApiError::Invalid(fields),
            DepartmentError::Storage(e) => ApiError::from(e),
        }
    }
}
