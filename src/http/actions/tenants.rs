//! Tenants as a caller may see them.

use crate::domain::tenant::Tenant;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::store::Store;
use crate::store::tenants;

/// Loads a tenant by name and checks the caller may see it.
pub async fn load_tenant(store: &Store, caller: &Caller, name: String) -> ApiResult<Tenant> {
    let tenant = store.read(move |c| tenants::by_name(c, &name)).await?;
    caller.require_tenant(&tenant)?;
    Ok(tenant)
}

/// The tenants the caller may see, by name.
pub async fn visible_tenants(store: &Store, caller: &Caller) -> ApiResult<Vec<Tenant>> {
    let all = store.read(tenants::list).await?;
    Ok(all
        .into_iter()
        .filter(|t| caller.require_tenant(t).is_ok())
        .collect())
}
