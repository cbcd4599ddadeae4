//! The audit log's entries: who changed what, with the record before and after.

use serde::Serialize;
use serde_json::Value;

use super::tenant::Tenant;
use super::token::{TokenInfo, TokenRole};

/// Who asks for a use case: the name recorded in the audit log (an API token's `token:<name>`,
/// `cli`, `demo`, …) and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The name recorded in the audit log.
    pub name: String,
    /// What the actor may do.
    pub role: TokenRole,
    /// The tenant the actor is bound to; `None` for every tenant.
    pub tenant_id: Option<i64>,
}

/// Why an actor may not do something (HTTP 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

impl Actor {
    /// An operator's tool with every right (the CLI, the demo, tests), named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role: TokenRole::Admin,
            tenant_id: None,
        }
    }

    /// The actor an API token stands for.
    pub fn for_token(token: &TokenInfo) -> Self {
        Self {
            name: format!("token:{}", token.name),
            role: token.role,
            tenant_id: token.tenant_id,
        }
    }

    /// Whether the actor has admin rights.
    pub fn is_admin(&self) -> bool {
        self.role == TokenRole::Admin
    }

    /// Refuses installers.
    pub fn require_admin(&self) -> Result<(), Denied> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Denied("this needs an admin token"))
        }
    }

    /// Refuses actors bound to a tenant (creating tenants, listing all of them).
    pub fn require_global_admin(&self) -> Result<(), Denied> {
        self.require_admin()?;
        match self.tenant_id {
            None => Ok(()),
            Some(_) => Err(Denied("this needs an admin token not bound to a tenant")),
        }
    }

    /// Refuses actors bound to another tenant.
    pub fn require_tenant(&self, tenant: &Tenant) -> Result<(), Denied> {
        match self.tenant_id {
            Some(id) if id != tenant.id => Err(Denied("this token is bound to another tenant")),
            _ => Ok(()),
        }
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
