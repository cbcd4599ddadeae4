//! Reading the audit log: who changed what, newest first.

use super::tenants::load_tenant;
use super::{ServiceResult, Services};
use crate::domain::{Actor, AuditEntry};
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
