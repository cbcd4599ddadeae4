//! HTTP: the phone-facing handler, the admin/installer JSON API, the HTML pages under `/ui`,
//! auth and errors. No SQL here.

pub mod api;
pub mod auth;
pub mod client_ip;
pub mod conn;
pub mod error;
pub mod json;
pub mod metrics;
pub mod params;
pub mod phone;
pub mod ui;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use ipnet::IpNet;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{OnResponse, TraceLayer};
use tracing::Span;

use crate::profile::Vendors;

/// Shared state of every listener.
#[derive(Clone)]
pub struct AppState {
    /// The use cases (and the store and profiles they work on).
    pub services: crate::service::Services,
    /// Vendor profiles.
    pub vendors: Arc<Vendors>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Digest nonces and credential checks for phones.
    pub authenticator: Arc<phone::credentials::PhoneAuthenticator>,
    /// Miss counts and bans of phone sources.
    pub bans: Arc<phone::BanList>,
    /// The URL phones reach deskprov at, when set; otherwise taken from each request's `Host`.
    pub public_url: Option<String>,
    /// Counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// What the phone path reads and writes: its cache, uploads, fetch records.
    pub phone: Arc<crate::service::phone::PhoneData>,
    /// The access log of phone requests, when one is configured.
    pub access_log: Option<crate::access_log::AccessLog>,
}

/// Largest request body the admin listener reads: the CSV import's own limit (32 MiB, which it
/// answers with a 413 `body_too_large`) plus 1 MiB, so a file just over the import's limit still
/// gets that answer. A larger declared body is refused unread with a 413 (in the API's error
/// shape under `/api/`); other routes keep their smaller per-extractor limits (2 MiB for JSON,
/// the form limit for pages).
pub const ADMIN_BODY_LIMIT: usize = 33 * 1024 * 1024;

/// How long an admin request may take, body upload included, before it is answered 408: room
/// for the largest import (32 MiB, about 200 000 rows, some 50 s at the bulk-import target of 10 s
/// per 40 000 rows) sent over a link of a few Mbit/s. A request cut off here may still finish
/// work already handed to the database.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(120);

/// The admin listener's router (JSON API, `/ui` pages, `/metrics`) with its layers: caught
/// panics, body limit, timeout, and an `admin` span per request.
pub fn admin_router(state: AppState) -> Router {
    admin_layers(with_test_routes(api::router(state)), ADMIN_TIMEOUT)
}

/// The phone listener's router, with caught panics (its handler makes its own `phone` span).
pub fn phone_router(state: AppState) -> Router {
    with_test_routes(phone::router(state)).layer(CatchPanicLayer::custom(answer_panic))
}

/// The admin layers around `router`, outermost last; `timeout` is a parameter for the tests.
fn admin_layers(router: Router, timeout: Duration) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(admin_span)
        .on_request(())
        .on_response(AdminAnswered)
        .on_eos(())
        // 5xx answers are logged where they arise (`ApiError::Internal`, pages, panics).
        .on_failure(());
    router
        .layer(RequestBodyLimitLayer::new(ADMIN_BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(trace)
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// Refuses an API request whose declared body is over [`ADMIN_BODY_LIMIT`] before it is read,
/// with the API's JSON error (`413 body_too_large`); the limit layer inside answers the pages'
/// requests, and bodies that declare no length as they are read.
async fn refuse_declared_oversize(
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = u64::try_from(ADMIN_BODY_LIMIT).unwrap_or(u64::MAX);
    if request.uri().path().starts_with("/api/") && declared.is_some_and(|n| n > limit) {
        return error::ApiError::TooLarge(crate::domain::RuleError::new(
            "body",
            "body_too_large",
            format!("the admin listener reads bodies of at most {ADMIN_BODY_LIMIT} bytes (33 MiB)"),
        ))
        .into_response();
    }
    next.run(request).await
}

/// The span of one admin request: method and path only (no query string, no headers).
fn admin_span(request: &Request<Body>) -> Span {
    tracing::info_span!("admin", method = %request.method(), path = request.uri().path())
}

/// Logs each admin answer at debug (as the phone path logs its requests), a timeout at warn.
#[derive(Debug, Clone, Copy)]
struct AdminAnswered;

impl<B> OnResponse<B> for AdminAnswered {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        if response.status() == StatusCode::REQUEST_TIMEOUT {
            tracing::warn!(status, latency_ms, "admin request timed out");
        } else {
            tracing::debug!(status, latency_ms, "admin request");
        }
    }
}

/// A panic in a handler: logged with its message, answered with a bare 500; the listener goes
/// on serving.
fn answer_panic(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "request handler panicked; answered 500");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Where both listeners panic on purpose, in builds with the `panic-route` feature (the tests).
#[cfg(feature = "panic-route")]
pub const PANIC_PATH: &str = "/__test/panic";

/// Adds the [`PANIC_PATH`] route (feature `panic-route`, which only the tests turn on).
#[cfg(feature = "panic-route")]
fn with_test_routes(router: Router) -> Router {
    async fn panics() -> StatusCode {
        panic!("deliberate panic at {PANIC_PATH}")
    }
    router.route(PANIC_PATH, axum::routing::get(panics))
}

/// Without the `panic-route` feature there are no test routes.
#[cfg(not(feature = "panic-route"))]
fn with_test_routes(router: Router) -> Router {
    router
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_slow_admin_request_is_answered_408_when_its_time_is_up() {
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
        let router = admin_layers(
            Router::new().route("/slow", axum::routing::get(slow)),
            Duration::from_millis(50),
        );
        let request = Request::get("/slow").body(Body::empty()).unwrap();
        let started = std::time::Instant::now();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
