//! Tenants and sites as admins describe them, and the checks that turn a draft into a record.

use std::time::Duration;

use serde::Deserialize;

use super::extension::ExtensionPlanInput;
use ipnet::IpNet;

use super::phone_auth::format_duration;
use super::phone_auth::{PhoneAuth, PhoneAuthInput, parse_cidrs, parse_duration};
use super::{
    AdminPassword, AdminPasswordChange, ExtensionPlan, PrintableText, RuleError, Settings,
    Transport,
};
use serde::Serialize;
use serde_json::json;

/// Default enrollment window: a new device must fetch within 72 hours.
pub const DEFAULT_ENROLL_WINDOW: Duration = Duration::from_secs(72 * 3600);
/// Default number of devices a user may have.
pub const DEFAULT_MAX_DEVICES: u32 = 2;

/// A tenant as sent in `POST /api/v1/tenants` (or a patch of one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantDraft {
    /// Tenant name, usually its domain (`testsite.com`); required on create, immutable after.
    #[schema(example = "testsite.com")]
    pub name: Option<String>,
    /// Registrar host.
    pub sip_server: Option<String>,
    /// Registrar port.
    #[schema(minimum = 1, maximum = 65535)]
    pub sip_port: Option<u16>,
    /// SIP transport (`udp`, `tcp`, `tls`, `dns_srv`).
    #[schema(value_type = Option<super::Transport>)]
    pub transport: Option<String>,
    /// Outbound proxy host.
    pub outbound_proxy: Option<String>,
    /// Outbound proxy port.
    #[schema(minimum = 1, maximum = 65535)]
    pub outbound_proxy_port: Option<u16>,
    /// Registration expiry in seconds (30 to 86400).
    #[schema(minimum = 30, maximum = 86400)]
    pub registration_expires: Option<u32>,
    /// The numbering plan.
    pub extension_plan: Option<ExtensionPlanInput>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// NTP server.
    pub ntp_server: Option<String>,
    /// Language code.
    pub language: Option<String>,
    /// Voicemail number every account subscribes to (`*97`).
    pub voicemail_number: Option<String>,
    /// Admin password of the tenant's phones: a chosen one, `"generate"` for a random one
    /// (shown once), or `null` for none at this level (each phone keeps its own generated one).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone_admin_password: Option<Option<String>>,
    /// Phone-side authentication policy.
    pub phone_auth: Option<PhoneAuthInput>,
    /// Enrollment window (`72h`).
    pub enroll_window: Option<String>,
    /// Devices a user may have (1 to 100) [2].
    #[schema(minimum = 1, maximum = 100)]
    pub max_devices_per_user: Option<u32>,
}

/// A checked tenant, ready to store.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Tenant name.
    pub name: String,
    /// Phone settings at tenant level.
    pub settings: Settings,
    /// Numbering plan.
    pub extension_plan: ExtensionPlan,
    /// Phone-side policy.
    pub phone_auth: PhoneAuth,
    /// Whether a phone password must be generated for the policy.
    pub generate_phone_password: bool,
    /// Admin password of the tenant's phones, if the tenant sets one.
    pub admin_password: Option<AdminPassword>,
    /// A change of it still to settle (a generated one needs randomness).
    pub admin_password_change: Option<AdminPasswordChange>,
    /// Enrollment window.
    pub enroll_window: Duration,
    /// Devices per user.
    pub max_devices_per_user: u32,
}

impl TenantDraft {
    /// Checks a new tenant: a name and a SIP server are required.
    pub fn into_new(self) -> Result<TenantSpec, RuleError> {
        let name = self.name.as_deref().ok_or_else(|| {
            RuleError::new(
                "name",
                "required",
                "a tenant needs a name (e.g. testsite.com)",
            )
        })?;
        let name = parse_tenant_name(name)?;
        if self.sip_server.is_none() {
            return Err(RuleError::new(
                "sip_server",
                "required",
                "a tenant needs the SIP server its phones register with",
            ));
        }
        let base = TenantSpec {
            name,
            settings: Settings::default(),
            extension_plan: ExtensionPlan::default(),
            phone_auth: PhoneAuth::default(),
            generate_phone_password: false,
            admin_password: None,
            admin_password_change: None,
            enroll_window: DEFAULT_ENROLL_WINDOW,
            max_devices_per_user: DEFAULT_MAX_DEVICES,
        };
        self.apply_to(base)
    }

