//! Export: a tenant's users, aliases, devices and keys as the sheet import reads.

use crate::store::Reader;
use serde_json::json;

use crate::domain::audit::Actor;
use crate::domain::tenant::Tenant;
use crate::service::audit::{Access, record_access};
use crate::service::tenants::load_tenant;
use crate::service::{ServiceResult, Services};
use crate::sheet::records::{self, TenantRecords};
use crate::store::{StoreResult, aliases, devices, keys, sites, tenants, users};

/// The sheet of tenant `tenant` (admins only). With `secrets`, SIP passwords and voicemail PINs
/// are included and the export is recorded in the audit log; without, those cells are empty.
pub async fn export(
    services: &Services,
    actor: &Actor,
    tenant: String,
    secrets: bool,
) -> ServiceResult<String> {
    actor.require_admin()?;
    let tenant = load_tenant(services, actor, tenant).await?;
    let id = tenant.id;
    let found = services
        .store
        .read(move |conn| {
            // One read transaction: users, aliases and devices from the same moment.
            let tx = conn.unchecked_transaction()?;
            let tenant = tenants::by_id(&tx, id)?;
            let records = tenant_records(&tx, &tenant)?;
            Ok((tenant, records))
        })
        .await?;
    let (tenant, records) = found;
    let text = records::write(&records, secrets);
    if secrets {
        record_export(services, actor, tenant).await?;
    }
    Ok(text)
}

/// Everything of `tenant` the sheet shows, in the order it is written.
fn tenant_records(conn: &Reader, tenant: &Tenant) -> StoreResult<TenantRecords> {
    Ok(TenantRecords {
        site_names: sites::list(conn, tenant.id)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect(),
        aliases: aliases::for_tenant(conn, tenant.id)?,
        devices: devices::list(conn, Some(tenant.id), None)?,
        users: users::list(conn, tenant.id, None)?,
        user_keys: keys::users_of_tenant(conn, tenant.id)?,
        device_keys: keys::devices_of_tenant(conn, tenant.id)?,
    })
}

/// Records an export with secrets in the audit log.
async fn record_export(services: &Services, actor: &Actor, tenant: Tenant) -> ServiceResult<()> {
    let access = Access {
        action: "export",
        entity: "tenant",
        key: tenant.name,
        tenant_id: tenant.id,
        detail: json!({"secrets": true}),
    };
    record_access(services, actor, access).await
}
