//! The audit log's entries: who changed what, with the record before and after.

use serde::Serialize;
use serde_json::Value;

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
