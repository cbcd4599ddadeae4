//! What templates see: plain values already in the vendor's vocabulary.
//!
//! A [`CommonContext`] has no account fields at all, so a common file cannot carry a secret
//! whatever its template says.

use std::collections::BTreeMap;

use crate::domain::line_plan::AccountKind;
use crate::domain::settings::EffectiveSettings;
use crate::domain::zone::{self, DstTransition};
use crate::domain::{AdminPassword, Device, LinePlan};

use super::Vendor;

mod keys;

pub use keys::{KEY_PAGES, KeyContext, ModuleContext, PageContext};

/// Placeholder shown instead of a password in previews.
pub const MASK: &str = "********";

/// Phone-wide settings in the vendor's codes.
#[derive(Debug, Clone)]
pub struct SettingsContext {
    /// Registrar host.
    pub sip_server: String,
    /// Registrar port.
    pub sip_port: u16,
    /// Transport in the vendor's code.
    pub transport: String,
    /// Outbound proxy host, if any.
    pub outbound_proxy: Option<String>,
    /// Outbound proxy port.
    pub outbound_proxy_port: u16,
    /// Registration expiry, seconds.
    pub expires: u32,
    /// IANA time zone.
    pub timezone: String,
    /// Standard UTC offset as `+1`, `-5`, `+5:30`.
    pub tz_hours: String,
    /// Standard UTC offset in seconds.
    pub tz_offset_seconds: i32,
    /// Standard UTC offset in minutes.
    pub tz_offset_minutes: i32,
    /// Whether the zone has summer time.
    pub dst: bool,
    /// The zone's summer-time rule (reference year 2025); `None` without summer time or when
    /// the zone's dates are not a recurring weekday rule.
    pub dst_rule: Option<DstRule>,
    /// POSIX TZ string, shortest form (`CET-1CEST,M3.5.0,M10.5.0/3`, `<+0530>-5:30`).
    pub posix_tz: String,
    /// POSIX TZ string with every part spelled out
    /// (`CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00`).
    pub posix_tz_explicit: String,
    /// Abbreviation of standard time (`CET`), when the time zone database has a real one.
    pub tz_std_abbr: Option<String>,
    /// Abbreviation of summer time (`CEST`), when the zone has summer time and a real name.
    pub tz_dst_abbr: Option<String>,
    /// The POSIX TZ string spelled out as in `posix_tz_explicit`, with `STD` and `DST` for
    /// zones the time zone database has no letters for (`STD3`, not `<-03>3`): for phones that
    /// take letters, digits and `+-,./:` only.
    pub posix_tz_letters: String,
    /// The vendor's own name for the zone (`Germany(Berlin)`), from the profile's
    /// `[timezones]`; `None` when the vendor's list has no entry for it.
    pub tz_name: Option<String>,
    /// NTP server.
    pub ntp_server: String,
    /// Language in the vendor's naming (English when the vendor lacks it: only common files of
    /// phones of no registered device get that far, the language of a registered phone is
    /// checked when it is set).
    pub language: String,
    /// Language code (`en`).
    pub language_code: String,
    /// The language in each of the profile's model language tables, by table name.
    pub model_languages: BTreeMap<String, String>,
    /// Voicemail number, if any level sets one.
    pub voicemail_number: Option<String>,
}

