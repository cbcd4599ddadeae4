//! Devices (phones by MAC), who owns them, and what they last fetched.

use crate::domain::audit::{Actor, Change};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::{Value, json};

use super::aliases;
use super::audit;
use super::sites;
use super::tenants;
use super::users;
use super::{
    StoreError, StoreResult, execute_cached, now, optional_time_column, time_column, time_text,
};
use crate::domain::device::{Device, DeviceBundle};
use crate::domain::device::{DeviceCredentials, DevicePatch, DeviceSpec};
use crate::domain::keys::DeviceKeys;
use crate::domain::user::Alias;
use crate::domain::{AdminPassword, Mac, RuleError};

const SELECT: &str =
    "SELECT id, mac, tenant_id, user_id, vendor, model, site_id, label, settings, enroll_deadline,
    first_fetch_at, last_fetch_at, last_ip, seen_model, seen_firmware, created_at, bound_ip, bound_cert, credentials,
    admin_password, generated_admin_password FROM devices";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    let mac: String = r.get(1)?;
    Ok(Device {
        id: r.get(0)?,
        mac: Mac::parse(&mac).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?,
        tenant_id: r.get(2)?,
        user_id: r.get(3)?,
        vendor: r.get(4)?,
        model: r.get(5)?,
        site_id: r.get(6)?,
        label: r.get(7)?,
        settings: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        enroll_deadline: time_column(r, 9)?,
        first_fetch_at: optional_time_column(r, 10)?,
        last_fetch_at: optional_time_column(r, 11)?,
        last_ip: r.get(12)?,
        seen_model: r.get(13)?,
        seen_firmware: r.get(14)?,
        created_at: r.get(15)?,
        bound_ip: r.get(16)?,
        bound_cert: r.get(17)?,
        credentials: r
            .get::<_, Option<String>>(18)?
            .and_then(|c| serde_json::from_str(&c).ok()),
        admin_password: r
            .get::<_, Option<String>>(19)?
            .map(AdminPassword::from_trusted),
        generated_admin_password: generated_admin_password(r, 20)?,
    })
}

/// The admin password generated at registration (or by migration 0005 for older devices). An
/// empty one would leave the phone on its factory default, so it is an error, not a value.
fn generated_admin_password(r: &Row<'_>, i: usize) -> rusqlite::Result<AdminPassword> {
    let pw: String = r.get(i)?;
    if pw.is_empty() {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            "device has no generated admin password".into(),
        ));
    }
    Ok(AdminPassword::from_trusted(pw))
}

/// The device with `mac`.
pub fn by_mac(conn: &Connection, mac: &Mac) -> StoreResult<Device> {
    conn.prepare_cached(&format!("{SELECT} WHERE mac = ?1"))?
        .query_row([mac.lower12()], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("device"))
}

