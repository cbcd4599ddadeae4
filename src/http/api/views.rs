//! What the API answers: one typed view per response body, built from the store's records.
//!
//! The views are the single description of the response shapes: handlers serialise them, and
//! the OpenAPI document derives its schemas from them, so the two cannot disagree. Secrets
//! appear only where a field says so (generated passwords, once; `?reveal=true`).

use crate::domain::audit::AuditEntry;
use crate::domain::device::{AdminPasswordSource, DeviceBundle, UploadInfo};
use crate::domain::tenant::{Site, Tenant};
use crate::domain::time::time_text;
use crate::domain::user::{Alias, User};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::keys::KeyRef;
use crate::domain::line_plan::AccountKind;
use crate::domain::phone_auth::{PhoneAuth, PhoneAuthMode, format_duration};
use crate::domain::settings::EffectiveSettings;
use crate::domain::{
    DeviceStatus, ExtensionPlan, LinePlan, Role, Settings, SipAccount, Transport, UserTag,
};
use crate::http::error::ErrorDetail;

use super::key_views::PlacedKeyView;
use crate::service::bulk::ImportReport;
use crate::service::restore::Restored;
use crate::service::tenants::Generated;

/// A tenant: its numbering plan, phone-side policy and settings (built-in defaults filled in).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Name (`testsite.com`).
    #[schema(example = "testsite.com")]
    pub name: String,
    /// Prefix of every SIP username of the tenant (`testsitecom_`).
    #[schema(example = "testsitecom_")]
    pub sip_username_prefix: String,
    /// The numbering plan.
    pub extension_plan: ExtensionPlan,
    /// How phones authenticate.
    pub phone_auth: PhoneAuthView,
    /// Enrollment window (`72h`).
    #[schema(example = "72h")]
    pub enroll_window: String,
    /// Devices a user may have.
    #[schema(minimum = 1, maximum = 100)]
    pub max_devices_per_user: u32,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Whether the tenant sets an admin password for its phones (the password is never shown
    /// again after the answer that generated it).
    pub phone_admin_password_set: bool,
    /// An admin password deskprov generated in this request: shown here once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_phone_admin_password: Option<String>,
    /// The tenant's phone settings merged over the built-in defaults.
    #[serde(flatten)]
    pub settings: EffectiveSettings,
}

/// A tenant's phone-side policy, passwords masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneAuthView {
    /// HTTP authentication mode.
    pub mode: PhoneAuthMode,
    /// Username phones present (digest/basic).
    #[schema(required = true)]
    pub username: Option<String>,
    /// How many passwords are accepted (two during a rotation).
    pub passwords_set: usize,
    /// Source ranges phones may fetch from.
    pub allow_cidrs: Vec<String>,
    /// Secret first path segment of phone URLs, if the tenant uses one.
    #[schema(required = true)]
    pub url_key: Option<String>,
    /// Whether phones must present a factory client certificate.
    pub require_client_cert: bool,
    /// Whether per-device files (they carry passwords) are refused over plain HTTP.
    pub require_https: bool,
    /// A password deskprov generated for this request's mode: shown here once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

impl TenantView {
    /// The tenant, with the passwords this request generated shown once.
    pub fn new(tenant: &Tenant, generated: Generated) -> Self {
        // No `..`: a new policy field fails to compile here until the view shows it.
        let PhoneAuth {
            mode,
            username,
            passwords,
            allow_cidrs,
            url_key,
            require_client_cert,
            require_https,
        } = &tenant.phone_auth;
        Self {
            name: tenant.name.clone(),
            sip_username_prefix: tenant.sip_username_prefix.clone(),
            extension_plan: tenant.extension_plan.clone(),
            phone_auth: PhoneAuthView {
                mode: *mode,
                username: username.clone(),
                passwords_set: passwords.len(),
                allow_cidrs: allow_cidrs.iter().map(ToString::to_string).collect(),
                url_key: url_key.clone(),
                require_client_cert: *require_client_cert,
                require_https: *require_https,
                generated_password: generated.phone_password,
            },
            enroll_window: format_duration(tenant.enroll_window),
            max_devices_per_user: tenant.max_devices_per_user,
            created_at: tenant.created_at.clone(),
            phone_admin_password_set: tenant.admin_password.is_some(),
            generated_phone_admin_password: generated.admin_password,
            settings: Settings::merge(&[&tenant.settings]),
        }
    }
}

