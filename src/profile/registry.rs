//! The loaded vendor profiles: request matching by file name, OUI lookup, User-Agent parsing.

use std::collections::HashMap;

use regex::{Regex, RegexSet};
use smallvec::SmallVec;

use super::spec::{FileKind, FileSpec, ModelSpec, UploadSpec, VendorProfile};
use super::templates::PROFILES;
use crate::domain::keys::KeyType;
use crate::domain::settings::LANGUAGES;
use crate::domain::{KeyCapacity, Mac, RuleError};

/// A loaded vendor profile with its compiled patterns.
#[derive(Debug)]
pub struct Vendor {
    /// The profile as written.
    pub profile: VendorProfile,
    /// ASCII classes only (`\s`, `\S`, `\b` as in ASCII): phones send ASCII, and ASCII word
    /// boundaries keep the fast engines (a Unicode `\b` falls back to a slow one).
    user_agent: regex::bytes::Regex,
    /// Model keys by their [`loose`] spelling.
    loose_models: HashMap<String, String>,
}

/// Every transport has a code in `profile`.
fn check_transports(profile: &VendorProfile) -> Result<(), String> {
    for transport in ["udp", "tcp", "tls", "dns_srv"] {
        if !profile.transports.contains_key(transport) {
            return Err(format!("transports.{transport} is missing"));
        }
    }
    Ok(())
}

/// The model keys of `profile` by their [`loose`] spelling; where two keys are one loosely, the
/// first in order answers.
fn loose_models(profile: &VendorProfile) -> HashMap<String, String> {
    let mut models = HashMap::new();
    for key in profile.models.keys() {
        models.entry(loose(key)).or_insert_with(|| key.clone());
    }
    models
}

/// A model name with case, `_` and `-` left out.
fn loose(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Vendor {
    /// Profile id (`yealink`).
    pub fn id(&self) -> &str {
        &self.profile.id
    }

    /// The model key for `name` (case-insensitive), if the profile lists it.
    ///
    /// Case, `_` and `-` do not count, so `vvx400`, `VVX-400` and `VVX_400` are one model; an
    /// exact (case-insensitive) match wins over a loose one.
    pub fn model_key(&self, name: &str) -> Option<&str> {
        let exact = self
            .profile
            .models
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name));
        exact
            .or_else(|| self.loose_models.get(&loose(name)))
            .map(String::as_str)
    }

    /// The model spec for `name`, if known.
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.model_key(name)
            .and_then(|k| self.profile.models.get(k))
    }

    /// The vendor's name for language code `code` (`de` → `German_Germany`) on `model`, if
    /// that phone has the language: from the model's own table when its `language_index`
    /// attribute names one, else from the vendor's.
    pub fn language(&self, code: &str, model: Option<&str>) -> Option<&str> {
        let table = model
            .and_then(|m| self.model(m))
            .and_then(|m| m.attrs.get(LANGUAGE_INDEX))
            .and_then(|t| self.profile.model_languages.get(t))
            .unwrap_or(&self.profile.languages);
        table.get(code).map(String::as_str)
    }

    /// The language codes `model` shows, sorted.
    pub fn language_codes(&self, model: Option<&str>) -> Vec<&str> {
        LANGUAGES
            .into_iter()
            .filter(|code| self.language(code, model).is_some())
            .collect()
    }

    /// SIP accounts of `model` (the line plan's capacity), or the vendor default for unknown
    /// models.
    pub fn capacity(&self, model: Option<&str>) -> usize {
        model
            .and_then(|m| self.model(m))
            .map_or(self.profile.default_accounts, |m| m.accounts)
    }

    /// The vendor's code for key type `kind` (the profile's `[key_types]`, complete by
    /// [`Vendors::from_profiles`]'s check).
    pub fn key_code(&self, kind: KeyType) -> &str {
        self.profile.key_types.get(&kind).map_or("", String::as_str)
    }

    /// Accounts, line keys and expansion modules of `model`; an unknown model has the vendor's
    /// default accounts, as many line keys, and no modules.
    pub fn key_capacity(&self, model: Option<&str>) -> KeyCapacity {
        match model.and_then(|m| self.model(m)) {
            Some(m) => KeyCapacity {
                accounts: m.accounts,
                line_keys: m.line_keys,
                expansion: m.expansion.clone(),
            },
            None => KeyCapacity {
                accounts: self.profile.default_accounts,
                line_keys: self.profile.default_accounts,
                expansion: None,
            },
        }
    }
}

