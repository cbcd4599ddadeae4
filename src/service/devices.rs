//! Devices: registration, changes, status and file previews.

use crate::domain::device::{Device, DeviceBundle};
use serde_json::json;

use super::Services;
use super::{ServiceError, ServiceResult};
use crate::domain::Actor;
use crate::domain::Settings;
use crate::domain::device::{DeviceCredentials, DeviceDraft, DevicePatch};
use crate::domain::{DeviceStatus, Mac, RuleError, device_status};
use crate::profile::provision::{config_current, device_file, render_common_file};
use crate::profile::{FileKind, FileSpec, Rendered, Vendor, Vendors};
use crate::store::devices::{self, Secrets};
use crate::store::{StoreResult, uploads};

use super::audit::{Access, record_access};
use super::languages::{self, Scope};
use super::tenants::load_tenant;

/// Parses a MAC in any common spelling; the error names the `mac` field.
pub fn parse_mac(text: &str) -> ServiceResult<Mac> {
    Mac::parse(text).map_err(ServiceError::Invalid)
}

/// The vendor profile of a stored device.
pub fn vendor_of<'a>(vendors: &'a Vendors, device: &Device) -> ServiceResult<&'a Vendor> {
    vendors.get(&device.vendor).ok_or_else(|| {
        ServiceError::Internal(format!(
            "device {} has unknown vendor {}",
            device.mac, device.vendor
        ))
    })
}

/// Loads the device bundle for `mac` (any spelling) and checks the caller's tenant. A
/// well-formed MAC that no phone can have (all-zero, multicast) names no device: not found.
pub async fn load(services: &Services, actor: &Actor, mac: &str) -> ServiceResult<DeviceBundle> {
    let mac = match Mac::parse(mac) {
        Ok(mac) => mac,
        Err(_) if crate::domain::mac::well_formed(mac) => {
            return Err(ServiceError::NotFound("device"));
        }
        Err(e) => return Err(ServiceError::Invalid(e)),
    };
    let mut bundle = services
        .store
        .read(move |c| devices::bundle(c, &mac))
        .await?
        .ok_or(ServiceError::NotFound("device"))?;
    actor.require_tenant(&bundle.tenant)?;
    services.refresh_fetch_state(&mut bundle.device);
    Ok(bundle)
}

/// What a device fetched and its uploads of those names: what [`status_of`] compares.
pub(crate) type StatusInputs = (Vec<(String, String, String)>, Vec<(String, Vec<u8>)>);

/// What [`status_of`] compares for device `device_id`.
pub(crate) fn status_inputs(c: &crate::store::Reader, device_id: i64) -> StoreResult<StatusInputs> {
    Ok((
        devices::fetched_files(c, device_id)?,
        uploads::overrides(c, device_id)?,
    ))
}

/// The status of a device given what it fetched (`devices::fetched_files`) and its uploads of
/// those names (`uploads::overrides`).
pub fn status_of(
    vendor: &Vendor,
    bundle: &DeviceBundle,
    fetched: &[(String, String, String)],
    uploads: &[(String, Vec<u8>)],
) -> DeviceStatus {
    device_status(
        bundle.device.first_fetch_at,
        bundle.device.enroll_deadline,
        config_current(bundle, vendor, fetched, uploads),
        chrono::Utc::now(),
    )
}

/// The device status now, from the status index (worked out here only for a device the index
/// does not know yet).
pub async fn status(services: &Services, bundle: &DeviceBundle) -> ServiceResult<DeviceStatus> {
    if let Some(status) = services
        .statuses
        .status_of(services, bundle.device.id)
        .await?
    {
        return Ok(status);
    }
    let vendor = vendor_of(&services.vendors, &bundle.device)?;
    let id = bundle.device.id;
    let (fetched, uploads) = services.store.read(move |c| status_inputs(c, id)).await?;
    Ok(status_of(vendor, bundle, &fetched, &uploads))
}

/// A device with its owner and status, for lists.
#[derive(Debug, Clone)]
pub struct DeviceSummary {
    /// The device.
    pub device: Device,
    /// Its tenant's name.
    pub tenant: String,
    /// The owner's extension.
    pub extension: String,
    /// The owner's name.
    pub user: String,
    /// The status now.
    pub status: DeviceStatus,
}