/// `GET /api/v1/tenants`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantsView {
    /// The tenants the token may see, by name.
    pub tenants: Vec<TenantView>,
}

/// A site: only the settings it sets (the rest come from its tenant).
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    /// Name (`Berlin office`).
    pub name: String,
    /// Registrar host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_server: Option<String>,
    /// Registrar port.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub sip_port: Option<u16>,
    /// SIP transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Outbound proxy host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_proxy: Option<String>,
    /// Outbound proxy port.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub outbound_proxy_port: Option<u16>,
    /// Registration expiry in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 30, maximum = 86400)]
    pub registration_expires: Option<u32>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// NTP server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntp_server: Option<String>,
    /// Language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Voicemail number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_number: Option<String>,
    /// Whether the site sets an admin password for its phones (never shown again after the
    /// answer that generated it).
    pub phone_admin_password_set: bool,
    /// An admin password deskprov generated in this request: shown here once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_phone_admin_password: Option<String>,
    /// Source ranges narrowing the tenant's allow-list for this site's phones, if any.
    #[schema(required = true)]
    pub allow_cidrs: Option<Vec<String>>,
    /// Created (RFC 3339).
    pub created_at: String,
}

impl SiteView {
    /// The site, with an admin password this request generated shown once.
    pub fn new(site: &Site, generated_admin_password: Option<String>) -> Self {
        Self {
            generated_phone_admin_password: generated_admin_password,
            ..Self::from(site)
        }
    }
}

impl From<&Site> for SiteView {
    fn from(site: &Site) -> Self {
        // No `..`: a new setting fails to compile here until the view shows it.
        let Settings {
            sip_server,
            sip_port,
            transport,
            outbound_proxy,
            outbound_proxy_port,
            registration_expires,
            timezone,
            ntp_server,
            language,
            voicemail_number,
        } = site.settings.clone();
        Self {
            name: site.name.clone(),
            sip_server,
            sip_port,
            transport,
            outbound_proxy,
            outbound_proxy_port,
            registration_expires,
            timezone,
            ntp_server,
            language,
            voicemail_number,
            phone_admin_password_set: site.admin_password.is_some(),
            generated_phone_admin_password: None,
            allow_cidrs: site
                .allow_cidrs
                .as_ref()
                .map(|c| c.iter().map(ToString::to_string).collect()),
            created_at: site.created_at.clone(),
        }
    }
}

/// `GET /api/v1/tenants/{tenant}/sites`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SitesView {
    /// The tenant's sites by name.
    pub sites: Vec<SiteView>,
}

/// `GET /api/v1/tenants/{tenant}/extensions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionsView {
    /// Extensions in use, shortest and lowest first.
    pub allocated: Vec<String>,
    /// The lowest free extension the plan allows, if any is left.
    #[schema(required = true)]
    pub next_free: Option<String>,
    /// The tenant's numbering plan.
    pub plan: ExtensionPlan,
}