/// The model attribute that names a language table of [`VendorProfile::model_languages`].
pub const LANGUAGE_INDEX: &str = "language_index";

/// What a phone's User-Agent says about it. A hint only, never a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaInfo {
    /// Vendor profile id.
    pub vendor: String,
    /// Model as the vendor spells it, mapped to the profile's key when known.
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// MAC, when the UA carries a valid one.
    pub mac: Option<Mac>,
    /// Whether the UA carried something in the MAC position that is not a valid MAC.
    pub bad_mac: bool,
}

/// The patterns a file name fits ([`Vendors::file_hits`]), in the order [`Vendors::match_file`]
/// lists their matches.
pub struct FileHits<'a, 'n> {
    vendors: &'a Vendors,
    name: &'n str,
    patterns: SmallVec<[&'a Pattern; 4]>,
}

impl<'a> FileHits<'a, '_> {
    /// The matches, as [`Vendors::match_file`] lists them.
    pub fn all(&self) -> Vec<FileMatch<'a>> {
        self.matches().collect()
    }

    /// The MAC of the first match that names one: the name is a per-device file's.
    pub fn mac(&self) -> Option<Mac> {
        self.matches().find_map(|m| m.mac)
    }

    /// The first match of the vendor `vendor_id`.
    pub fn of_vendor(&self, vendor_id: &str) -> Option<FileMatch<'a>> {
        let vendors = self.vendors;
        self.patterns
            .iter()
            .filter(|p| vendors.vendors[p.vendor].id() == vendor_id)
            .find_map(|p| vendors.resolve(p, self.name))
    }

    fn matches(&self) -> impl Iterator<Item = FileMatch<'a>> + '_ {
        let vendors = self.vendors;
        self.patterns
            .iter()
            .filter_map(move |p| vendors.resolve(p, self.name))
    }
}

/// A request path matched to a vendor file.
#[derive(Debug, Clone)]
pub struct FileMatch<'a> {
    /// The vendor.
    pub vendor: &'a Vendor,
    /// The file pattern that matched.
    pub file: &'a FileSpec,
    /// The MAC from the name, for per-device files.
    pub mac: Option<Mac>,
    /// The model named by the file, if the pattern names one.
    pub model: Option<&'a str>,
}

struct Pattern {
    vendor: usize,
    file: usize,
    regex: Regex,
    /// Which profile attribute, if any, the `attr` group captures.
    attr: Option<String>,
    literal: bool,
}

/// An upload name a phone may `PUT`.
#[derive(Debug, Clone)]
pub struct UploadMatch<'a> {
    /// The vendor.
    pub vendor: &'a Vendor,
    /// The upload pattern that matched.
    pub upload: &'a UploadSpec,
    /// The MAC from the name.
    pub mac: Mac,
}

/// All vendor profiles, ready to match requests.
pub struct Vendors {
    vendors: Vec<Vendor>,
    /// Every vendor's User-Agent pattern, in vendor order.
    user_agents: regex::bytes::RegexSet,
    set: RegexSet,
    patterns: Vec<Pattern>,
    uploads: Vec<(usize, usize, Regex)>,
    by_oui: HashMap<[u8; 3], usize>,
}

impl std::fmt::Debug for Vendors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.vendors.iter().map(Vendor::id))
            .finish()
    }
}

/// A broken vendor profile.
#[derive(Debug, thiserror::Error)]
#[error("vendor profile {file}: {message}")]
pub struct ProfileError {
    file: String,
    message: String,
}

