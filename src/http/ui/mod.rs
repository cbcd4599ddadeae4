//! HTML pages for admins and installers under `/ui` on the admin listener.
//!
//! Server-rendered askama templates (auto-escaped) that work without JavaScript. Every page
//! goes through the same actions as the JSON API ([`crate::http::actions`]): the same role and
//! tenant checks, the same rules and messages, the same audited store functions.

mod audit;
mod dashboard;
mod devices;
pub mod error;
mod form;
mod login;
pub mod session;
mod users;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use self::error::{PageError, PageResult};
use self::session::UiSession;
use super::AppState;
use super::error::ApiError;
use crate::service::tenants::visible_tenants;

/// The pages' routes, to merge into the admin router.
pub fn router() -> Router<AppState> {
    let user = "/ui/tenants/{tenant}/users/{extension}";
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(dashboard::show))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::sign_out))
        .route("/ui/assets/ui.js", get(script))
        .route(
            "/ui/tenants/{tenant}/users",
            get(users::list).post(users::create),
        )
        .route(user, get(users::show))
        .route(&format!("{user}/delete"), post(users::delete))
        .route(&format!("{user}/aliases"), post(users::add_alias))
        .route(
            &format!("{user}/aliases/{{id}}/move"),
            post(users::move_alias),
        )
        .route(
            &format!("{user}/aliases/{{id}}/delete"),
            post(users::delete_alias),
        )
        .route(
            "/ui/devices/new",
            get(devices::new_form).post(devices::register),
        )
        .route("/ui/devices/vendor", get(devices::vendor_hint))
        .route("/ui/devices/{mac}", get(devices::show))
        .route("/ui/devices/{mac}/reopen", post(devices::reopen))
        .route("/ui/audit", get(audit::list))
        .route(
            "/ui/{*rest}",
            get(|| async { PageError::Api(ApiError::NotFound("page")) }),
        )
        .layer(middleware::from_fn(security_headers))
}

/// Headers on every page: never cached (pages show data a shared cache must not keep), no
/// framing, no sniffing, and a policy that allows only this origin's script and inline style.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The pages' only script: progressive enhancement (the vendor of a MAC as it is typed).
async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../templates/ui/ui.js"),
    )
}

/// What the shared layout shows: who is signed in, the navigation, a notice.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Page title.
    pub title: String,
    /// Token name of the signed-in caller; empty when nobody is.
    pub who: String,
    /// `admin` or `installer`.
    pub role: &'static str,
    /// Whether admin-only links show.
    pub is_admin: bool,
    /// CSRF token for the sign-out form.
    pub csrf: String,
    /// Which navigation entry is current.
    pub section: &'static str,
    /// The users page, when the caller sees exactly one tenant.
    pub users_href: Option<String>,
    /// A one-line confirmation of what was just done.
    pub notice: Option<&'static str>,
}

impl Layout {
    /// The layout of a page for the signed-in `session`.
    pub async fn load(
        state: &AppState,
        session: &UiSession,
        title: impl Into<String>,
        section: &'static str,
    ) -> PageResult<Self> {
        let tenants = visible_tenants(&state.services, &session.caller.actor).await?;
        let users_href = match tenants.as_slice() {
            [only] => Some(format!("/ui/tenants/{}/users", only.name)),
            _ => None,
        };
        Ok(Self {
            title: title.into(),
            who: session.caller.token.name.clone(),
            role: session.caller.token.role.as_str(),
            is_admin: session.caller.is_admin(),
            csrf: session.csrf.clone(),
            section,
            users_href,
            notice: None,
        })
    }

    /// The layout of a page nobody is signed in to.
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Shows the notice for `done` (a fixed key from a redirect), if it is one.
    pub fn with_notice(mut self, done: Option<&str>) -> Self {
        self.notice = done.and_then(notice);
        self
    }
}

/// Notices after a redirect, by key: fixed texts, so no request text is echoed.
fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "user_created" => "User created.",
        "user_deleted" => "User deleted. The audit log keeps the whole record.",
        "alias_added" => "Alias added at the end of the line order.",
        "alias_moved" => "Line order changed.",
        "alias_deleted" => "Alias deleted.",
        "registered" => "Phone registered.",
        "reopened" => "Enrollment re-opened: the phone may make its first fetch again.",
        _ => return None,
    })
}

/// `?done=` after a redirect.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    /// Notice key.
    pub done: Option<String>,
}

/// Renders a page with status 200.
pub fn page(t: &impl Template) -> PageResult<Response> {
    page_with(StatusCode::OK, t)
}

/// Renders a page with `status` (a form shown again with its errors keeps the API's status).
pub fn page_with(status: StatusCode, t: &impl Template) -> PageResult<Response> {
    Ok((status, Html(t.render()?)).into_response())
}

/// A `303 See Other` to `to`, the answer to every successful form.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A stored time (`2026-11-23T15:25:51.623Z`) as pages show it: `2026-11-23 15:25:51 UTC`.
pub fn short_time(stored: &str) -> String {
    match (stored.get(..10), stored.get(11..19)) {
        (Some(day), Some(time)) if stored.ends_with('Z') => format!("{day} {time} UTC"),
        _ => stored.to_owned(),
    }
}

/// A phone event as the pages list it.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// When.
    pub at: String,
    /// What happened, in words.
    pub event: &'static str,
    /// Source address.
    pub ip: String,
    /// MAC (lower12), when the path carried one.
    pub mac: Option<String>,
    /// File asked for.
    pub file: String,
    /// HTTP status answered.
    pub status: u16,
    /// Result code (`served`, `unknown_device`, `banned`, …).
    pub result: String,
    /// Whether the result means the phone got the file.
    pub granted: bool,
    /// What it was before, or the version's hash.
    pub detail: String,
    /// User-Agent, cut for display.
    pub ua: String,
}

/// An event kind in words.
fn event_words(kind: &str) -> &'static str {
    match kind {
        "first_fetch" => "First fetch",
        "address" => "New address",
        "user_agent" => "New User-Agent",
        "model" => "New model",
        "firmware" => "New firmware",
        "new_version" => "New version fetched",
        "refused" => "Refused",
        "ban" => "Source banned",
        _ => "Other",
    }
}

impl From<crate::domain::history::EventView> for EventRow {
    fn from(e: crate::domain::history::EventView) -> Self {
        let granted = !crate::domain::history::REFUSAL_KINDS.contains(&e.kind.as_str());
        Self {
            at: short_time(&e.at),
            event: event_words(&e.kind),
            ip: e.ip,
            mac: e.mac,
            file: e.file,
            status: e.status,
            granted,
            result: e.result,
            detail: e.detail.unwrap_or_default(),
            ua: e.ua.unwrap_or_default().chars().take(80).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_read_as_utc() {
        assert_eq!(
            short_time("2026-11-23T15:25:51.623Z"),
            "2026-11-23 15:25:51 UTC"
        );
        assert_eq!(short_time("garbage"), "garbage");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert_eq!(notice("alias_moved"), Some("Line order changed."));
        assert_eq!(notice("<script>"), None);
    }
}
