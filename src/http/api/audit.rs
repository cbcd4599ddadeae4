//! The audit log, newest first, and restores of deleted records.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::actions::tenants::load_tenant;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::restore;
use crate::store::audit;

/// Filters: `?tenant=`, `?before=<id>` (paging), `?limit=` (≤ 500, default 100).
#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    tenant: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let tenant_id = match filter.tenant {
        Some(name) => Some(load_tenant(&state.store, &caller, name).await?.id),
        None => caller.tenant_id(),
    };
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .store
        .read(move |c| audit::list(c, tenant_id, filter.before, limit))
        .await?;
    Ok(Json(json!({ "entries": entries })))
}

pub(super) async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_admin()?;
    let actor = caller.actor();
    let vendors = state.vendors.clone();
    let scope = caller.tenant_id();
    let restored = state
        .store
        .write(move |tx| restore::restore(tx, &actor, &vendors, id, scope))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "entity": restored.entity,
            "key": restored.key,
            "record": restored.record,
            "audit_id": restored.entry,
        })),
    ))
}