    /// Applies a patch to an existing tenant. The name cannot change (it derives the SIP prefix).
    pub fn apply_to(self, mut spec: TenantSpec) -> Result<TenantSpec, RuleError> {
        if let Some(name) = &self.name
            && *name != spec.name
        {
            return Err(RuleError::new(
                "name",
                "immutable",
                "a tenant's name cannot change: its SIP usernames are derived from it",
            ));
        }
        let transport = self
            .transport
            .as_deref()
            .map(|t| Transport::parse(t, "transport"))
            .transpose()?;
        let patch = Settings {
            sip_server: self.sip_server,
            sip_port: self.sip_port,
            transport,
            outbound_proxy: self.outbound_proxy,
            outbound_proxy_port: self.outbound_proxy_port,
            registration_expires: self.registration_expires,
            timezone: self.timezone,
            ntp_server: self.ntp_server,
            language: self.language,
            voicemail_number: self.voicemail_number,
        };
        patch.validate("")?;
        spec.settings = spec.settings.overlay(&patch);
        if let Some(change) = &self.phone_admin_password {
            spec.admin_password_change = Some(AdminPasswordChange::parse(
                change.as_deref(),
                "phone_admin_password",
            )?);
        }
        if let Some(plan) = &self.extension_plan {
            spec.extension_plan = ExtensionPlan::parse(plan)?;
        }
        if let Some(input) = &self.phone_auth {
            let (auth, generate) = spec.phone_auth.apply(input)?;
            spec.phone_auth = auth;
            spec.generate_phone_password = generate;
        }
        if let Some(window) = &self.enroll_window {
            spec.enroll_window = parse_duration(window, "enroll_window")?;
        }
        if let Some(max) = self.max_devices_per_user {
            if !(1..=100).contains(&max) {
                return Err(RuleError::new(
                    "max_devices_per_user",
                    "out_of_range",
                    "between 1 and 100",
                ));
            }
            spec.max_devices_per_user = max;
        }
        Ok(spec)
    }
}

impl TenantSpec {
    /// Settles a pending admin-password change (a generated one drawn from `rng`); returns the
    /// generated password, to show once.
    pub fn settle_admin_password(&mut self, rng: &mut impl rand::Rng) -> Option<String> {
        let (password, shown) = self.admin_password_change.take()?.resolve(rng);
        self.admin_password = password;
        shown
    }
}

/// A tenant name: a domain-like name of letters, digits, `.` and `-`, with at least one letter
/// or digit (the SIP prefix is made of those).
pub fn parse_tenant_name(input: &str) -> Result<String, RuleError> {
    let ok = !input.is_empty()
        && input.len() <= 63
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && input.bytes().any(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(input.to_owned())
    } else {
        Err(RuleError::new(
            "name",
            "tenant_name_invalid",
            "a tenant name is 1 to 63 characters of letters, digits, '.' and '-' (e.g. testsite.com)",
        ))
    }
}