/// A user without secrets, with status tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Full name, shown on line 1.
    pub name: String,
    /// Extension.
    #[schema(example = "101")]
    pub extension: String,
    /// Email address.
    #[schema(required = true)]
    pub email: Option<String>,
    /// Portal role.
    pub role: Role,
    /// Admin flag.
    pub admin: bool,
    /// Department.
    #[schema(required = true)]
    pub department: Option<String>,
    /// Site name.
    #[schema(required = true)]
    pub site: Option<String>,
    /// SIP username, with the tenant prefix.
    #[schema(example = "testsitecom_101")]
    pub sip_username: String,
    /// Whether a voicemail PIN is set.
    pub voicemail_pin_set: bool,
    /// Whether a portal password is set.
    pub portal_password_set: bool,
    /// Caller ID (E.164).
    #[schema(required = true)]
    pub caller_id: Option<String>,
    /// Phone numbers (E.164).
    pub phone_numbers: Vec<String>,
    /// External SIP login.
    #[schema(required = true)]
    pub external_sip: Option<String>,
    /// Device limit for this user, when it overrides the tenant's.
    #[schema(required = true, minimum = 1, maximum = 100)]
    pub max_devices: Option<u32>,
    /// Devices assigned.
    pub devices: u32,
    /// Status tags.
    pub status: Vec<UserTag>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        let s = &user.spec;
        let text = |t: Option<&str>| t.map(str::to_owned);
        Self {
            name: s.name.as_str().to_owned(),
            extension: s.extension.as_str().to_owned(),
            email: text(s.email.as_ref().map(|e| e.as_str())),
            role: s.role,
            admin: s.admin,
            department: text(s.department.as_ref().map(|d| d.as_str())),
            site: s.site.clone(),
            sip_username: s.sip_username.as_str().to_owned(),
            voicemail_pin_set: s.voicemail_pin.is_some(),
            portal_password_set: user.has_portal_password,
            caller_id: text(s.caller_id.as_ref().map(|c| c.as_str())),
            phone_numbers: s
                .phone_numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            external_sip: text(s.external_sip.as_ref().map(|x| x.as_str())),
            max_devices: s.max_devices,
            devices: user.devices,
            status: user.tags(),
            created_at: user.created_at.clone(),
            updated_at: user.updated_at.clone(),
        }
    }
}

/// A user with their aliases in line order.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetailView {
    /// The user.
    #[serde(flatten)]
    pub user: UserView,
    /// Aliases, in the order they take lines 2, 3, ….
    pub aliases: Vec<AliasView>,
    /// The SIP password: only with `?reveal=true` (admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_password: Option<String>,
    /// After a change of name: the keys aimed at the user without a label of their own, which
    /// now show the new name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub relabelled_keys: Vec<PlacedKeyView>,
}

impl UserDetailView {
    /// The user and aliases; with `reveal`, their SIP passwords too.
    pub fn new(user: &User, aliases: &[Alias], reveal: bool) -> Self {
        Self {
            user: UserView::from(user),
            aliases: aliases.iter().map(|a| AliasView::new(a, reveal)).collect(),
            sip_password: reveal.then(|| user.spec.sip_password.expose().to_owned()),
            relabelled_keys: Vec::new(),
        }
    }

    /// The same, listing `keys` as relabelled by a change of name.
    pub fn relabelled(mut self, keys: &[KeyRef]) -> Self {
        self.relabelled_keys = keys.iter().map(PlacedKeyView::from).collect();
        self
    }
}

/// `GET /api/v1/tenants/{tenant}/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersView {
    /// Users by extension.
    pub users: Vec<UserView>,
}

/// A SIP alias of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasView {
    /// Alias id (for ordering and deleting).
    pub id: i64,
    /// 1-based position in the owner's order: position 1 goes on line 2.
    pub position: i64,
    /// Name shown on the line.
    pub name: String,
    /// SIP username.
    pub sip_username: String,
    /// The SIP password: only with `?reveal=true` (admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_password: Option<String>,
}

impl AliasView {
    /// The alias; with `reveal`, its SIP password too.
    pub fn new(alias: &Alias, reveal: bool) -> Self {
        Self {
            id: alias.id,
            position: alias.position,
            name: alias.name.clone(),
            sip_username: alias.sip_username.clone(),
            sip_password: reveal.then(|| alias.sip_password.expose().to_owned()),
        }
    }
}

/// A user's aliases.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasesView {
    /// Aliases in line order.
    pub aliases: Vec<AliasView>,
}

impl AliasesView {
    /// The aliases without passwords.
    pub fn new(aliases: &[Alias]) -> Self {
        Self {
            aliases: aliases.iter().map(|a| AliasView::new(a, false)).collect(),
        }
    }
}

