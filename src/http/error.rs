//! The admin API's error type: one JSON shape, one exhaustive status mapping, internals logged
//! and never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::RuleError;
use crate::store::StoreError;
use crate::vendor::RenderError;

/// Everything an API handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON, unknown field, wrong type, missing confirmation (400).
    #[error("bad request: {0}")]
    BadRequest(RuleError),
    /// No or unknown bearer token (401).
    #[error("unauthorized")]
    Unauthorized,
    /// The token may not do this (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such tenant, user, alias or device (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Uniqueness or a limit (409).
    #[error("conflict: {0}")]
    Conflict(RuleError),
    /// A broken provisioning rule (422).
    #[error("invalid: {0}")]
    Invalid(RuleError),
    /// Anything else: logged in full, answered with a generic 500.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(rule) => ApiError::Conflict(rule),
            StoreError::Invalid(rule) => ApiError::Invalid(rule),
            StoreError::Sqlite(_)
            | StoreError::Migration(_)
            | StoreError::Json(_)
            | StoreError::Task(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<RenderError> for ApiError {
    fn from(e: RenderError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::BadRequest(r) | ApiError::Conflict(r) | ApiError::Invalid(r) => {
                json!({"code": r.code, "message": r.message, "field": r.field})
            }
            ApiError::Unauthorized => {
                json!({"code": "unauthorized", "message": "a valid bearer token is required", "field": null})
            }
            ApiError::Forbidden(why) => json!({"code": "forbidden", "message": why, "field": null}),
            ApiError::NotFound(what) => {
                json!({"code": "not_found", "message": format!("{what} not found"), "field": null})
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in admin API");
                json!({"code": "internal", "message": "internal error; see the server log", "field": null})
            }
        };
        let mut response = (status, Json(json!({ "error": body }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
