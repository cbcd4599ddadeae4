//! Restoring a deleted user, alias or device from the snapshot its audit entry keeps, with
//! their keys (and, for a user, the other users' and devices' keys that watched them).
//!
//! A restore re-creates the record through the same drafts and store functions as the API, so
//! every rule is checked again against today's data: a re-used extension, a MAC registered
//! again, a SIP username taken since, a user gone, a full device limit all refuse the restore,
//! naming the field, and nothing is written.

use crate::store::Writer;
use serde_json::{Value, json};

use crate::domain::RuleError;
use crate::domain::audit::{Actor, StoredEntry};
use crate::domain::device::DeviceDraft;
use crate::domain::keys::KeyRef;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Alias, AliasDraft, User, UserDraft};
use crate::profile::Vendors;
use crate::service::languages::{self, Scope};
use crate::service::users::rules;
use crate::service::{ServiceResult, Services};
use crate::store::keys as stored_keys;
use crate::store::{StoreError, StoreResult, aliases, audit, devices, tenants, users};

mod keys;

/// What a restore re-created.
#[derive(Debug, Clone)]
pub struct Restored {
    /// `user`, `alias` or `device`.
    pub entity: String,
    /// How people name it now (extension, `extension/alias id`, MAC).
    pub key: String,
    /// The record as the API shows it (without secrets).
    pub record: Value,
    /// The audit entry recording the restore.
    pub entry: i64,
}

/// Restores the delete recorded in audit entry `audit_id` (admins only). An actor bound to a
/// tenant sees only that tenant's entries; others look absent.
pub async fn restore(services: &Services, actor: &Actor, audit_id: i64) -> ServiceResult<Restored> {
    actor.require_admin()?;
    let by = actor.clone();
    let vendors = services.vendors.clone();
    Ok(services
        .store
        .write(move |tx| restore_entry(tx, &by, &vendors, audit_id))
        .await?)
}

/// The restore inside its transaction.
fn restore_entry(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    id: i64,
) -> StoreResult<Restored> {
    let entry = audit::stored(tx, id)?;
    if actor.tenant_id.is_some() && entry.tenant_id != actor.tenant_id {
        return Err(StoreError::NotFound("audit entry"));
    }
    let snapshot = restorable(&entry)?;
    let tenant_id = entry.tenant_id.ok_or(StoreError::NotFound("tenant"))?;
    let tenant = tenants::by_id(tx, tenant_id)?;
    let restored = match entry.entity.as_str() {
        "user" => user(tx, actor, vendors, &tenant, snapshot)?,
        "alias" => alias(tx, actor, &tenant, &entry.key, snapshot)?,
        _ => device(tx, actor, vendors, &tenant, snapshot)?,
    };
    if !audit::mark_restored(tx, entry.id, restored.entry)? {
        return Err(already_restored(entry.id));
    }
    Ok(restored)
}

fn already_restored(id: i64) -> StoreError {
    StoreError::Conflict(RuleError::new(
        "id",
        "already_restored",
        format!("the delete in audit entry {id} has been restored already"),
    ))
}

