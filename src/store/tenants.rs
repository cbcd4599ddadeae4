//! Tenants: a customer domain with its numbering plan, phone settings and phone-side policy.

use crate::domain::audit::{Actor, Change};
use std::time::Duration;

use rand::Rng;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::audit;
use super::{StoreError, StoreResult, is_constraint, now, time_text};
use crate::domain::extension::ExtensionPlanInput;
use crate::domain::phone_auth::{GENERATE_URL_KEY, GENERATED_URL_KEY_CHARS, PhoneAuth};
use crate::domain::tenant::TenantSpec;
use crate::domain::tenant::{Tenant, TenantSummary};
use crate::domain::{AdminPassword, ExtensionPlan, RuleError, SipPassword, sip_username_prefix};

const COLUMNS: &str = "id, name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, admin_password";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Tenant> {
    let json_err = |i, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let plan: ExtensionPlanInput =
        serde_json::from_str(&r.get::<_, String>(4)?).map_err(|e| json_err(4, e))?;
    Ok(Tenant {
        id: r.get(0)?,
        name: r.get(1)?,
        sip_username_prefix: r.get(2)?,
        settings: serde_json::from_str(&r.get::<_, String>(3)?).map_err(|e| json_err(3, e))?,
        extension_plan: ExtensionPlan::parse(&plan).unwrap_or_default(),
        phone_auth: serde_json::from_str(&r.get::<_, String>(5)?).map_err(|e| json_err(5, e))?,
        enroll_window: Duration::from_secs(r.get::<_, i64>(6)?.max(0) as u64),
        max_devices_per_user: r.get(7)?,
        created_at: r.get(8)?,
        admin_password: r
            .get::<_, Option<String>>(9)?
            .map(AdminPassword::from_trusted),
    })
}

/// The tenant called `name`.
pub fn by_name(conn: &Connection, name: &str) -> StoreResult<Tenant> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("tenant"))
}

/// The tenant with row id `id`.
pub fn by_id(conn: &Connection, id: i64) -> StoreResult<Tenant> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("tenant"))
}

/// The tenant whose phones use `key` as first path segment.
pub fn by_url_key(conn: &Connection, key: &str) -> StoreResult<Option<Tenant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tenants WHERE json_extract(phone_auth, '$.url_key') = ?1"
    ))?;
    Ok(stmt.query_row([key], from_row).optional()?)
}

/// Whether any tenant or device asks phones for HTTP credentials.
pub fn any_phone_auth(conn: &Connection) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(ANY_PHONE_AUTH)?
        .query_row([], |r| r.get(0))?)
}

/// Asked after every change; the devices with credentials have an index of their own, so it
/// does not read every device.
const ANY_PHONE_AUTH: &str =
    "SELECT EXISTS(SELECT 1 FROM tenants WHERE json_extract(phone_auth, '$.mode') != 'none')
         OR EXISTS(SELECT 1 FROM devices WHERE credentials IS NOT NULL)";

