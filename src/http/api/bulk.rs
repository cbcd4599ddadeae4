//! Bulk import and export of a tenant's users, aliases and devices as CSV.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::bulk::{self, ImportRequest};
use crate::http::AppState;
use crate::http::actions::tenants::load_tenant;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};

/// Largest CSV file the import endpoint takes (about 200 000 rows).
pub(super) const IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// `?apply=true` writes the rows; without it the import is a dry run.
#[derive(Debug, Deserialize)]
pub(super) struct ImportQuery {
    #[serde(default)]
    apply: bool,
}

pub(super) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, tenant).await?;
    let request = ImportRequest {
        tenant: tenant.name,
        csv: body.to_vec(),
        apply: query.apply,
        actor: caller.actor(),
        source: None,
    };
    let (store, vendors) = (state.store.clone(), state.vendors.clone());
    let report = tokio::task::spawn_blocking(move || {
        bulk::import(&store, &vendors, request, &mut |_, _| {})
    })
    .await
    .map_err(|e| ApiError::Internal(format!("import task: {e}")))??;
    if query.apply && !report.ok() {
        let message = format!(
            "{} problem(s) in the file; nothing was written",
            report.problems.len()
        );
        let body = json!({
            "error": {"code": "import_rejected", "message": message, "field": null},
            "report": report,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    Ok(Json(report).into_response())
}

/// `?secrets=true` includes SIP passwords and voicemail PINs (and is audited).
#[derive(Debug, Deserialize)]
pub(super) struct ExportQuery {
    #[serde(default)]
    secrets: bool,
}

pub(super) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, tenant).await?;
    let file_name: String = tenant
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let text =
        bulk::export::export(&state.store, tenant.name, query.secrets, caller.actor()).await?;
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
