//! The audit log: who changed what, with the record before and after.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::Value;

use super::{StoreError, StoreResult, now, time_text};

/// Who makes a change: an API token's name, `cli`, `demo`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The name recorded in the audit log.
    pub name: String,
}

impl Actor {
    /// An actor with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// One change, about to be recorded.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// `create`, `update`, `delete`, `reorder`, …
    pub action: &'a str,
    /// `tenant`, `site`, `user`, `alias`, `device`, `token`.
    pub entity: &'a str,
    /// How people name the entity (tenant name, extension, MAC).
    pub key: String,
    /// Tenant the entity belongs to.
    pub tenant_id: Option<i64>,
    /// The record before (secrets masked).
    pub before: Option<Value>,
    /// The record after (secrets masked).
    pub after: Option<Value>,
    /// For deletes: the whole record, secrets included, so it can be restored.
    pub snapshot: Option<Value>,
}

/// Records `change` by `actor` in the same transaction as the change itself.
pub fn record(tx: &Transaction<'_>, actor: &Actor, change: Change<'_>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, entity, entity_key, tenant_id, before, after, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            time_text(now()),
            actor.name,
            change.action,
            change.entity,
            change.key,
            change.tenant_id,
            change.before.map(|v| v.to_string()),
            change.after.map(|v| v.to_string()),
            change.snapshot.map(|v| v.to_string()),
        ],
    )?;
    Ok(())
}

/// An audit entry as shown to admins (never the snapshot).
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Entry id.
    pub id: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// To what kind of thing.
    pub entity: String,
    /// Which one.
    pub key: String,
    /// Tenant name, if any.
    pub tenant: Option<String>,
    /// Before (secrets masked).
    pub before: Option<Value>,
    /// After (secrets masked).
    pub after: Option<Value>,
    /// For a restored delete: the id of the entry that records its restore.
    pub restored_by: Option<i64>,
}

/// Newest entries first, optionally for one tenant, at most `limit`, older than `before_id`.
pub fn list(
    conn: &Connection,
    tenant_id: Option<i64>,
    before_id: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.at, a.actor, a.action, a.entity, a.entity_key, t.name, a.before, a.after,
            a.restored_by
         FROM audit a LEFT JOIN tenants t ON t.id = a.tenant_id
         WHERE (?1 IS NULL OR a.tenant_id = ?1) AND (?2 IS NULL OR a.id < ?2)
         ORDER BY a.id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![tenant_id, before_id, limit], |r| {
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            entity: r.get(4)?,
            key: r.get(5)?,
            tenant: r.get(6)?,
            before: json(r.get(7)?),
            after: json(r.get(8)?),
            restored_by: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An entry with what a restore needs: its tenant, the deleted record and whether it was
/// restored already.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Entry id.
    pub id: i64,
    /// What was done.
    pub action: String,
    /// To what kind of thing.
    pub entity: String,
    /// Which one.
    pub key: String,
    /// Tenant row id, if any.
    pub tenant_id: Option<i64>,
    /// For deletes: the whole record, secrets included.
    pub snapshot: Option<Value>,
    /// The entry of its restore, if it was restored.
    pub restored_by: Option<i64>,
}

/// The entry with id `id`, snapshot included.
pub fn stored(conn: &Connection, id: i64) -> StoreResult<StoredEntry> {
    conn.prepare_cached(
        "SELECT id, action, entity, entity_key, tenant_id, snapshot, restored_by FROM audit WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(StoredEntry {
            id: r.get(0)?,
            action: r.get(1)?,
            entity: r.get(2)?,
            key: r.get(3)?,
            tenant_id: r.get(4)?,
            snapshot: r
                .get::<_, Option<String>>(5)?
                .and_then(|s| serde_json::from_str(&s).ok()),
            restored_by: r.get(6)?,
        })
    })
    .optional()?
    .ok_or(StoreError::NotFound("audit entry"))
}

/// The id of the newest entry (inside a write: the one just recorded).
pub fn last_id(tx: &Transaction<'_>) -> StoreResult<i64> {
    Ok(tx.query_row("SELECT COALESCE(MAX(id), 0) FROM audit", [], |r| r.get(0))?)
}

/// Marks the delete `id` as restored by the entry `by`; false when it was restored already.
pub fn mark_restored(tx: &Transaction<'_>, id: i64, by: i64) -> StoreResult<bool> {
    let changed = tx.execute(
        "UPDATE audit SET restored_by = ?2 WHERE id = ?1 AND restored_by IS NULL",
        params![id, by],
    )?;
    Ok(changed == 1)
}
