//! Tenants: creating them, and the ones a caller may see.

use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::tenant::{Tenant, TenantDraft};
use crate::store::Store;
use crate::store::tenants;

/// Creates a tenant (admins not bound to a tenant only). Returns it and the phone password
/// generated for it, when its phone-auth mode needs one and none was given (shown once).
pub async fn create_tenant(
    services: &Services,
    actor: &Actor,
    draft: TenantDraft,
) -> ServiceResult<(Tenant, Option<String>)> {
    actor.require_global_admin()?;
    let spec = draft.into_new()?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| tenants::insert(tx, &by, spec))
        .await?)
}

/// Loads a tenant by name and checks the caller may see it.
pub async fn load_tenant(store: &Store, actor: &Actor, name: String) -> ServiceResult<Tenant> {
    let tenant = store.read(move |c| tenants::by_name(c, &name)).await?;
    actor.require_tenant(&tenant)?;
    Ok(tenant)
}

/// The tenants the caller may see, by name.
pub async fn visible_tenants(store: &Store, actor: &Actor) -> ServiceResult<Vec<Tenant>> {
    let all = store.read(tenants::list).await?;
    Ok(all
        .into_iter()
        .filter(|t| actor.require_tenant(t).is_ok())
        .collect())
}
