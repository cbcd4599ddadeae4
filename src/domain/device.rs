//! Devices as installers and admins describe them.

use serde::Deserialize;

use super::tenant::{Site, Tenant};
use super::time::time_text;
use super::user::{Alias, User};
use super::{
    AdminPassword, AdminPasswordChange, Label, Mac, PrintableText, RuleError, Settings, SipPassword,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// A device as sent in `POST /api/v1/devices`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceDraft {
    /// MAC in any common spelling (required).
    #[schema(schema_with = super::mac::mac_schema, required = true)]
    pub mac: Option<String>,
    /// Tenant name (required).
    #[schema(example = "testsite.com", required = true, nullable = false)]
    pub tenant: Option<String>,
    /// Extension of the owning user (required).
    #[schema(example = "101", required = true, nullable = false)]
    pub extension: Option<String>,
    /// Vendor profile id; detected from the MAC's OUI when absent.
    pub vendor: Option<String>,
    /// Model (`T46U`); refined from the phone's User-Agent on fetch.
    pub model: Option<String>,
    /// Site name.
    pub site: Option<String>,
    /// Label (`Reception desk`).
    pub label: Option<String>,
    /// Device-level settings, laid over tenant and site.
    pub settings: Option<Settings>,
}

/// A device patch (`PATCH /api/v1/devices/{mac}`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// Re-assign to the user with this extension.
    pub extension: Option<String>,
    /// Change the model.
    pub model: Option<String>,
    /// Change the site (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    pub site: Option<Option<String>>,
    /// Change the label (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    pub label: Option<Option<String>>,
    /// Replace the device-level settings.
    pub settings: Option<Settings>,
    /// Re-open the enrollment window from now.
    pub reopen_enrollment: Option<bool>,
    /// Credentials for this device alone, instead of the tenant's (`null` removes them).
    #[serde(default, deserialize_with = "nullable")]
    pub phone_credentials: Option<Option<DeviceCredentialsInput>>,
    /// The phone's admin password: a chosen one, or `"generate"` for a new random one (shown
    /// once in the answer); either wins over the site's and the tenant's. `null` removes it:
    /// the site's, else the tenant's, else the one generated at registration applies.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone_admin_password: Option<Option<String>>,
}

/// Per-device HTTP credentials as sent: a username and one or two passwords (two during a
/// rotation); with no password, one is generated and shown once.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCredentialsInput {
    /// Username the phone presents.
    pub username: String,
    /// Accepted passwords: one, or two during a rotation.
    #[serde(default)]
    #[schema(max_items = 2)]
    pub passwords: Vec<String>,
}

/// Checked per-device credentials.
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct DeviceCredentials {
    /// Username the phone presents.
    pub username: String,
    /// Accepted passwords.
    pub passwords: Vec<String>,
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("username", &self.username)
            .field(
                "passwords",
                &format_args!("[{} redacted]", self.passwords.len()),
            )
            .finish()
    }
}

impl DeviceCredentialsInput {
    /// Checks the input; a missing password is generated with `rng`. Returns the generated
    /// password too, to show once.
    pub fn check(
        &self,
        rng: &mut impl rand::Rng,
    ) -> Result<(DeviceCredentials, Option<String>), RuleError> {
        let ok = !self.username.is_empty()
            && self.username.len() <= 64
            && self
                .username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(RuleError::new(
                "phone_credentials.username",
                "username_invalid",
                "1 to 64 characters of letters, digits, '.', '_' and '-'",
            ));
        }
        if self.passwords.len() > 2 {
            return Err(RuleError::new(
                "phone_credentials.passwords",
                "too_many_passwords",
                "at most two passwords are valid at once (the current and the next, for rotation)",
            ));
        }
        for (i, pw) in self.passwords.iter().enumerate() {
            SipPassword::parse(pw, &format!("phone_credentials.passwords[{i}]"))?;
        }
        let (passwords, generated) = if self.passwords.is_empty() {
            let pw = SipPassword::generate(rng).expose().to_owned();
            (vec![pw.clone()], Some(pw))
        } else {
            (self.passwords.clone(), None)
        };
        Ok((
            DeviceCredentials {
                username: self.username.clone(),
                passwords,
            },
            generated,
        ))
    }
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A checked new device; the owner's extension is checked against the tenant by the store.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// The MAC.
    pub mac: Mac,
    /// Tenant name.
    pub tenant: String,
    /// Owner's extension as given.
    pub extension: String,
    /// Vendor profile id as given (checked against the profiles by the caller).
    pub vendor: Option<String>,
    /// Model, if known.
    pub model: Option<String>,
    /// Site name.
    pub site: Option<String>,
    /// Label.
    pub label: Option<Label>,
    /// Device-level settings.
    pub settings: Settings,
}

