//! Users, extensions and SIP aliases.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::key_views::DeletedUserView;
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unprocessable, creating,
};
use super::tenants::TenantPath;
use super::views::{AliasView, AliasesView, ExtensionsView, UserDetailView, UserView, UsersView};
use crate::domain::user::{AliasDraft, UserDraft};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::params::{ApiPath, ApiQuery};
use crate::service::tenants::load_tenant;
use crate::service::users as act;

/// `/tenants/{tenant}/users/{extension}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct UserPath {
    /// Tenant name.
    pub(super) tenant: String,
    /// The user's extension.
    pub(super) extension: String,
}

/// `/tenants/{tenant}/users/{extension}/aliases/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AliasPath {
    /// Tenant name.
    tenant: String,
    /// The owner's extension.
    extension: String,
    /// Alias id.
    id: i64,
}

/// `?reveal=true`: admins may ask for SIP passwords.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Reveal {
    /// Show the SIP passwords of the user and their aliases (admins only).
    #[serde(default)]
    reveal: bool,
}

/// The body of `POST …/users`: a [`UserDraft`] with a name and an extension.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(super) struct NewUser(UserDraft);

impl PartialSchema for NewUser {
    fn schema() -> RefOr<Schema> {
        creating::<UserDraft>(
            "A new user: a name and an extension, and any other field of a user.",
            &["name", "extension"],
        )
    }
}

impl ToSchema for NewUser {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        UserDraft::schemas(schemas);
    }
}

/// Creates a user (admins). A missing SIP password is generated; passwords are never echoed.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/users",
    operation_id = "createUser",
    tag = "users",
    params(TenantPath),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserDetailView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiJson(NewUser(draft)): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserDetailView>)> {
    let user = act::create(&state.services, &caller.actor, path.tenant, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserDetailView::new(&user, &[], false)),
    ))
}

/// `?q=` filters by name or extension.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Search {
    /// Part of a name or an extension.
    q: Option<String>,
}

