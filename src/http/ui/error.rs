//! The pages' error type: an HTML page with the status the JSON API would give, a redirect to
//! the sign-in page for missing sessions, internals logged and never shown.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Layout;
use crate::domain::RuleError;
use crate::http::error::ApiError;

/// Everything a page handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session, or it ended: go to the sign-in page (and back to `next` afterwards).
    #[error("sign-in needed")]
    SignIn {
        /// The page to return to after signing in.
        next: Option<String>,
        /// A session cookie was sent but no longer opens a session.
        expired: bool,
    },
    /// A form without this session's CSRF token (403).
    #[error("form token missing or wrong")]
    Csrf,
    /// A form body that does not parse (400).
    #[error("bad form: {0}")]
    BadForm(String),
    /// Anything the JSON API would refuse, with the same status and message.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::service::ServiceError> for PageError {
    fn from(e: crate::service::ServiceError) -> Self {
        PageError::Api(e.into())
    }
}

impl From<RuleError> for PageError {
    fn from(e: RuleError) -> Self {
        PageError::Api(ApiError::Invalid(e))
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Api(ApiError::Internal(format!("page template: {e}")))
    }
}

/// Result of page handlers.
pub type PageResult<T> = Result<T, PageError>;

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

impl PageError {
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            PageError::SignIn { .. } => (StatusCode::UNAUTHORIZED, "Please sign in.".into()),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form is out of date or came from another page. Go back, reload the page and try again."
                    .into(),
            ),
            PageError::BadForm(why) => (
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {why}"),
            ),
            PageError::Api(api) => {
                let message = match api {
                    ApiError::BadRequest(r)
                    | ApiError::Conflict(r)
                    | ApiError::TooLarge(r)
                    | ApiError::Invalid(r) => {
                        r.message.clone()
                    }
                    ApiError::Unauthorized => "Please sign in.".into(),
                    ApiError::Forbidden(why) => format!("Not allowed: {why}."),
                    ApiError::NotFound(what) => format!("No such {what}."),
                    ApiError::Internal(detail) => {
                        tracing::error!(%detail, "internal error in a page");
                        "Something went wrong inside deskprov; the server log has the details."
                            .into()
                    }
                };
                (api.status(), message)
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::SignIn { next, expired } = &self {
            let mut query = Vec::new();
            if let Some(next) = next {
                query.push(("next", next.as_str()));
            }
            if *expired {
                query.push(("expired", "1"));
            }
            let target = match serde_urlencoded::to_string(&query) {
                Ok(q) if !q.is_empty() => format!("/ui/login?{q}"),
                _ => "/ui/login".to_owned(),
            };
            return Redirect::to(&target).into_response();
        }
        let (status, message) = self.status_and_message();
        let page = ErrorPage {
            layout: Layout::anonymous(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            message,
        };
        match page.render() {
            Ok(html) => (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering the error page");
                status.into_response()
            }
        }
    }
}