impl SettingsContext {
    /// Translates merged settings into `vendor`'s codes.
    pub fn new(s: &EffectiveSettings, vendor: &Vendor) -> Self {
        let zone = s.zone_rules();
        let offset = zone.std_offset_seconds;
        let p = &vendor.profile;
        Self {
            sip_server: s.sip_server.clone(),
            sip_port: s.sip_port,
            transport: p
                .transports
                .get(s.transport.as_str())
                .cloned()
                .unwrap_or_default(),
            outbound_proxy: s.outbound_proxy.clone(),
            outbound_proxy_port: s.outbound_proxy_port,
            expires: s.registration_expires,
            timezone: s.timezone.clone(),
            tz_hours: hours_text(offset),
            tz_offset_seconds: offset,
            tz_offset_minutes: offset / 60,
            dst: zone.observes_dst,
            dst_rule: zone.dst.map(DstRule::from),
            posix_tz: zone.posix_tz(),
            posix_tz_explicit: zone.posix_tz_explicit(),
            posix_tz_letters: zone.posix_tz_letters(),
            tz_std_abbr: zone.std_abbr,
            tz_dst_abbr: zone.dst_abbr,
            tz_name: p.timezones.get(&s.timezone).cloned(),
            ntp_server: s.ntp_server.clone(),
            language: p
                .languages
                .get(&s.language)
                .or_else(|| p.languages.get("en"))
                .cloned()
                .unwrap_or_else(|| s.language.clone()),
            language_code: s.language.clone(),
            model_languages: p
                .model_languages
                .iter()
                .filter_map(|(name, t)| Some((name.clone(), t.get(&s.language)?.clone())))
                .collect(),
            voicemail_number: s.voicemail_number.clone(),
        }
    }

    fn strings(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("sip_server", self.sip_server.as_str()),
            ("transport", self.transport.as_str()),
            (
                "outbound_proxy",
                self.outbound_proxy.as_deref().unwrap_or(""),
            ),
            ("timezone", self.timezone.as_str()),
            ("posix_tz", self.posix_tz.as_str()),
            ("posix_tz_letters", self.posix_tz_letters.as_str()),
            ("tz_name", self.tz_name.as_deref().unwrap_or("")),
            ("ntp_server", self.ntp_server.as_str()),
            ("language", self.language.as_str()),
            (
                "voicemail_number",
                self.voicemail_number.as_deref().unwrap_or(""),
            ),
        ]
        .into_iter()
    }
}

/// A summer-time rule in the fields vendor formats are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstRule {
    /// Minutes the clock goes forward (60 almost everywhere).
    pub save_minutes: i32,
    /// When summer time begins, on the standard-time clock.
    pub start: DstChange,
    /// When summer time ends, on the summer-time clock.
    pub end: DstChange,
}

/// One end of the summer-time period: the `week`-th `weekday` of `month` at `hour:minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstChange {
    /// Month, 1–12.
    pub month: u32,
    /// Week of the month, 1–4, or 5 for the last one.
    pub week: u32,
    /// Whether this is the last such weekday of the month (`week` is 5).
    pub last: bool,
    /// Weekday, 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
    /// Weekday, 1 = Monday … 7 = Sunday.
    pub iso_weekday: u32,
    /// First day of the month the week can start on: 1, 8, 15, 22 (29 for the last week).
    pub first_day: u32,
    /// Local hour, 0–23.
    pub hour: u32,
    /// Local minute, 0–59.
    pub minute: u32,
}

impl From<zone::DstRule> for DstRule {
    fn from(r: zone::DstRule) -> Self {
        Self {
            save_minutes: r.save_minutes,
            start: r.start.into(),
            end: r.end.into(),
        }
    }
}

impl From<DstTransition> for DstChange {
    fn from(t: DstTransition) -> Self {
        Self {
            month: t.month,
            week: t.week,
            last: t.week == 5,
            weekday: t.weekday,
            iso_weekday: if t.weekday == 0 { 7 } else { t.weekday },
            first_day: (t.week - 1) * 7 + 1,
            hour: t.minutes / 60,
            minute: t.minutes % 60,
        }
    }
}

fn hours_text(offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let minutes = offset_seconds.abs() / 60;
    match minutes % 60 {
        0 => format!("{sign}{}", minutes / 60),
        m => format!("{sign}{}:{m:02}", minutes / 60),
    }
}

