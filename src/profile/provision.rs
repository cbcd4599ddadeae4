//! From stored data to a phone's file: the line plan, merged settings, the render context.

use crate::domain::device::DeviceBundle;
use crate::domain::line_plan::{AccountKind, SipAccount};
use crate::domain::{LinePlan, Settings};

use super::Vendor;
use super::context::{CommonContext, DeviceContext, SettingsContext, model_attrs};
use super::render::{RenderError, Rendered, render_common, render_device};
use super::spec::FileSpec;

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

/// Renders `file` for the device of `bundle`; `mask` hides passwords (previews).
pub fn render_device_file(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    file: &FileSpec,
    server_url: &str,
    mask: bool,
) -> Result<(Rendered, LinePlan), RenderError> {
    let settings = device_settings(bundle, vendor);
    render_device_file_with(bundle, vendor, file, server_url, mask, settings)
}

/// The phone-wide settings of the device of `bundle` in `vendor`'s codes (merged tenant → site
/// → device): what [`render_device_file_with`] takes.
pub fn device_settings(bundle: &DeviceBundle, vendor: &Vendor) -> SettingsContext {
    SettingsContext::new(&Settings::merge(&bundle.settings_levels()), vendor)
}

/// [`render_device_file`] with the settings already worked out by [`device_settings`]: they
/// depend only on the vendor and the tenant, site and device settings, so a caller serving many
/// devices may work them out once.
pub fn render_device_file_with(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    file: &FileSpec,
    server_url: &str,
    mask: bool,
    settings: SettingsContext,
) -> Result<(Rendered, LinePlan), RenderError> {
    let plan = line_plan(bundle, vendor);
    let model = bundle.device.effective_model();
    let ctx = DeviceContext::new(
        vendor,
        model,
        &bundle.device.mac,
        &plan,
        settings,
        server_url,
        mask,
    );
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
/// configuration changed since the phone last fetched it.
pub fn config_current(
    bundle: &DeviceBundle,
    vendor: &Vendor,
    fetched: &[(String, String, String)],
) -> bool {
    fetched.iter().all(|(name, hash, server_url)| {
        let Some(file) = vendor.profile.files.iter().find(|f| {
            f.kind == super::FileKind::Device && file_name_for(vendor, f, bundle) == *name
        }) else {
            // The profile no longer serves that name: nothing to compare.
            return true;
        };
        render_device_file(bundle, vendor, file, server_url, false)
            .is_ok_and(|(r, _)| r.etag == *hash)
    })
}

fn file_name_for(vendor: &Vendor, file: &FileSpec, bundle: &DeviceBundle) -> String {
    let mac = &bundle.device.mac;
    file.name
        .replace("{mac}", &mac.lower12())
        .replace("{MAC}", &mac.upper12())
        .replace(
            "{model}",
            bundle
                .device
                .effective_model()
                .and_then(|m| vendor.model_key(m))
                .unwrap_or_default(),
        )
}
