//! The audit log: who changed what, with the record before and after.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StoreError, StoreResult, execute_cached, now, time_text};
use crate::domain::audit::{Actor, AuditEntry, Change, StoredEntry};

/// Records `change` by `actor` in the same transaction as the change itself.
pub fn record(tx: &Transaction<'_>, actor: &Actor, change: Change<'_>) -> StoreResult<()> {
    execute_cached(tx,
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
