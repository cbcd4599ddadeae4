//! Programmable keys: each user's list and each device's, in the admin's order.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, Row, Transaction, params};
use serde_json::{Value, json};

use super::StoreResult;
use super::audit;
use crate::domain::audit::{Actor, Change};
use crate::domain::device::Device;
use crate::domain::keys::{DeviceKeys, Key, KeyOwner, KeyRef, KeyType, Slot};
use crate::domain::user::User;
use crate::domain::{Mac, PrintableText};

/// Whose list: the table, its owner column, and the audit entity of a change to it.
#[derive(Debug, Clone, Copy)]
enum List {
    User,
    Device,
}

impl List {
    fn table(self) -> &'static str {
        match self {
            List::User => "user_keys",
            List::Device => "device_keys",
        }
    }

    fn owner_column(self) -> &'static str {
        match self {
            List::User => "user_id",
            List::Device => "device_id",
        }
    }
}

/// The key columns, in the order [`from_row`] reads them from `offset` on.
const COLUMNS: &str = "k.type, k.value, k.label, k.position, k.module, k.external";

fn from_row(r: &Row<'_>, offset: usize) -> rusqlite::Result<Key> {
    let kind: String = r.get(offset)?;
    let position: Option<u32> = r.get(offset + 3)?;
    let module: Option<u32> = r.get(offset + 4)?;
    Ok(Key {
        kind: KeyType::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                offset,
                rusqlite::types::Type::Text,
                format!("unknown key type {kind:?}").into(),
            )
        })?,
        value: r.get(offset + 1)?,
        label: r
            .get::<_, Option<String>>(offset + 2)?
            .map(PrintableText::from_trusted),
        slot: position.map(|position| Slot { module, position }),
        external: r.get(offset + 5)?,
    })
}

