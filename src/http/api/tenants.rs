//! Tenants and sites.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::openapi::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable};
use super::views::{SiteView, SitesView, TenantView, TenantsView};
use crate::domain::tenant::{SiteDraft, TenantDraft};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::params::ApiPath;
use crate::service::tenants::{create_tenant, load_tenant, visible_tenants};
use crate::store::tenants;
use crate::store::{StoreError, sites};

/// `/tenants/{tenant}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct TenantPath {
    /// Tenant name (`testsite.com`).
    pub(super) tenant: String,
}

/// `/tenants/{tenant}/sites/{site}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct SitePath {
    /// Tenant name.
    tenant: String,
    /// Site name.
    site: String,
}

/// Creates a tenant (global admins).
///
/// A password mode without passwords gets one generated, shown once in
/// `phone_auth.generated_password`.
#[utoipa::path(
    post,
    path = "/tenants",
    operation_id = "createTenant",
    tag = "tenants",
    request_body = TenantDraft,
    responses(
        (status = 201, description = "Created", body = TenantView),
        BadRequest, Unauthorized, Forbidden, Conflict, Unprocessable,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let (tenant, generated) = create_tenant(&state.services, &caller.actor, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantView::new(&tenant, generated)),
    ))
}

/// Lists the tenants the token may see (admins).
#[utoipa::path(
    get,
    path = "/tenants",
    operation_id = "listTenants",
    tag = "tenants",
    responses(
        (status = 200, description = "The tenants", body = TenantsView),
        Unauthorized, Forbidden,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<TenantsView>> {
    caller.require_admin()?;
    let tenants = visible_tenants(&state.store, &caller.actor)
        .await?
        .iter()
        .map(|t| TenantView::new(t, None))
        .collect();
    Ok(Json(TenantsView { tenants }))
}

/// A tenant and its settings (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}",
    operation_id = "getTenant",
    tag = "tenants",
    params(TenantPath),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
) -> ApiResult<Json<TenantView>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller.actor, path.tenant).await?;
    Ok(Json(TenantView::new(&tenant, None)))
}

/// Changes a tenant's settings, plan or phone-side policy (admins); the name is immutable.
#[utoipa::path(
    patch,
    path = "/tenants/{tenant}",
    operation_id = "updateTenant",
    tag = "tenants",
    params(TenantPath),
    request_body = TenantDraft,
    responses(
        (status = 200, description = "The changed tenant", body = TenantView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<Json<TenantView>> {
    caller.require_admin()?;
    let before = load_tenant(&state.store, &caller.actor, path.tenant).await?;
    let spec = draft.apply_to(before.spec())?;
    let actor = caller.actor.clone();
    let (after, generated) = state
        .store
        .write(move |tx| tenants::update(tx, &actor, &before, spec))
        .await?;
    Ok(Json(TenantView::new(&after, generated)))
}

/// Adds a site to a tenant (admins).
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/sites",
    operation_id = "createSite",
    tag = "tenants",
    params(TenantPath),
    request_body = SiteDraft,
    responses(
        (status = 201, description = "Created", body = SiteView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
    )
)]
pub(super) async fn create_site(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller.actor, path.tenant).await?;
    let spec = draft.into_new()?;
    let actor = caller.actor.clone();
    let site = state
        .store
        .write(move |tx| sites::insert(tx, &actor, tenant.id, &spec))
        .await?;
    Ok((StatusCode::CREATED, Json(SiteView::from(&site))))
}

/// Changes a site's settings or allow-list (admins); the name is immutable.
#[utoipa::path(
    patch,
    path = "/tenants/{tenant}/sites/{site}",
    operation_id = "updateSite",
    tag = "tenants",
    params(SitePath),
    request_body = SiteDraft,
    responses(
        (status = 200, description = "The changed site", body = SiteView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
    )
)]
pub(super) async fn update_site(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<SitePath>,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> ApiResult<Json<SiteView>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller.actor, path.tenant).await?;
    let site = path.site;
    let before = state
        .store
        .read(move |c| match sites::resolve(c, tenant.id, &site, "site") {
            Err(StoreError::Invalid(_)) => Err(StoreError::NotFound("site")),
            other => other,
        })
        .await?;
    let spec = draft.apply_to(before.spec())?;
    let actor = caller.actor.clone();
    let after = state
        .store
        .write(move |tx| sites::update(tx, &actor, &before, &spec))
        .await?;
    Ok(Json(SiteView::from(&after)))
}

/// A tenant's sites (admins).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/sites",
    operation_id = "listSites",
    tag = "tenants",
    params(TenantPath),
    responses(
        (status = 200, description = "The sites", body = SitesView),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn list_sites(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
) -> ApiResult<Json<SitesView>> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, &caller.actor, path.tenant).await?;
    let sites = state.store.read(move |c| sites::list(c, tenant.id)).await?;
    Ok(Json(SitesView {
        sites: sites.iter().map(SiteView::from).collect(),
    }))
}