/// A tenant's users with status tags (admins, installers).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/users",
    operation_id = "listUsers",
    tag = "users",
    params(TenantPath, Search),
    responses(
        (status = 200, description = "The users", body = UsersView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiQuery(search): ApiQuery<Search>,
) -> ApiResult<Json<UsersView>> {
    let (_, list) = act::list(&state.services, &caller.actor, path.tenant, search.q).await?;
    Ok(Json(UsersView {
        users: list.iter().map(UserView::from).collect(),
    }))
}

/// A user with their aliases (admins; installers without secrets).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/users/{extension}",
    operation_id = "getUser",
    tag = "users",
    params(UserPath, Reveal),
    responses(
        (status = 200, description = "The user", body = UserDetailView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiQuery(reveal): ApiQuery<Reveal>,
) -> ApiResult<Json<UserDetailView>> {
    let UserPath { tenant, extension } = path;
    let (user, aliases) = act::detail(
        &state.services,
        &caller.actor,
        tenant,
        extension,
        reveal.reveal,
    )
    .await?;
    Ok(Json(UserDetailView::new(&user, &aliases, reveal.reveal)))
}

/// Changes a user (admins); the extension is immutable, `null` clears a field.
///
/// A new name shows on every key aimed at the user that has no label of its own: those keys
/// are listed in `relabelled_keys`.
#[utoipa::path(
    patch,
    path = "/tenants/{tenant}/users/{extension}",
    operation_id = "updateUser",
    tag = "users",
    params(UserPath),
    request_body = UserDraft,
    responses(
        (status = 200, description = "The changed user", body = UserDetailView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(draft): ApiJson<UserDraft>,
) -> ApiResult<Json<UserDetailView>> {
    let UserPath { tenant, extension } = path;
    let updated = act::update(&state.services, &caller.actor, tenant, extension, draft).await?;
    Ok(Json(
        UserDetailView::new(&updated.user, &updated.aliases, false)
            .relabelled(&updated.relabelled_keys),
    ))
}

/// `?confirm=<extension>` guards deletes against a wrong click.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Confirm {
    /// The user's extension again, to confirm the delete.
    #[param(required = true)]
    confirm: Option<String>,
}

/// Deletes a user with their aliases and keys (admins).
///
/// The record is kept in the audit log; refused while devices are assigned. Other users' and
/// devices' BLF and pickup keys that watch the user go with it and are listed in the answer.
#[utoipa::path(
    delete,
    path = "/tenants/{tenant}/users/{extension}",
    operation_id = "deleteUser",
    tag = "users",
    params(UserPath, Confirm),
    responses(
        (status = 200, description = "Deleted", body = DeletedUserView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiQuery(confirm): ApiQuery<Confirm>,
) -> ApiResult<Json<DeletedUserView>> {
    let UserPath { tenant, extension } = path;
    let deleted = act::remove(
        &state.services,
        &caller.actor,
        tenant,
        extension.clone(),
        confirm.confirm.as_deref(),
    )
    .await?;
    Ok(Json(DeletedUserView {
        extension,
        audit_id: deleted.audit_id,
        removed_keys: deleted.removed_keys.iter().map(Into::into).collect(),
    }))
}

/// Extensions in use, the next free one, and the plan (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/extensions",
    operation_id = "getExtensions",
    tag = "users",
    params(TenantPath),
    responses(
        (status = 200, description = "The allocation", body = ExtensionsView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn extensions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
) -> ApiResult<Json<ExtensionsView>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.services, &caller.actor, path.tenant).await?;
    let (allocated, next) = act::extensions(&state.services, &tenant).await?;
    Ok(Json(ExtensionsView {
        allocated,
        next_free: next.map(|e| e.as_str().to_owned()),
        plan: tenant.extension_plan,
    }))
}

/// Adds a SIP alias at the end of a user's order (admins).
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/users/{extension}/aliases",
    operation_id = "createAlias",
    tag = "users",
    params(UserPath),
    request_body = AliasDraft,
    responses(
        (status = 201, description = "Created", body = AliasView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn add_alias(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(draft): ApiJson<AliasDraft>,
) -> ApiResult<(StatusCode, Json<AliasView>)> {
    let UserPath { tenant, extension } = path;
    let alias = act::add_alias(&state.services, &caller.actor, tenant, extension, draft).await?;
    Ok((StatusCode::CREATED, Json(AliasView::new(&alias, false))))
}

/// A user's aliases in line order (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/users/{extension}/aliases",
    operation_id = "listAliases",
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, description = "The aliases", body = AliasesView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn list_aliases(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> ApiResult<Json<AliasesView>> {
    let UserPath { tenant, extension } = path;
    let list = act::aliases(&state.services, &caller.actor, tenant, extension).await?;
    Ok(Json(AliasesView::new(&list)))
}

/// The new order of a user's aliases.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AliasOrder {
    /// Every alias id of the user exactly once, in line order.
    #[schema(example = json!([12, 11]))]
    order: Vec<i64>,
}

/// Reorders a user's aliases (admins).
#[utoipa::path(
    put,
    path = "/tenants/{tenant}/users/{extension}/aliases/order",
    operation_id = "reorderAliases",
    tag = "users",
    params(UserPath),
    request_body = AliasOrder,
    responses(
        (status = 200, description = "The aliases in their new order", body = AliasesView),
        BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, Unprocessable,
    )
)]
pub(super) async fn reorder_aliases(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(order): ApiJson<AliasOrder>,
) -> ApiResult<Json<AliasesView>> {
    let UserPath { tenant, extension } = path;
    let list = act::reorder_aliases(
        &state.services,
        &caller.actor,
        tenant,
        extension,
        order.order,
    )
    .await?;
    Ok(Json(AliasesView::new(&list)))
}

/// Deletes an alias (admins); the ones after it move up a line.
#[utoipa::path(
    delete,
    path = "/tenants/{tenant}/users/{extension}/aliases/{id}",
    operation_id = "deleteAlias",
    tag = "users",
    params(AliasPath),
    responses(
        (status = 204, description = "Deleted"),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn remove_alias(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AliasPath>,
) -> ApiResult<StatusCode> {
    let AliasPath {
        tenant,
        extension,
        id,
    } = path;
    act::remove_alias(&state.services, &caller.actor, tenant, extension, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