/// Every tenant, by name.
pub fn list(conn: &Connection) -> StoreResult<Vec<Tenant>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every tenant with its counts of users and devices, by name.
pub fn summaries(conn: &Connection) -> StoreResult<Vec<TenantSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.name,
            (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id),
            (SELECT COUNT(*) FROM devices d WHERE d.tenant_id = t.id)
         FROM tenants t ORDER BY t.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TenantSummary {
            id: r.get(0)?,
            name: r.get(1)?,
            users: r.get(2)?,
            devices: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Fills in what the policy asks to be generated: a random URL key (shown in the tenant from then
/// on), and a phone password, returned to show once.
fn settle_phone_password(spec: &mut TenantSpec, rng: &mut impl Rng) -> Option<String> {
    if spec.phone_auth.url_key.as_deref() == Some(GENERATE_URL_KEY) {
        let key: String = rng
            .sample_iter(&rand::distr::Alphanumeric)
            .take(GENERATED_URL_KEY_CHARS)
            .map(char::from)
            .collect();
        spec.phone_auth.url_key = Some(key);
    }
    if !spec.generate_phone_password {
        return None;
    }
    let pw = SipPassword::generate(rng).expose().to_owned();
    spec.phone_auth.passwords = vec![pw.clone()];
    spec.generate_phone_password = false;
    Some(pw)
}

/// Creates a tenant; returns it and the phone password generated for it, if any.
pub fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    mut spec: TenantSpec,
) -> StoreResult<(Tenant, Option<String>)> {
    let generated = settle_phone_password(&mut spec, &mut rand::rng());
    let prefix = sip_username_prefix(&spec.name);
    let conflict =
        |field: &str, code, msg: String| StoreError::Conflict(RuleError::new(field, code, msg));
    if tx
        .query_row(
            "SELECT 1 FROM tenants WHERE name = ?1",
            [&spec.name],
            |_| Ok(()),
        )
        .optional()?
        .is_some()
    {
        return Err(conflict(
            "name",
            "tenant_exists",
            format!("a tenant named {} already exists", spec.name),
        ));
    }
    if tx
        .query_row(
            "SELECT 1 FROM tenants WHERE sip_username_prefix = ?1",
            [&prefix],
            |_| Ok(()),
        )
        .optional()?
        .is_some()
    {
        return Err(conflict(
            "name",
            "prefix_taken",
            format!("another tenant already uses the SIP username prefix {prefix}"),
        ));
    }
    check_url_key_free(tx, &spec.phone_auth, None)?;
    let at = time_text(now());
    tx.execute(
        "INSERT INTO tenants (name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, updated_at, admin_password)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        params![
            spec.name,
            prefix,
            serde_json::to_string(&spec.settings)?,
            serde_json::to_string(&spec.extension_plan.to_input())?,
            serde_json::to_string(&spec.phone_auth)?,
            spec.enroll_window.as_secs() as i64,
            spec.max_devices_per_user,
            at,
            spec.admin_password.as_ref().map(AdminPassword::expose),
        ],
    )
    .map_err(|e| if is_constraint(&e) { conflict("name", "tenant_exists", "tenant already exists".into()) } else { e.into() })?;
    let tenant = by_id(tx, tx.last_insert_rowid())?;
    audit::record(
        tx,
        actor,
        Change {
            action: "create",
            entity: "tenant",
            key: tenant.name.clone(),
            tenant_id: Some(tenant.id),
            before: None,
            after: Some(tenant.to_json()),
            snapshot: None,
        },
    )?;
    Ok((tenant, generated))
}

/// Replaces a tenant's settings with `spec`; returns it and a generated phone password, if any.
pub fn update(
    tx: &Transaction<'_>,
    actor: &Actor,
    before: &Tenant,
    mut spec: TenantSpec,
) -> StoreResult<(Tenant, Option<String>)> {
    let generated = settle_phone_password(&mut spec, &mut rand::rng());
    check_url_key_free(tx, &spec.phone_auth, Some(before.id))?;
    tx.execute(
        "UPDATE tenants SET settings = ?2, extension_plan = ?3, phone_auth = ?4, enroll_window_secs = ?5, max_devices_per_user = ?6, updated_at = ?7, admin_password = ?8 WHERE id = ?1",
        params![
            before.id,
            serde_json::to_string(&spec.settings)?,
            serde_json::to_string(&spec.extension_plan.to_input())?,
            serde_json::to_string(&spec.phone_auth)?,
            spec.enroll_window.as_secs() as i64,
            spec.max_devices_per_user,
            time_text(now()),
            spec.admin_password.as_ref().map(AdminPassword::expose),
        ],
    )?;
    let after = by_id(tx, before.id)?;
    audit::record(
        tx,
        actor,
        Change {
            action: "update",
            entity: "tenant",
            key: after.name.clone(),
            tenant_id: Some(after.id),
            before: Some(before.to_json()),
            after: Some(after.to_json()),
            snapshot: None,
        },
    )?;
    Ok((after, generated))
}

fn check_url_key_free(conn: &Connection, auth: &PhoneAuth, except: Option<i64>) -> StoreResult<()> {
    let Some(key) = &auth.url_key else {
        return Ok(());
    };
    if let Some(other) = by_url_key(conn, key)?
        && Some(other.id) != except
    {
        return Err(StoreError::Conflict(RuleError::new(
            "phone_auth.url_key",
            "url_key_taken",
            "another tenant uses this URL key; choose a different random key",
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn whether_any_device_has_credentials_is_read_from_their_index_not_every_device() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let plan = store.query_plan(ANY_PHONE_AUTH, []);
        assert!(
            plan.contains("devices USING INDEX devices_with_credentials"),
            "{plan}"
        );
    }
}