impl Vendors {
    /// Loads the profiles compiled into the binary from `vendors/`.
    pub fn builtin() -> Result<Self, ProfileError> {
        let profiles = PROFILES
            .iter()
            .map(|(file, text)| {
                toml::from_str::<VendorProfile>(text).map_err(|e| ProfileError {
                    file: file.to_string(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_profiles(profiles)
    }

    /// Builds the matcher from profiles, checking them.
    pub fn from_profiles(profiles: Vec<VendorProfile>) -> Result<Self, ProfileError> {
        let mut vendors = Vec::new();
        let mut patterns = Vec::new();
        let mut by_oui = HashMap::new();
        let mut uploads = Vec::new();
        for (vi, profile) in profiles.into_iter().enumerate() {
            let err = |message: String| ProfileError {
                file: format!("{}.toml", profile.id),
                message,
            };
            let user_agent = regex::bytes::RegexBuilder::new(&profile.user_agent)
                .unicode(false)
                .build()
                .map_err(|e| err(format!("user_agent: {e}")))?;
            for oui in &profile.ouis {
                let bytes = parse_oui(oui).ok_or_else(|| err(format!("bad OUI {oui:?}")))?;
                if by_oui.insert(bytes, vi).is_some() {
                    return Err(err(format!("OUI {oui} is claimed by two vendors")));
                }
            }
            check_codes(&profile).map_err(err)?;
            check_transports(&profile).map_err(err)?;
            for (fi, file) in profile.files.iter().enumerate() {
                let (regex, attr) = compile_name(&file.name, &profile).map_err(err)?;
                if file.kind == FileKind::Device
                    && !file.name.contains("{mac}")
                    && !file.name.contains("{MAC}")
                {
                    return Err(err(format!("device file {} has no {{mac}}", file.name)));
                }
                patterns.push(Pattern {
                    vendor: vi,
                    file: fi,
                    regex: Regex::new(&regex).map_err(|e| err(format!("{}: {e}", file.name)))?,
                    attr,
                    literal: !file.name.contains('{'),
                });
            }
            for (ui, upload) in profile.uploads.iter().enumerate() {
                if !upload.name.contains("{mac}") && !upload.name.contains("{MAC}") {
                    return Err(err(format!(
                        "upload {} has no {{mac}}: phones may only upload their own files",
                        upload.name
                    )));
                }
                let (regex, _) = compile_name(&upload.name, &profile).map_err(err)?;
                let regex = Regex::new(&regex).map_err(|e| err(format!("{}: {e}", upload.name)))?;
                uploads.push((vi, ui, regex));
            }
            vendors.push(Vendor {
                loose_models: loose_models(&profile),
                profile,
                user_agent,
            });
        }
        let set =
            RegexSet::new(patterns.iter().map(|p| p.regex.as_str())).map_err(|e| ProfileError {
                file: "(all)".into(),
                message: e.to_string(),
            })?;
        let user_agents =
            regex::bytes::RegexSetBuilder::new(vendors.iter().map(|v| v.user_agent.as_str()))
                .unicode(false)
                .build()
                .map_err(|e| ProfileError {
                    file: "(all)".into(),
                    message: e.to_string(),
                })?;
        Ok(Self {
            vendors,
            user_agents,
            set,
            patterns,
            uploads,
            by_oui,
        })
    }

    /// Every vendor.
    pub fn all(&self) -> &[Vendor] {
        &self.vendors
    }

    /// The vendor with profile id `id`.
    pub fn get(&self, id: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.id() == id)
    }

    /// The vendor whose OUI `mac` carries.
    pub fn for_mac(&self, mac: &Mac) -> Option<&Vendor> {
        self.by_oui.get(&mac.oui()).map(|&i| &self.vendors[i])
    }

    /// The vendor of a device being registered: `vendor` when given, else the one `mac`'s OUI
    /// names; `model`, when given, must be one of that vendor's models.
    pub fn for_new_device(
        &self,
        vendor: Option<&str>,
        mac: &Mac,
        model: Option<&str>,
    ) -> Result<&Vendor, RuleError> {
        let found = match vendor {
            Some(id) => self.get(id).ok_or_else(|| {
                let known: Vec<&str> = self.vendors.iter().map(Vendor::id).collect();
                RuleError::new(
                    "vendor",
                    "vendor_unknown",
                    format!("vendor is one of {}", known.join(", ")),
                )
            })?,
            None => self.for_mac(mac).ok_or_else(|| {
                RuleError::new(
                    "mac",
                    "vendor_not_recognised",
                    format!(
                        "{mac} does not start with a known vendor prefix; give \"vendor\" explicitly"
                    ),
                )
            })?,
        };
        if let Some(model) = model
            && found.model_key(model).is_none()
        {
            let known: Vec<&str> = found.profile.models.keys().map(String::as_str).collect();
            return Err(RuleError::new(
                "model",
                "model_unknown",
                format!("{} models are {}", found.profile.name, known.join(", ")),
            ));
        }
        Ok(found)
    }

    /// Every vendor file `name` (one path segment) could be. Literal names (common files such
    /// as `000000000000.cfg`) win over patterns; otherwise all candidates are returned and the
    /// caller picks by the registered device's vendor.
    pub fn match_file(&self, name: &str) -> Vec<FileMatch<'_>> {
        self.file_hits(name).all()
    }

    /// The patterns `name` fits, each read in full only when asked for ([`match_file`] reads
    /// every one; a per-device name fits several vendors' patterns, and the device picks one).
    ///
    /// [`match_file`]: Self::match_file
    pub fn file_hits<'n>(&self, name: &'n str) -> FileHits<'_, 'n> {
        let mut patterns: SmallVec<[&Pattern; 4]> = self
            .set
            .matches(name)
            .into_iter()
            .map(|i| &self.patterns[i])
            .collect();
        if patterns.iter().any(|p| p.literal) {
            patterns.retain(|p| p.literal);
        }
        FileHits {
            vendors: self,
            name,
            patterns,
        }
    }

    fn resolve<'a>(&'a self, p: &Pattern, name: &str) -> Option<FileMatch<'a>> {
        let caps = p.regex.captures(name)?;
        let vendor = &self.vendors[p.vendor];
        let mac = match caps.name("mac") {
            Some(m) => Some(Mac::parse(m.as_str()).ok()?),
            None => None,
        };
        let model = if let Some(m) = caps.name("model") {
            Some(vendor.model_key(m.as_str())?)
        } else if let (Some(attr), Some(value)) = (&p.attr, caps.name("attr")) {
            vendor
                .profile
                .models
                .iter()
                .find(|(_, spec)| spec.attrs.get(attr).map(String::as_str) == Some(value.as_str()))
                .map(|(k, _)| k.as_str())
        } else {
            None
        };
        Some(FileMatch {
            vendor,
            file: &vendor.profile.files[p.file],
            mac,
            model,
        })
    }

