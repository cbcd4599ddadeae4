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