/// The devices of one tenant (or all) and/or one user, with their status, in one pass over
/// the store.
pub async fn summaries(
    services: &Services,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
) -> ServiceResult<Vec<DeviceSummary>> {
    let vendors = services.vendors.clone();
    let found = services
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for device in devices::list(c, tenant_id, user_id)? {
                let Some(bundle) = devices::bundle(c, &device.mac)? else {
                    continue;
                };
                out.push((bundle, status_inputs(c, device.id)?));
            }
            Ok(out)
        })
        .await?;
    found
        .into_iter()
        .map(|(mut bundle, (fetched, uploads))| {
            services.refresh_fetch_state(&mut bundle.device);
            let vendor = vendor_of(&vendors, &bundle.device)?;
            let status = status_of(vendor, &bundle, &fetched, &uploads);
            Ok(DeviceSummary {
                status,
                tenant: bundle.tenant.name,
                extension: bundle.owner.spec.extension.to_string(),
                user: bundle.owner.spec.name.to_string(),
                device: bundle.device,
            })
        })
        .collect()
}

/// Registers a device: the vendor given or recognised from the MAC, the model checked against
/// it, the owner and limits checked by the store. Returns the new device's bundle.
pub async fn register(
    services: &Services,
    actor: &Actor,
    draft: DeviceDraft,
) -> ServiceResult<DeviceBundle> {
    let spec = draft.into_spec()?;
    let vendor = services.vendors.for_new_device(
        spec.vendor.as_deref(),
        &spec.mac,
        spec.model.as_deref(),
    )?;
    let tenant = load_tenant(services, actor, spec.tenant.clone()).await?;
    let vendor_id = vendor.id().to_owned();
    let mac = spec.mac;
    let by = actor.clone();
    let vendors = services.vendors.clone();
    services
        .store
        .write(move |tx| {
            devices::insert(tx, &by, &tenant, &spec, &vendor_id)?;
            languages::check(
                tx,
                &vendors,
                Scope::Device(&mac),
                language_field(&spec.settings),
            )
        })
        .await?;
    load(services, actor, &mac.lower12()).await
}

/// The field a refused language is reported on: the device's own setting when it has one,
/// else the inherited `language`.
fn language_field(settings: &Settings) -> &'static str {
    if settings.language.is_some() {
        "settings.language"
    } else {
        "language"
    }
}

/// Passwords a device change generated, to show once.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The device's own HTTP credentials password.
    pub credentials_password: Option<String>,
    /// The phone's admin password, when `"generate"` asked for one.
    pub admin_password: Option<String>,
}

/// Applies `patch` to the device with `mac` (re-assign, model, site, label, settings,
/// re-open enrollment, its own credentials and admin password). Returns the changed device's
/// bundle and the passwords generated, to show once.
pub async fn update(
    services: &Services,
    actor: &Actor,
    mac: &str,
    patch: DevicePatch,
) -> ServiceResult<(DeviceBundle, Generated)> {
    patch.check()?;
    let bundle = load(services, actor, mac).await?;
    if let Some(model) = &patch.model
        && vendor_of(&services.vendors, &bundle.device)?
            .model_key(model)
            .is_none()
    {
        return Err(ServiceError::Invalid(RuleError::new(
            "model",
            "model_unknown",
            format!("{model} is not a {} model", bundle.device.vendor),
        )));
    }
    let (credentials, credentials_password) = credentials_change(actor, &patch)?;
    let (admin_password, generated_admin) = match patch.admin_password_change()? {
        None => (None, None),
        Some(change) => {
            let (password, shown) = change.resolve(&mut rand::rng());
            (Some(password), shown)
        }
    };
    let language_may_change = patch.settings.is_some()
        || patch.site.is_some()
        || patch.extension.is_some()
        || patch.model.is_some();
    let field = language_field(patch.settings.as_ref().unwrap_or(&Settings::default()));
    let DeviceBundle { tenant, device, .. } = bundle;
    let mac = device.mac;
    let by = actor.clone();
    let vendors = services.vendors.clone();
    services
        .store
        .write(move |tx| {
            let secrets = Secrets {
                credentials: credentials.as_ref().map(Option::as_ref),
                admin_password: admin_password.as_ref().map(Option::as_ref),
            };
            devices::update(tx, &by, &tenant, &device, &patch, secrets)?;
            if language_may_change {
                languages::check(tx, &vendors, Scope::Device(&mac), field)?;
            }
            Ok(())
        })
        .await?;
    let generated = Generated {
        credentials_password,
        admin_password: generated_admin,
    };
    Ok((load(services, actor, &mac.lower12()).await?, generated))
}

/// The device's own credentials as `patch` changes them (a security setting: admins only),
/// with a generated password to show once.
fn credentials_change(
    actor: &Actor,
    patch: &DevicePatch,
) -> ServiceResult<(Option<Option<DeviceCredentials>>, Option<String>)> {
    let Some(change) = &patch.phone_credentials else {
        return Ok((None, None));
    };
    actor.require_admin()?;
    Ok(match change {
        None => (Some(None), None),
        Some(input) => {
            let (creds, generated) = input.check(&mut rand::rng())?;
            (Some(Some(creds)), generated)
        }
    })
}

