//! Programmable phone keys: a user's keys, a device's overrides, a phone's layout.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::devices::DevicePath;
use super::key_views::{KeysView, LayoutView};
use super::openapi::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, Unprocessable};
use super::users::UserPath;
use crate::domain::KeyDraft;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::params::ApiPath;
use crate::service::keys as act;

/// The body of `PUT …/keys`: the whole new list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct KeysBody {
    /// Every key, in order: pinned ones take their position, the others the next free key.
    #[schema(example = json!([
        {"type": "blf", "value": "102"},
        {"type": "speed_dial", "value": "+4930123456", "label": "Office"},
        {"type": "park", "value": "701", "position": 6},
        {"type": "blf", "value": "sip:desk@pbx.other.example", "external": true, "module": 1, "position": 1}
    ]))]
    #[schema(max_items = 256)]
    keys: Vec<KeyDraft>,
}

/// A user's programmable keys, which follow them to every phone they own (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/users/{extension}/keys",
    operation_id = "getUserKeys",
    tag = "keys",
    params(UserPath),
    responses(
        (status = 200, description = "The user's keys in order", body = KeysView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn user_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> ApiResult<Json<KeysView>> {
    let UserPath { tenant, extension } = path;
    let list = act::user_keys(&state.services, &caller.actor, tenant, extension).await?;
    Ok(Json(KeysView::new(&list)))
}

/// Replaces a user's programmable keys with the list given (admins).
///
/// The whole list is checked and written in one audited transaction, or nothing is.
#[utoipa::path(
    put,
    path = "/tenants/{tenant}/users/{extension}/keys",
    operation_id = "setUserKeys",
    tag = "keys",
    params(UserPath),
    request_body = KeysBody,
    responses(
        (status = 200, description = "The user's keys as stored", body = KeysView),
        BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, Unprocessable,
    )
)]
pub(super) async fn set_user_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<KeysBody>,
) -> ApiResult<Json<KeysView>> {
    let UserPath { tenant, extension } = path;
    let list =
        act::set_user_keys(&state.services, &caller.actor, tenant, extension, body.keys).await?;
    Ok(Json(KeysView::new(&list)))
}

/// A device's own keys: each replaces the key at its position on this phone (admins,
/// installers of the tenant).
#[utoipa::path(
    get,
    path = "/devices/{mac}/keys",
    operation_id = "getDeviceKeys",
    tag = "keys",
    params(DevicePath),
    responses(
        (status = 200, description = "The device's keys in order", body = KeysView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn device_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<KeysView>> {
    let list = act::device_keys(&state.services, &caller.actor, &path.mac).await?;
    Ok(Json(KeysView::new(&list)))
}

/// Replaces a device's own keys with the list given (admins).
///
/// The whole list is checked and written in one audited transaction, or nothing is.
#[utoipa::path(
    put,
    path = "/devices/{mac}/keys",
    operation_id = "setDeviceKeys",
    tag = "keys",
    params(DevicePath),
    request_body = KeysBody,
    responses(
        (status = 200, description = "The device's keys as stored", body = KeysView),
        BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, Unprocessable,
    )
)]
pub(super) async fn set_device_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
    ApiJson(body): ApiJson<KeysBody>,
) -> ApiResult<Json<KeysView>> {
    let list = act::set_device_keys(&state.services, &caller.actor, &path.mac, body.keys).await?;
    Ok(Json(KeysView::new(&list)))
}

/// Every key the phone shows, laid out for its model, and the keys it cannot show (admins,
/// installers of the tenant).
///
/// The plan's accounts take keys 1…N, the owner's keys follow (pinned ones at their
/// position), the device's own keys replace the key at their position.
#[utoipa::path(
    get,
    path = "/devices/{mac}/layout",
    operation_id = "getDeviceLayout",
    tag = "keys",
    params(DevicePath),
    responses(
        (status = 200, description = "The key layout", body = LayoutView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn layout(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
) -> ApiResult<Json<LayoutView>> {
    let (bundle, layout) = act::layout(&state.services, &caller.actor, &path.mac).await?;
    let model = bundle.device.effective_model().map(str::to_owned);
    Ok(Json(LayoutView::new(model, &layout)))
}
