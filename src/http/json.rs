//! A JSON body extractor whose rejections are [`ApiError`]s naming the offending field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::RuleError;

/// Largest JSON body the API reads: axum's default body limit, 2 MiB.
pub const JSON_MAX_BYTES: usize = 2 * 1024 * 1024;

/// `Json<T>` with 400 errors in the API's shape, and a 413 for a body over [`JSON_MAX_BYTES`].
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge(too_large()))
            }
            Err(rejection) => Err(ApiError::BadRequest(describe(&rejection))),
        }
    }
}

/// The error of a JSON body over [`JSON_MAX_BYTES`].
pub fn too_large() -> RuleError {
    RuleError::new(
        "body",
        "body_too_large",
        format!("a JSON body is at most {JSON_MAX_BYTES} bytes (2 MiB)"),
    )
}

fn describe(rejection: &JsonRejection) -> RuleError {
    let text = rejection.body_text();
    let field = field_in(&text).unwrap_or_default();
    let code = match rejection {
        JsonRejection::MissingJsonContentType(_) => "content_type",
        JsonRejection::JsonSyntaxError(_) => "json_syntax",
        JsonRejection::JsonDataError(_) => "json_shape",
        _ => "body",
    };
    let message = match rejection {
        JsonRejection::JsonDataError(_) => data_message(&text, &field),
        _ => text,
    };
    RuleError::new(field, code, message)
}

/// What a shape error says, without the value that was sent: serde quotes it ("invalid type:
/// string \"…\"", "unknown variant `…`"), and the value may be a password or a PIN. Unknown and
/// missing fields are named as serde names them; anything else keeps only what was expected.
fn data_message(text: &str, field: &str) -> String {
    let detail = text.split_once("target type: ").map_or(text, |(_, r)| r);
    let detail = detail
        .strip_prefix(field)
        .and_then(|d| d.strip_prefix(": "))
        .unwrap_or(detail);
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = detail.find(marker) {
            return detail[start..].to_owned();
        }
    }
    let subject = if field.is_empty() { "the body" } else { field };
    match detail.split_once(", expected ") {
        Some((_, expected)) => {
            format!("{subject} has the wrong type or value: expected {expected}")
        }
        None => format!("{subject} has the wrong type or value"),
    }
}

/// Pulls the field name out of serde's messages (`unknown field `x``, `missing field `x``,
/// or the `path.to.field: ...` prefix axum adds).
fn field_in(text: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start + marker.len()..];
            return rest.find('`').map(|end| rest[..end].to_owned());
        }
    }
    let after = text.split_once("target type: ").map_or(text, |(_, r)| r);
    let (path, _) = after.split_once(": ")?;
    (!path.contains(' ')).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{data_message, field_in};

    #[test]
    fn shape_errors_never_repeat_the_value_sent() {
        let cases = [
            (
                "Failed to deserialize the JSON body into the target type: phone_auth.passwords: invalid type: string \"S3cret-Pass!\", expected a sequence at line 1 column 40",
                "phone_auth.passwords",
                "phone_auth.passwords has the wrong type or value: expected a sequence",
            ),
            (
                "Failed to deserialize the JSON body into the target type: voicemail_pin: invalid type: integer `4711`, expected a string at line 1 column 20",
                "voicemail_pin",
                "voicemail_pin has the wrong type or value: expected a string",
            ),
            (
                "Failed to deserialize the JSON body into the target type: role: unknown variant `S3cret`, expected one of `a`, `b` at line 1 column 9",
                "role",
                "role has the wrong type or value: expected one of `a`, `b`",
            ),
            (
                "Failed to deserialize the JSON body into the target type: unknown field `extention`, expected one of `name` at line 1 column 12",
                "extention",
                "unknown field `extention`, expected one of `name`",
            ),
            (
                "Failed to deserialize the JSON body into the target type: phone_auth: unknown field `pasword`, expected one of `mode` at line 1 column 30",
                "pasword",
                "unknown field `pasword`, expected one of `mode`",
            ),
        ];
        for (text, field, expected) in cases {
            assert_eq!(data_message(text, field), expected);
        }
    }

    #[test]
    fn finds_the_field_in_serde_messages() {
        assert_eq!(field_in("Failed to deserialize the JSON body into the target type: unknown field `extention`, expected one of ...").as_deref(), Some("extention"));
        assert_eq!(field_in("Failed to deserialize the JSON body into the target type: sip_port: invalid type: string \"x\", expected u16 at line 1 column 20").as_deref(), Some("sip_port"));
    }
}
