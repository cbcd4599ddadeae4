//! Users, extensions and SIP aliases.

use crate::domain::tenant::Tenant;
use crate::domain::user::{Alias, User};
use crate::domain::user::{AliasDraft, TenantRules, UserDraft};
use crate::domain::{Extension, RuleError};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::store::aliases;

use crate::store::users;

use super::tenants::load_tenant;

/// What the user rules need to know about `tenant`.
pub fn rules(tenant: &Tenant) -> TenantRules<'_> {
    TenantRules {
        plan: &tenant.extension_plan,
        prefix: &tenant.sip_username_prefix,
    }
}

/// Loads the user with `extension` in `tenant`, checking the caller may see the tenant.
pub async fn load_user(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    extension: String,
) -> ApiResult<(Tenant, User)> {
    let tenant = load_tenant(&state.store, caller, tenant).await?;
    let id = tenant.id;
    let user = state
        .store
        .read(move |c| users::by_extension(c, id, &extension))
        .await?;
    Ok((tenant, user))
}

/// Creates a user in the tenant called `tenant` (admins only).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    draft: UserDraft,
) -> ApiResult<User> {
    caller.require_admin()?;
    let tenant = load_tenant(&state.store, caller, tenant).await?;
    let spec = draft.into_new(rules(&tenant), &mut rand::rng())?;
    let actor = caller.actor();
    Ok(state
        .store
        .write(move |tx| users::insert(tx, &actor, &tenant, &spec))
        .await?)
}

/// The extensions allocated in `tenant` (shortest first) and the next free one of its plan.
pub async fn extensions(
    state: &AppState,
    tenant: &Tenant,
) -> ApiResult<(Vec<String>, Option<Extension>)> {
    let id = tenant.id;
    let taken = state.store.read(move |c| users::extensions(c, id)).await?;
    let next = tenant.extension_plan.next_free(&taken);
    let mut allocated: Vec<String> = taken.into_iter().collect();
    allocated.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    Ok((allocated, next))
}

/// Deletes a user (admins only) once `confirm` repeats its extension.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    extension: String,
    confirm: Option<&str>,
) -> ApiResult<()> {
    caller.require_admin()?;
    if confirm != Some(extension.as_str()) {
        return Err(ApiError::BadRequest(RuleError::new(
            "confirm",
            "confirmation_required",
            format!(
                "to delete this user, repeat its extension as the confirmation: confirm={extension}"
            ),
        )));
    }
    let (_, user) = load_user(state, caller, tenant, extension).await?;
    let actor = caller.actor();
    state
        .store
        .write(move |tx| users::delete(tx, &actor, &user))
        .await?;
    Ok(())
}

/// Adds an alias at the end of a user's order (admins only).
pub async fn add_alias(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    extension: String,
    draft: AliasDraft,
) -> ApiResult<Alias> {
    caller.require_admin()?;
    let (tenant, user) = load_user(state, caller, tenant, extension).await?;
    let spec = draft.into_new(&tenant.sip_username_prefix, &mut rand::rng())?;
    let actor = caller.actor();
    Ok(state
        .store
        .write(move |tx| aliases::insert(tx, &actor, &tenant.sip_username_prefix, &user, &spec))
        .await?)
}

/// Puts a user's aliases in the order of `order` (admins only).
pub async fn reorder_aliases(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    extension: String,
    order: Vec<i64>,
) -> ApiResult<Vec<Alias>> {
    caller.require_admin()?;
    let (_, user) = load_user(state, caller, tenant, extension).await?;
    let actor = caller.actor();
    Ok(state
        .store
        .write(move |tx| aliases::reorder(tx, &actor, &user, &order))
        .await?)
}

/// Deletes alias `id` of a user (admins only).
pub async fn remove_alias(
    state: &AppState,
    caller: &Caller,
    tenant: String,
    extension: String,
    id: i64,
) -> ApiResult<()> {
    caller.require_admin()?;
    let (_, user) = load_user(state, caller, tenant, extension).await?;
    let actor = caller.actor();
    state
        .store
        .write(move |tx| {
            let alias = aliases::by_id(tx, user.id, id)?;
            aliases::delete(tx, &actor, &user, &alias)
        })
        .await?;
    Ok(())
}
