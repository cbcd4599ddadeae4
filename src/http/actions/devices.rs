//! Devices: registration, changes, status and file previews.

use serde_json::json;

use crate::domain::device::{DeviceDraft, DevicePatch};
use crate::domain::{DeviceStatus, Mac, RuleError, device_status};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::profile::provision::{config_current, device_file, render_common_file};
use crate::profile::{FileKind, FileSpec, Rendered, Vendor, Vendors};
use crate::store::audit::{self, Change};
use crate::store::devices::{self, Device, DeviceBundle};
use crate::store::{StoreResult, uploads};

use super::tenants::load_tenant;

/// Parses a MAC in any common spelling; the error names the `mac` field.
pub fn parse_mac(text: &str) -> ApiResult<Mac> {
    Mac::parse(text).map_err(ApiError::Invalid)
}

/// The vendor profile of a stored device.
pub fn vendor_of<'a>(vendors: &'a Vendors, device: &Device) -> ApiResult<&'a Vendor> {
    vendors.get(&device.vendor).ok_or_else(|| {
        ApiError::Internal(format!(
            "device {} has unknown vendor {}",
            device.mac, device.vendor
        ))
    })
}

/// Loads the device bundle for `mac` (any spelling) and checks the caller's tenant.
pub async fn load(state: &AppState, caller: &Caller, mac: &str) -> ApiResult<DeviceBundle> {
    let mac = parse_mac(mac)?;
    let bundle = state
        .store
        .read(move |c| devices::bundle(c, &mac))
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    caller.require_tenant(&bundle.tenant)?;
    Ok(bundle)
}

/// What a device fetched and its uploads of those names: what [`status_of`] compares.
type StatusInputs = (Vec<(String, String, String)>, Vec<(String, Vec<u8>)>);

fn status_inputs(c: &rusqlite::Connection, device_id: i64) -> StoreResult<StatusInputs> {
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

/// The device status now.
pub async fn status(state: &AppState, bundle: &DeviceBundle) -> ApiResult<DeviceStatus> {
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let id = bundle.device.id;
    let (fetched, uploads) = state.store.read(move |c| status_inputs(c, id)).await?;
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
    state: &AppState,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
) -> ApiResult<Vec<DeviceSummary>> {
    let vendors = state.vendors.clone();
    let found = state
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
        .map(|(bundle, (fetched, uploads))| {
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
    state: &AppState,
    caller: &Caller,
    draft: DeviceDraft,
) -> ApiResult<DeviceBundle> {
    let spec = draft.into_spec()?;
    let vendor =
        state
            .vendors
            .for_new_device(spec.vendor.as_deref(), &spec.mac, spec.model.as_deref())?;
    let tenant = load_tenant(&state.store, caller, spec.tenant.clone()).await?;
    let actor = caller.actor();
    let vendor_id = vendor.id().to_owned();
    let mac = spec.mac;
    state
        .store
        .write(move |tx| devices::insert(tx, &actor, &tenant, &spec, &vendor_id))
        .await?;
    load(state, caller, &mac.lower12()).await
}

/// Applies `patch` to the device with `mac` (re-assign, model, site, label, settings,
/// re-open enrollment). Returns the changed device's bundle.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    mac: &str,
    patch: DevicePatch,
) -> ApiResult<(DeviceBundle, Option<String>)> {
    patch.check()?;
    let bundle = load(state, caller, mac).await?;
    if let Some(model) = &patch.model
        && vendor_of(&state.vendors, &bundle.device)?
            .model_key(model)
            .is_none()
    {
        return Err(ApiError::Invalid(RuleError::new(
            "model",
            "model_unknown",
            format!("{model} is not a {} model", bundle.device.vendor),
        )));
    }
    // Credentials are a security setting: admins only. A generated password is returned to
    // show once.
    let (credentials, generated) = match &patch.phone_credentials {
        None => (None, None),
        Some(change) => {
            caller.require_admin()?;
            match change {
                None => (Some(None), None),
                Some(input) => {
                    let (creds, generated) = input.check(&mut rand::rng())?;
                    (Some(Some(creds)), generated)
                }
            }
        }
    };
    let actor = caller.actor();
    let DeviceBundle { tenant, device, .. } = bundle;
    let mac = device.mac;
    state
        .store
        .write(move |tx| {
            let credentials = credentials.as_ref().map(Option::as_ref);
            devices::update(tx, &actor, &tenant, &device, &patch, credentials)
        })
        .await?;
    Ok((load(state, caller, &mac.lower12()).await?, generated))
}

/// The files the device fetches: its own and its model's common ones.
pub fn file_names<'a>(
    state: &'a AppState,
    bundle: &DeviceBundle,
) -> ApiResult<Vec<(String, &'a FileSpec)>> {
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    Ok(state
        .vendors
        .device_file_names(vendor, &bundle.device.mac, bundle.device.effective_model()))
}

/// The file `name` as the phone gets it (admins only); passwords masked unless `reveal`,
/// which is audited.
pub async fn render_file(
    state: &AppState,
    caller: &Caller,
    bundle: &DeviceBundle,
    name: &str,
    reveal: bool,
) -> ApiResult<Rendered> {
    caller.require_admin()?;
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let model = bundle.device.effective_model();
    let (_, file) = file_names(state, bundle)?
        .into_iter()
        .find(|(n, _)| n == name)
        .ok_or(ApiError::NotFound("file"))?;
    let server_url = preview_server_url(state, bundle).await?;
    let rendered = match file.kind {
        FileKind::Device => {
            let upload = preferred_upload(state, bundle, name, file).await?;
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
        let actor = caller.actor();
        let (key, tenant_id, name) = (
            bundle.device.mac.lower12(),
            bundle.tenant.id,
            name.to_owned(),
        );
        state
            .store
            .write(move |tx| {
                audit::record(
                    tx,
                    &actor,
                    Change {
                        action: "reveal",
                        entity: "device",
                        key,
                        tenant_id: Some(tenant_id),
                        before: None,
                        after: Some(json!({"file": name})),
                        snapshot: None,
                    },
                )
            })
            .await?;
    }
    Ok(rendered)
}

/// The device's upload of `name`, when the profile serves uploads of that file back.
async fn preferred_upload(
    state: &AppState,
    bundle: &DeviceBundle,
    name: &str,
    file: &FileSpec,
) -> ApiResult<Option<Vec<u8>>> {
    if !file.prefer_upload {
        return Ok(None);
    }
    let (id, name) = (bundle.device.id, name.to_owned());
    Ok(state
        .store
        .read(move |c| uploads::get(c, id, &name))
        .await?)
}

/// The base URL a preview renders with: the configured public URL (plus the tenant's key),
/// else the one the phone last used, else a placeholder that cannot resolve.
pub async fn preview_server_url(state: &AppState, bundle: &DeviceBundle) -> ApiResult<String> {
    if let Some(public) = &state.public_url {
        return Ok(match &bundle.tenant.phone_auth.url_key {
            Some(key) => format!("{public}/{key}"),
            None => public.clone(),
        });
    }
    let id = bundle.device.id;
    let fetched = state
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
