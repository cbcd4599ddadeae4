//! Keys back from a delete's snapshot: a user's or device's own list, and the keys of other
//! users and devices that watched a deleted user. Every list is checked again, as a `PUT`
//! would check it.

use serde_json::Value;

use crate::domain::audit::Actor;
use crate::domain::device::Device;
use crate::domain::keys::{KeyOwner, KeyRef};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::domain::{Key, KeyDraft, RuleError};
use crate::profile::Vendors;
use crate::service::keys::{checked, device_accounts, user_accounts};
use crate::store::keys::{self as stored, KeyChange};
use crate::store::{StoreError, StoreResult, Writer, devices, users};

fn change<'a>(actor: &'a Actor, tenant_id: i64) -> KeyChange<'a> {
    KeyChange {
        actor,
        action: "restore",
        tenant_id,
    }
}

/// The drafts under `field` of a snapshot (none when it has no such list).
fn drafts(s: &Value, field: &str) -> StoreResult<Vec<KeyDraft>> {
    Ok(match s.get(field) {
        Some(list) => serde_json::from_value(list.clone())?,
        None => Vec::new(),
    })
}

/// The restored user's own keys.
pub(super) fn own_keys(
    tx: &Writer<'_>,
    actor: &Actor,
    tenant: &Tenant,
    user: &User,
    s: &Value,
) -> StoreResult<Vec<Key>> {
    let drafts = drafts(s, "keys")?;
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let keys = checked(tx, tenant.id, &drafts, user_accounts(tx, user.id)?)?;
    stored::set_for_user(tx, change(actor, tenant.id), user, &keys)?;
    Ok(keys)
}

/// Accounts of `device`'s plan: its owner's, capped by its model.
fn accounts_of(tx: &Writer<'_>, vendors: &Vendors, device: &Device) -> StoreResult<usize> {
    let capacity = vendors
        .get(&device.vendor)
        .map_or(1, |v| v.capacity(device.effective_model()));
    device_accounts(tx, capacity, device.user_id)
}

/// The restored device's own keys.
pub(super) fn device_keys(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    device: &Device,
    s: &Value,
) -> StoreResult<Vec<Key>> {
    let drafts = drafts(s, "keys")?;
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let keys = checked(
        tx,
        device.tenant_id,
        &drafts,
        accounts_of(tx, vendors, device)?,
    )?;
    stored::set_for_device(tx, change(actor, device.tenant_id), device, &keys)?;
    Ok(keys)
}

/// The keys that watched the restored user, each back at its former place in its owner's
/// list; an owner deleted since is skipped (its own delete kept its keys).
pub(super) fn watching_keys(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    tenant: &Tenant,
    s: &Value,
) -> StoreResult<Vec<KeyRef>> {
    let empty = Vec::new();
    let items = s
        .get("removed_keys")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let parsed: Vec<(KeyOwner, usize, KeyDraft)> =
        items.iter().filter_map(KeyRef::from_json).collect();
    let mut owners: Vec<&KeyOwner> = Vec::new();
    for (owner, _, _) in &parsed {
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    let mut restored = Vec::new();
    for owner in owners {
        let mut mine: Vec<(usize, KeyDraft)> = parsed
            .iter()
            .filter(|(o, _, _)| o == owner)
            .map(|(_, i, d)| (*i, d.clone()))
            .collect();
        mine.sort_by_key(|(i, _)| *i);
        restored.extend(back_into(tx, actor, vendors, tenant, owner, mine)?);
    }
    Ok(restored)
}

/// A list as it stands, with what its owner needs to write it back.
enum Owner {
    User(User),
    Device(Device),
}

/// Puts `keys` back into `owner`'s list at their places (an index past the end appends), checks
/// the list and writes it.
fn back_into(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    tenant: &Tenant,
    owner: &KeyOwner,
    keys: Vec<(usize, KeyDraft)>,
) -> StoreResult<Vec<KeyRef>> {
    let Some(found) = find(tx, tenant, owner)? else {
        return Ok(Vec::new());
    };
    let (current, accounts) = match &found {
        Owner::User(u) => (stored::for_user(tx, u.id)?, user_accounts(tx, u.id)?),
        Owner::Device(d) => (stored::for_device(tx, d.id)?, accounts_of(tx, vendors, d)?),
    };
    let mut drafts: Vec<KeyDraft> = current.iter().map(Key::to_draft).collect();
    let mut places = Vec::new();
    for (index, draft) in keys {
        let at = index.min(drafts.len());
        drafts.insert(at, draft);
        places.push(at);
    }
    let list = checked(tx, tenant.id, &drafts, accounts).map_err(|e| refused(owner, e))?;
    match &found {
        Owner::User(u) => stored::set_for_user(tx, change(actor, tenant.id), u, &list)?,
        Owner::Device(d) => stored::set_for_device(tx, change(actor, tenant.id), d, &list)?,
    }
    Ok(places
        .into_iter()
        .map(|index| KeyRef {
            owner: owner.clone(),
            index,
            key: list[index].clone(),
        })
        .collect())
}

/// The owner of a list, if it is still in `tenant`.
fn find(tx: &Writer<'_>, tenant: &Tenant, owner: &KeyOwner) -> StoreResult<Option<Owner>> {
    let found = match owner {
        KeyOwner::User(ext) => users::by_extension(tx, tenant.id, ext).map(Owner::User),
        KeyOwner::Device(mac) => devices::by_mac(tx, mac).and_then(|d| {
            if d.tenant_id == tenant.id {
                Ok(Owner::Device(d))
            } else {
                Err(StoreError::NotFound("device"))
            }
        }),
    };
    match found {
        Ok(owner) => Ok(Some(owner)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A list that no longer takes its keys back: the restore is refused, naming whose list.
fn refused(owner: &KeyOwner, err: StoreError) -> StoreError {
    let whose = match owner {
        KeyOwner::User(ext) => format!("user {ext}"),
        KeyOwner::Device(mac) => format!("device {}", mac.lower12()),
    };
    match err {
        StoreError::Invalid(e) | StoreError::Conflict(e) => StoreError::Conflict(RuleError::new(
            "removed_keys",
            e.code,
            format!(
                "a key the delete removed from {whose} cannot go back ({}: {}); change that list first",
                e.field, e.message
            ),
        )),
        e => e,
    }
}