/// The device with row id `id`, if there is one.
pub fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Device>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Devices, optionally of one tenant and/or one user, by MAC.
pub fn list(
    conn: &Connection,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
) -> StoreResult<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR user_id = ?2) ORDER BY mac"
    ))?;
    let rows = stmt.query_map(params![tenant_id, user_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` devices (of one tenant when given) whose MAC sorts after `after` (12 lower-case
/// hex digits), by MAC: one page of a long list.
pub fn page(
    conn: &Connection,
    tenant_id: Option<i64>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE (?1 IS NULL OR tenant_id = ?1) AND mac > ?2 ORDER BY mac LIMIT ?3"
    ))?;
    let after = after.unwrap_or_default();
    let rows = stmt.query_map(params![tenant_id, after, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Loads the bundle for `mac`, or `None` for an unknown MAC.
pub fn bundle(conn: &Connection, mac: &Mac) -> StoreResult<Option<DeviceBundle>> {
    let Some((device, owner, aliases, keys)) = with_owner_and_aliases(conn, mac)? else {
        return Ok(None);
    };
    let site_id = device.site_id.or(owner.site_id);
    Ok(Some(DeviceBundle {
        tenant: tenants::by_id(conn, device.tenant_id)?,
        site: site_id.map(|id| sites::by_id(conn, id)).transpose()?,
        keys,
        aliases,
        owner,
        device,
    }))
}

/// A device with its owner, the owner's aliases in order and the keys it shows.
pub type DeviceRows = (Device, User, Vec<Alias>, DeviceKeys);

/// The device with `mac`, its owner, the owner's aliases in order and the keys it shows (a
/// [`DeviceBundle`] without tenant and site, for callers that keep those apart), or `None` for
/// an unknown MAC.
pub fn with_owner_and_aliases(conn: &Connection, mac: &Mac) -> StoreResult<Option<DeviceRows>> {
    let device = match by_mac(conn, mac) {
        Ok(d) => d,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let owner = users::by_id(conn, device.user_id)?;
    let aliases = aliases::for_user(conn, owner.id)?;
    let keys = super::keys::of_device(conn, &device)?;
    Ok(Some((device, owner, aliases, keys)))
}

fn check_room(user: &User, tenant: &Tenant) -> StoreResult<()> {
    let limit = user.spec.max_devices.unwrap_or(tenant.max_devices_per_user);
    if user.devices >= limit {
        return Err(StoreError::Conflict(RuleError::new(
            "extension",
            "device_limit",
            format!(
                "{} already has {} of {limit} allowed devices; remove one or have an admin raise this user's max_devices",
                user.spec.name, user.devices
            ),
        )));
    }
    Ok(())
}

/// Registers a device to the user with `spec.extension` in `tenant`, detected as `vendor`.
pub fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant: &Tenant,
    spec: &DeviceSpec,
    vendor: &str,
) -> StoreResult<Device> {
    insert_as(tx, actor, "create", tenant, spec, vendor)
}

/// [`insert`], recording the change as `action` (`create`, `import`, `restore`).
pub fn insert_as(
    tx: &Transaction<'_>,
    actor: &Actor,
    action: &str,
    tenant: &Tenant,
    spec: &DeviceSpec,
    vendor: &str,
) -> StoreResult<Device> {
    if by_mac(tx, &spec.mac).is_ok() {
        return Err(StoreError::Conflict(RuleError::new(
            "mac",
            "mac_registered",
            format!(
                "{} is already registered; re-assign it with PATCH /api/v1/devices/{}",
                spec.mac, spec.mac
            ),
        )));
    }
    let owner = owner(tx, tenant, &spec.extension)?;
    check_room(&owner, tenant)?;
    let site_id = spec
        .site
        .as_deref()
        .map(|s| sites::resolve(tx, tenant.id, s, "site").map(|s| s.id))
        .transpose()?;
    let at = now();
    let deadline = at + chrono::Duration::from_std(tenant.enroll_window).unwrap_or_default();
    // Every phone gets an admin password of its own, so none keeps its factory default.
    let generated = AdminPassword::generate(&mut rand::rng());
    execute_cached(tx,
        "INSERT INTO devices (mac, tenant_id, user_id, vendor, model, site_id, label, settings, enroll_deadline, created_at, updated_at, generated_admin_password)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        params![
            spec.mac.lower12(),
            tenant.id,
            owner.id,
            vendor,
            spec.model,
            site_id,
            spec.label.as_ref().map(|l| l.as_str()),
            serde_json::to_string(&spec.settings)?,
            time_text(deadline),
            time_text(at),
            generated.expose(),
        ],
    )?;
    let device = by_mac(tx, &spec.mac)?;
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity: "device",
            key: device.mac.lower12(),
            tenant_id: Some(tenant.id),
            before: None,
            after: Some(with_owner(&device, &owner)),
            snapshot: None,
        },
    )?;
    Ok(device)
}

fn owner(conn: &Connection, tenant: &Tenant, extension: &str) -> StoreResult<User> {
    users::by_extension(conn, tenant.id, extension).map_err(|e| match e {
        StoreError::NotFound(_) => StoreError::Invalid(RuleError::new(
            "extension",
            "user_unknown",
            format!("{} has no user with extension {extension}", tenant.name),
        )),
        e => e,
    })
}

fn with_owner(device: &Device, owner: &User) -> Value {
    let mut v = device.to_json();
    v["extension"] = json!(owner.spec.extension);
    v
}

/// What a device update changes besides the patch's plain fields: its own credentials and its
/// own admin password, each replaced (`Some(Some)`) or removed (`Some(None)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets<'a> {
    /// The device's own HTTP credentials.
    pub credentials: Option<Option<&'a DeviceCredentials>>,
    /// The device's own admin password.
    pub admin_password: Option<Option<&'a AdminPassword>>,
}

/// Applies `patch` to `device` (re-assign, model, site, label, settings, re-open enrollment)
/// and `secrets`.
pub fn update(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant: &Tenant,
    device: &Device,
    patch: &DevicePatch,
    secrets: Secrets<'_>,
) -> StoreResult<Device> {
    let current_owner = users::by_id(tx, device.user_id)?;
    let owner = match &patch.extension {
        Some(ext) if ext != current_owner.spec.extension.as_str() => {
            let new_owner = owner(tx, tenant, ext)?;
            check_room(&new_owner, tenant)?;
            new_owner
        }
        _ => current_owner.clone(),
    };
    let site_id = match &patch.site {
        Some(Some(name)) => Some(sites::resolve(tx, tenant.id, name, "site")?.id),
        Some(None) => None,
        None => device.site_id,
    };
    let label = match &patch.label {
        Some(label) => label.clone(),
        None => device.label.clone(),
    };
    let at = now();
    let deadline = if patch.reopen_enrollment == Some(true) {
        at + chrono::Duration::from_std(tenant.enroll_window).unwrap_or_default()
    } else {
        device.enroll_deadline
    };
    let settings = patch.settings.as_ref().unwrap_or(&device.settings);
    let credentials = match secrets.credentials {
        Some(new) => new,
        None => device.credentials.as_ref(),
    };
    let admin_password = match secrets.admin_password {
        Some(new) => new,
        None => device.admin_password.as_ref(),
    };
    execute_cached(tx,
        "UPDATE devices SET user_id = ?2, model = ?3, site_id = ?4, label = ?5, settings = ?6, enroll_deadline = ?7,
            first_fetch_at = CASE WHEN ?8 THEN NULL ELSE first_fetch_at END,
            bound_ip = CASE WHEN ?8 THEN NULL ELSE bound_ip END,
            bound_cert = CASE WHEN ?8 THEN NULL ELSE bound_cert END, updated_at = ?9, credentials = ?10,
            admin_password = ?11
         WHERE id = ?1",
        params![
            device.id,
            owner.id,
            patch.model.as_ref().or(device.model.as_ref()),
            site_id,
            label,
            serde_json::to_string(settings)?,
            time_text(deadline),
            patch.reopen_enrollment == Some(true),
            time_text(at),
            credentials.map(serde_json::to_string).transpose()?,
            admin_password.map(AdminPassword::expose),
        ],
    )?;
    let after = by_mac(tx, &device.mac)?;
    audit::record(
        tx,
        actor,
        Change {
            action: "update",
            entity: "device",
            key: device.mac.lower12(),
            tenant_id: Some(tenant.id),
            before: Some(with_owner(device, &current_owner)),
            after: Some(with_owner(&after, &owner)),
            snapshot: None,
        },
    )?;
    Ok(after)
}

/// Deletes a device; the audit entry keeps the whole record.
pub fn delete(tx: &Transaction<'_>, actor: &Actor, device: &Device) -> StoreResult<()> {
    let owner = users::by_id(tx, device.user_id)?;
    let site = device.site_id.map(|id| sites::by_id(tx, id)).transpose()?;
    let keys = super::keys::list_json(&super::keys::for_device(tx, device.id)?);
    tx.execute("DELETE FROM devices WHERE id = ?1", [device.id])?;
    let mut record = with_owner(device, &owner);
    record["site"] = json!(site.map(|s| s.name));
    record["keys"] = keys;
    audit::record(
        tx,
        actor,
        Change {
            action: "delete",
            entity: "device",
            key: device.mac.lower12(),
            tenant_id: Some(device.tenant_id),
            before: Some(record.clone()),
            after: None,
            snapshot: Some(record),
        },
    )
}

/// The files a device has fetched: name, hash of what it got, and the base URL it used.
pub fn fetched_files(
    conn: &Connection,
    device_id: i64,
) -> StoreResult<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT file, body_hash, server_url FROM device_files WHERE device_id = ?1 ORDER BY file",
    )?;
    let rows = stmt.query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
