//! Reading the audit log: who changed what, newest first.

use super::tenants::load_tenant;
use super::{ServiceResult, Services};
use crate::domain::{Actor, AuditEntry, Change};
use crate::store::audit;

/// At most `limit` entries older than `before` (an entry id), newest first, of one tenant when
/// given, else of every tenant the actor may see (admins).
pub async fn list(
    services: &Services,
    actor: &Actor,
    tenant: Option<String>,
    before: Option<i64>,
    limit: u32,
) -> ServiceResult<Vec<AuditEntry>> {
    actor.require_admin()?;
    let tenant_id = match tenant {
        Some(name) => Some(load_tenant(services, actor, name).await?.id),
        None => actor.tenant_id,
    };
    Ok(services
        .store
        .read(move |c| audit::list(c, tenant_id, before, limit))
        .await?)
}

/// Records that `actor` saw secrets (`action` on the `entity` named `key`, with `detail`): an
/// entry of its own, since nothing changed.
pub async fn record_access(
    services: &Services,
    actor: &Actor,
    access: Access,
) -> ServiceResult<()> {
    let by = actor.clone();
    services
        .store
        .write(move |tx| {
            audit::record(
                tx,
                &by,
                Change {
                    action: access.action,
                    entity: access.entity,
                    key: access.key,
                    tenant_id: Some(access.tenant_id),
                    before: None,
                    after: Some(access.detail),
                    snapshot: None,
                },
            )
        })
        .await?;
    Ok(())
}

/// A look at secrets, for [`record_access`].
#[derive(Debug, Clone)]
pub struct Access {
    /// `reveal`, `export`, …
    pub action: &'static str,
    /// `device`, `tenant`, …
    pub entity: &'static str,
    /// How people name what was seen (MAC, tenant name).
    pub key: String,
    /// Its tenant.
    pub tenant_id: i64,
    /// What exactly was seen.
    pub detail: serde_json::Value,
}