    /// Every upload `name` could be (one per vendor that declares the pattern).
    pub fn match_upload(&self, name: &str) -> Vec<UploadMatch<'_>> {
        self.uploads
            .iter()
            .filter_map(|(vi, ui, regex)| {
                let mac = Mac::parse(regex.captures(name)?.name("mac")?.as_str()).ok()?;
                let vendor = &self.vendors[*vi];
                Some(UploadMatch {
                    vendor,
                    upload: &vendor.profile.uploads[*ui],
                    mac,
                })
            })
            .collect()
    }

    /// Reads a User-Agent with every vendor's pattern; `None` when no vendor recognises it.
    pub fn parse_ua(&self, ua: &str) -> Option<UaInfo> {
        // One pass finds the vendors whose pattern matches; only the first is read in full.
        let first = self.user_agents.matches(ua.as_bytes()).into_iter().next()?;
        let v = &self.vendors[first];
        let caps = v.user_agent.captures(ua.as_bytes())?;
        // Every capture ends next to an ASCII character, so it is whole UTF-8.
        let text = |name: &str| {
            caps.name(name)
                .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
        };
        let raw_mac = text("mac");
        let mac = raw_mac.and_then(|m| Mac::parse(m).ok());
        Some(UaInfo {
            vendor: v.id().to_owned(),
            model: text("model").map(|m| v.model_key(m).unwrap_or(m).to_owned()),
            firmware: text("firmware").map(str::to_owned),
            bad_mac: raw_mac.is_some() && mac.is_none(),
            mac,
        })
    }

    /// The file names `vendor` serves to a device of `model` (for previews).
    pub fn device_file_names<'a>(
        &self,
        vendor: &'a Vendor,
        mac: &Mac,
        model: Option<&str>,
    ) -> Vec<(String, &'a FileSpec)> {
        vendor
            .profile
            .files
            .iter()
            .filter_map(|f| expand_name(&f.name, vendor, Some(mac), model).map(|n| (n, f)))
            .collect()
    }
}

impl FileMatch<'_> {
    /// The model the file is for: `ua_model` when that model's file has this very name (the
    /// phone said what it is), else the model the name points to.
    pub fn model_for(&self, name: &str, ua_model: Option<&str>) -> Option<String> {
        ua_model
            .filter(|m| {
                self.vendor.model_key(m).is_some()
                    && expand_name(&self.file.name, self.vendor, None, Some(m)).as_deref()
                        == Some(name)
            })
            .or(self.model)
            .map(str::to_owned)
    }
}

