//! Signing in with an API token, and signing out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use chrono::Utc;
use rand::Rng;
use serde::Deserialize;

use super::error::{PageError, PageResult};
use super::session::{
    Posted, SESSION_COOKIE, SESSION_TTL, SIGNIN_COOKIE, Secure, UiSession, cookie, safe_next,
    same_secret, set_cookie,
};
use super::{Layout, see_other};
use crate::http::AppState;
use crate::http::auth::caller_for_token;
use crate::http::error::ApiError;
use crate::service::sign_in;

/// How long a sign-in form stays usable.
const SIGNIN_FORM_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    error: Option<&'static str>,
    signed_out: bool,
    expired: bool,
}

/// `?next=`, `?signed_out=1`, `?expired=1`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
    expired: Option<String>,
}

/// Draws the form with a fresh double-submit token in a cookie and in the form.
fn login_page(
    status: StatusCode,
    secure: bool,
    next: Option<String>,
    error: Option<&'static str>,
    query: &LoginQuery,
) -> PageResult<Response> {
    let nonce = hex::encode(rand::rng().random::<[u8; 32]>());
    let page = LoginPage {
        layout: Layout::anonymous("Sign in"),
        csrf: nonce.clone(),
        next: next.unwrap_or_default(),
        error,
        signed_out: query.signed_out.is_some(),
        expired: query.expired.is_some() && error.is_none(),
    };
    let html = page.render()?;
    Ok((
        status,
        [(
            header::SET_COOKIE,
            set_cookie(SIGNIN_COOKIE, &nonce, Some(SIGNIN_FORM_TTL), secure),
        )],
        axum::response::Html(html),
    )
        .into_response())
}

pub(super) async fn form(
    session: Result<UiSession, PageError>,
    Secure(secure): Secure,
    Query(query): Query<LoginQuery>,
) -> PageResult<Response> {
    let next = safe_next(query.next.as_deref());
    if session.is_ok() {
        return Ok(see_other(next.as_deref().unwrap_or("/ui/")));
    }
    login_page(StatusCode::OK, secure, next, None, &query)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Secure(secure): Secure,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult<Response> {
    let form: SignIn = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::BadForm("the sign-in form is not URL-encoded".into()))?;
    let next = safe_next(Some(&form.next));
    let query = LoginQuery::default();
    let sent = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if !same_secret(&sent, &form.csrf) {
        return login_page(
            StatusCode::FORBIDDEN,
            secure,
            next,
            Some("This sign-in form had expired or came from another page. Please try again."),
            &query,
        );
    }
    let caller = match caller_for_token(&state, &form.token).await {
        Ok(caller) => caller,
        Err(ApiError::Unauthorized) => {
            return login_page(
                StatusCode::UNAUTHORIZED,
                secure,
                next,
                Some(
                    "That token is not known. Check it, or create one with `deskprov token create`.",
                ),
                &query,
            );
        }
        Err(e) => return Err(e.into()),
    };
    let until = Utc::now() + chrono::Duration::from_std(SESSION_TTL).unwrap_or_default();
    let opened = sign_in::open_session(&state.services, caller.token.clone(), until).await?;
    Ok((
        AppendHeaders([
            (
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &opened.cookie, Some(SESSION_TTL), secure),
            ),
            (
                header::SET_COOKIE,
                set_cookie(SIGNIN_COOKIE, "", None, secure),
            ),
        ]),
        see_other(next.as_deref().unwrap_or("/ui/")),
    )
        .into_response())
}

/// Sign-out needs nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    Secure(secure): Secure,
    posted: Posted<NoFields>,
) -> PageResult<Response> {
    sign_in::close_session(&state.services, posted.session.cookie.clone()).await?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", None, secure),
        )],
        see_other("/ui/login?signed_out=1"),
    )
        .into_response())
}