/// The files the device fetches: its own and its model's common ones.
pub fn file_names<'a>(
    services: &'a Services,
    bundle: &DeviceBundle,
) -> ServiceResult<Vec<(String, &'a FileSpec)>> {
    let vendor = vendor_of(&services.vendors, &bundle.device)?;
    Ok(services.vendors.device_file_names(
        vendor,
        &bundle.device.mac,
        bundle.device.effective_model(),
    ))
}

/// The file `name` as the phone gets it (admins only); passwords masked unless `reveal`,
/// which is audited.
pub async fn render_file(
    services: &Services,
    actor: &Actor,
    bundle: &DeviceBundle,
    name: &str,
    reveal: bool,
) -> ServiceResult<Rendered> {
    actor.require_admin()?;
    let vendor = vendor_of(&services.vendors, &bundle.device)?;
    let model = bundle.device.effective_model();
    let (_, file) = file_names(services, bundle)?
        .into_iter()
        .find(|(n, _)| n == name)
        .ok_or(ServiceError::NotFound("file"))?;
    let server_url = preview_server_url(services, bundle).await?;
    let rendered = match file.kind {
        FileKind::Device => {
            let upload = preferred_upload(services, bundle, name, file).await?;
            let mask = !reveal;
            device_file(
                bundle,
                vendor,
                file,
                upload.as_deref(),
                &server_url,
                mask,
                None,
            )?
            .into_rendered()
        }
        FileKind::Common => {
            let levels = if bundle.tenant.phone_auth.url_key.is_some() {
                vec![&bundle.tenant.settings]
            } else {
                vec![]
            };
            render_common_file(vendor, file, model, &levels, &server_url)?
        }
    };
    if reveal && file.kind == FileKind::Device {
        let access = Access {
            action: "reveal",
            entity: "device",
            key: bundle.device.mac.lower12(),
            tenant_id: bundle.tenant.id,
            detail: json!({"file": name}),
        };
        record_access(services, actor, access).await?;
    }
    Ok(rendered)
}

/// The device's upload of `name`, when the profile serves uploads of that file back.
async fn preferred_upload(
    services: &Services,
    bundle: &DeviceBundle,
    name: &str,
    file: &FileSpec,
) -> ServiceResult<Option<Vec<u8>>> {
    if !file.prefer_upload {
        return Ok(None);
    }
    let (id, name) = (bundle.device.id, name.to_owned());
    Ok(services
        .store
        .read(move |c| uploads::get(c, id, &name))
        .await?)
}

/// The base URL a preview renders with: the configured public URL (plus the tenant's key),
/// else the one the phone last used, else a placeholder that cannot resolve.
pub async fn preview_server_url(
    services: &Services,
    bundle: &DeviceBundle,
) -> ServiceResult<String> {
    if let Some(public) = &services.public_url {
        return Ok(match &bundle.tenant.phone_auth.url_key {
            Some(key) => format!("{public}/{key}"),
            None => public.clone(),
        });
    }
    let id = bundle.device.id;
    let fetched = services
        .store
        .read(move |c| devices::fetched_files(c, id))
        .await?;
    Ok(fetched
        .into_iter()
        .map(|(_, _, url)| url)
        .next()
        .unwrap_or_else(|| "http://deskprov.invalid".to_owned()))
}

/// What a typed MAC is: its normal spelling and the vendor its prefix belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacHint {
    /// `00:15:65:aa:bb:cc`, when the text is a MAC.
    pub mac: Option<String>,
    /// The vendor's name, when the prefix is known.
    pub vendor: Option<String>,
    /// One line for the person typing: the vendor, or what is wrong.
    pub message: String,
}

/// Reads `input` as a MAC in any common spelling and names the vendor of its prefix.
pub fn mac_hint(vendors: &Vendors, input: &str) -> MacHint {
    let mac = match Mac::parse(input.trim()) {
        Ok(mac) => mac,
        Err(e) => {
            return MacHint {
                mac: None,
                vendor: None,
                message: e.message,
            };
        }
    };
    let oui = mac.colon()[..8].to_owned();
    match vendors.for_mac(&mac) {
        Some(v) => MacHint {
            mac: Some(mac.colon()),
            vendor: Some(v.profile.name.clone()),
            message: format!("{} ({oui})", v.profile.name),
        },
        None => MacHint {
            mac: Some(mac.colon()),
            vendor: None,
            message: format!("{oui} is not a known vendor prefix: choose the vendor"),
        },
    }
}

