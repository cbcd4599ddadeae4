//! Devices: registration by installers, re-assignment, the line map and file previews.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tenants::load_tenant;
use crate::domain::device::{DeviceDraft, DevicePatch};
use crate::domain::{DeviceStatus, Mac, RuleError, device_status};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::store::audit::{self, Change};
use crate::store::devices::{self, Device, DeviceBundle};
use crate::store::uploads;
use crate::vendor::provision::{config_current, line_plan, render_common_file, render_device_file};
use crate::vendor::{FileKind, Vendor};

fn parse_mac(text: &str) -> ApiResult<Mac> {
    Mac::parse(text).map_err(ApiError::Invalid)
}

fn vendor_of<'a>(state: &'a AppState, device: &Device) -> ApiResult<&'a Vendor> {
    state.vendors.get(&device.vendor).ok_or_else(|| {
        ApiError::Internal(format!(
            "device {} has unknown vendor {}",
            device.mac, device.vendor
        ))
    })
}

/// Loads the device bundle for `mac` and checks the caller's tenant.
async fn load(state: &AppState, caller: &Caller, mac: &str) -> ApiResult<DeviceBundle> {
    let mac = parse_mac(mac)?;
    let bundle = state
        .store
        .read(move |c| devices::bundle(c, &mac))
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    caller.require_tenant(&bundle.tenant)?;
    Ok(bundle)
}

/// The device status now.
async fn status(state: &AppState, bundle: &DeviceBundle) -> ApiResult<DeviceStatus> {
    let vendor = vendor_of(state, &bundle.device)?;
    let id = bundle.device.id;
    let fetched = state
        .store
        .read(move |c| devices::fetched_files(c, id))
        .await?;
    let current = config_current(bundle, vendor, &fetched);
    Ok(device_status(
        bundle.device.first_fetch_at,
        bundle.device.enroll_deadline,
        current,
        chrono::Utc::now(),
    ))
}

async fn device_body(state: &AppState, bundle: &DeviceBundle) -> ApiResult<Value> {
    let mut body = bundle.device.to_json();
    let vendor = vendor_of(state, &bundle.device)?;
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
    let spec = draft.into_spec()?;
    let vendor =
        state
            .vendors
            .for_new_device(spec.vendor.as_deref(), &spec.mac, spec.model.as_deref())?;
    let tenant = load_tenant(&state.store, &caller, spec.tenant.clone()).await?;
    let actor = caller.actor();
    let vendor_id = vendor.id().to_owned();
    let mac = spec.mac;
    state
        .store
        .write(move |tx| devices::insert(tx, &actor, &tenant, &spec, &vendor_id))
        .await?;
    let bundle = load(&state, &caller, &mac.lower12()).await?;
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
    patch.check()?;
    let bundle = load(&state, &caller, &mac).await?;
    if let Some(model) = &patch.model
        && vendor_of(&state, &bundle.device)?
            .model_key(model)
            .is_none()
    {
        return Err(ApiError::Invalid(RuleError::new(
            "model",
            "model_unknown",
            format!("{model} is not a {} model", bundle.device.vendor),
        )));
    }
    let actor = caller.actor();
    let DeviceBundle { tenant, device, .. } = bundle;
    let mac = device.mac;
    state
        .store
        .write(move |tx| devices::update(tx, &actor, &tenant, &device, &patch))
        .await?;
    let bundle = load(&state, &caller, &mac.lower12()).await?;
    Ok(Json(device_body(&state, &bundle).await?))
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
    let vendor = vendor_of(&state, &bundle.device)?;
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
    let vendor = vendor_of(&state, &bundle.device)?;
    let names: Vec<Value> = state
        .vendors
        .device_file_names(vendor, &bundle.device.mac, bundle.device.effective_model())
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
    let vendor = vendor_of(&state, &bundle.device)?;
    let model = bundle.device.effective_model();
    let (_, file) = state
        .vendors
        .device_file_names(vendor, &bundle.device.mac, model)
        .into_iter()
        .find(|(n, _)| *n == name)
        .ok_or(ApiError::NotFound("file"))?;
    let server_url = preview_server_url(&state, &bundle).await?;
    let rendered = match file.kind {
        FileKind::Device => {
            render_device_file(&bundle, vendor, file, &server_url, !reveal.reveal)?.0
        }
        FileKind::Common => {
            let levels = if bundle.tenant.phone_auth.url_key.is_some() {
                vec![&bundle.tenant.settings]
            } else {
                vec![]
            };
            render_common_file(vendor, file, model, &levels, &server_url)?
        }
    };
    if reveal.reveal && file.kind == FileKind::Device {
        let actor = caller.actor();
        let (key, tenant_id) = (bundle.device.mac.lower12(), bundle.tenant.id);
        state
            .store
            .write(move |tx| {
                audit::record(
                    tx,
                    &actor,
                    Change {
                        action: "reveal",
                        entity: "device",
                        key,
                        tenant_id: Some(tenant_id),
                        before: None,
                        after: Some(json!({"file": name})),
                        snapshot: None,
                    },
                )
            })
            .await?;
    }
    Ok((
        [
            (header::CONTENT_TYPE, rendered.content_type),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        rendered.body,
    )
        .into_response())
}

/// The base URL a preview renders with: the configured public URL (plus the tenant's key),
/// else the one the phone last used, else a placeholder that cannot resolve.
async fn preview_server_url(state: &AppState, bundle: &DeviceBundle) -> ApiResult<String> {
    if let Some(public) = &state.public_url {
        return Ok(match &bundle.tenant.phone_auth.url_key {
            Some(key) => format!("{public}/{key}"),
            None => public.clone(),
        });
    }
    let id = bundle.device.id;
    let fetched = state
        .store
        .read(move |c| devices::fetched_files(c, id))
        .await?;
    Ok(fetched
        .into_iter()
        .map(|(_, _, url)| url)
        .next()
        .unwrap_or_else(|| "http://deskprov.invalid".to_owned()))
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