/// A device: registration, owner, what the phone last fetched, and its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// MAC, 12 lower-case hex digits.
    #[schema(example = "001565aabbcc")]
    pub mac: String,
    /// Vendor profile id (`yealink`).
    pub vendor: String,
    /// The vendor's display name.
    pub vendor_name: String,
    /// Model as registered or learnt from the phone.
    #[schema(required = true)]
    pub model: Option<String>,
    /// Label.
    #[schema(required = true)]
    pub label: Option<String>,
    /// Device-level settings (laid over site and tenant).
    pub settings: Settings,
    /// Tenant name.
    pub tenant: String,
    /// Owner's extension.
    pub extension: String,
    /// Owner's name.
    pub user: String,
    /// Site name (the device's, else its owner's).
    #[schema(required = true)]
    pub site: Option<String>,
    /// Where the device is in its life.
    pub status: DeviceStatus,
    /// Lines the model has.
    pub capacity: usize,
    /// End of the enrollment window (RFC 3339).
    pub enroll_deadline: String,
    /// First successful fetch.
    #[schema(required = true)]
    pub first_fetch_at: Option<String>,
    /// Latest successful fetch.
    #[schema(required = true)]
    pub last_fetch_at: Option<String>,
    /// Address of the latest fetch.
    #[schema(required = true)]
    pub last_ip: Option<String>,
    /// Model from the latest User-Agent.
    #[schema(required = true)]
    pub seen_model: Option<String>,
    /// Firmware from the latest User-Agent.
    #[schema(required = true)]
    pub seen_firmware: Option<String>,
    /// Address of the first successful fetch.
    #[schema(required = true)]
    pub bound_ip: Option<String>,
    /// SHA-256 fingerprint of the client certificate the device is bound to.
    #[schema(required = true)]
    pub bound_cert_fingerprint: Option<String>,
    /// Credentials of this device alone, if set (else the tenant's apply).
    #[schema(required = true)]
    pub phone_credentials: Option<DeviceCredentialsView>,
    /// Whether the device has an admin password of its own (it wins over the site's and the
    /// tenant's). The phone always has one: see `phone_admin_password_from`.
    pub phone_admin_password_set: bool,
    /// Where the phone's admin password comes from.
    pub phone_admin_password_from: AdminPasswordSource,
    /// An admin password deskprov generated in this request: shown here once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_phone_admin_password: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// Per-device phone credentials, passwords masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceCredentialsView {
    /// Username the phone presents.
    pub username: String,
    /// How many passwords are accepted.
    pub passwords_set: usize,
    /// A password deskprov generated in this request: shown here once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

impl DeviceView {
    /// The device of `bundle`, with what the handler computed about it.
    pub fn new(
        bundle: &DeviceBundle,
        vendor_name: &str,
        status: DeviceStatus,
        capacity: usize,
    ) -> Self {
        let d = &bundle.device;
        Self {
            mac: d.mac.lower12(),
            vendor: d.vendor.clone(),
            vendor_name: vendor_name.to_owned(),
            model: d.model.clone(),
            label: d.label.clone(),
            settings: d.settings.clone(),
            tenant: bundle.tenant.name.clone(),
            extension: bundle.owner.spec.extension.as_str().to_owned(),
            user: bundle.owner.spec.name.as_str().to_owned(),
            site: bundle.site.as_ref().map(|s| s.name.clone()),
            status,
            capacity,
            enroll_deadline: time_text(d.enroll_deadline),
            first_fetch_at: d.first_fetch_at.map(time_text),
            last_fetch_at: d.last_fetch_at.map(time_text),
            last_ip: d.last_ip.clone(),
            seen_model: d.seen_model.clone(),
            seen_firmware: d.seen_firmware.clone(),
            bound_ip: d.bound_ip.clone(),
            bound_cert_fingerprint: d.bound_cert.clone(),
            phone_credentials: d.credentials.as_ref().map(|c| DeviceCredentialsView {
                username: c.username.clone(),
                passwords_set: c.passwords.len(),
                generated_password: None,
            }),
            phone_admin_password_set: d.admin_password.is_some(),
            phone_admin_password_from: bundle.admin_password().1,
            generated_phone_admin_password: None,
            created_at: d.created_at.clone(),
        }
    }
}

