//! Sign-in sessions and CSRF protection of the pages.
//!
//! The session cookie holds a random id (never the API token); the store maps its hash to the
//! token. Every form carries the session's CSRF token and every POST is checked against it. The
//! sign-in form, which has no session yet, is protected by a double-submit cookie.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::PageError;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::conn::Scheme;
use crate::service::sign_in;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "deskprov_session";
/// Name of the sign-in form's double-submit cookie.
pub const SIGNIN_COOKIE: &str = "deskprov_signin";
/// How long a session lasts from sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Largest form body read.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in caller of a page: the token's identity and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct UiSession {
    /// The token the session stands for, with the API's role and tenant checks.
    pub caller: Caller,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The cookie value, to end the session on sign-out.
    pub(super) cookie: String,
}

impl UiSession {
    fn csrf_matches(&self, sent: &str) -> bool {
        same_secret(&self.csrf, sent)
    }
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in the request, if sent once.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A random id as the store makes them: 64 hex digits.
fn well_formed(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the browser reached us over TLS: directly, or through a trusted proxy that says so.
pub fn is_secure(parts: &Parts, state: &AppState) -> bool {
    if parts.extensions.get::<Scheme>() == Some(&Scheme::Https) {
        return true;
    }
    let from_trusted_proxy = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| {
            state.trusted_proxies.iter().any(|n| n.contains(&peer.ip()))
        });
    from_trusted_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the pages: HttpOnly, SameSite=Strict, path `/ui`, Secure over TLS;
/// `None` as max age deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> HeaderValue {
    let age = max_age.map_or(0, |d| d.as_secs());
    let value = if max_age.is_some() { value } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where to come back to after signing in: a page under `/ui/`, nothing else.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| {
        n.starts_with("/ui/")
            && !n.contains("//")
            && !n.contains('\\')
            && n.len() <= 512
            && n.bytes().all(|b| b.is_ascii_graphic())
            && !n.starts_with("/ui/login")
    })
    .map(str::to_owned)
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let next = (parts.method == Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
            .flatten()
            .and_then(|n| safe_next(Some(n)));
        let sent = cookie(&parts.headers, SESSION_COOKIE);
        let expired = sent.is_some();
        let Some(value) = sent.filter(|v| well_formed(v)) else {
            return Err(PageError::SignIn { next, expired });
        };
        let session = sign_in::session(&state.services, value.clone())
            .await?
            .ok_or(PageError::SignIn { next, expired })?;
        Ok(UiSession {
            caller: Caller::new(session.token),
            csrf: session.csrf,
            cookie: value,
        })
    }
}

/// Whether the request came over TLS (see [`is_secure`]), for the `Secure` cookie attribute.
#[derive(Debug, Clone, Copy)]
pub struct Secure(pub bool);

impl FromRequestParts<AppState> for Secure {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Secure(is_secure(parts, state)))
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A posted form of a signed-in page whose CSRF token was checked.
pub struct Posted<T> {
    /// The session that posted it.
    pub session: UiSession,
    /// The form.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let session = UiSession::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| PageError::BadForm("the form is too large or cut short".into()))?;
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| PageError::BadForm("the form is not URL-encoded".into()))?;
        if !session.csrf_matches(&sent.csrf) {
            return Err(PageError::Csrf);
        }
        let form =
            serde_urlencoded::from_bytes(&bytes).map_err(|e| PageError::BadForm(e.to_string()))?;
        Ok(Posted { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_under_ui_are_places_to_return_to() {
        assert_eq!(
            safe_next(Some("/ui/audit?tenant=a.com")).as_deref(),
            Some("/ui/audit?tenant=a.com")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil",
            "/api/v1/tenants",
            "/ui/login?next=/ui/",
            "/ui/\\evil",
            "/ui/a b",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x_deskprov_session=1; deskprov_session=abc; other=2"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_over_tls() {
        let plain = set_cookie(SESSION_COOKIE, "v", Some(SESSION_TTL), false);
        assert_eq!(
            plain,
            "deskprov_session=v; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        let tls = set_cookie(SESSION_COOKIE, "v", Some(SESSION_TTL), true);
        assert!(tls.to_str().unwrap().ends_with("; Secure"));
        let gone = set_cookie(SESSION_COOKIE, "v", None, false);
        assert!(gone.to_str().unwrap().starts_with("deskprov_session=; "));
        assert!(gone.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}
