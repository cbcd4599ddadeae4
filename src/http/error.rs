//! The admin API's error type: one JSON shape, one exhaustive status mapping, internals logged
//! and never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::RuleError;
use crate::profile::RenderError;
use crate::service::ServiceError;

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
    /// A body or file over a documented limit (413).
    #[error("too large: {0}")]
    TooLarge(RuleError),
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
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
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

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadRequest(rule) => ApiError::BadRequest(rule),
            ServiceError::Forbidden(why) => ApiError::Forbidden(why),
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Conflict(rule) => ApiError::Conflict(rule),
            ServiceError::TooLarge(rule) => ApiError::TooLarge(rule),
            ServiceError::Invalid(rule) => ApiError::Invalid(rule),
            ServiceError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<RenderError> for ApiError {
    fn from(e: RenderError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The body of every API error: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error: a stable code, a sentence for people and the field it is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code scripts can match on (`extension_reserved`, `not_found`, `unauthorized`, …).
    #[schema(example = "extension_reserved")]
    pub code: String,
    /// What is wrong and what the rule is.
    pub message: String,
    /// The input field at fault, as named in the API (`extension`, `phone_auth.url_key`);
    /// `null` when the error is not about a field.
    #[schema(required = true)]
    pub field: Option<String>,
}

impl ErrorDetail {
    fn new(code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = match self {
            ApiError::BadRequest(r)
            | ApiError::Conflict(r)
            | ApiError::TooLarge(r)
            | ApiError::Invalid(r) => ErrorDetail::new(r.code, r.message, Some(r.field)),
            ApiError::Unauthorized => {
                ErrorDetail::new("unauthorized", "a valid bearer token is required", None)
            }
            ApiError::Forbidden(why) => ErrorDetail::new("forbidden", why, None),
            ApiError::NotFound(what) => {
                ErrorDetail::new("not_found", format!("{what} not found"), None)
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in admin API");
                ErrorDetail::new("internal", "internal error; see the server log", None)
            }
        };
        let mut response = (status, Json(ErrorBody { error })).into_response();
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