/// `GET /api/v1/devices`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesView {
    /// Devices by MAC.
    pub devices: Vec<DeviceView>,
    /// When more devices follow this page: the `after` that asks for the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What a phone shows on each line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinesView {
    /// MAC, 12 lower-case hex digits.
    pub mac: String,
    /// The model the plan is for (as seen, else as registered).
    #[schema(required = true)]
    pub model: Option<String>,
    /// Lines the model has.
    pub capacity: usize,
    /// Occupied lines, line 1 (the owner) first.
    pub lines: Vec<LineView>,
    /// Aliases beyond the capacity, in order: not on the phone.
    pub overflow: Vec<AccountView>,
}

/// An account on a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// Line number, from 1.
    pub line: usize,
    /// The owner's own account or an alias.
    pub kind: AccountKind,
    /// Name shown on the line.
    pub name: String,
    /// SIP username.
    pub sip_username: String,
    /// Alias id, for aliases.
    #[schema(required = true)]
    pub alias_id: Option<i64>,
}

/// An account that did not fit on the phone.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Always `alias`: line 1 always has room for the owner.
    pub kind: AccountKind,
    /// Name.
    pub name: String,
    /// SIP username.
    pub sip_username: String,
    /// Alias id.
    #[schema(required = true)]
    pub alias_id: Option<i64>,
}

impl From<&SipAccount> for AccountView {
    fn from(a: &SipAccount) -> Self {
        Self {
            kind: a.kind,
            name: a.name.clone(),
            sip_username: a.sip_username.clone(),
            alias_id: a.alias_id,
        }
    }
}

impl LinesView {
    /// The plan of the device `mac` of `model`.
    pub fn new(mac: String, model: Option<String>, plan: &LinePlan) -> Self {
        Self {
            mac,
            model,
            capacity: plan.capacity,
            lines: plan
                .lines
                .iter()
                .map(|l| LineView {
                    line: l.line,
                    kind: l.account.kind,
                    name: l.account.name.clone(),
                    sip_username: l.account.sip_username.clone(),
                    alias_id: l.account.alias_id,
                })
                .collect(),
            overflow: plan.overflow.iter().map(AccountView::from).collect(),
        }
    }
}

/// `GET /api/v1/devices/{mac}/files`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilesView {
    /// The files this phone fetches.
    pub files: Vec<FileView>,
}

/// A file a phone fetches.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    /// File name as the phone requests it.
    #[schema(example = "001565aabbcc.cfg")]
    pub name: String,
    /// `device` (per MAC, may carry secrets) or `common` (never does).
    #[schema(example = "device")]
    pub kind: String,
    /// Content type it is served with.
    pub content_type: String,
}

/// `GET /api/v1/devices/{mac}/uploads`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadsView {
    /// The latest upload of each name.
    pub uploads: Vec<UploadView>,
}

/// A file a phone uploaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub size: i64,
    /// When it arrived (RFC 3339).
    pub received_at: String,
}

impl From<UploadInfo> for UploadView {
    fn from(u: UploadInfo) -> Self {
        Self {
            file: u.file,
            size: u.size,
            received_at: u.received_at,
        }
    }
}

/// `GET /api/v1/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Entries, newest first.
    pub entries: Vec<AuditEntryView>,
}

