//! Tenants and sites.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unprocessable, creating,
};
use super::views::{SiteView, SitesView, TenantView, TenantsView};
use crate::domain::tenant::{SiteDraft, TenantDraft};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::params::ApiPath;
use crate::service::tenants::{self as svc, Generated};

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

/// The body of `POST /tenants`: a [`TenantDraft`] with its name and SIP server.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(super) struct NewTenant(TenantDraft);

impl PartialSchema for NewTenant {
    fn schema() -> RefOr<Schema> {
        creating::<TenantDraft>(
            "A new tenant: its name and SIP server, and any setting of a tenant.",
            &["name", "sip_server"],
        )
    }
}

impl ToSchema for NewTenant {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        TenantDraft::schemas(schemas);
    }
}

/// The body of `POST /tenants/{tenant}/sites`: a [`SiteDraft`] with its name.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(super) struct NewSite(SiteDraft);

impl PartialSchema for NewSite {
    fn schema() -> RefOr<Schema> {
        creating::<SiteDraft>(
            "A new site: its name, and any setting of a site.",
            &["name"],
        )
    }
}

impl ToSchema for NewSite {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        SiteDraft::schemas(schemas);
    }
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
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created", body = TenantView),
        BadRequest, Unauthorized, Forbidden, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(NewTenant(draft)): ApiJson<NewTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let (tenant, generated) = svc::create_tenant(&state.services, &caller.actor, draft).await?;
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
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<TenantsView>> {
    caller.require_admin()?;
    let tenants = svc::visible_tenants(&state.services, &caller.actor)
        .await?
        .iter()
        .map(|t| TenantView::new(t, Generated::default()))
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
    let tenant = svc::tenant(&state.services, &caller.actor, path.tenant).await?;
    Ok(Json(TenantView::new(&tenant, Generated::default())))
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
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<Json<TenantView>> {
    let (after, generated) =
        svc::update_tenant(&state.services, &caller.actor, path.tenant, draft).await?;
    Ok(Json(TenantView::new(&after, generated)))
}

/// Adds a site to a tenant (admins).
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/sites",
    operation_id = "createSite",
    tag = "tenants",
    params(TenantPath),
    request_body = NewSite,
    responses(
        (status = 201, description = "Created", body = SiteView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn create_site(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TenantPath>,
    ApiJson(NewSite(draft)): ApiJson<NewSite>,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    let (site, generated) =
        svc::create_site(&state.services, &caller.actor, path.tenant, draft).await?;
    Ok((StatusCode::CREATED, Json(SiteView::new(&site, generated))))
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
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable,
    )
)]
pub(super) async fn update_site(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<SitePath>,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> ApiResult<Json<SiteView>> {
    let (after, generated) = svc::update_site(
        &state.services,
        &caller.actor,
        path.tenant,
        path.site,
        draft,
    )
    .await?;
    Ok(Json(SiteView::new(&after, generated)))
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
    let tenant = svc::load_tenant(&state.services, &caller.actor, path.tenant).await?;
    let sites = svc::sites(&state.services, &caller.actor, &tenant).await?;
    Ok(Json(SitesView {
        sites: sites.iter().map(SiteView::from).collect(),
    }))
}
