//! Users, extensions and SIP aliases.

use super::Services;
use super::{ServiceError, ServiceResult};
use crate::domain::Actor;
use crate::domain::keys::KeyRef;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Alias, User};
use crate::domain::user::{AliasDraft, TenantRules, UserDraft, UserSpec};
use crate::domain::{Extension, RuleError};
use crate::store::keys::{self, KeyChange};
use crate::store::{aliases, audit, users};

use super::languages::{self, Scope};
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
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
) -> ServiceResult<(Tenant, User)> {
    let tenant = load_tenant(services, actor, tenant).await?;
    let id = tenant.id;
    let user = services
        .store
        .read(move |c| users::by_extension(c, id, &extension))
        .await?;
    Ok((tenant, user))
}

/// `spec` with its new portal password hashed, on the blocking pool: Argon2 takes tens of
/// milliseconds of CPU, which must hold neither an async thread nor the store's writer.
pub async fn hashed(mut spec: UserSpec) -> ServiceResult<UserSpec> {
    tokio::task::spawn_blocking(move || {
        spec.hash_portal_password(&mut rand::rng())
            .map_err(|e| ServiceError::Internal(format!("hashing a portal password: {e}")))?;
        Ok(spec)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("hashing task: {e}")))?
}

/// Creates a user in the tenant called `tenant` (admins only).
pub async fn create(
    services: &Services,
    actor: &Actor,
    tenant: String,
    draft: UserDraft,
) -> ServiceResult<User> {
    actor.require_admin()?;
    let tenant = load_tenant(services, actor, tenant).await?;
    let spec = draft.into_new(rules(&tenant), &mut rand::rng())?;
    let spec = hashed(spec).await?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| users::insert(tx, &by, &tenant, &spec))
        .await?)
}

/// The extensions allocated in `tenant` (shortest first) and the next free one of its plan.
pub async fn extensions(
    services: &Services,
    tenant: &Tenant,
) -> ServiceResult<(Vec<String>, Option<Extension>)> {
    let id = tenant.id;
    let taken = services
        .store
        .read(move |c| users::extensions(c, id))
        .await?;
    let next = tenant.extension_plan.next_free(&taken);
    let mut allocated: Vec<String> = taken.into_iter().collect();
    allocated.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    Ok((allocated, next))
}

/// What deleting a user did: its audit entry, and the other users' and devices' keys that
/// watched it and went with it.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The audit entry of the delete (restore it with this id).
    pub audit_id: i64,
    /// The BLF and pickup keys removed, each with its owner and former place.
    pub removed_keys: Vec<KeyRef>,
}

/// Deletes a user (admins only) once `confirm` repeats its extension. The BLF and pickup keys
/// that watch the user go in the same transaction, each list's change audited.
pub async fn remove(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    confirm: Option<&str>,
) -> ServiceResult<Deleted> {
    actor.require_admin()?;
    if confirm != Some(extension.as_str()) {
        return Err(ServiceError::BadRequest(RuleError::new(
            "confirm",
            "confirmation_required",
            format!(
                "to delete this user, repeat its extension as the confirmation: confirm={extension}"
            ),
        )));
    }
    let (_, user) = load_user(services, actor, tenant, extension).await?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| {
            let change = KeyChange {
                actor: &by,
                action: "update",
                tenant_id: user.tenant_id,
            };
            let removed = keys::remove_watching(tx, change, user.spec.extension.as_str())?;
            users::delete(tx, &by, &user, &removed)?;
            Ok(Deleted {
                audit_id: audit::last_id(tx)?,
                removed_keys: removed,
            })
        })
        .await?)
}

/// Adds an alias at the end of a user's order (admins only).
pub async fn add_alias(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    draft: AliasDraft,
) -> ServiceResult<Alias> {
    actor.require_admin()?;
    let (tenant, user) = load_user(services, actor, tenant, extension).await?;
    let spec = draft.into_new(&tenant.sip_username_prefix, &mut rand::rng())?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| aliases::insert(tx, &by, &tenant.sip_username_prefix, &user, &spec))
        .await?)
}

