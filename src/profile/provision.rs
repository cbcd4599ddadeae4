//! From stored data to a phone's file: the line plan, merged settings, the render context.

use crate::domain::device::DeviceBundle;
use crate::domain::key_plan::{self, KeySources, Layout};
use crate::domain::line_plan::{AccountKind, SipAccount};
use crate::domain::{LinePlan, Settings};

use super::Vendor;
use super::context::{CommonContext, DeviceContext, SettingsContext, model_attrs};
use super::registry::expand_name;
use super::render::{RenderError, Rendered, render_common, render_device};
use super::spec::{FileKind, FileSpec};

/// The line plan of a device: owner on line 1, aliases after, overflow beyond the capacity.
pub fn line_plan(bundle: &DeviceBundle, vendor: &Vendor) -> LinePlan {
    let owner = &bundle.owner.spec;
    let owner_account = SipAccount {
        kind: AccountKind::User,
        alias_id: None,
        name: owner.name.to_string(),
        sip_username: owner.sip_username.to_string(),
        password: owner.sip_password.clone(),
    };
    let aliases = bundle
        .aliases
        .iter()
        .map(|a| SipAccount {
            kind: AccountKind::Alias,
            alias_id: Some(a.id),
            name: a.name.clone(),
            sip_username: a.sip_username.clone(),
            password: a.sip_password.clone(),
        })
        .collect();
    LinePlan::build(
        owner_account,
        aliases,
        vendor.capacity(bundle.device.effective_model()),
    )
}

/// The key layout of a device for its model: plan accounts first, the owner's keys, the
/// device's overrides, and the overflow (see [`crate::domain::key_plan`]).
pub fn key_layout(bundle: &DeviceBundle, vendor: &Vendor) -> Layout {
    layout_of(bundle, vendor, &line_plan(bundle, vendor))
}

fn layout_of(bundle: &DeviceBundle, vendor: &Vendor, plan: &LinePlan) -> Layout {
    let model = vendor.key_capacity(bundle.device.effective_model());
    let keys = &bundle.keys;
    key_plan::resolve(
        &model,
        KeySources {
            plan,
            user: &keys.user,
            device: &keys.device,
            names: &keys.names,
        },
    )
}

/// What a device gets for one of its files.
#[derive(Debug, Clone)]
pub enum DeviceFile {
    /// Rendered from the profile's template, with the line plan written into it.
    Rendered(Rendered, LinePlan),
    /// The device's own upload of that name, served back as stored.
    Uploaded(Rendered),
}

impl DeviceFile {
    /// The bytes, content type and ETag.
    pub fn rendered(&self) -> &Rendered {
        match self {
            DeviceFile::Rendered(r, _) | DeviceFile::Uploaded(r) => r,
        }
    }

    /// The bytes, content type and ETag, owned.
    pub fn into_rendered(self) -> Rendered {
        match self {
            DeviceFile::Rendered(r, _) | DeviceFile::Uploaded(r) => r,
        }
    }
}

/// The bytes the device of `bundle` gets for `file`: its own `upload` of that name when the
/// profile prefers uploads for the file and the upload is text, else the rendered template.
/// `mask` hides passwords in what is rendered (previews); an upload is the phone's own text and
/// comes back as stored. `settings` are the device's [`device_settings`] when the caller already
/// has them (the phone path caches them), else they are worked out here.
pub fn device_file(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    file: &FileSpec,
    upload: Option<&[u8]>,
    server_url: &str,
    mask: bool,
    settings: Option<SettingsContext>,
) -> Result<DeviceFile, RenderError> {
    if let Some(text) = upload
        .filter(|_| file.prefer_upload)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
    {
        return Ok(DeviceFile::Uploaded(Rendered::verbatim(
            file,
            text.to_owned(),
        )));
    }
    let settings = settings.unwrap_or_else(|| device_settings(bundle, vendor));
    let (rendered, plan) = render_with(bundle, vendor, file, server_url, mask, settings)?;
    Ok(DeviceFile::Rendered(rendered, plan))
}

/// Renders the template of `file` for the device of `bundle`, whatever the device uploaded:
/// [`device_file`] is what the phone gets. `mask` hides passwords.
pub fn render_device_file(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    file: &FileSpec,
    server_url: &str,
    mask: bool,
) -> Result<(Rendered, LinePlan), RenderError> {
    let settings = device_settings(bundle, vendor);
    render_with(bundle, vendor, file, server_url, mask, settings)
}

/// The phone-wide settings of the device of `bundle` in `vendor`'s codes (merged tenant → site
/// → device): what [`device_file`] takes. They depend only on the vendor and the tenant, site
/// and device settings, so a caller serving many devices may work them out once.
pub fn device_settings(bundle: &DeviceBundle, vendor: &Vendor) -> SettingsContext {
    SettingsContext::new(&Settings::merge(&bundle.settings_levels()), vendor)
}

fn render_with(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    file: &FileSpec,
    server_url: &str,
    mask: bool,
    settings: SettingsContext,
) -> Result<(Rendered, LinePlan), RenderError> {
    let plan = line_plan(bundle, vendor);
    let ctx = DeviceContext::new(
        vendor,
        &bundle.device,
        &plan,
        settings,
        server_url,
        bundle.admin_password().0,
        mask,
    )
    .with_keys(&layout_of(bundle, vendor, &plan), vendor);
    Ok((render_device(file, &ctx)?, plan))
}

/// Renders a common `file` of `vendor` for `model`, with settings merged from `levels`
/// (empty for phones of no known tenant: built-in defaults).
pub fn render_common_file(
    vendor: &Vendor,
    file: &FileSpec,
    model: Option<&str>,
    levels: &[&Settings],
    server_url: &str,
) -> Result<Rendered, RenderError> {
    let ctx = CommonContext {
        vendor_id: vendor.id().to_owned(),
        vendor_name: vendor.profile.name.clone(),
        model: model
            .and_then(|m| vendor.model_key(m))
            .unwrap_or_default()
            .to_owned(),
        attrs: model_attrs(vendor, model),
        server_url: server_url.to_owned(),
        settings: SettingsContext::new(&Settings::merge(levels), vendor),
    };
    render_common(file, &ctx)
}

/// Whether every file the device fetched would still come out the same: `false` means its
/// configuration changed since the phone last fetched it. `uploads` are the device's uploads of
/// names it fetched (`store::uploads::overrides`): files it is served back.
pub fn config_current(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    fetched: &[(String, String, String)],
    uploads: &[(String, Vec<u8>)],
) -> bool {
    let mac = &bundle.device.mac;
    let model = bundle.device.effective_model();
    let settings = device_settings(bundle, vendor);
    fetched.iter().all(|(name, hash, server_url)| {
        let Some(file) = vendor.profile.files.iter().find(|f| {
            f.kind == FileKind::Device
                && expand_name(&f.name, vendor, Some(mac), model).as_deref() == Some(name)
        }) else {
            // The profile no longer serves that name: nothing to compare.
            return true;
        };
        let upload = uploads
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, body)| body.as_slice());
        let settings = Some(settings.clone());
        device_file(bundle, vendor, file, upload, server_url, false, settings)
            .is_ok_and(|f| f.rendered().etag == *hash)
    })
}