/// Writes a file name pattern out for one device (`{mac}`, `{MAC}`, `{model}`, model
/// attributes), or `None` if the pattern needs a MAC, model or attribute it was not given.
pub fn expand_name(
    pattern: &str,
    vendor: &Vendor,
    mac: Option<&Mac>,
    model: Option<&str>,
) -> Option<String> {
    let model_key = model.and_then(|m| vendor.model_key(m));
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let token = &rest[start + 1..end];
        match token {
            "mac" => out.push_str(&mac?.lower12()),
            "MAC" => out.push_str(&mac?.upper12()),
            "model" => out.push_str(model_key?),
            attr => out.push_str(vendor.profile.models.get(model_key?)?.attrs.get(attr)?),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Checks the profile's code tables: language codes deskprov knows, language tables that exist,
/// IANA zone names that exist.
fn check_codes(profile: &VendorProfile) -> Result<(), String> {
    let tables = std::iter::once(("languages".to_owned(), &profile.languages)).chain(
        profile
            .model_languages
            .iter()
            .map(|(name, t)| (format!("model_languages.{name}"), t)),
    );
    for (name, table) in tables {
        if let Some(code) = table.keys().find(|c| !LANGUAGES.contains(&c.as_str())) {
            return Err(format!("{name}: unknown language code {code}"));
        }
    }
    for (model, spec) in &profile.models {
        if let Some(table) = spec.attrs.get(LANGUAGE_INDEX)
            && !profile.model_languages.contains_key(table)
        {
            return Err(format!(
                "model {model}: no model_languages.{table} for its {LANGUAGE_INDEX}"
            ));
        }
    }
    if let Some(kind) = KeyType::ALL
        .iter()
        .find(|t| !profile.key_types.contains_key(t))
    {
        return Err(format!("key_types: no code for {}", kind.as_str()));
    }
    match profile
        .timezones
        .keys()
        .find(|z| z.parse::<chrono_tz::Tz>().is_err())
    {
        Some(zone) => Err(format!("timezones: {zone} is not an IANA time zone")),
        None => Ok(()),
    }
}

/// Turns a name pattern into an anchored regex; returns the attribute the `attr` group holds.
fn compile_name(
    pattern: &str,
    profile: &VendorProfile,
) -> Result<(String, Option<String>), String> {
    let mut regex = String::from("^");
    let mut attr = None;
    let mut rest = pattern;
    let alternation = |values: Vec<&str>| {
        let mut v: Vec<String> = values.iter().map(|s| regex::escape(s)).collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        v.join("|")
    };
    while let Some(start) = rest.find('{') {
        regex.push_str(&regex::escape(&rest[..start]));
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {pattern}"))?
            + start;
        let token = &rest[start + 1..end];
        match token {
            "mac" | "MAC" => regex.push_str("(?P<mac>[0-9A-Fa-f]{12})"),
            "model" => {
                let names: Vec<&str> = profile.models.keys().map(String::as_str).collect();
                if names.is_empty() {
                    return Err(format!(
                        "{pattern} names {{model}} but the profile lists no models"
                    ));
                }
                regex.push_str(&format!("(?P<model>(?i:{}))", alternation(names)));
            }
            other => {
                if attr.is_some() {
                    return Err(format!("{pattern}: at most one model attribute per name"));
                }
                let values: Vec<&str> = profile
                    .models
                    .values()
                    .filter_map(|m| m.attrs.get(other))
                    .map(String::as_str)
                    .collect();
                if values.is_empty() {
                    return Err(format!(
                        "{pattern} names {{{other}}} but no model has that attribute"
                    ));
                }
                regex.push_str(&format!("(?P<attr>{})", alternation(values)));
                attr = Some(other.to_owned());
            }
        }
        rest = &rest[end + 1..];
    }
    regex.push_str(&regex::escape(rest));
    regex.push('$');
    Ok((regex, attr))
}

fn parse_oui(text: &str) -> Option<[u8; 3]> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    let mut out = [0u8; 3];
    (hex.len() == 6).then_some(())?;
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendors() -> Vendors {
        Vendors::builtin().expect("built-in profiles load")
    }

    #[test]
    fn hits_read_lazily_say_what_every_match_says() {
        let v = vendors();
        let names = [
            "001565aabbcc.cfg",
            "0004f2aabbcc-user.cfg",
            "cfg000b82aabbcc.xml",
            "snomD785-000413AABBCC.htm",
            "y000000000108.cfg",
            "000000000000.cfg",
            "nothing.bin",
        ];
        let mut several = 0;
        for name in names {
            let hits = v.file_hits(name);
            let all = v.match_file(name);
            several += usize::from(all.len() > 1);
            assert_eq!(hits.mac(), all.iter().find_map(|m| m.mac), "{name}");
            for vendor in v.all() {
                let first = all.iter().find(|m| m.vendor.id() == vendor.id());
                let lazy = hits.of_vendor(vendor.id());
                assert_eq!(
                    lazy.map(|m| (m.file.name.clone(), m.model)),
                    first.map(|m| (m.file.name.clone(), m.model)),
                    "{name}, {}",
                    vendor.id()
                );
            }
        }
        assert!(several > 0, "some name fits several vendors");
    }

    #[test]
    fn yealink_files_match_with_any_mac_case() {
        let v = vendors();
        for name in ["001565aabbcc.cfg", "001565AABBCC.cfg"] {
            let m = v.match_file(name);
            let y = m.iter().find(|m| m.vendor.id() == "yealink").expect(name);
            assert_eq!(y.mac.unwrap().lower12(), "001565aabbcc");
        }
        let common = v.match_file("y000000000108.cfg");
        assert_eq!(common.len(), 1);
        assert_eq!(common[0].model, Some("T46U"));
        assert!(v.match_file("y000000000999.cfg").is_empty());
        assert!(
            v.match_file("000000000000.cfg")
                .iter()
                .all(|m| m.mac.is_none()),
            "all-zero is no device"
        );
        assert!(v.match_file("../etc/passwd").is_empty());
    }

    #[test]
    fn yealink_user_agents() {
        let v = vendors();
        let ua = v
            .parse_ua("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37")
            .unwrap();
        assert_eq!(
            (
                ua.vendor.as_str(),
                ua.model.as_deref(),
                ua.firmware.as_deref()
            ),
            ("yealink", Some("T46G"), Some("28.72.0.1"))
        );
        assert_eq!(ua.mac.unwrap().lower12(), "0015654aa937");
        let ua = v
            .parse_ua("Yealink SIP-T56A  58.80.0.25 001565f429a4")
            .unwrap();
        assert_eq!(ua.mac.unwrap().lower12(), "001565f429a4");
        let ua = v
            .parse_ua("Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0")
            .unwrap();
        assert_eq!((ua.model.as_deref(), ua.mac), (Some("T46G"), None));
        assert!(v.parse_ua("curl/8.5.0").is_none());
    }

    #[test]
    fn vendor_from_oui_and_capacity() {
        let v = vendors();
        let y = v
            .for_mac(&Mac::parse("80:5e:c0:01:02:03").unwrap())
            .unwrap();
        assert_eq!(y.id(), "yealink");
        assert_eq!(y.capacity(Some("t46u")), 16);
        assert_eq!(y.capacity(Some("T31P")), 2);
        assert_eq!(
            y.model_key("t19p-e2"),
            Some("T19P_E2"),
            "case, '-' and '_' do not count"
        );
        assert_eq!(y.capacity(Some("X999")), y.profile.default_accounts);
        let t54w = y.key_capacity(Some("t54w"));
        assert_eq!((t54w.accounts, t54w.line_keys), (16, 27));
        let exp = t54w.expansion.expect("the T54W takes modules");
        assert_eq!((exp.kind.as_str(), exp.keys, exp.max), ("EXP50", 60, 3));
        let unknown = y.key_capacity(Some("X999"));
        assert_eq!(unknown.line_keys, y.profile.default_accounts);
        assert_eq!(unknown.expansion, None);
        let mac = Mac::parse("001565aabbcc").unwrap();
        let names: Vec<String> = v
            .device_file_names(y, &mac, Some("T46U"))
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "001565aabbcc.boot",
                "y000000000000.boot",
                "001565aabbcc.cfg",
                "y000000000108.cfg"
            ]
        );
    }
}