/// A site as sent in `POST /api/v1/tenants/{tenant}/sites` (or a patch of one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteDraft {
    /// Site name (`Berlin office`).
    pub name: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// NTP server.
    pub ntp_server: Option<String>,
    /// SIP server override.
    pub sip_server: Option<String>,
    /// Language code.
    pub language: Option<String>,
    /// Voicemail number every account of the site's phones subscribes to (`*97`).
    pub voicemail_number: Option<String>,
    /// Admin password of the site's phones: a chosen one, `"generate"` for a random one
    /// (shown once), or `null` for none at this level (the tenant's, else each phone's own).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone_admin_password: Option<Option<String>>,
    /// Source ranges this site's phones fetch from, on top of the tenant's (`null` removes).
    #[serde(default, deserialize_with = "nullable")]
    pub allow_cidrs: Option<Option<Vec<String>>>,
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A checked site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// Name.
    pub name: PrintableText,
    /// Site-level phone settings.
    pub settings: Settings,
    /// Source ranges, if the site narrows the tenant's allow-list.
    pub allow_cidrs: Option<Vec<IpNet>>,
    /// Admin password of the site's phones, if the site sets one.
    pub admin_password: Option<AdminPassword>,
    /// A change of it still to settle (a generated one needs randomness).
    pub admin_password_change: Option<AdminPasswordChange>,
}

impl SiteSpec {
    /// Settles a pending admin-password change (a generated one drawn from `rng`); returns the
    /// generated password, to show once.
    pub fn settle_admin_password(&mut self, rng: &mut impl rand::Rng) -> Option<String> {
        let (password, shown) = self.admin_password_change.take()?.resolve(rng);
        self.admin_password = password;
        shown
    }
}

impl SiteDraft {
    /// Checks a new site.
    pub fn into_new(self) -> Result<SiteSpec, RuleError> {
        let name = self
            .name
            .as_deref()
            .ok_or_else(|| RuleError::new("name", "required", "a site needs a name"))?;
        let base = SiteSpec {
            name: PrintableText::name(name, "name")?,
            settings: Settings::default(),
            allow_cidrs: None,
            admin_password: None,
            admin_password_change: None,
        };
        SiteDraft { name: None, ..self }.apply_to(base)
    }

    /// Applies a patch to a site; the name cannot change (users and imports refer to it).
    pub fn apply_to(self, mut spec: SiteSpec) -> Result<SiteSpec, RuleError> {
        if let Some(name) = &self.name
            && name != spec.name.as_str()
        {
            return Err(RuleError::new(
                "name",
                "immutable",
                "a site's name cannot change",
            ));
        }
        let patch = Settings {
            sip_server: self.sip_server,
            timezone: self.timezone,
            ntp_server: self.ntp_server,
            language: self.language,
            voicemail_number: self.voicemail_number,
            ..Default::default()
        };
        patch.validate("")?;
        spec.settings = spec.settings.overlay(&patch);
        if let Some(change) = &self.phone_admin_password {
            spec.admin_password_change = Some(AdminPasswordChange::parse(
                change.as_deref(),
                "phone_admin_password",
            )?);
        }
        if let Some(cidrs) = self.allow_cidrs {
            spec.allow_cidrs = cidrs
                .as_deref()
                .map(|c| parse_cidrs(c, "allow_cidrs"))
                .transpose()?;
        }
        Ok(spec)
    }
}

/// A stored tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Row id.
    pub id: i64,
    /// Name (`testsite.com`).
    pub name: String,
    /// SIP username prefix (`testsitecom_`).
    pub sip_username_prefix: String,
    /// Tenant-level phone settings.
    pub settings: Settings,
    /// Admin password of the tenant's phones, if the tenant sets one.
    pub admin_password: Option<AdminPassword>,
    /// Numbering plan.
    pub extension_plan: ExtensionPlan,
    /// Phone-side policy.
    pub phone_auth: PhoneAuth,
    /// Enrollment window.
    pub enroll_window: Duration,
    /// Devices per user.
    pub max_devices_per_user: u32,
    /// Created.
    pub created_at: String,
}

impl Tenant {
    /// The checked spec this tenant was made from, for patching.
    pub fn spec(&self) -> TenantSpec {
        TenantSpec {
            name: self.name.clone(),
            settings: self.settings.clone(),
            extension_plan: self.extension_plan.clone(),
            phone_auth: self.phone_auth.clone(),
            generate_phone_password: false,
            admin_password: self.admin_password.clone(),
            admin_password_change: None,
            enroll_window: self.enroll_window,
            max_devices_per_user: self.max_devices_per_user,
        }
    }

