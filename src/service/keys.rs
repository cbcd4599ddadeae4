//! Programmable phone keys: a user's list, a device's overrides, and a phone's laid-out keys.

use std::collections::HashSet;

use crate::domain::device::DeviceBundle;
use crate::domain::keys::{self, KeyRules};
use crate::domain::{Actor, Key, KeyDraft, Layout, RuleError};
use crate::profile::provision::key_layout;
use crate::store::keys::{self as stored, KeyChange};
use crate::store::{StoreError, StoreResult, Writer, aliases, users};

use super::devices::{load, vendor_of};
use super::users::load_user;
use super::{ServiceResult, Services};

/// Why `key` cannot be stored among `known` extensions of tenant `tenant`: a BLF or pickup
/// key watches a user who must exist. The error names the bare `value` field.
pub fn target_error(key: &Key, known: &HashSet<String>, tenant: &str) -> Option<RuleError> {
    let watched = (key.kind.watches_user() && !key.external).then_some(key.value.as_str())?;
    (!known.contains(watched)).then(|| {
        RuleError::new(
            "value",
            "key_extension_unknown",
            format!(
                "{tenant} has no user with extension {watched}; a {} key watches a user of the tenant (for anyone else, give a SIP URI with \"external\": true)",
                key.kind
            ),
        )
    })
}

/// `drafts` checked as one list of an owner with `accounts` accounts, every watched user
/// existing in tenant `tenant_id`. Runs inside the write transaction that stores the keys, so
/// a user cannot go between the check and the write.
pub fn checked(
    tx: &Writer<'_>,
    tenant_id: i64,
    drafts: &[KeyDraft],
    accounts: usize,
) -> StoreResult<Vec<Key>> {
    let list = keys::check_list(drafts, &KeyRules { accounts }).map_err(StoreError::Invalid)?;
    let known = users::extensions(tx, tenant_id)?;
    let tenant = crate::store::tenants::by_id(tx, tenant_id)?.name;
    for (i, key) in list.iter().enumerate() {
        if let Some(err) = target_error(key, &known, &tenant) {
            return Err(StoreError::Invalid(keys::in_list(i, err)));
        }
    }
    Ok(list)
}

/// Accounts of a user's plan before any phone caps it: their own and one per alias.
pub fn user_accounts(tx: &Writer<'_>, user_id: i64) -> StoreResult<usize> {
    Ok(1 + aliases::for_user(tx, user_id)?.len())
}

/// A user's keys in order (admins).
pub async fn user_keys(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
) -> ServiceResult<Vec<Key>> {
    actor.require_admin()?;
    let (_, user) = load_user(services, actor, tenant, extension).await?;
    Ok(services
        .store
        .read(move |c| stored::for_user(c, user.id))
        .await?)
}

/// Replaces a user's keys with `drafts` (admins): the whole list, checked, in one audited
/// transaction, or nothing.
pub async fn set_user_keys(
    services: &Services,
    actor: &Actor,
    tenant: String,
    extension: String,
    drafts: Vec<KeyDraft>,
) -> ServiceResult<Vec<Key>> {
    actor.require_admin()?;
    keys::check_count(drafts.len())?;
    let (tenant, user) = load_user(services, actor, tenant, extension).await?;
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| {
            let accounts = user_accounts(tx, user.id)?;
            let list = checked(tx, tenant.id, &drafts, accounts)?;
            let change = KeyChange {
                actor: &by,
                action: "update",
                tenant_id: tenant.id,
            };
            stored::set_for_user(tx, change, &user, &list)?;
            Ok(list)
        })
        .await?)
}

/// A device's own keys in order (admins, installers of the tenant).
pub async fn device_keys(services: &Services, actor: &Actor, mac: &str) -> ServiceResult<Vec<Key>> {
    Ok(load(services, actor, mac).await?.keys.device)
}

/// Accounts on a device: its owner's plan, capped by the model.
pub fn device_accounts(tx: &Writer<'_>, capacity: usize, user_id: i64) -> StoreResult<usize> {
    Ok(user_accounts(tx, user_id)?.min(capacity.max(1)))
}

/// Replaces a device's own keys with `drafts` (admins): the whole list, checked, in one
/// audited transaction, or nothing.
pub async fn set_device_keys(
    services: &Services,
    actor: &Actor,
    mac: &str,
    drafts: Vec<KeyDraft>,
) -> ServiceResult<Vec<Key>> {
    actor.require_admin()?;
    keys::check_count(drafts.len())?;
    let DeviceBundle { device, .. } = load(services, actor, mac).await?;
    let capacity = vendor_of(&services.vendors, &device)?.capacity(device.effective_model());
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| {
            let accounts = device_accounts(tx, capacity, device.user_id)?;
            let list = checked(tx, device.tenant_id, &drafts, accounts)?;
            let change = KeyChange {
                actor: &by,
                action: "update",
                tenant_id: device.tenant_id,
            };
            stored::set_for_device(tx, change, &device, &list)?;
            Ok(list)
        })
        .await?)
}

/// The keys a phone shows, laid out for its model, and those it cannot show (admins,
/// installers of the tenant).
pub async fn layout(
    services: &Services,
    actor: &Actor,
    mac: &str,
) -> ServiceResult<(DeviceBundle, Layout)> {
    let bundle = load(services, actor, mac).await?;
    let vendor = vendor_of(&services.vendors, &bundle.device)?;
    let layout = key_layout(&bundle, vendor);
    Ok((bundle, layout))
}