/// The snapshot of a delete of a user, alias or device that was not restored yet.
fn restorable(entry: &StoredEntry) -> StoreResult<&Value> {
    let kind_ok = matches!(entry.entity.as_str(), "user" | "alias" | "device");
    match &entry.snapshot {
        Some(snapshot) if entry.action == "delete" && kind_ok => {
            if entry.restored_by.is_some() {
                Err(already_restored(entry.id))
            } else {
                Ok(snapshot)
            }
        }
        _ => Err(StoreError::Invalid(RuleError::new(
            "id",
            "not_restorable",
            format!(
                "only deletes of users, aliases and devices can be restored; entry {} is a {} of a {}",
                entry.id, entry.action, entry.entity
            ),
        ))),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn user(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    tenant: &Tenant,
    s: &Value,
) -> StoreResult<Restored> {
    let draft = UserDraft {
        name: text(s, "name"),
        email: Some(text(s, "email")),
        extension: text(s, "extension"),
        role: text(s, "role"),
        admin: s.get("admin").and_then(Value::as_bool),
        department: Some(text(s, "department")),
        site: Some(text(s, "site")),
        sip_username: text(s, "sip_username"),
        sip_password: text(s, "sip_password"),
        voicemail_pin: Some(text(s, "voicemail_pin")),
        caller_id: Some(text(s, "caller_id")),
        phone_numbers: s
            .get("phone_numbers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }),
        external_sip: Some(text(s, "external_sip")),
        portal_password: None,
        max_devices: Some(
            s.get("max_devices")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
        ),
    };
    let spec = draft
        .into_new(rules(tenant), &mut rand::rng())
        .map_err(StoreError::Invalid)?;
    let user = users::restore(tx, actor, tenant, &spec, text(s, "portal_password_hash"))?;
    let entry = audit::last_id(tx)?;
    let mut record = user.to_json();
    record["aliases"] = Value::Array(user_aliases(tx, actor, tenant, &user, s)?);
    let own = keys::own_keys(tx, actor, tenant, &user, s)?;
    record["keys"] = stored_keys::list_json(&own);
    let back = keys::watching_keys(tx, actor, vendors, tenant, s)?;
    record["restored_keys"] = back.iter().map(KeyRef::to_json).collect();
    Ok(Restored {
        entity: "user".into(),
        key: user.spec.extension.to_string(),
        record,
        entry,
    })
}

/// The user's aliases from the snapshot, in their order; errors name `aliases[i].field`.
fn user_aliases(
    tx: &Writer<'_>,
    actor: &Actor,
    tenant: &Tenant,
    user: &User,
    s: &Value,
) -> StoreResult<Vec<Value>> {
    let mut restored = Vec::new();
    let empty = Vec::new();
    let snapshots = s.get("aliases").and_then(Value::as_array).unwrap_or(&empty);
    for (i, a) in snapshots.iter().enumerate() {
        let in_list = |e: RuleError| {
            let field = format!("aliases[{i}].{}", e.field);
            e.in_field(field)
        };
        let alias = restore_alias(tx, actor, tenant, user, a).map_err(|e| match e {
            StoreError::Conflict(r) => StoreError::Conflict(in_list(r)),
            StoreError::Invalid(r) => StoreError::Invalid(in_list(r)),
            e => e,
        })?;
        restored.push(alias.to_json());
    }
    Ok(restored)
}

fn restore_alias(
    tx: &Writer<'_>,
    actor: &Actor,
    tenant: &Tenant,
    owner: &User,
    s: &Value,
) -> StoreResult<Alias> {
    let spec = AliasDraft {
        name: text(s, "name"),
        sip_username: text(s, "sip_username"),
        sip_password: text(s, "sip_password"),
    }
    .into_new(&tenant.sip_username_prefix, &mut rand::rng())
    .map_err(StoreError::Invalid)?;
    aliases::insert_as(
        tx,
        actor,
        "restore",
        &tenant.sip_username_prefix,
        owner,
        &spec,
    )
}

/// The owner of a restored alias or device, which must still exist.
fn owner(tx: &Writer<'_>, tenant: &Tenant, extension: &str) -> StoreResult<User> {
    users::by_extension(tx, tenant.id, extension).map_err(|e| match e {
        StoreError::NotFound(_) => StoreError::Invalid(RuleError::new(
            "extension",
            "user_unknown",
            format!(
                "{} has no user with extension {extension} any more; restore that user first",
                tenant.name
            ),
        )),
        e => e,
    })
}

fn alias(
    tx: &Writer<'_>,
    actor: &Actor,
    tenant: &Tenant,
    key: &str,
    s: &Value,
) -> StoreResult<Restored> {
    let extension = key.split('/').next().unwrap_or_default();
    let user = owner(tx, tenant, extension)?;
    let alias = restore_alias(tx, actor, tenant, &user, s)?;
    Ok(Restored {
        entity: "alias".into(),
        key: format!("{}/{}", user.spec.extension, alias.id),
        record: alias.to_json(),
        entry: audit::last_id(tx)?,
    })
}

fn device(
    tx: &Writer<'_>,
    actor: &Actor,
    vendors: &Vendors,
    tenant: &Tenant,
    s: &Value,
) -> StoreResult<Restored> {
    let extension = text(s, "extension").unwrap_or_default();
    owner(tx, tenant, &extension)?;
    let spec = DeviceDraft {
        mac: text(s, "mac"),
        tenant: Some(tenant.name.clone()),
        extension: Some(extension),
        vendor: text(s, "vendor"),
        model: text(s, "model"),
        site: text(s, "site"),
        label: text(s, "label"),
        settings: s
            .get("settings")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
    }
    .into_spec()
    .map_err(StoreError::Invalid)?;
    let vendor = vendors
        .for_new_device(spec.vendor.as_deref(), &spec.mac, spec.model.as_deref())
        .map_err(StoreError::Invalid)?
        .id()
        .to_owned();
    let device = devices::insert_as(tx, actor, "restore", tenant, &spec, &vendor)?;
    languages::check(tx, vendors, Scope::Device(&device.mac), "language")?;
    let entry = audit::last_id(tx)?;
    let mut record = device.to_json();
    record["extension"] = json!(spec.extension);
    let own = keys::device_keys(tx, actor, vendors, &device, s)?;
    record["keys"] = stored_keys::list_json(&own);
    Ok(Restored {
        entity: "device".into(),
        key: device.mac.lower12(),
        record,
        entry,
    })
}
