//! A JSON body extractor whose rejections are [`ApiError`]s naming the offending field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::RuleError;

/// `Json<T>` with 400 errors in the API's shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(describe(&rejection))),
        }
    }
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
    RuleError::new(field, code, text)
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
    use super::field_in;

    #[test]
    fn finds_the_field_in_serde_messages() {
        assert_eq!(field_in("Failed to deserialize the JSON body into the target type: unknown field `extention`, expected one of ...").as_deref(), Some("extention"));
        assert_eq!(field_in("Failed to deserialize the JSON body into the target type: sip_port: invalid type: string \"x\", expected u16 at line 1 column 20").as_deref(), Some("sip_port"));
    }
}