/// Puts a user's aliases in the order of `order` (admins only).
pub async fn reorder_aliases(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    order: Vec<i64>,
) -> ServiceResult<Vec<Alias>> {
    actor.require_admin()?;
    let (_, user) = load_user(services, actor, tenant, extension).await?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| aliases::reorder(tx, &by, &user, &order))
        .await?)
}

/// Deletes alias `id` of a user (admins only).
pub async fn remove_alias(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    id: i64,
) -> ServiceResult<()> {
    actor.require_admin()?;
    let (_, user) = load_user(services, actor, tenant, extension).await?;
    let by = actor.clone();
    services
        .store
        .write(move |tx| {
            let alias = aliases::by_id(tx, user.id, id)?;
            aliases::delete(tx, &by, &user, &alias)
        })
        .await?;
    Ok(())
}

/// A tenant's users by extension, optionally matching `search` in name or extension (admins,
/// and installers of the tenant).
pub async fn list(
    services: &Services,
    actor: &Actor,
    tenant: String,
    search: Option<String>,
) -> ServiceResult<(Tenant, Vec<User>)> {
    let tenant = load_tenant(services, actor, tenant).await?;
    let list = list_in(services, actor, &tenant, search).await?;
    Ok((tenant, list))
}

/// [`list`] for a tenant already loaded.
pub async fn list_in(
    services: &Services,
    actor: &Actor,
    tenant: &Tenant,
    search: Option<String>,
) -> ServiceResult<Vec<User>> {
    actor.require_tenant(tenant)?;
    let id = tenant.id;
    Ok(services
        .store
        .read(move |c| users::list(c, id, search.as_deref()))
        .await?)
}

/// The aliases of a user already loaded, in line order.
pub async fn aliases_of(services: &Services, user: &User) -> ServiceResult<Vec<Alias>> {
    let id = user.id;
    Ok(services
        .store
        .read(move |c| aliases::for_user(c, id))
        .await?)
}

/// A user with their aliases in line order. Secrets are for admins only: `with_secrets`
/// refuses installers.
pub async fn detail(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    with_secrets: bool,
) -> ServiceResult<(User, Vec<Alias>)> {
    if with_secrets {
        actor.require_admin()?;
    }
    let (_, user) = load_user(services, actor, tenant, extension).await?;
    let aliases = aliases_of(services, &user).await?;
    Ok((user, aliases))
}

/// A user's aliases in line order (admins).
pub async fn aliases(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
) -> ServiceResult<Vec<Alias>> {
    actor.require_admin()?;
    Ok(detail(services, actor, tenant, extension, false).await?.1)
}

/// A changed user with their aliases, and the keys whose shown label changed with them.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The user.
    pub user: User,
    /// Their aliases in line order.
    pub aliases: Vec<Alias>,
    /// When the name changed: the keys aimed at the user that have no label of their own, and
    /// so show the new name now.
    pub relabelled_keys: Vec<KeyRef>,
}

/// Changes a user (admins); the extension is immutable.
pub async fn update(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    draft: UserDraft,
) -> ServiceResult<Updated> {
    actor.require_admin()?;
    let (tenant, before) = load_user(services, actor, tenant, extension).await?;
    let spec = draft.apply_to(before.spec.clone(), rules(&tenant))?;
    let spec = hashed(spec).await?;
    let by = actor.clone();
    // A user's phones without a site of their own are at the user's site.
    let site_changes = spec.site != before.spec.site;
    let vendors = services.vendors.clone();
    Ok(services
        .store
        .write(move |tx| {
            let user = users::update(tx, &by, &tenant, &before, &spec)?;
            if site_changes {
                languages::check(tx, &vendors, Scope::User(user.id), "site")?;
            }
            let aliases = aliases::for_user(tx, user.id)?;
            let relabelled_keys = if user.spec.name == before.spec.name {
                Vec::new()
            } else {
                keys::aimed_at(tx, tenant.id, user.spec.extension.as_str())?
                    .into_iter()
                    .filter(|r| r.key.label.is_none())
                    .collect()
            };
            Ok(Updated {
                user,
                aliases,
                relabelled_keys,
            })
        })
        .await?)
}
