//! Export: a tenant's users, aliases and devices as the sheet import reads, so that an export
//! imported into an empty tenant of the same name gives the same export again.

use crate::domain::audit::{Actor, Change};
use crate::domain::device::Device;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Alias, User};
use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::json;

use super::sheet::{Cells, Column, RowKind, SheetWriter};
use crate::domain::Settings;
use crate::store::aliases;
use crate::store::audit;
use crate::store::devices;
use crate::store::tenants;
use crate::store::users;
use crate::store::{Store, StoreResult, sites};

/// Exports tenant `tenant`. With `secrets`, SIP passwords and voicemail PINs are included (and
/// the export is recorded in the audit log as done by `actor`); without, those cells are empty.
pub async fn export(
    store: &Store,
    tenant: String,
    secrets: bool,
    actor: Actor,
) -> StoreResult<String> {
    let (tenant, text) = store
        .read(move |conn| {
            // One read transaction: users, aliases and devices from the same moment.
            let tx = conn.unchecked_transaction()?;
            let tenant = tenants::by_name(&tx, &tenant)?;
            let text = sheet(&tx, &tenant, secrets)?;
            Ok((tenant, text))
        })
        .await?;
    if secrets {
        store
            .write(move |tx| {
                audit::record(
                    tx,
                    &actor,
                    Change {
                        action: "export",
                        entity: "tenant",
                        key: tenant.name.clone(),
                        tenant_id: Some(tenant.id),
                        before: None,
                        after: Some(json!({"secrets": true})),
                        snapshot: None,
                    },
                )
            })
            .await?;
    }
    Ok(text)
}

/// The sheet of `tenant`: each user (by extension), then its aliases in line order, then its
/// devices by MAC.
pub fn sheet(conn: &Connection, tenant: &Tenant, secrets: bool) -> StoreResult<String> {
    let site_names: HashMap<i64, String> = sites::list(conn, tenant.id)?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut aliases_of: HashMap<i64, Vec<Alias>> = HashMap::new();
    for alias in aliases::for_tenant(conn, tenant.id)? {
        aliases_of.entry(alias.user_id).or_default().push(alias);
    }
    let mut devices_of: HashMap<i64, Vec<Device>> = HashMap::new();
    for device in devices::list(conn, Some(tenant.id), None)? {
        devices_of.entry(device.user_id).or_default().push(device);
    }
    let mut writer = SheetWriter::new();
    for user in users::list(conn, tenant.id, None)? {
        writer.row(&user_cells(&user, secrets));
        for alias in aliases_of.get(&user.id).into_iter().flatten() {
            writer.row(&alias_cells(&user, alias, secrets));
        }
        for device in devices_of.get(&user.id).into_iter().flatten() {
            let site = device.site_id.and_then(|id| site_names.get(&id));
            writer.row(&device_cells(&user, device, site));
        }
    }
    Ok(writer.finish())
}

fn cells(kind: RowKind, user: &User) -> Cells {
    let mut cells = Cells::new();
    cells.set(Column::Type, kind.name());
    cells.set(Column::Extension, user.spec.extension.as_str());
    cells
}

fn user_cells(user: &User, secrets: bool) -> Cells {
    let s = &user.spec;
    let mut cells = cells(RowKind::User, user);
    let optional = [
        (Column::Email, s.email.as_ref().map(|v| v.as_str())),
        (
            Column::Department,
            s.department.as_ref().map(|v| v.as_str()),
        ),
        (Column::Site, s.site.as_deref()),
        (Column::CallerId, s.caller_id.as_ref().map(|v| v.as_str())),
        (
            Column::ExternalSip,
            s.external_sip.as_ref().map(|v| v.as_str()),
        ),
    ];
    for (column, value) in optional {
        cells.set(column, value.unwrap_or_default());
    }
    cells.set(Column::Name, s.name.as_str());
    cells.set(Column::Role, s.role.as_str());
    cells.set(Column::Admin, if s.admin { "yes" } else { "" });
    cells.set(Column::SipUsername, s.sip_username.as_str());
    let numbers: Vec<&str> = s.phone_numbers.iter().map(|n| n.as_str()).collect();
    cells.set(Column::PhoneNumbers, numbers.join("|"));
    if let Some(max) = s.max_devices {
        cells.set(Column::MaxDevices, max.to_string());
    }
    if secrets {
        cells.set(Column::SipPassword, s.sip_password.expose());
        if let Some(pin) = &s.voicemail_pin {
            cells.set(Column::VoicemailPin, pin.as_str());
        }
    }
    cells
}

fn alias_cells(user: &User, alias: &Alias, secrets: bool) -> Cells {
    let mut cells = cells(RowKind::Alias, user);
    cells.set(Column::Name, alias.name.as_str());
    cells.set(Column::SipUsername, alias.sip_username.as_str());
    if secrets {
        cells.set(Column::SipPassword, alias.sip_password.expose());
    }
    cells
}

fn device_cells(user: &User, device: &Device, site: Option<&String>) -> Cells {
    let mut cells = cells(RowKind::Device, user);
    cells.set(Column::Mac, device.mac.lower12());
    cells.set(Column::Vendor, device.vendor.as_str());
    cells.set(Column::Model, device.model.clone().unwrap_or_default());
    cells.set(Column::Label, device.label.clone().unwrap_or_default());
    cells.set(Column::Site, site.cloned().unwrap_or_default());
    if device.settings != Settings::default() {
        let json = serde_json::to_string(&device.settings).unwrap_or_default();
        cells.set(Column::Settings, json);
    }
    cells
}
