//! Devices: registration by installers, re-assignment, the line map and file previews.

use crate::domain::device::DeviceBundle;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unprocessable,
};
use super::views::{DeviceView, DevicesView, FileView, FilesView, LinesView, UploadsView};
use crate::domain::device::{DeviceDraft, DevicePatch};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::http::params::{ApiPath, ApiQuery, page_limit};
use crate::profile::provision::line_plan;
use crate::service::devices::{self as act, load, status, vendor_of};

// The `pattern` of every MAC parameter is `crate::domain::mac::MAC_PATTERN` (an attribute takes
// only a literal; `tests/it/openapi_bounds.rs` holds each to the constant).

/// `/devices/{mac}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct DevicePath {
    /// MAC in any common spelling (`00:15:65:aa:bb:cc`, `001565AABBCC`, …).
    #[param(
        pattern = r"^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2})$"
    )]
    pub(super) mac: String,
}

/// `/devices/{mac}/files/{file}` and `/devices/{mac}/uploads/{file}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct DeviceFilePath {
    /// MAC in any common spelling.
    #[param(
        pattern = r"^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2})$"
    )]
    mac: String,
    /// File name.
    file: String,
}

async fn device_view(state: &AppState, bundle: &DeviceBundle) -> ApiResult<DeviceView> {
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let capacity = vendor.capacity(bundle.device.effective_model());
    let status = status(&state.services, bundle).await?;
    Ok(DeviceView::new(
        bundle,
        &vendor.profile.name,
        status,
        capacity,
    ))
}

/// Registers a phone to a user (admins, installers of the tenant).
///
/// The vendor is recognised from the MAC unless given.
#[utoipa::path(
    post,
    path = "/devices",
    operation_id = "createDevice",
    tag = "devices",
    request_body = DeviceDraft,
    responses(
        (status = 201, description = "Registered", body = DeviceView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<DeviceDraft>,
) -> ApiResult<(StatusCode, Json<DeviceView>)> {
    let bundle = act::register(&state.services, &caller.actor, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(device_view(&state, &bundle).await?),
    ))
}

/// `?tenant=` filter and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListFilter {
    /// Only this tenant's devices (tokens bound to a tenant see only theirs anyway).
    tenant: Option<String>,
    /// Only devices whose MAC sorts after this one (the `next` of the previous page; any
    /// spelling of a MAC).
    #[param(
        pattern = r"^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2})$"
    )]
    after: Option<String>,
    /// At most this many devices (1 to 1000); without it, every device.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Most devices one page may ask for.
const MAX_PAGE: u32 = 1000;

