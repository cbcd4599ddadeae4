//! Path and query extractors whose rejections are [`ApiError`]s in the API's JSON shape (axum's
//! own answer plain text, which no client of a JSON API expects).

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::RuleError;

/// `Path<T>` with 400 errors naming the parameter.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(path_error(&rejection))),
        }
    }
}

fn path_error(rejection: &PathRejection) -> RuleError {
    let key = match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::ParseErrorAtKey { key, .. }
            | ErrorKind::InvalidUtf8InPathParam { key }
            | ErrorKind::DeserializeError { key, .. } => key.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    RuleError::new(key, "path_invalid", rejection.body_text())
}

/// `Query<T>` with 400 errors naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(query_error(&rejection))),
        }
    }
}

fn query_error(rejection: &QueryRejection) -> RuleError {
    let text = rejection.body_text();
    RuleError::new(query_field(&text), "query_invalid", text)
}

/// The parameter named in axum's `Failed to deserialize query string: limit: invalid digit…`.
fn query_field(text: &str) -> String {
    text.split_once("query string: ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(field, _)| field)
        .filter(|f| !f.contains(' '))
        .unwrap_or_default()
        .to_owned()
}

/// A page size from `?limit=`: `default` when absent, else `1..=max`, or a 400
/// `limit_out_of_range` saying how many `things` a page holds.
pub fn page_limit(
    limit: Option<u32>,
    default: u32,
    max: u32,
    things: &str,
) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadRequest(RuleError::new(
            "limit",
            "limit_out_of_range",
            format!("a page holds 1 to {max} {things}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::query_field;

    #[test]
    fn finds_the_parameter_in_query_errors() {
        assert_eq!(
            query_field("Failed to deserialize query string: limit: invalid digit found in string"),
            "limit"
        );
        assert_eq!(
            query_field("Failed to deserialize query string: expected `,` or `}`"),
            ""
        );
    }
}