/// One line of a phone.
#[derive(Debug, Clone)]
pub struct LineContext {
    /// Line number from 1.
    pub index: usize,
    /// `user` or `alias`.
    pub kind: &'static str,
    /// Label on the line key.
    pub label: String,
    /// Display name (caller name).
    pub display_name: String,
    /// SIP user part.
    pub user_name: String,
    /// SIP authentication user.
    pub auth_name: String,
    /// SIP password (or [`MASK`] in previews).
    pub password: String,
}

/// Everything a per-device template may use.
#[derive(Debug, Clone)]
pub struct DeviceContext {
    /// Vendor id.
    pub vendor_id: String,
    /// Vendor name.
    pub vendor_name: String,
    /// Model key, or "" when unknown.
    pub model: String,
    /// MAC as `001565aabbcc`.
    pub mac_lower: String,
    /// MAC as `001565AABBCC`.
    pub mac_upper: String,
    /// MAC as `00:15:65:aa:bb:cc`.
    pub mac_colon: String,
    /// The model's attributes from the profile (`cfg_id`, …); empty for unknown models.
    pub attrs: BTreeMap<String, String>,
    /// Base URL phones reach deskprov at (with the tenant's URL key), no trailing slash.
    pub server_url: String,
    /// Lines the model has.
    pub capacity: usize,
    /// Occupied lines, from the line plan.
    pub lines: Vec<LineContext>,
    /// Line numbers with nothing on them (switched off explicitly).
    pub unused_lines: Vec<usize>,
    /// Phone-wide settings.
    pub settings: SettingsContext,
    /// The phone's admin password (or [`MASK`] in previews): per-device files only.
    pub admin_password: String,
    /// Programmable keys on the phone itself (see [`DeviceContext::with_keys`]).
    pub line_keys: usize,
    /// The keys on the phone itself, by position: the plan's accounts, user and device keys.
    pub keys: Vec<KeyContext>,
    /// Positions on the phone itself with no key: written blank, so a removed key goes away.
    pub blank_keys: Vec<u32>,
    /// Expansion modules with keys on them, by number, with their keys and blank positions:
    /// for phones that reset what a file leaves out.
    pub modules: Vec<ModuleContext>,
    /// Every expansion module the model takes, keys or not: for phones that keep a value the
    /// file leaves out, so a module whose keys were all removed is written blank.
    pub all_modules: Vec<ModuleContext>,
    /// The phone's own keys by page, for phones that address a key by its page and its place
    /// there: the model attribute `key_pages` lists the keys of each page in order (`3,6,6`);
    /// without it, one page holds every line key.
    pub pages: Vec<PageContext>,
}

impl DeviceContext {
    /// Builds the context of `device` (its MAC and the model it is rendered for) from a line
    /// plan and the phone's admin password; `mask` replaces passwords for previews.
    pub fn new(
        vendor: &Vendor,
        device: &Device,
        plan: &LinePlan,
        settings: SettingsContext,
        server_url: &str,
        admin_password: &AdminPassword,
        mask: bool,
    ) -> Self {
        let (mac, model) = (&device.mac, device.effective_model());
        let secret = |pw: &str| {
            if mask { MASK.to_owned() } else { pw.to_owned() }
        };
        let lines = plan
            .lines
            .iter()
            .map(|l| LineContext {
                index: l.line,
                kind: match l.account.kind {
                    AccountKind::User => "user",
                    AccountKind::Alias => "alias",
                },
                label: l.account.name.clone(),
                display_name: l.account.name.clone(),
                user_name: l.account.sip_username.clone(),
                auth_name: l.account.sip_username.clone(),
                password: secret(l.account.password.expose()),
            })
            .collect::<Vec<_>>();
        Self {
            vendor_id: vendor.id().to_owned(),
            vendor_name: vendor.profile.name.clone(),
            model: model
                .and_then(|m| vendor.model_key(m))
                .unwrap_or_default()
                .to_owned(),
            attrs: model_attrs(vendor, model),
            server_url: server_url.to_owned(),
            mac_lower: mac.lower12(),
            mac_upper: mac.upper12(),
            mac_colon: mac.colon(),
            capacity: plan.capacity,
            unused_lines: (lines.len() + 1..=plan.capacity).collect(),
            lines,
            settings,
            admin_password: secret(admin_password.expose()),
            line_keys: 0,
            keys: Vec::new(),
            blank_keys: Vec::new(),
            modules: Vec::new(),
            all_modules: Vec::new(),
            pages: Vec::new(),
        }
    }

