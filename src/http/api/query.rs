//! Query parameters the API does not know are refused, by name: a mistyped `?aply=true` must
//! not run as the dry run its sender did not ask for. The parameters each operation takes are
//! read from the OpenAPI document, which is built from the same route list as the router.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr};

use crate::domain::RuleError;
use crate::http::error::ApiError;

/// The query parameters of every operation, by method and path template.
#[derive(Debug, Default)]
pub struct KnownParams(HashMap<(String, String), HashSet<String>>);

impl KnownParams {
    /// The parameters `doc` documents, per operation.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut known = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    known.insert((method.to_owned(), path.clone()), query_names(operation));
                }
            }
        }
        Self(known)
    }
}

fn query_names(operation: &Operation) -> HashSet<String> {
    operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => Some(p.name.clone()),
            _ => None,
        })
        .collect()
}

/// Refuses a request whose query string names a parameter its operation does not take.
pub async fn refuse_unknown(
    State(known): State<Arc<KnownParams>>,
    matched: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let key = (request.method().to_string(), matched.as_str().to_owned());
    let (Some(allowed), Some(query)) = (known.0.get(&key), request.uri().query()) else {
        return next.run(request).await;
    };
    let names: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if let Some(unknown) = names.iter().find(|n| !allowed.contains(*n)) {
        let mut takes: Vec<&String> = allowed.iter().collect();
        takes.sort();
        let message = if takes.is_empty() {
            format!("unknown query parameter `{unknown}`: this endpoint takes none")
        } else {
            let list: Vec<String> = takes.iter().map(|t| format!("`{t}`")).collect();
            format!(
                "unknown query parameter `{unknown}`: this endpoint takes {}",
                list.join(", ")
            )
        };
        let rule = RuleError::new(unknown.as_str(), "query_unknown", message);
        return ApiError::BadRequest(rule).into_response();
    }
    next.run(request).await
}
