//! Rendering a matched file: bytes, content type, strong ETag, and the safety checks.

use sha2::{Digest, Sha256};

use super::context::{CommonContext, DeviceContext};
use super::spec::{FileSpec, Format};
use super::templates;

/// A rendered file, ready to send.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The bytes.
    pub body: String,
    /// Content-Type.
    pub content_type: String,
    /// Strong ETag, quoted: a hash of the body.
    pub etag: String,
    /// Whether the file carries secrets (per-device files).
    pub has_secrets: bool,
}

impl Rendered {
    /// A file served as stored (a phone's own upload), with its ETag.
    pub fn verbatim(file: &FileSpec, body: String) -> Self {
        Self {
            etag: etag_of(&body),
            content_type: file.content_type.clone(),
            body,
            has_secrets: true,
        }
    }
}

fn etag_of(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Why a file could not be rendered. Never answered with a body: the phone gets a 5xx.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A value would break a `key = value` file (a control character slipped past input checks).
    #[error("value of {0} has a control character; refusing to render a text file with it")]
    UnsafeValue(String),
    /// The profile names a template that was not compiled in.
    #[error("template {0} is not compiled in")]
    MissingTemplate(String),
    /// The template engine failed.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

fn check_text(format: Format, strings: Vec<(String, &str)>) -> Result<(), RenderError> {
    if format != Format::Text {
        return Ok(());
    }
    match strings
        .into_iter()
        .find(|(_, v)| v.chars().any(char::is_control))
    {
        Some((name, _)) => Err(RenderError::UnsafeValue(name)),
        None => Ok(()),
    }
}

fn finish(file: &FileSpec, mut body: String, has_secrets: bool) -> Rendered {
    if !body.ends_with('\n') {
        body.push('\n');
    }
    Rendered {
        etag: etag_of(&body),
        content_type: file.content_type.clone(),
        body,
        has_secrets,
    }
}

/// Renders a per-device file.
pub fn render_device(file: &FileSpec, ctx: &DeviceContext) -> Result<Rendered, RenderError> {
    check_text(file.format, ctx.strings())?;
    let body = templates::render_device(&file.template, ctx)
        .ok_or_else(|| RenderError::MissingTemplate(file.template.clone()))??;
    Ok(finish(file, body, true))
}

/// Renders a common file.
pub fn render_common(file: &FileSpec, ctx: &CommonContext) -> Result<Rendered, RenderError> {
    check_text(file.format, ctx.strings())?;
    let body = templates::render_common(&file.template, ctx)
        .ok_or_else(|| RenderError::MissingTemplate(file.template.clone()))??;
    Ok(finish(file, body, false))
}
