//! Tenants and their sites: creating and changing them, and loading them as an actor may see
//! them.

use super::languages::{self, Scope};
use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::tenant::{Site, SiteDraft, Tenant, TenantDraft, TenantSummary};
use crate::store::{StoreError, sites, tenants};

/// Loads a tenant by name and checks the actor may see it.
pub async fn load_tenant(
    services: &Services,
    actor: &Actor,
    name: String,
) -> ServiceResult<Tenant> {
    let tenant = services
        .store
        .read(move |c| tenants::by_name(c, &name))
        .await?;
    actor.require_tenant(&tenant)?;
    Ok(tenant)
}

/// The tenants the actor may see, by name.
pub async fn visible_tenants(services: &Services, actor: &Actor) -> ServiceResult<Vec<Tenant>> {
    let all = services.store.read(tenants::list).await?;
    Ok(all
        .into_iter()
        .filter(|t| actor.require_tenant(t).is_ok())
        .collect())
}

/// The tenant called `name` with its settings (admins).
pub async fn tenant(services: &Services, actor: &Actor, name: String) -> ServiceResult<Tenant> {
    actor.require_admin()?;
    load_tenant(services, actor, name).await
}

/// Every tenant the actor may see with its user and device counts.
pub async fn summaries(services: &Services, actor: &Actor) -> ServiceResult<Vec<TenantSummary>> {
    let scope = actor.tenant_id;
    Ok(services
        .store
        .read(tenants::summaries)
        .await?
        .into_iter()
        .filter(|t| scope.is_none_or(|id| id == t.id))
        .collect())
}

/// Passwords a change generated, to show once.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The tenant's phone (HTTP) password, when its policy asked for a generated one.
    pub phone_password: Option<String>,
    /// The admin password of the tenant's or site's phones, when `"generate"` asked for one.
    pub admin_password: Option<String>,
}

/// Creates a tenant (admins not bound to a tenant). Returns it and the passwords generated for
/// it, if any (shown once).
pub async fn create_tenant(
    services: &Services,
    actor: &Actor,
    draft: TenantDraft,
) -> ServiceResult<(Tenant, Generated)> {
    actor.require_global_admin()?;
    let mut spec = draft.into_new()?;
    let admin_password = spec.settle_admin_password(&mut rand::rng());
    let by = actor.clone();
    let (tenant, phone_password) = services
        .store
        .write(move |tx| tenants::insert(tx, &by, spec))
        .await?;
    let generated = Generated {
        phone_password,
        admin_password,
    };
    Ok((tenant, generated))
}

/// Changes a tenant's settings, plan or phone-side policy (admins); the name is immutable.
/// Returns the changed tenant and the passwords generated, if any. A language some registered
/// phone's family cannot show is refused (see [`languages`]).
pub async fn update_tenant(
    services: &Services,
    actor: &Actor,
    name: String,
    draft: TenantDraft,
) -> ServiceResult<(Tenant, Generated)> {
    actor.require_admin()?;
    let before = load_tenant(services, actor, name).await?;
    let language_changes = draft.language.is_some();
    let mut spec = draft.apply_to(before.spec())?;
    let admin_password = spec.settle_admin_password(&mut rand::rng());
    let by = actor.clone();
    let vendors = services.vendors.clone();
    let (tenant, phone_password) = services
        .store
        .write(move |tx| {
            let changed = tenants::update(tx, &by, &before, spec)?;
            if language_changes {
                languages::check(tx, &vendors, Scope::Tenant(before.id), "language")?;
            }
            Ok(changed)
        })
        .await?;
    let generated = Generated {
        phone_password,
        admin_password,
    };
    Ok((tenant, generated))
}

/// Adds a site to a tenant (admins). Returns it and the admin password generated for its
/// phones, if `"generate"` asked for one (shown once).
pub async fn create_site(
    services: &Services,
    actor: &Actor,
    tenant: String,
    draft: SiteDraft,
) -> ServiceResult<(Site, Option<String>)> {
    actor.require_admin()?;
    let tenant = load_tenant(services, actor, tenant).await?;
    let mut spec = draft.into_new()?;
    let generated = spec.settle_admin_password(&mut rand::rng());
    let by = actor.clone();
    let site = services
        .store
        .write(move |tx| sites::insert(tx, &by, tenant.id, &spec))
        .await?;
    Ok((site, generated))
}

/// Changes a site's settings or allow-list (admins); the name is immutable. Returns it and the
/// admin password generated for its phones, if any. A language some registered phone's family
/// cannot show is refused (see [`languages`]).
pub async fn update_site(
    services: &Services,
    actor: &Actor,
    tenant: String,
    site: String,
    draft: SiteDraft,
) -> ServiceResult<(Site, Option<String>)> {
    actor.require_admin()?;
    let tenant = load_tenant(services, actor, tenant).await?;
    let before = services
        .store
        .read(move |c| match sites::resolve(c, tenant.id, &site, "site") {
            Err(StoreError::Invalid(_)) => Err(StoreError::NotFound("site")),
            other => other,
        })
        .await?;
    let language_changes = draft.language.is_some();
    let mut spec = draft.apply_to(before.spec())?;
    let generated = spec.settle_admin_password(&mut rand::rng());
    let by = actor.clone();
    let vendors = services.vendors.clone();
    let site = services
        .store
        .write(move |tx| {
            let changed = sites::update(tx, &by, &before, &spec)?;
            if language_changes {
                languages::check(tx, &vendors, Scope::Tenant(before.tenant_id), "language")?;
            }
            Ok(changed)
        })
        .await?;
    Ok((site, generated))
}

/// A tenant's sites (admins, and installers of the tenant for the pages' pickers).
pub async fn sites(
    services: &Services,
    actor: &Actor,
    tenant: &Tenant,
) -> ServiceResult<Vec<Site>> {
    actor.require_tenant(tenant)?;
    let id = tenant.id;
    Ok(services.store.read(move |c| sites::list(c, id)).await?)
}