/// Devices with their status (admins, installers).
#[utoipa::path(
    get,
    path = "/devices",
    operation_id = "listDevices",
    tag = "devices",
    params(ListFilter),
    responses(
        (status = 200, description = "The devices", body = DevicesView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> ApiResult<Json<DevicesView>> {
    let after = filter
        .after
        .as_deref()
        .map(|text| crate::domain::mac::sort_key(text, "after").map_err(ApiError::BadRequest))
        .transpose()?;
    // No limit: every device.
    let limit = filter
        .limit
        .map(|n| page_limit(Some(n), n, MAX_PAGE, "devices"))
        .transpose()?;
    let (list, more) =
        act::page(&state.services, &caller.actor, filter.tenant, after, limit).await?;
    let mut out = Vec::with_capacity(list.len());
    for bundle in &list {
        out.push(device_view(&state, bundle).await?);
    }
    let next = more.then(|| out.last().map(|d| d.mac.clone())).flatten();
    Ok(Json(DevicesView { devices: out, next }))
}

/// A device, its owner and status (admins, installers of the tenant).
#[utoipa::path(
    get,
    path = "/devices/{mac}",
    operation_id = "getDevice",
    tag = "devices",
    params(DevicePath),
    responses(
        (status = 200, description = "The device", body = DeviceView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<DeviceView>> {
    let bundle = load(&state.services, &caller.actor, &path.mac).await?;
    Ok(Json(device_view(&state, &bundle).await?))
}

/// Changes a device (admins, installers of the tenant).
///
/// Re-assigns it, changes its model, site, label or settings, re-opens its enrollment, sets
/// its own phone credentials (admins only), or sets or rotates its admin password
/// (`"phone_admin_password": "generate"` answers the new one once, in
/// `generated_phone_admin_password`).
#[utoipa::path(
    patch,
    path = "/devices/{mac}",
    operation_id = "updateDevice",
    tag = "devices",
    params(DevicePath),
    request_body = DevicePatch,
    responses(
        (status = 200, description = "The changed device", body = DeviceView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
    ApiJson(patch): ApiJson<DevicePatch>,
) -> ApiResult<Json<DeviceView>> {
    let (bundle, generated) = act::update(&state.services, &caller.actor, &path.mac, patch).await?;
    let mut view = device_view(&state, &bundle).await?;
    // Shown once, here.
    if let Some(credentials) = &mut view.phone_credentials {
        credentials.generated_password = generated.credentials_password;
    }
    view.generated_phone_admin_password = generated.admin_password;
    Ok(Json(view))
}

/// `?confirm=<mac>` guards deletes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Confirm {
    /// The device's MAC again (any spelling), to confirm the delete.
    #[param(required = true)]
    confirm: Option<String>,
}

/// Deletes a device (admins, installers of the tenant), kept in the audit log.
#[utoipa::path(
    delete,
    path = "/devices/{mac}",
    operation_id = "deleteDevice",
    tag = "devices",
    params(DevicePath, Confirm),
    responses(
        (status = 204, description = "Deleted"),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
    ApiQuery(confirm): ApiQuery<Confirm>,
) -> ApiResult<StatusCode> {
    act::remove(
        &state.services,
        &caller.actor,
        &path.mac,
        confirm.confirm.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the phone shows on each line, and the aliases that do not fit (admins, installers).
#[utoipa::path(
    get,
    path = "/devices/{mac}/lines",
    operation_id = "getDeviceLines",
    tag = "devices",
    params(DevicePath),
    responses(
        (status = 200, description = "The line map", body = LinesView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn lines(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<LinesView>> {
    let bundle = load(&state.services, &caller.actor, &path.mac).await?;
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let plan = line_plan(&bundle, vendor);
    Ok(Json(LinesView::new(
        bundle.device.mac.lower12(),
        bundle.device.effective_model().map(str::to_owned),
        &plan,
    )))
}

/// The files this phone fetches (admins).
#[utoipa::path(
    get,
    path = "/devices/{mac}/files",
    operation_id = "listDeviceFiles",
    tag = "devices",
    params(DevicePath),
    responses(
        (status = 200, description = "The file names", body = FilesView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn files(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<FilesView>> {
    caller.require_admin()?;
    let bundle = load(&state.services, &caller.actor, &path.mac).await?;
    let files = act::file_names(&state.services, &bundle)?
        .into_iter()
        .map(|(name, f)| FileView {
            name,
            kind: f.kind_name().to_owned(),
            content_type: f.content_type.clone(),
        })
        .collect();
    Ok(Json(FilesView { files }))
}

/// `?reveal=true` shows passwords (and is audited).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Reveal {
    /// Show the passwords instead of masking them (audited).
    #[serde(default)]
    reveal: bool,
}

/// The file as the phone gets it, passwords masked unless `?reveal=true` (admins).
#[utoipa::path(
    get,
    path = "/devices/{mac}/files/{file}",
    operation_id = "getDeviceFile",
    tag = "devices",
    params(DeviceFilePath, Reveal),
    responses(
        (status = 200, description = "The file, in the vendor's content type",
            content((String = "text/plain"), (String = "text/xml"))),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(DeviceFilePath { mac, file: name }): ApiPath<DeviceFilePath>,
    ApiQuery(reveal): ApiQuery<Reveal>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let bundle = load(&state.services, &caller.actor, &mac).await?;
    let rendered = act::render_file(
        &state.services,
        &caller.actor,
        &bundle,
        &name,
        reveal.reveal,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, rendered.content_type),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        rendered.body,
    )
        .into_response())
}

/// The files this phone uploaded: logs and local overrides, the latest of each (admins).
#[utoipa::path(
    get,
    path = "/devices/{mac}/uploads",
    operation_id = "listDeviceUploads",
    tag = "devices",
    params(DevicePath),
    responses(
        (status = 200, description = "The uploads", body = UploadsView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn uploads(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<UploadsView>> {
    let list = act::uploads(&state.services, &caller.actor, &path.mac).await?;
    Ok(Json(UploadsView {
        uploads: list.into_iter().map(Into::into).collect(),
    }))
}

/// An uploaded file as inert text (admins).
#[utoipa::path(
    get,
    path = "/devices/{mac}/uploads/{file}",
    operation_id = "getDeviceUpload",
    tag = "devices",
    params(DeviceFilePath),
    responses(
        (status = 200, description = "The file as the phone sent it", body = String,
            content_type = "text/plain"),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(DeviceFilePath { mac, file: name }): ApiPath<DeviceFilePath>,
) -> ApiResult<Response> {
    let body = act::upload(&state.services, &caller.actor, &mac, name).await?;
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
