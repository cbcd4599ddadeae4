//! Devices: registration by installers, re-assignment, the line map and file previews.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::device::{DeviceDraft, DevicePatch};
use crate::domain::{Mac, RuleError};
use crate::http::AppState;
use crate::http::actions::devices::{self as act, load, status, vendor_of};
use crate::http::actions::tenants::load_tenant;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::store::devices::{self, DeviceBundle};
use crate::store::uploads;
use crate::vendor::provision::line_plan;

async fn device_body(state: &AppState, bundle: &DeviceBundle) -> ApiResult<Value> {
    let mut body = bundle.device.to_json();
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    body["vendor_name"] = json!(vendor.profile.name);
    body["tenant"] = json!(bundle.tenant.name);
    body["extension"] = json!(bundle.owner.spec.extension);
    body["user"] = json!(bundle.owner.spec.name);
    body["site"] = json!(bundle.site.as_ref().map(|s| &s.name));
    body["status"] = json!(status(state, bundle).await?);
    body["capacity"] = json!(vendor.capacity(bundle.device.effective_model()));
    Ok(body)
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<DeviceDraft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let bundle = act::register(&state, &caller, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(device_body(&state, &bundle).await?),
    ))
}

/// `?tenant=` filter.
#[derive(Debug, Deserialize)]
pub(super) struct ListFilter {
    tenant: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<ListFilter>,
) -> ApiResult<Json<Value>> {
    let tenant_id = match filter.tenant {
        Some(name) => Some(load_tenant(&state.store, &caller, name).await?.id),
        None => caller.tenant_id(),
    };
    let list = state
        .store
        .read(move |c| devices::list(c, tenant_id, None))
        .await?;
    let mut out = Vec::with_capacity(list.len());
    for device in list {
        let mac = device.mac;
        if let Some(bundle) = state.store.read(move |c| devices::bundle(c, &mac)).await? {
            out.push(device_body(&state, &bundle).await?);
        }
    }
    Ok(Json(json!({ "devices": out })))
}

pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
) -> ApiResult<Json<Value>> {
    let bundle = load(&state, &caller, &mac).await?;
    Ok(Json(device_body(&state, &bundle).await?))
}

pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
    ApiJson(patch): ApiJson<DevicePatch>,
) -> ApiResult<Json<Value>> {
    let (bundle, generated) = act::update(&state, &caller, &mac, patch).await?;
    let mut body = device_body(&state, &bundle).await?;
    if let Some(pw) = generated {
        // Shown once, here.
        body["phone_credentials"]["generated_password"] = json!(pw);
    }
    Ok(Json(body))
}

/// `?confirm=<mac>` guards deletes.
#[derive(Debug, Deserialize)]
pub(super) struct Confirm {
    confirm: Option<String>,
}

pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
    Query(confirm): Query<Confirm>,
) -> ApiResult<StatusCode> {
    let bundle = load(&state, &caller, &mac).await?;
    let confirmed =
        confirm.confirm.as_deref().and_then(|c| Mac::parse(c).ok()) == Some(bundle.device.mac);
    if !confirmed {
        return Err(ApiError::BadRequest(RuleError::new(
            "confirm",
            "confirmation_required",
            format!(
                "to delete this device, repeat its MAC: ?confirm={}",
                bundle.device.mac
            ),
        )));
    }
    let actor = caller.actor();
    state
        .store
        .write(move |tx| devices::delete(tx, &actor, &bundle.device))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn lines(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
) -> ApiResult<Json<Value>> {
    let bundle = load(&state, &caller, &mac).await?;
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let plan = line_plan(&bundle, vendor);
    let account = |kind, name: &str, sip_username: &str, alias_id: Option<i64>| json!({"kind": kind, "name": name, "sip_username": sip_username, "alias_id": alias_id});
    let lines: Vec<Value> = plan
        .lines
        .iter()
        .map(|l| {
            let mut v = account(
                l.account.kind,
                &l.account.name,
                &l.account.sip_username,
                l.account.alias_id,
            );
            v["line"] = json!(l.line);
            v
        })
        .collect();
    let overflow: Vec<Value> = plan
        .overflow
        .iter()
        .map(|a| account(a.kind, &a.name, &a.sip_username, a.alias_id))
        .collect();
    Ok(Json(json!({
        "mac": bundle.device.mac.lower12(),
        "model": bundle.device.effective_model(),
        "capacity": plan.capacity,
        "lines": lines,
        "overflow": overflow,
    })))
}

pub(super) async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let bundle = load(&state, &caller, &mac).await?;
    let names: Vec<Value> = act::file_names(&state, &bundle)?
        .into_iter()
        .map(|(name, f)| json!({"name": name, "kind": f.kind_name(), "content_type": f.content_type}))
        .collect();
    Ok(Json(json!({ "files": names })))
}

/// `?reveal=true` shows passwords (and is audited).
#[derive(Debug, Deserialize)]
pub(super) struct Reveal {
    #[serde(default)]
    reveal: bool,
}

pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path((mac, name)): Path<(String, String)>,
    Query(reveal): Query<Reveal>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let bundle = load(&state, &caller, &mac).await?;
    let rendered = act::render_file(&state, &caller, &bundle, &name, reveal.reveal).await?;
    Ok((
        [
            (header::CONTENT_TYPE, rendered.content_type),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        rendered.body,
    )
        .into_response())
}

pub(super) async fn uploads(
    State(state): State<AppState>,
    caller: Caller,
    Path(mac): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let bundle = load(&state, &caller, &mac).await?;
    let id = bundle.device.id;
    let list = state.store.read(move |c| uploads::list(c, id)).await?;
    Ok(Json(json!({ "uploads": list })))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((mac, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let bundle = load(&state, &caller, &mac).await?;
    let id = bundle.device.id;
    let body = state
        .store
        .read(move |c| uploads::get(c, id, &name))
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    // Phones write these; serve them as inert text so a browser never interprets them.
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