    /// Every string value with a name, for the text-format safety check.
    pub fn strings(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = self
            .settings
            .strings()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        out.push(("server_url".to_owned(), &self.server_url));
        out.push(("admin_password".to_owned(), &self.admin_password));
        for l in &self.lines {
            for (k, v) in [
                ("label", &l.label),
                ("display_name", &l.display_name),
                ("user_name", &l.user_name),
                ("auth_name", &l.auth_name),
                ("password", &l.password),
            ] {
                out.push((format!("line {} {k}", l.index), v.as_str()));
            }
        }
        let module_keys = self.modules.iter().flat_map(|m| &m.keys);
        for k in self.keys.iter().chain(module_keys) {
            let at = format!("key {}/{}", k.module, k.position);
            out.push((format!("{at} value"), k.value.as_str()));
            out.push((format!("{at} label"), k.label.as_str()));
        }
        out
    }
}

/// The profile attributes of `model`, if the vendor knows it.
pub fn model_attrs(vendor: &Vendor, model: Option<&str>) -> BTreeMap<String, String> {
    model
        .and_then(|m| vendor.model(m))
        .map(|m| m.attrs.clone())
        .unwrap_or_default()
}

/// Everything a common template may use: no accounts, no secrets.
#[derive(Debug, Clone)]
pub struct CommonContext {
    /// Vendor id.
    pub vendor_id: String,
    /// Vendor name.
    pub vendor_name: String,
    /// Model key, or "" for vendor-wide files.
    pub model: String,
    /// The model's attributes from the profile (`cfg_id`, …); empty for unknown models.
    pub attrs: BTreeMap<String, String>,
    /// Base URL phones reach deskprov at (with the tenant's URL key), no trailing slash.
    pub server_url: String,
    /// Phone-wide settings.
    pub settings: SettingsContext,
}

impl CommonContext {
    /// Every string value with a name, for the text-format safety check.
    pub fn strings(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = self
            .settings
            .strings()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        out.push(("server_url".to_owned(), &self.server_url));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{DstChange, DstRule, hours_text};
    use crate::domain::zone::ZoneRules;

    fn rule(zone: &str) -> Option<DstRule> {
        ZoneRules::of(zone.parse().unwrap()).dst.map(DstRule::from)
    }

    #[test]
    fn rules_in_template_fields() {
        let ny = rule("America/New_York").unwrap();
        assert_eq!(ny.save_minutes, 60);
        assert_eq!(
            ny.start,
            DstChange {
                month: 3,
                week: 2,
                last: false,
                weekday: 0,
                iso_weekday: 7,
                first_day: 8,
                hour: 2,
                minute: 0,
            }
        );
        let berlin = rule("Europe/Berlin").unwrap();
        assert!(berlin.end.last);
        assert_eq!((berlin.end.month, berlin.end.hour), (10, 3));
        // Israel starts on a Friday: ISO 5, Sunday-based 5.
        let jerusalem = rule("Asia/Jerusalem").unwrap();
        assert_eq!(
            (jerusalem.start.weekday, jerusalem.start.iso_weekday),
            (5, 5)
        );
        assert_eq!(rule("Asia/Kolkata"), None);
    }

    #[test]
    fn offsets_as_hours() {
        assert_eq!(hours_text(3600), "+1");
        assert_eq!(hours_text(0), "+0");
        assert_eq!(hours_text(-5 * 3600), "-5");
        assert_eq!(hours_text(5 * 3600 + 1800), "+5:30");
        assert_eq!(hours_text(-(3 * 3600 + 1800)), "-3:30");
    }
}
