//! The audit log, newest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::actions::tenants::load_tenant;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
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
