//! Writing a tenant's stored records as the sheet the import reads, so that an export imported
//! into an empty tenant of the same name gives the same export again.

use std::collections::HashMap;

use super::format::{Cells, Column, RowKind, SheetWriter};
use super::keys::key_cells;
use crate::domain::Key;
use crate::domain::Settings;
use crate::domain::device::Device;
use crate::domain::keys::KeyOwner;
use crate::domain::user::{Alias, User};

/// A tenant's users, aliases and devices, read at one moment, as export writes them.
#[derive(Debug, Clone, Default)]
pub struct TenantRecords {
    /// Users, in the order they are written (by extension).
    pub users: Vec<User>,
    /// Aliases, in line order within each user.
    pub aliases: Vec<Alias>,
    /// Devices, by MAC within each user.
    pub devices: Vec<Device>,
    /// Site names by row id, for the devices' `site` cell.
    pub site_names: HashMap<i64, String>,
    /// Each user's keys in order, by user row id.
    pub user_keys: HashMap<i64, Vec<Key>>,
    /// Each device's keys in order, by device row id.
    pub device_keys: HashMap<i64, Vec<Key>>,
}

/// The sheet of `records`: each user, then its aliases in line order, its keys in order, then
/// its devices, each followed by its keys. With `secrets`, SIP passwords and voicemail PINs are
/// written; without, those cells are empty.
pub fn write(records: &TenantRecords, secrets: bool) -> String {
    let mut aliases_of: HashMap<i64, Vec<&Alias>> = HashMap::new();
    for alias in &records.aliases {
        aliases_of.entry(alias.user_id).or_default().push(alias);
    }
    let mut devices_of: HashMap<i64, Vec<&Device>> = HashMap::new();
    for device in &records.devices {
        devices_of.entry(device.user_id).or_default().push(device);
    }
    let mut writer = SheetWriter::new();
    for user in &records.users {
        writer.row(&user_cells(user, secrets));
        for alias in aliases_of.get(&user.id).into_iter().flatten() {
            writer.row(&alias_cells(user, alias, secrets));
        }
        let owner = KeyOwner::User(user.spec.extension.to_string());
        for key in records.user_keys.get(&user.id).into_iter().flatten() {
            writer.row(&key_cells(&owner, key));
        }
        for device in devices_of.get(&user.id).into_iter().flatten() {
            let site = device.site_id.and_then(|id| records.site_names.get(&id));
            writer.row(&device_cells(user, device, site));
            let owner = KeyOwner::Device(device.mac);
            for key in records.device_keys.get(&device.id).into_iter().flatten() {
                writer.row(&key_cells(&owner, key));
            }
        }
    }
    writer.finish()
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