impl DeviceDraft {
    /// Checks the fields that need no data.
    pub fn into_spec(self) -> Result<DeviceSpec, RuleError> {
        let mac = self
            .mac
            .as_deref()
            .ok_or_else(|| RuleError::new("mac", "required", "a device needs its MAC"))?;
        let tenant = self
            .tenant
            .ok_or_else(|| RuleError::new("tenant", "required", "a device needs a tenant"))?;
        let extension = self.extension.ok_or_else(|| {
            RuleError::new(
                "extension",
                "required",
                "a device needs the extension of its user",
            )
        })?;
        let settings = self.settings.unwrap_or_default();
        settings.validate("settings.")?;
        Ok(DeviceSpec {
            mac: Mac::parse(mac.trim())?,
            tenant,
            extension,
            vendor: self.vendor,
            model: self.model.as_deref().map(parse_model).transpose()?,
            site: self.site,
            label: self
                .label
                .as_deref()
                .map(|l| PrintableText::name(l, "label"))
                .transpose()?,
            settings,
        })
    }
}

impl DevicePatch {
    /// Checks the fields that need no data.
    pub fn check(&self) -> Result<(), RuleError> {
        if let Some(model) = &self.model {
            parse_model(model)?;
        }
        if let Some(Some(label)) = &self.label {
            PrintableText::name(label, "label")?;
        }
        if let Some(settings) = &self.settings {
            settings.validate("settings.")?;
        }
        self.admin_password_change()?;
        Ok(())
    }

    /// What the patch asks for the device's own admin password, if anything.
    pub fn admin_password_change(&self) -> Result<Option<AdminPasswordChange>, RuleError> {
        self.phone_admin_password
            .as_ref()
            .map(|pw| AdminPasswordChange::parse(pw.as_deref(), "phone_admin_password"))
            .transpose()
    }
}

/// A model name: letters, digits, `-`, `_`, `.`, at most 32 characters (`T46U`, `VVX_411`).
pub fn parse_model(input: &str) -> Result<String, RuleError> {
    let ok = !input.is_empty()
        && input.len() <= 32
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(input.to_owned())
    } else {
        Err(RuleError::new(
            "model",
            "model_invalid",
            "a model is 1 to 32 letters, digits, '-', '_' or '.' (e.g. T46U)",
        ))
    }
}

/// A stored device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Row id.
    pub id: i64,
    /// MAC.
    pub mac: Mac,
    /// Tenant row id.
    pub tenant_id: i64,
    /// Owner's row id.
    pub user_id: i64,
    /// Vendor profile id (`yealink`).
    pub vendor: String,
    /// Model as registered (or learnt from the User-Agent).
    pub model: Option<String>,
    /// Site row id.
    pub site_id: Option<i64>,
    /// Label.
    pub label: Option<String>,
    /// Device-level settings.
    pub settings: Settings,
    /// End of the enrollment window.
    pub enroll_deadline: DateTime<Utc>,
    /// First successful fetch.
    pub first_fetch_at: Option<DateTime<Utc>>,
    /// Latest successful fetch.
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// Address of the latest fetch.
    pub last_ip: Option<String>,
    /// Model from the latest User-Agent.
    pub seen_model: Option<String>,
    /// Firmware from the latest User-Agent.
    pub seen_firmware: Option<String>,
    /// Address of the first successful fetch (the binding).
    pub bound_ip: Option<String>,
    /// Client certificate fingerprint of the first successful fetch, if it used one.
    pub bound_cert: Option<String>,
    /// Credentials for this device alone, if set (else the tenant's apply).
    pub credentials: Option<DeviceCredentials>,
    /// Admin password set for this device alone (wins over the site's and the tenant's).
    pub admin_password: Option<AdminPassword>,
    /// Admin password generated at registration: what the phone gets when no level sets one,
    /// so no phone keeps its factory default.
    pub generated_admin_password: AdminPassword,
    /// Created.
    pub created_at: String,
}

impl Device {
    /// Whether the phone may still be served: it has fetched once, or its window is open.
    pub fn enrollment_open(&self, at: DateTime<Utc>) -> bool {
        self.first_fetch_at.is_some() || at <= self.enroll_deadline
    }

    /// The model used for rendering: what the phone said it is, else what was registered.
    pub fn effective_model(&self) -> Option<&str> {
        self.seen_model.as_deref().or(self.model.as_deref())
    }

    /// The device as JSON, secrets left out (`phone_admin_password_set` says whether the
    /// device has an admin password of its own).
    pub fn to_json(&self) -> Value {
        json!({
            "mac": self.mac.lower12(),
            "vendor": self.vendor,
            "model": self.model,
            "label": self.label,
            "settings": self.settings,
            "enroll_deadline": time_text(self.enroll_deadline),
            "first_fetch_at": self.first_fetch_at.map(time_text),
            "last_fetch_at": self.last_fetch_at.map(time_text),
            "last_ip": self.last_ip,
            "seen_model": self.seen_model,
            "seen_firmware": self.seen_firmware,
            "bound_ip": self.bound_ip,
            "bound_cert_fingerprint": self.bound_cert,
            "phone_credentials": self.credentials.as_ref().map(|c| json!({
                "username": c.username,
                "passwords_set": c.passwords.len(),
            })),
            "phone_admin_password_set": self.admin_password.is_some(),
            "created_at": self.created_at,
        })
    }
}