fn list(conn: &Connection, list: List, owner_id: i64) -> StoreResult<Vec<Key>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {} k WHERE k.{} = ?1 ORDER BY k.ord",
        list.table(),
        list.owner_column()
    ))?;
    let rows = stmt.query_map([owner_id], |r| from_row(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every list of `list`'s kind in `tenant_id`, by owner row id, each in order.
fn of_tenant(conn: &Connection, list: List, tenant_id: i64) -> StoreResult<HashMap<i64, Vec<Key>>> {
    let (table, owner) = (list.table(), list.owner_column());
    let owners = match list {
        List::User => "users",
        List::Device => "devices",
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT k.{owner}, {COLUMNS} FROM {table} k JOIN {owners} o ON o.id = k.{owner}
         WHERE o.tenant_id = ?1 ORDER BY k.{owner}, k.ord"
    ))?;
    let rows = stmt.query_map([tenant_id], |r| Ok((r.get::<_, i64>(0)?, from_row(r, 1)?)))?;
    let mut out: HashMap<i64, Vec<Key>> = Default::default();
    for row in rows {
        let (id, key) = row?;
        out.entry(id).or_default().push(key);
    }
    Ok(out)
}

/// The keys of every user of `tenant_id`, by user row id, each list in order.
pub fn users_of_tenant(conn: &Connection, tenant_id: i64) -> StoreResult<HashMap<i64, Vec<Key>>> {
    of_tenant(conn, List::User, tenant_id)
}

/// The keys of every device of `tenant_id`, by device row id, each list in order.
pub fn devices_of_tenant(conn: &Connection, tenant_id: i64) -> StoreResult<HashMap<i64, Vec<Key>>> {
    of_tenant(conn, List::Device, tenant_id)
}

/// The keys of the user with row id `user_id`, in order.
pub fn for_user(conn: &Connection, user_id: i64) -> StoreResult<Vec<Key>> {
    list(conn, List::User, user_id)
}

/// The keys of the device with row id `device_id`, in order.
pub fn for_device(conn: &Connection, device_id: i64) -> StoreResult<Vec<Key>> {
    list(conn, List::Device, device_id)
}

/// The keys a phone is laid out from: its owner's, its own, and the names of the users of its
/// tenant they aim at.
pub fn of_device(conn: &Connection, device: &Device) -> StoreResult<DeviceKeys> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.extension, u.name FROM users u WHERE u.tenant_id = ?1 AND u.extension IN (
            SELECT value FROM user_keys WHERE user_id = ?2 AND external = 0
            UNION SELECT value FROM device_keys WHERE device_id = ?3 AND external = 0)",
    )?;
    let rows = stmt.query_map(params![device.tenant_id, device.user_id, device.id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(DeviceKeys {
        user: for_user(conn, device.user_id)?,
        device: for_device(conn, device.id)?,
        names: rows.collect::<Result<BTreeMap<_, _>, _>>()?,
    })
}

/// The keys as JSON, as the API shows them: for audit entries and snapshots.
pub fn list_json(keys: &[Key]) -> Value {
    keys.iter().map(|k| json!(k.to_draft())).collect()
}

/// Replaces the list of `list`'s owner `owner_id` with `keys`.
fn write(tx: &Transaction<'_>, list: List, owner_id: i64, keys: &[Key]) -> StoreResult<()> {
    let (table, owner) = (list.table(), list.owner_column());
    tx.prepare_cached(&format!("DELETE FROM {table} WHERE {owner} = ?1"))?
        .execute([owner_id])?;
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO {table} ({owner}, ord, type, value, label, position, module, external)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?;
    for (ord, key) in keys.iter().enumerate() {
        insert.execute(params![
            owner_id,
            ord as i64,
            key.kind.as_str(),
            key.value,
            key.label.as_ref().map(PrintableText::as_str),
            key.slot.map(|s| s.position),
            key.slot.and_then(|s| s.module),
            key.external,
        ])?;
    }
    Ok(())
}

/// What a change of a key list records.
#[derive(Debug, Clone, Copy)]
pub struct KeyChange<'a> {
    /// Who.
    pub actor: &'a Actor,
    /// `update`, `import`, `restore`.
    pub action: &'a str,
    /// The tenant of the owner.
    pub tenant_id: i64,
}

/// Replaces `user`'s keys with `keys` (checked by the caller), recorded as `change.action`.
pub fn set_for_user(
    tx: &Transaction<'_>,
    change: KeyChange<'_>,
    user: &User,
    keys: &[Key],
) -> StoreResult<()> {
    let before = for_user(tx, user.id)?;
    write(tx, List::User, user.id, keys)?;
    record(
        tx,
        change,
        "user_keys",
        user.spec.extension.to_string(),
        &before,
        keys,
    )
}

/// Replaces `device`'s keys with `keys` (checked by the caller), recorded as `change.action`.
pub fn set_for_device(
    tx: &Transaction<'_>,
    change: KeyChange<'_>,
    device: &Device,
    keys: &[Key],
) -> StoreResult<()> {
    let before = for_device(tx, device.id)?;
    write(tx, List::Device, device.id, keys)?;
    record(
        tx,
        change,
        "device_keys",
        device.mac.lower12(),
        &before,
        keys,
    )
}

fn record(
    tx: &Transaction<'_>,
    change: KeyChange<'_>,
    entity: &str,
    key: String,
    before: &[Key],
    after: &[Key],
) -> StoreResult<()> {
    audit::record(
        tx,
        change.actor,
        Change {
            action: change.action,
            entity,
            key,
            tenant_id: Some(change.tenant_id),
            before: Some(json!({"keys": list_json(before)})),
            after: Some(json!({"keys": list_json(after)})),
            snapshot: None,
        },
    )?;
    Ok(())
}

