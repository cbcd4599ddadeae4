//! Tenants and sites.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::domain::tenant::{SiteDraft, TenantDraft};
use crate::http::AppState;
use crate::http::actions::tenants::{load_tenant, visible_tenants};
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::store::tenants::{self, Tenant};
use crate::store::{StoreError, sites};

fn with_generated(tenant: &Tenant, generated: Option<String>) -> Value {
    let mut body = tenant.to_json();
    if let Some(pw) = generated {
        // Shown once, here; stored only for phones to be checked against.
        body["phone_auth"]["generated_password"] = json!(pw);
    }
    body
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_global_admin()?;
    let spec = draft.into_new()?;
    let actor = caller.actor();
    let (tenant, generated) = state
        .store
        .write(move |tx| tenants::insert(tx, &actor, spec))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(with_generated(&tenant, generated)),
    ))
}

pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let visible: Vec<Value> = visible_tenants(&state.store, &caller)
        .await?
        .iter()
        .map(Tenant::to_json)
        .collect();
    Ok(Json(json!({ "tenants": visible })))
}

pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    Ok(Json(
        load_tenant(&state.store, &caller, name).await?.to_json(),
    ))
}

pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let before = load_tenant(&state.store, &caller, name).await?;
    let spec = draft.apply_to(before.spec())?;
    let actor = caller.actor();
    let (after, generated) = state
        .store
        .write(move |tx| tenants::update(tx, &actor, &before, spec))
        .await?;
    Ok(Json(with_generated(&after, generated)))
}

pub(super) async fn create_site(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, name).await?;
    let spec = draft.into_new()?;
    let actor = caller.actor();
    let site = state
        .store
        .write(move |tx| sites::insert(tx, &actor, tenant.id, &spec))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(site).unwrap_or_default()),
    ))
}

pub(super) async fn update_site(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, site)): Path<(String, String)>,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, name).await?;
    let before = state
        .store
        .read(move |c| match sites::resolve(c, tenant.id, &site, "site") {
            Err(StoreError::Invalid(_)) => Err(StoreError::NotFound("site")),
            other => other,
        })
        .await?;
    let spec = draft.apply_to(before.spec())?;
    let actor = caller.actor();
    let after = state
        .store
        .write(move |tx| sites::update(tx, &actor, &before, &spec))
        .await?;
    Ok(Json(serde_json::to_value(after).unwrap_or_default()))
}

pub(super) async fn list_sites(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, name).await?;
    let sites = state.store.read(move |c| sites::list(c, tenant.id)).await?;
    Ok(Json(json!({ "sites": sites })))
}
