//! A phone's history: the events its requests made, newest first.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::devices::DevicePath;
use super::openapi::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::domain::history::EventView;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::params::{ApiPath, ApiQuery, page_limit};

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Limit {
    /// At most this many events (1 to 500) [50].
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Events one answer holds without `?limit=`.
const DEFAULT_LIMIT: u32 = 50;
/// Most events one answer may ask for.
const MAX_LIMIT: u32 = 500;

/// A phone's history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// The events.
    pub events: Vec<EventJson>,
}

/// One event of a phone's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    /// When (RFC 3339).
    pub at: String,
    /// What happened: `first_fetch`, `address`, `user_agent`, `model`, `firmware`,
    /// `new_version`, `refused` or `ban`.
    pub kind: String,
    /// The source address of the request.
    pub ip: String,
    /// Its User-Agent (cut to 256 characters).
    pub user_agent: Option<String>,
    /// The file it asked for.
    pub file: String,
    /// The HTTP status it was answered.
    pub status: u16,
    /// `served`, `not_modified`, `uploaded`, or why it was refused.
    pub result: String,
    /// What it was before (`address`, `user_agent`, `model`, `firmware`), or the new version's
    /// hash (`new_version`).
    pub detail: Option<String>,
}

impl From<EventView> for EventJson {
    fn from(e: EventView) -> Self {
        Self {
            at: e.at,
            kind: e.kind,
            ip: e.ip,
            user_agent: e.ua,
            file: e.file,
            status: e.status,
            result: e.result,
            detail: e.detail,
        }
    }
}

/// The phone's history: its first fetch, changes of address, User-Agent, model or firmware,
/// configuration versions fetched for the first time, refusals (admins).
#[utoipa::path(
    get,
    path = "/devices/{mac}/history",
    operation_id = "getDeviceHistory",
    tag = "devices",
    params(DevicePath, Limit),
    responses(
        (status = 200, description = "The events, newest first", body = HistoryView),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<DevicePath>,
    ApiQuery(query): ApiQuery<Limit>,
) -> ApiResult<Json<HistoryView>> {
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT, "events")?;
    let events =
        crate::service::devices::history_of(&state.services, &caller.actor, &path.mac, limit)
            .await?;
    Ok(Json(HistoryView {
        events: events.into_iter().map(Into::into).collect(),
    }))
}
