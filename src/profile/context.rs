//! What templates see: plain values already in the vendor's vocabulary.
//!
//! A [`CommonContext`] has no account fields at all, so a common file cannot carry a secret
//! whatever its template says.

use std::collections::BTreeMap;

use crate::domain::key_plan::{LaidKey, Layout};
use crate::domain::keys::KeyType;
use crate::domain::line_plan::AccountKind;
use crate::domain::settings::EffectiveSettings;
use crate::domain::zone::{self, DstTransition};
use crate::domain::{AdminPassword, Device, LinePlan};

use super::Vendor;

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
    /// Expansion modules with keys on them, by number, with their keys and blank positions.
    pub modules: Vec<ModuleContext>,
    /// The phone's own keys by page, for phones that address a key by its page and its place
    /// there: the model attribute `key_pages` lists the keys of each page in order (`3,6,6`);
    /// without it, one page holds every line key.
    pub pages: Vec<PageContext>,
}

/// One programmable key as a template writes it.
#[derive(Debug, Clone)]
pub struct KeyContext {
    /// Position on the phone or on its module (on its page, in [`DeviceContext::pages`]), from 1.
    pub position: u32,
    /// Position from 0, for formats that count so.
    pub index0: u32,
    /// Expansion module from 1, or 0 for a key on the phone itself.
    pub module: u32,
    /// `line`, `blf`, `speed_dial`, `park`, `pickup` or `none`.
    pub kind: &'static str,
    /// The vendor's code for the type (the profile's `[key_types]`).
    pub code: String,
    /// The value: the line number (`line`), an extension, digits or a SIP URI.
    pub value: String,
    /// The account the key belongs to: its own line for `line`, else line 1 (the owner's).
    pub line: usize,
    /// The text shown on the key.
    pub label: String,
    /// Whether the value is an external SIP URI.
    pub external: bool,
    /// This key's number, from 1, among the keys with its code, counted over the phone's keys
    /// and then each module's: an index into a vendor list that keys of one code share (Poly's
    /// BLF resource list).
    pub code_index: u32,
}

/// One expansion module and its keys.
#[derive(Debug, Clone)]
pub struct ModuleContext {
    /// Module number, from 1.
    pub number: u32,
    /// Module number from 0, for formats that count so.
    pub index0: u32,
    /// Its keys, by position.
    pub keys: Vec<KeyContext>,
    /// Positions on the module with no key.
    pub blank_keys: Vec<u32>,
    /// Keys the module has.
    pub size: u32,
    /// Keys before this module's first when the phone's keys and every module's are counted as
    /// one row (`line_keys + index0 × size`), for formats that number them so.
    pub offset: u32,
}

/// One page of the phone's own keys.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// Page number, from 1.
    pub number: u32,
    /// Page number from 0, for formats that count so.
    pub index0: u32,
    /// Its keys, by their position on the page.
    pub keys: Vec<KeyContext>,
    /// Positions on the page with no key.
    pub blank_keys: Vec<u32>,
    /// Keys the page has.
    pub size: u32,
}

