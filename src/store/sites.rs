//! Sites: locations of a tenant with their own settings.

use crate::domain::audit::{Actor, Change};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::audit;
use super::{StoreError, StoreResult, now, time_text};

use crate::domain::tenant::Site;
use crate::domain::tenant::SiteSpec;
use crate::domain::{AdminPassword, RuleError};

const COLUMNS: &str = "id, tenant_id, name, settings, created_at, allow_cidrs, admin_password";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Site> {
    let settings: String = r.get(3)?;
    Ok(Site {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        created_at: r.get(4)?,
        allow_cidrs: r
            .get::<_, Option<String>>(5)?
            .and_then(|c| serde_json::from_str(&c).ok()),
        admin_password: r
            .get::<_, Option<String>>(6)?
            .map(AdminPassword::from_trusted),
    })
}

/// The site with row id `id`.
pub fn by_id(conn: &Connection, id: i64) -> StoreResult<Site> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sites WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("site"))
}

/// The site of `tenant_id` called `name`, or an error naming `field`.
pub fn resolve(conn: &Connection, tenant_id: i64, name: &str, field: &str) -> StoreResult<Site> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sites WHERE tenant_id = ?1 AND name = ?2"
    ))?
    .query_row(params![tenant_id, name], from_row)
    .optional()?
    .ok_or_else(|| {
        StoreError::Invalid(RuleError::new(
            field,
            "site_unknown",
            format!("this tenant has no site named '{name}'"),
        ))
    })
}

/// Sites of a tenant by name.
pub fn list(conn: &Connection, tenant_id: i64) -> StoreResult<Vec<Site>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sites WHERE tenant_id = ?1 ORDER BY name"
    ))?;
    let rows = stmt.query_map([tenant_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn cidrs_json(spec: &SiteSpec) -> StoreResult<Option<String>> {
    Ok(spec
        .allow_cidrs
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?)
}

/// Creates a site.
pub fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant_id: i64,
    spec: &SiteSpec,
) -> StoreResult<Site> {
    let exists = tx
        .query_row(
            "SELECT 1 FROM sites WHERE tenant_id = ?1 AND name = ?2",
            params![tenant_id, spec.name.as_str()],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict(RuleError::new(
            "name",
            "site_exists",
            format!("a site named '{}' already exists", spec.name),
        )));
    }
    tx.execute(
        "INSERT INTO sites (tenant_id, name, settings, allow_cidrs, created_at, admin_password) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant_id,
            spec.name.as_str(),
            serde_json::to_string(&spec.settings)?,
            cidrs_json(spec)?,
            time_text(now()),
            spec.admin_password.as_ref().map(AdminPassword::expose),
        ],
    )?;
    let site = by_id(tx, tx.last_insert_rowid())?;
    audit::record(
        tx,
        actor,
        Change {
            action: "create",
            entity: "site",
            key: site.name.clone(),
            tenant_id: Some(tenant_id),
            before: None,
            after: Some(serde_json::to_value(&site)?),
            snapshot: None,
        },
    )?;
    Ok(site)
}

/// Replaces a site's settings and allow-list.
pub fn update(
    tx: &Transaction<'_>,
    actor: &Actor,
    before: &Site,
    spec: &SiteSpec,
) -> StoreResult<Site> {
    tx.execute(
        "UPDATE sites SET settings = ?2, allow_cidrs = ?3, admin_password = ?4 WHERE id = ?1",
        params![
            before.id,
            serde_json::to_string(&spec.settings)?,
            cidrs_json(spec)?,
            spec.admin_password.as_ref().map(AdminPassword::expose),
        ],
    )?;
    let after = by_id(tx, before.id)?;
    audit::record(
        tx,
        actor,
        Change {
            action: "update",
            entity: "site",
            key: after.name.clone(),
            tenant_id: Some(after.tenant_id),
            before: Some(serde_json::to_value(before)?),
            after: Some(serde_json::to_value(&after)?),
            snapshot: None,
        },
    )?;
    Ok(after)
}
