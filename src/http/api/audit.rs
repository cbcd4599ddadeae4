//! The audit log, newest first, and restores of deleted records.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::openapi::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable};
use super::views::{AuditView, RestoredView};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::params::{ApiPath, ApiQuery, page_limit};
use crate::service::restore;

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Filter {
    /// Only this tenant's entries.
    tenant: Option<String>,
    /// Only entries older than this id (the last id of the previous page).
    before: Option<i64>,
    /// At most this many entries (1 to 500) [100].
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Entries a page holds without `?limit=`.
const DEFAULT_PAGE: u32 = 100;
/// Most entries one page may ask for.
const MAX_PAGE: u32 = 500;

/// Who changed what, newest first, with the record before and after (admins).
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "listAudit",
    tag = "audit",
    params(Filter),
    responses(
        (status = 200, description = "Audit entries", body = AuditView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<Filter>,
) -> ApiResult<Json<AuditView>> {
    let limit = page_limit(filter.limit, DEFAULT_PAGE, MAX_PAGE, "audit entries")?;
    let entries = crate::service::audit::list(
        &state.services,
        &caller.actor,
        filter.tenant,
        filter.before,
        limit,
    )
    .await?;
    Ok(Json(AuditView {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

/// `/audit/{id}/restore`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct EntryPath {
    /// Id of the audit entry that records the delete.
    id: i64,
}

/// Re-creates a deleted user, alias or device from its audit entry (admins).
///
/// Every rule is checked again against today's data; a clash names the field and nothing is
/// written.
#[utoipa::path(
    post,
    path = "/audit/{id}/restore",
    operation_id = "restoreFromAudit",
    tag = "audit",
    params(EntryPath),
    responses(
        (status = 201, description = "Restored", body = RestoredView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
    )
)]
pub(super) async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<EntryPath>,
) -> ApiResult<(StatusCode, Json<RestoredView>)> {
    let restored = restore::restore(&state.services, &caller.actor, path.id).await?;
    Ok((StatusCode::CREATED, Json(RestoredView::from(restored))))
}