    /// The tenant as JSON, phone passwords masked: for the API and the audit log.
    pub fn to_json(&self) -> serde_json::Value {
        let auth = &self.phone_auth;
        let mut body = json!({
            "name": self.name,
            "sip_username_prefix": self.sip_username_prefix,
            "extension_plan": self.extension_plan,
            "phone_auth": {
                "mode": auth.mode,
                "username": auth.username,
                "passwords_set": auth.passwords.len(),
                "allow_cidrs": auth.allow_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "url_key": auth.url_key,
                "require_client_cert": auth.require_client_cert,
                "require_https": auth.require_https,
            },
            "enroll_window": format_duration(self.enroll_window),
            "max_devices_per_user": self.max_devices_per_user,
            "phone_admin_password_set": self.admin_password.is_some(),
            "created_at": self.created_at,
        });
        let settings = serde_json::to_value(Settings::merge(&[&self.settings])).unwrap_or_default();
        if let (Some(obj), Some(s)) = (body.as_object_mut(), settings.as_object()) {
            obj.extend(s.clone());
        }
        body
    }
}

/// A tenant with how many users and devices it has.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    /// Tenant row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Users.
    pub users: i64,
    /// Devices.
    pub devices: i64,
}

/// A stored site.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// Tenant row id.
    #[serde(skip)]
    pub tenant_id: i64,
    /// Name.
    pub name: String,
    /// Site-level settings.
    #[serde(flatten)]
    pub settings: Settings,
    /// Source ranges narrowing the tenant's allow-list, if any.
    pub allow_cidrs: Option<Vec<IpNet>>,
    /// Admin password of the site's phones, if the site sets one; serialised (for the audit
    /// log) as `phone_admin_password_set`, whether there is one, never the password.
    #[serde(rename = "phone_admin_password_set", serialize_with = "is_set")]
    pub admin_password: Option<AdminPassword>,
    /// Created.
    pub created_at: String,
}

fn is_set<S: serde::Serializer>(pw: &Option<AdminPassword>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(pw.is_some())
}

impl Site {
    /// The checked spec this site was made from, for patching.
    pub fn spec(&self) -> SiteSpec {
        SiteSpec {
            name: PrintableText::from_trusted(self.name.clone()),
            settings: self.settings.clone(),
            allow_cidrs: self.allow_cidrs.clone(),
            admin_password: self.admin_password.clone(),
            admin_password_change: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_needs_a_name_and_sip_server() {
        assert_eq!(TenantDraft::default().into_new().unwrap_err().field, "name");
        let draft = TenantDraft {
            name: Some("testsite.com".into()),
            ..Default::default()
        };
        assert_eq!(draft.into_new().unwrap_err().field, "sip_server");
        let draft = TenantDraft {
            name: Some("testsite.com".into()),
            sip_server: Some("pbx.testsite.com".into()),
            ..Default::default()
        };
        let spec = draft.into_new().unwrap();
        assert_eq!(spec.enroll_window, DEFAULT_ENROLL_WINDOW);
        assert_eq!(spec.max_devices_per_user, 2);
    }

    #[test]
    fn the_name_is_immutable() {
        let spec = TenantDraft {
            name: Some("testsite.com".into()),
            sip_server: Some("pbx.testsite.com".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        let patch = TenantDraft {
            name: Some("other.com".into()),
            ..Default::default()
        };
        assert_eq!(patch.apply_to(spec).unwrap_err().code, "immutable");
    }

    #[test]
    fn tenant_names_are_domain_like() {
        assert!(parse_tenant_name("testsite.com").is_ok());
        for bad in ["", "...", "a b", "a/b", "ä.com"] {
            assert_eq!(
                parse_tenant_name(bad).unwrap_err().code,
                "tenant_name_invalid"
            );
        }
    }
}
