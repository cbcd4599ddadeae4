//! Bulk import and export of a tenant's users, aliases and devices as CSV.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::openapi::{BadRequest, Forbidden, NotFound, Unauthorized};
use super::tenants::TenantPath;
use super::views::ImportRejectedBody;
use crate::domain::RuleError;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::http::params::{ApiPath, ApiQuery};
use crate::service::bulk::{self, ImportReport, ImportRequest};

/// Largest CSV file the import endpoint takes (32 MiB; rows are limited to
/// [`bulk::MAX_IMPORT_ROWS`] too).
pub(super) const IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// `?apply=true` writes the rows; without it the import is a dry run.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ImportQuery {
    /// Write the rows (all or none); without it, only check them.
    #[serde(default)]
    apply: bool,
}

/// The body of an import: the file's bytes as sent, whatever they are (a byte sequence that is
/// not UTF-8 is read with U+FFFD in its place, and the report names what that breaks).
struct CsvFile;

impl PartialSchema for CsvFile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for CsvFile {}

/// Checks, and with `?apply=true` writes, a CSV file of users, aliases and devices (admins).
///
/// Every problem is reported by row, column and rule; an apply writes every row or none.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/import",
    operation_id = "importTenant",
    tag = "tenants",
    params(TenantPath, ImportQuery),
    request_body(content = inline(CsvFile), content_type = "text/csv",
        description = "The CSV file (header row first): at most 32 MiB and 200 000 rows"),
    responses(
        (status = 200, description = "The report: a dry run, or the rows written", body = ImportReport),
        BadRequest, Unauthorized, Forbidden, NotFound,
        (status = 413, description = "The file is over 32 MiB (`body_too_large`) or 200 000 rows (`import_too_many_rows`): nothing was read", body = ErrorBody),
        (status = 422, description = "`?apply=true` and the file has problems: nothing was written",
            body = ImportRejectedBody),
    )
)]
pub(super) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(RuleError::new(
                "body",
                "body_too_large",
                format!("an import file is at most {IMPORT_MAX_BYTES} bytes (32 MiB): split it into several files"),
            ))
        } else {
            ApiError::BadRequest(RuleError::new("body", "body", rejection.body_text()))
        }
    })?;
    let request = ImportRequest {
        tenant: path.tenant,
        // The body's own buffer when nothing else holds it: no second copy of a large file.
        csv: body.into(),
        apply: query.apply,
        source: None,
    };
    let report = bulk::import(&state.services, &caller.actor, request, |_, _| {}).await?;
    if query.apply && !report.ok() {
        let message = format!(
            "{} problem(s) in the file; nothing was written",
            report.problem_count
        );
        let body = ImportRejectedBody {
            error: ErrorDetail {
                code: "import_rejected".into(),
                message,
                field: None,
            },
            report,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    Ok(Json(report).into_response())
}

/// `?secrets=true` includes SIP passwords and voicemail PINs (and is audited).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportQuery {
    /// Include SIP passwords and voicemail PINs (audited).
    #[serde(default)]
    secrets: bool,
}

/// The tenant's users, aliases and devices as CSV, in the import format (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/export",
    operation_id = "exportTenant",
    tag = "tenants",
    params(TenantPath, ExportQuery),
    responses(
        (status = 200, description = "The CSV file", body = String, content_type = "text/csv"),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let text = bulk::export(
        &state.services,
        &caller.actor,
        path.tenant.clone(),
        query.secrets,
    )
    .await?;
    let file_name = file_name(&path.tenant);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        text,
    )
        .into_response())
}

/// The tenant's name as a safe download file name: anything but ASCII letters, digits, `.` and
/// `-` becomes `_`.
fn file_name(tenant: &str) -> String {
    tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