/// Who changed what.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Entry id (page with `?before=`).
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (`token:<name>`).
    pub actor: String,
    /// What was done (`create`, `update`, `delete`, `reveal`, …).
    pub action: String,
    /// To what kind of thing (`tenant`, `user`, `device`, …).
    pub entity: String,
    /// Which one (name, extension, MAC, …).
    pub key: String,
    /// Tenant name, if any.
    #[schema(required = true)]
    pub tenant: Option<String>,
    /// The record before, secrets masked.
    #[schema(required = true)]
    pub before: Option<Value>,
    /// The record after, secrets masked.
    #[schema(required = true)]
    pub after: Option<Value>,
    /// For a restored delete: the id of the entry that records its restore.
    #[schema(required = true)]
    pub restored_by: Option<i64>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        // No `..`: a new column fails to compile here until the view shows it.
        let AuditEntry {
            id,
            at,
            actor,
            action,
            entity,
            key,
            tenant,
            before,
            after,
            restored_by,
        } = e;
        Self {
            id,
            at,
            actor,
            action,
            entity,
            key,
            tenant,
            before,
            after,
            restored_by,
        }
    }
}

/// What `POST /api/v1/audit/{id}/restore` re-created.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoredView {
    /// `user`, `alias` or `device`.
    pub entity: String,
    /// How it is named now (extension, `extension/alias id`, MAC).
    pub key: String,
    /// The record as the API shows it (without secrets).
    #[schema(value_type = Object)]
    pub record: Value,
    /// The audit entry recording the restore.
    pub audit_id: i64,
}

impl From<Restored> for RestoredView {
    fn from(r: Restored) -> Self {
        Self {
            entity: r.entity,
            key: r.key,
            record: r.record,
            audit_id: r.entry,
        }
    }
}

/// An applied import refused for its problems: the error and the whole report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRejectedBody {
    /// Code `import_rejected`.
    pub error: ErrorDetail,
    /// Every problem, by row.
    pub report: ImportReport,
}

#[cfg(test)]
mod tests {
    //! The API shows a record exactly as the audit log records it (`to_json` in the store).

    use std::time::Duration;

    use crate::domain::Device;

    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::device::DeviceCredentials;
    use crate::domain::user::{TenantRules, UserDraft};
    use crate::domain::{AdminPassword, Mac, SipPassword};

    fn tenant() -> Tenant {
        Tenant {
            id: 1,
            name: "testsite.com".into(),
            sip_username_prefix: "testsitecom_".into(),
            settings: Settings {
                sip_server: Some("pbx.testsite.com".into()),
                timezone: Some("Europe/Berlin".into()),
                ..Settings::default()
            },
            extension_plan: ExtensionPlan::default(),
            phone_auth: PhoneAuth {
                url_key: Some("k".repeat(24)),
                passwords: vec!["Secret-Pass-0001".into()],
                ..PhoneAuth::default()
            },
            enroll_window: Duration::from_secs(72 * 3600),
            max_devices_per_user: 2,
            admin_password: None,
            created_at: "2026-01-02T03:04:05.000Z".into(),
        }
    }

    fn user(tenant: &Tenant) -> User {
        let draft: UserDraft = serde_json::from_value(json!({
            "name": "John Smith", "extension": "101", "email": "john@testsite.com",
            "department": "Sales", "caller_id": "+4930123456", "phone_numbers": ["+4930123457"],
            "external_sip": "G79333CN0001", "max_devices": 3, "voicemail_pin": "1234"
        }))
        .unwrap();
        let rules = TenantRules {
            plan: &tenant.extension_plan,
            prefix: &tenant.sip_username_prefix,
        };
        User {
            id: 7,
            tenant_id: tenant.id,
            spec: draft.into_new(rules, &mut rand::rng()).unwrap(),
            site_id: None,
            has_portal_password: false,
            devices: 1,
            created_at: "2026-01-02T03:04:05.000Z".into(),
            updated_at: "2026-01-03T03:04:05.000Z".into(),
        }
    }

    fn alias() -> Alias {
        Alias {
            id: 3,
            user_id: 7,
            position: 1,
            name: "John Support".into(),
            sip_username: "testsitecom_101_2".into(),
            sip_password: SipPassword::from_trusted("Alias-Pass-0001".into()),
        }
    }

    fn json_of(view: impl Serialize) -> Value {
        serde_json::to_value(view).unwrap()
    }