/// The model attribute listing the keys of each page (`3,6,6`), for [`DeviceContext::pages`].
pub const KEY_PAGES: &str = "key_pages";

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
            pages: Vec::new(),
        }
    }

    /// Adds the keys of `layout` in `vendor`'s codes: the phone's own keys, its blank
    /// positions, and each expansion module that has keys.
    pub fn with_keys(mut self, layout: &Layout, vendor: &Vendor) -> Self {
        // Layout keys come phone first, then by module and position: the order codes count in.
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        let mut key = |k: &LaidKey| {
            let code = vendor.key_code(k.kind);
            let count = counts.entry(code).or_default();
            *count += 1;
            key_context(k, code, *count)
        };
        let line_keys = u32::try_from(layout.line_keys).unwrap_or(u32::MAX);
        self.line_keys = layout.line_keys;
        self.keys = layout
            .keys
            .iter()
            .filter(|k| k.slot.module.is_none())
            .map(&mut key)
            .collect();
        self.blank_keys = blanks(&self.keys, line_keys);
        let sizes = match self.attrs.get(KEY_PAGES) {
            Some(list) => page_sizes(list),
            None => vec![line_keys],
        };
        self.pages = pages(&self.keys, &sizes);
        let size = layout.expansion.as_ref().map_or(0, |e| e.keys);
        let mut numbers: Vec<u32> = layout.keys.iter().filter_map(|k| k.slot.module).collect();
        numbers.dedup();
        self.modules = numbers
            .into_iter()
            .map(|number| {
                let keys: Vec<KeyContext> = layout
                    .keys
                    .iter()
                    .filter(|k| k.slot.module == Some(number))
                    .map(&mut key)
                    .collect();
                ModuleContext {
                    number,
                    index0: number - 1,
                    blank_keys: blanks(&keys, size),
                    keys,
                    size,
                    offset: line_keys.saturating_add((number - 1).saturating_mul(size)),
                }
            })
            .collect();
        self
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

fn key_context(key: &LaidKey, code: &str, code_index: u32) -> KeyContext {
    KeyContext {
        position: key.slot.position,
        index0: key.slot.position.saturating_sub(1),
        module: key.slot.module.unwrap_or(0),
        kind: key.kind.as_str(),
        code: code.to_owned(),
        value: key.value.clone(),
        line: match key.kind {
            KeyType::Line => key.account().unwrap_or(1),
            _ => 1,
        },
        label: key.label.clone(),
        external: key.external,
        code_index,
    }
}

/// The page sizes of a `key_pages` attribute (`3,6,6`); the profile's tests check each list
/// adds up to the model's line keys.
fn page_sizes(list: &str) -> Vec<u32> {
    list.split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// The phone's keys split into consecutive pages of `sizes` keys, each key numbered on its page.
fn pages(keys: &[KeyContext], sizes: &[u32]) -> Vec<PageContext> {
    let mut before = 0;
    (1..)
        .zip(sizes)
        .map(|(number, &size)| {
            let on_page: Vec<KeyContext> = keys
                .iter()
                .filter(|k| k.position > before && k.position <= before + size)
                .map(|k| KeyContext {
                    position: k.position - before,
                    index0: k.position - before - 1,
                    ..k.clone()
                })
                .collect();
            before += size;
            PageContext {
                number,
                index0: number - 1,
                blank_keys: blanks(&on_page, size),
                keys: on_page,
                size,
            }
        })
        .collect()
}

/// Positions 1…`size` that no key in `keys` holds.
fn blanks(keys: &[KeyContext], size: u32) -> Vec<u32> {
    (1..=size)
        .filter(|p| !keys.iter().any(|k| k.position == *p))
        .collect()
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
    use super::{DstChange, DstRule, KeyContext, hours_text, page_sizes, pages};
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

    fn key(position: u32) -> KeyContext {
        KeyContext {
            position,
            index0: position - 1,
            module: 0,
            kind: "blf",
            code: "1".into(),
            code_index: position,
            value: "102".into(),
            line: 1,
            label: "Mary".into(),
            external: false,
        }
    }

    #[test]
    fn keys_split_into_pages() {
        assert_eq!(page_sizes("3, 6,6"), [3, 6, 6]);
        let split = pages(&[key(1), key(4), key(10)], &[0, 3, 6]);
        let shown: Vec<(u32, Vec<u32>, Vec<u32>)> = split
            .iter()
            .map(|p| {
                let at = p.keys.iter().map(|k| k.position).collect();
                (p.number, at, p.blank_keys.clone())
            })
            .collect();
        assert_eq!(
            shown,
            [
                (1, vec![], vec![]),
                (2, vec![1], vec![2, 3]),
                (3, vec![1], vec![2, 3, 4, 5, 6]),
            ]
        );
        assert_eq!(split[2].keys[0].index0, 0);
        assert_eq!(split[2].index0, 2);
    }
}
