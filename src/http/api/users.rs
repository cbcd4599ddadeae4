//! Users, extensions and SIP aliases.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::user::{AliasDraft, UserDraft};
use crate::http::AppState;
use crate::http::actions::tenants::load_tenant;
use crate::http::actions::users::{self as act, load_user};
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::store::aliases::{self, Alias};
use crate::store::users::{self, User};

/// `?reveal=true`: admins may ask for SIP passwords.
#[derive(Debug, Deserialize)]
pub(super) struct Reveal {
    #[serde(default)]
    reveal: bool,
}

fn user_body(user: &User, aliases: &[Alias], reveal: bool) -> Value {
    let mut body = user.to_json();
    body["aliases"] = aliases
        .iter()
        .map(|a| if reveal { a.snapshot() } else { a.to_json() })
        .collect();
    if reveal {
        body["sip_password"] = json!(user.spec.sip_password.expose());
    }
    body
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    ApiJson(draft): ApiJson<UserDraft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = act::create(&state, &caller, tenant, draft).await?;
    Ok((StatusCode::CREATED, Json(user_body(&user, &[], false))))
}

/// `?q=` filters by name or extension.
#[derive(Debug, Deserialize)]
pub(super) struct Search {
    q: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(search): Query<Search>,
) -> ApiResult<Json<Value>> {
    let tenant = load_tenant(&state.store, &caller, tenant).await?;
    let list = state
        .store
        .read(move |c| users::list(c, tenant.id, search.q.as_deref()))
        .await?;
    Ok(Json(
        json!({ "users": list.iter().map(User::to_json).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
    Query(reveal): Query<Reveal>,
) -> ApiResult<Json<Value>> {
    if reveal.reveal {
        caller.require_admin()?;
    }
    let (_, user) = load_user(&state, &caller, tenant, extension).await?;
    let id = user.id;
    let aliases = state.store.read(move |c| aliases::for_user(c, id)).await?;
    Ok(Json(user_body(&user, &aliases, reveal.reveal)))
}

pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
    ApiJson(draft): ApiJson<UserDraft>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let (tenant, before) = load_user(&state, &caller, tenant, extension).await?;
    let spec = draft.apply_to(before.spec.clone(), act::rules(&tenant))?;
    let actor = caller.actor();
    let (user, aliases) = state
        .store
        .write(move |tx| {
            let user = users::update(tx, &actor, &tenant, &before, &spec)?;
            let aliases = aliases::for_user(tx, user.id)?;
            Ok((user, aliases))
        })
        .await?;
    Ok(Json(user_body(&user, &aliases, false)))
}

/// `?confirm=<extension>` guards deletes against a wrong click.
#[derive(Debug, Deserialize)]
pub(super) struct Confirm {
    confirm: Option<String>,
}

pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
    Query(confirm): Query<Confirm>,
) -> ApiResult<StatusCode> {
    act::remove(
        &state,
        &caller,
        tenant,
        extension,
        confirm.confirm.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn extensions(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller, tenant).await?;
    let (allocated, next) = act::extensions(&state, &tenant).await?;
    Ok(Json(
        json!({ "allocated": allocated, "next_free": next, "plan": tenant.extension_plan }),
    ))
}

pub(super) async fn add_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
    ApiJson(draft): ApiJson<AliasDraft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let alias = act::add_alias(&state, &caller, tenant, extension, draft).await?;
    Ok((StatusCode::CREATED, Json(alias.to_json())))
}

pub(super) async fn list_aliases(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let (_, user) = load_user(&state, &caller, tenant, extension).await?;
    let list = state
        .store
        .read(move |c| aliases::for_user(c, user.id))
        .await?;
    Ok(Json(
        json!({ "aliases": list.iter().map(Alias::to_json).collect::<Vec<_>>() }),
    ))
}

/// `{"order": [alias ids]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Order {
    order: Vec<i64>,
}

pub(super) async fn reorder_aliases(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension)): Path<(String, String)>,
    ApiJson(order): ApiJson<Order>,
) -> ApiResult<Json<Value>> {
    let list = act::reorder_aliases(&state, &caller, tenant, extension, order.order).await?;
    Ok(Json(
        json!({ "aliases": list.iter().map(Alias::to_json).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn remove_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, extension, id)): Path<(String, String, i64)>,
) -> ApiResult<StatusCode> {
    act::remove_alias(&state, &caller, tenant, extension, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