    #[test]
    fn a_tenant_view_is_the_tenant_record() {
        let t = tenant();
        assert_eq!(
            json_of(TenantView::new(&t, Generated::default())),
            t.to_json()
        );
        let generated = Generated {
            phone_password: Some("Generated-0001".into()),
            admin_password: Some("Generated-Admin-0001".into()),
        };
        let shown = json_of(TenantView::new(&t, generated));
        assert_eq!(shown["phone_auth"]["generated_password"], "Generated-0001");
        assert_eq!(shown["phone_auth"]["passwords_set"], 1);
        assert_eq!(
            shown["generated_phone_admin_password"],
            "Generated-Admin-0001"
        );
        assert_eq!(shown["phone_admin_password_set"], false);
        let with_admin = Tenant {
            admin_password: Some(AdminPassword::from_trusted("Tenant-Admin-0001".into())),
            ..tenant()
        };
        let view = json_of(TenantView::new(&with_admin, Generated::default()));
        assert_eq!(view, with_admin.to_json());
        assert_eq!(view["phone_admin_password_set"], true);
        assert!(!view.to_string().contains("Tenant-Admin-0001"));
    }

    #[test]
    fn a_user_view_is_the_user_record() {
        let t = tenant();
        let u = user(&t);
        assert_eq!(json_of(UserView::from(&u)), u.to_json());
        let mut detail = u.to_json();
        detail["aliases"] = json!([alias().to_json()]);
        assert_eq!(json_of(UserDetailView::new(&u, &[alias()], false)), detail);
        let revealed = json_of(UserDetailView::new(&u, &[alias()], true));
        assert_eq!(revealed["sip_password"], u.spec.sip_password.expose());
        assert_eq!(revealed["aliases"][0], alias().snapshot());
    }

    #[test]
    fn an_alias_view_is_the_alias_record() {
        assert_eq!(json_of(AliasView::new(&alias(), false)), alias().to_json());
        assert_eq!(json_of(AliasView::new(&alias(), true)), alias().snapshot());
    }

    #[test]
    fn a_device_view_holds_the_device_record() {
        let t = tenant();
        let owner = user(&t);
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let device = Device {
            id: 9,
            mac: Mac::parse("00:15:65:aa:bb:cc").unwrap(),
            tenant_id: t.id,
            user_id: owner.id,
            vendor: "yealink".into(),
            model: Some("T46U".into()),
            site_id: None,
            label: Some("Reception".into()),
            settings: Settings {
                language: Some("de".into()),
                ..Settings::default()
            },
            enroll_deadline: at,
            first_fetch_at: Some(at),
            last_fetch_at: Some(at),
            last_ip: Some("10.0.0.5".into()),
            seen_model: Some("T46U".into()),
            seen_firmware: Some("108.86.0.45".into()),
            bound_ip: Some("10.0.0.5".into()),
            bound_cert: None,
            credentials: Some(DeviceCredentials {
                username: "desk-101".into(),
                passwords: vec!["Secret-Pass-0001".into()],
            }),
            admin_password: None,
            generated_admin_password: AdminPassword::from_trusted("Generated-Admin-0001".into()),
            created_at: "2026-01-02T03:04:05.000Z".into(),
        };
        let record = device.to_json();
        let bundle = DeviceBundle {
            device,
            tenant: t,
            site: None,
            owner,
            aliases: vec![alias()],
            keys: Default::default(),
        };
        let view = json_of(DeviceView::new(
            &bundle,
            "Yealink",
            DeviceStatus::Provisioned,
            16,
        ));
        for (key, value) in record.as_object().unwrap() {
            assert_eq!(&view[key], value, "{key}");
        }
        assert_eq!(view["extension"], "101");
        assert_eq!(view["status"], "provisioned");
        assert_eq!(view["phone_admin_password_set"], false);
        assert_eq!(view["phone_admin_password_from"], "generated");
        assert!(!view.to_string().contains("Generated-Admin-0001"));
        assert!(!record.to_string().contains("Generated-Admin-0001"));
    }
}
