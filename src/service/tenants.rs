//! Tenants as a caller may see them.

use super::ServiceResult;
use crate::domain::Actor;
use crate::domain::tenant::Tenant;
use crate::store::Store;
use crate::store::tenants;

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