/// What the phone path keeps of a registered device between requests, for every device: who
/// it is, what its gates check, and which rows its files are made of. Small on purpose: one is
/// kept per device, and the rest of a [`DeviceBundle`] is read again only to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDevice {
    /// Row id.
    pub id: i64,
    /// MAC.
    pub mac: Mac,
    /// Tenant row id.
    pub tenant_id: i64,
    /// Owner's row id.
    pub owner_id: i64,
    /// The device's own site and its owner's; the first of them is the device's site.
    pub sites: [Option<i64>; 2],
    /// Vendor profile id.
    pub vendor: std::sync::Arc<str>,
    /// The model its files are rendered for unless the phone names another.
    pub model: Option<std::sync::Arc<str>>,
    /// End of the enrollment window, while the device has not fetched since it was opened.
    pub enroll_until: Option<DateTime<Utc>>,
    /// Client certificate fingerprint the device is bound to.
    pub bound_cert: Option<std::sync::Arc<str>>,
    /// Credentials for this device alone.
    pub credentials: Option<std::sync::Arc<DeviceCredentials>>,
}

impl PhoneDevice {
    /// The phone path's view of `bundle`'s device.
    pub fn of(bundle: &DeviceBundle) -> Self {
        Self::new(&bundle.device, bundle.owner.site_id)
    }

    /// The phone path's view of `device`, whose owner is at `owner_site_id`.
    pub fn new(device: &Device, owner_site_id: Option<i64>) -> Self {
        Self {
            id: device.id,
            mac: device.mac,
            tenant_id: device.tenant_id,
            owner_id: device.user_id,
            sites: [device.site_id, owner_site_id],
            vendor: device.vendor.as_str().into(),
            model: device.effective_model().map(Into::into),
            enroll_until: match device.first_fetch_at {
                Some(_) => None,
                None => Some(device.enroll_deadline),
            },
            bound_cert: device.bound_cert.as_deref().map(Into::into),
            credentials: device.credentials.clone().map(std::sync::Arc::new),
        }
    }

    /// Whether it fetched since its enrollment window was (last) opened.
    pub fn enrolled(&self) -> bool {
        self.enroll_until.is_none()
    }

    /// Whether the phone may still be served: it has fetched once, or its window is open.
    pub fn enrollment_open(&self, at: DateTime<Utc>) -> bool {
        self.enroll_until.is_none_or(|deadline| at <= deadline)
    }

    /// The site whose settings and address checks apply: its own, else its owner's.
    pub fn site_id(&self) -> Option<i64> {
        self.sites[0].or(self.sites[1])
    }
}

/// Everything needed to render a device's files.
#[derive(Debug, Clone)]
pub struct DeviceBundle {
    /// The device.
    pub device: Device,
    /// Its tenant.
    pub tenant: Tenant,
    /// The device's site, else its owner's.
    pub site: Option<Site>,
    /// The owning user.
    pub owner: User,
    /// The owner's aliases in order.
    pub aliases: Vec<Alias>,
    /// The owner's keys and the device's own, with the names of the users they aim at.
    pub keys: super::keys::DeviceKeys,
}

impl DeviceBundle {
    /// Settings levels in merge order (tenant → site → device), for [`Settings::merge`].
    pub fn settings_levels(&self) -> Vec<&Settings> {
        let mut levels = vec![&self.tenant.settings];
        if let Some(site) = &self.site {
            levels.push(&site.settings);
        }
        levels.push(&self.device.settings);
        levels
    }

    /// The phone's admin password and the level it comes from: the device's own, else the
    /// site's, else the tenant's, else the one generated for the device at registration.
    pub fn admin_password(&self) -> (&AdminPassword, AdminPasswordSource) {
        let site = self.site.as_ref().and_then(|s| s.admin_password.as_ref());
        [
            (
                self.device.admin_password.as_ref(),
                AdminPasswordSource::Device,
            ),
            (site, AdminPasswordSource::Site),
            (
                self.tenant.admin_password.as_ref(),
                AdminPasswordSource::Tenant,
            ),
        ]
        .into_iter()
        .find_map(|(pw, source)| pw.map(|pw| (pw, source)))
        .unwrap_or((
            &self.device.generated_admin_password,
            AdminPasswordSource::Generated,
        ))
    }
}

/// Where a phone's admin password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminPasswordSource {
    /// Set for the device alone.
    Device,
    /// The device's site's.
    Site,
    /// The tenant's.
    Tenant,
    /// Generated for the device at registration (no level sets one).
    Generated,
}

/// An upload as listed to admins.
#[derive(Debug, Clone, Serialize)]
pub struct UploadInfo {
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub size: i64,
    /// When it arrived.
    pub received_at: String,
}
