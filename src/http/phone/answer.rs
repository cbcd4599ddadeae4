//! Turning an outcome into the bytes a phone receives.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Outcome;
use super::credentials::PhoneAuthenticator;
use super::miss::Miss;
use crate::profile::{FileSpec, Rendered};
use crate::service::phone::Record;

/// A file ready to send.
pub(super) struct Served {
    /// Strong ETag, quoted.
    pub etag: String,
    pub body: Bytes,
    pub content_type: String,
    /// Whether it carries secrets (no shared cache may keep it).
    pub has_secrets: bool,
}

impl Served {
    /// A file kept in memory, its bytes shared rather than copied.
    pub fn shared(rendered: Arc<Rendered>) -> Self {
        Self {
            etag: rendered.etag.clone(),
            content_type: rendered.content_type.clone(),
            has_secrets: rendered.has_secrets,
            body: Bytes::from_owner(SharedBody(rendered)),
        }
    }

    /// A file just rendered.
    pub fn owned(rendered: Rendered) -> Self {
        Self {
            etag: rendered.etag,
            content_type: rendered.content_type,
            has_secrets: rendered.has_secrets,
            body: Bytes::from(rendered.body),
        }
    }

    /// A per-device file of `spec` read back from where it was kept.
    pub fn record(record: Record, spec: &FileSpec) -> Self {
        Self {
            etag: record.etag,
            body: record.body,
            content_type: spec.content_type.clone(),
            has_secrets: true,
        }
    }
}

/// How a miss on a per-device path is answered. It must be the same whatever the reason, so
/// that a prober cannot tell an unknown MAC from a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MissAnswer {
    /// `404 Not Found`: no tenant asks phones for credentials, so none is ever challenged.
    NotFound,
    /// `401` with a fresh challenge: some tenant uses credentials, so every per-device miss
    /// looks like a phone that has not authenticated yet.
    Challenge,
}

/// The response for `outcome`. `miss` decides how misses on per-device paths look.
pub(super) fn respond(
    outcome: &Outcome,
    request_headers: &HeaderMap,
    head: bool,
    miss: MissAnswer,
    authenticator: &PhoneAuthenticator,
) -> Response {
    match outcome {
        Outcome::Served(r) => {
            let not_modified = request_headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| etag_matches(v, &r.etag));
            let (status, body) = if not_modified {
                (StatusCode::NOT_MODIFIED, Body::empty())
            } else if head {
                (StatusCode::OK, Body::empty())
            } else {
                (StatusCode::OK, Body::from(r.body.clone()))
            };
            let cache = if r.has_secrets {
                "no-store"
            } else {
                "no-cache"
            };
            let mut response = Response::builder()
                .status(status)
                .header(header::ETAG, &r.etag)
                .header(header::CACHE_CONTROL, cache);
            if !not_modified {
                response = response
                    .header(header::CONTENT_TYPE, &r.content_type)
                    .header(header::CONTENT_LENGTH, r.body.len());
            }
            response
                .body(body)
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Outcome::Stored => StatusCode::NO_CONTENT.into_response(),
        Outcome::Missed(miss) if let Some(status) = miss.own_status() => status.into_response(),
        Outcome::Missed(Miss::CredentialsStaleNonce) if miss == MissAnswer::Challenge => {
            challenge(authenticator.stale_challenge())
        }
        Outcome::Missed(_) => match miss {
            MissAnswer::Challenge => challenge(authenticator.challenge()),
            MissAnswer::NotFound => not_found(),
        },
        // Logged by the handler, which knows the request.
        Outcome::Failed(_) => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

/// A rendered file's body as the bytes of a response.
struct SharedBody(Arc<Rendered>);

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        self.0.body.as_bytes()
    }
}

/// The answer for misses that say nothing about a device.
pub(super) fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "Not Found\n").into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `401` with the challenges of `values` (Digest SHA-256, MD5 and Basic, with a fresh nonce).
fn challenge(values: Vec<HeaderValue>) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    let headers = r.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for value in values {
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    r
}

/// Whether an `If-None-Match` value names `etag` (strong comparison, `*` matches).
fn etag_matches(header_value: &str, etag: &str) -> bool {
    header_value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate == etag)
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn etags_compare_strongly() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("W/\"abc\"", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