/// Up to `limit` devices (of one tenant when given, else those the actor may see) whose MAC
/// sorts after `after` (12 lower-case hex digits, see [`crate::domain::mac::sort_key`]), by
/// MAC, with whether more follow; every device without a limit.
pub async fn page(
    services: &Services,
    actor: &Actor,
    tenant: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
) -> ServiceResult<(Vec<DeviceBundle>, bool)> {
    let tenant_id = match tenant {
        Some(name) => Some(load_tenant(services, actor, name).await?.id),
        None => actor.tenant_id,
    };
    // One more than asked for tells whether another page follows.
    let wanted = limit.map_or(u32::MAX, |n| n.saturating_add(1));
    let found = services
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for device in devices::page(c, tenant_id, after.as_deref(), wanted)? {
                if let Some(bundle) = devices::bundle(c, &device.mac)? {
                    out.push(bundle);
                }
            }
            Ok(out)
        })
        .await?;
    let more = limit.is_some_and(|n| found.len() > n as usize);
    let mut found = found;
    found.truncate(limit.map_or(usize::MAX, |n| n as usize));
    for bundle in &mut found {
        services.refresh_fetch_state(&mut bundle.device);
    }
    Ok((found, more))
}

/// Deletes a device once `confirm` repeats its MAC (any spelling); the record stays in the
/// audit log.
pub async fn remove(
    services: &Services,
    actor: &Actor,
    mac: &str,
    confirm: Option<&str>,
) -> ServiceResult<()> {
    let bundle = load(services, actor, mac).await?;
    let confirmed = confirm.and_then(|c| Mac::parse(c).ok()) == Some(bundle.device.mac);
    if !confirmed {
        return Err(ServiceError::BadRequest(RuleError::new(
            "confirm",
            "confirmation_required",
            format!(
                "to delete this device, repeat its MAC: ?confirm={}",
                bundle.device.mac
            ),
        )));
    }
    let by = actor.clone();
    services
        .store
        .write(move |tx| devices::delete(tx, &by, &bundle.device))
        .await?;
    Ok(())
}

/// The files the phone uploaded, the latest of each (admins).
pub async fn uploads(
    services: &Services,
    actor: &Actor,
    mac: &str,
) -> ServiceResult<Vec<crate::domain::UploadInfo>> {
    actor.require_admin()?;
    let id = load(services, actor, mac).await?.device.id;
    Ok(services
        .store
        .read(move |c| crate::store::uploads::list(c, id))
        .await?)
}

/// The latest upload of `file` by the phone, as it sent it (admins).
pub async fn upload(
    services: &Services,
    actor: &Actor,
    mac: &str,
    file: String,
) -> ServiceResult<Vec<u8>> {
    actor.require_admin()?;
    let id = load(services, actor, mac).await?.device.id;
    services
        .store
        .read(move |c| crate::store::uploads::get(c, id, &file))
        .await?
        .ok_or(ServiceError::NotFound("upload"))
}

/// The phone's latest events, newest first (admins).
pub async fn history_of(
    services: &Services,
    actor: &Actor,
    mac: &str,
    limit: u32,
) -> ServiceResult<Vec<crate::domain::history::EventView>> {
    actor.require_admin()?;
    let bundle = load(services, actor, mac).await?;
    history(services, &bundle, limit).await
}

/// The latest events of the phone (first fetch, changes, new versions, refusals), newest
/// first.
pub async fn history(
    services: &Services,
    bundle: &DeviceBundle,
    limit: u32,
) -> ServiceResult<Vec<crate::domain::history::EventView>> {
    let mac = bundle.device.mac.lower12();
    let tenant_id = bundle.device.tenant_id;
    Ok(services
        .store
        .read(move |c| crate::store::history::of_device(c, &mac, tenant_id, limit))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_vendor_or_the_problem() {
        let vendors = Vendors::builtin().unwrap();
        let hint = mac_hint(&vendors, " 00-15-65-AA-BB-CC ");
        assert_eq!(hint.mac.as_deref(), Some("00:15:65:aa:bb:cc"));
        assert_eq!(hint.vendor.as_deref(), Some("Yealink"));
        assert_eq!(hint.message, "Yealink (00:15:65)");
        let unknown = mac_hint(&vendors, "0200000000aa");
        assert_eq!(unknown.vendor, None);
        assert!(unknown.message.contains("02:00:00"), "{unknown:?}");
        let bad = mac_hint(&vendors, "00:15:65");
        assert_eq!(bad.mac, None);
        assert!(bad.message.contains("12 hex digits"), "{bad:?}");
    }
}
