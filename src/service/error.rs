//! The one error every use case returns: what went wrong, in terms every transport maps.

use crate::domain::{Denied, RuleError};
use crate::profile::RenderError;
use crate::store::StoreError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or misses a confirmation (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(RuleError),
    /// The actor may not do this (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such tenant, user, alias, device or entry (HTTP 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Uniqueness or a limit would break (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(RuleError),
    /// The input is larger than a documented limit (HTTP 413).
    #[error("too large: {0}")]
    TooLarge(RuleError),
    /// A provisioning rule is broken (HTTP 422).
    #[error("invalid: {0}")]
    Invalid(RuleError),
    /// The store or the renderer failed: logged in full, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<RuleError> for ServiceError {
    fn from(e: RuleError) -> Self {
        ServiceError::Invalid(e)
    }
}

impl From<Denied> for ServiceError {
    fn from(e: Denied) -> Self {
        ServiceError::Forbidden(e.0)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(rule) => ServiceError::Conflict(rule),
            StoreError::Invalid(rule) => ServiceError::Invalid(rule),
            StoreError::Sqlite(_)
            | StoreError::Migration(_)
            | StoreError::Json(_)
            | StoreError::Task(_) => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<RenderError> for ServiceError {
    fn from(e: RenderError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}