/// Every key of `tenant_id`'s users and devices aimed at `extension` (BLF, pickup, speed
/// dial): the users' first by extension, then the devices' by MAC, each in list order.
pub fn aimed_at(conn: &Connection, tenant_id: i64, extension: &str) -> StoreResult<Vec<KeyRef>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT u.extension, NULL, k.ord, {COLUMNS} FROM user_keys k JOIN users u ON u.id = k.user_id
         WHERE u.tenant_id = ?1 AND k.value = ?2 AND k.external = 0
           AND k.type IN ('blf', 'pickup', 'speed_dial')
         UNION ALL
         SELECT NULL, d.mac, k.ord, {COLUMNS} FROM device_keys k JOIN devices d ON d.id = k.device_id
         WHERE d.tenant_id = ?1 AND k.value = ?2 AND k.external = 0
           AND k.type IN ('blf', 'pickup', 'speed_dial')"
    ))?;
    let rows = stmt.query_map(params![tenant_id, extension], |r| {
        let owner = match r.get::<_, Option<String>>(0)? {
            Some(extension) => KeyOwner::User(extension),
            None => KeyOwner::Device(mac_column(r, 1)?),
        };
        Ok(KeyRef {
            owner,
            index: r.get::<_, i64>(2)? as usize,
            key: from_row(r, 3)?,
        })
    })?;
    let mut found: Vec<KeyRef> = rows.collect::<Result<_, _>>()?;
    found.sort_by_key(|r| owner_order(&r.owner, r.index));
    Ok(found)
}

/// Users before devices; users by extension (shortest first), devices by MAC; then list order.
fn owner_order(owner: &KeyOwner, index: usize) -> (u8, usize, String, usize) {
    match owner {
        KeyOwner::User(ext) => (0, ext.len(), ext.clone(), index),
        KeyOwner::Device(mac) => (1, 0, mac.lower12(), index),
    }
}

fn mac_column(r: &Row<'_>, idx: usize) -> rusqlite::Result<Mac> {
    let text: String = r.get(idx)?;
    Mac::parse(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Removes every BLF and pickup key of `tenant_id` that watches `extension`, one audit entry
/// per list changed; returns the keys removed, with the place each had.
pub fn remove_watching(
    tx: &Transaction<'_>,
    change: KeyChange<'_>,
    extension: &str,
) -> StoreResult<Vec<KeyRef>> {
    let removed: Vec<KeyRef> = aimed_at(tx, change.tenant_id, extension)?
        .into_iter()
        .filter(|r| r.key.kind.watches_user())
        .collect();
    let mut owners: Vec<&KeyOwner> = removed.iter().map(|r| &r.owner).collect();
    owners.dedup();
    for owner in owners {
        let gone: Vec<usize> = removed
            .iter()
            .filter(|r| &r.owner == owner)
            .map(|r| r.index)
            .collect();
        let keep = |keys: Vec<Key>| -> Vec<Key> {
            keys.into_iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, k)| k)
                .collect()
        };
        // Owners by id, read here: the user and device modules read keys, so this one does
        // not read them back.
        match owner {
            KeyOwner::User(ext) => {
                let id: i64 = tx.query_row(
                    "SELECT id FROM users WHERE tenant_id = ?1 AND extension = ?2",
                    rusqlite::params![change.tenant_id, ext.to_string()],
                    |r| r.get(0),
                )?;
                let before = for_user(tx, id)?;
                let keys = keep(before.clone());
                write(tx, List::User, id, &keys)?;
                record(tx, change, "user_keys", ext.to_string(), &before, &keys)?;
            }
            KeyOwner::Device(mac) => {
                let id: i64 = tx.query_row(
                    "SELECT id FROM devices WHERE mac = ?1",
                    [mac.lower12()],
                    |r| r.get(0),
                )?;
                let before = for_device(tx, id)?;
                let keys = keep(before.clone());
                write(tx, List::Device, id, &keys)?;
                record(tx, change, "device_keys", mac.lower12(), &before, &keys)?;
            }
        }
    }
    Ok(removed)
}
