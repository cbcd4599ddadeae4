//! Devices as installers and admins describe them.

use serde::Deserialize;

use super::{Label, Mac, PrintableText, RuleError, Settings, SipPassword};

/// A device as sent in `POST /api/v1/devices`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceDraft {
    /// MAC in any common spelling (required).
    #[schema(example = "00:15:65:aa:bb:cc")]
    pub mac: Option<String>,
    /// Tenant name (required).
    #[schema(example = "testsite.com")]
    pub tenant: Option<String>,
    /// Extension of the owning user (required).
    #[schema(example = "101")]
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
}

/// Per-device HTTP credentials as sent: a username and one or two passwords (two during a
/// rotation); with no password, one is generated and shown once.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCredentialsInput {
    /// Username the phone presents.
    pub username: String,
    /// Accepted passwords.
    #[serde(default)]
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
        Ok(())
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
