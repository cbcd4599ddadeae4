//! The vendor profile format (one TOML file per vendor in `vendors/`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::key_plan::Expansion;
use crate::domain::keys::KeyType;

/// A vendor profile as written in `vendors/<id>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorProfile {
    /// Short id used in the API and the database (`yealink`).
    pub id: String,
    /// Display name (`Yealink`).
    pub name: String,
    /// MAC prefixes (`00:15:65`) that identify the vendor's phones.
    pub ouis: Vec<String>,
    /// Regex for the vendor's User-Agent, with optional named groups `model`, `firmware`, `mac`.
    pub user_agent: String,
    /// SIP accounts, and line keys, of a model the profile does not list.
    pub default_accounts: usize,
    /// Vendor codes for `udp`, `tcp`, `tls`, `dns_srv`.
    #[serde(default)]
    pub transports: BTreeMap<String, String>,
    /// Vendor names for language codes (`en` → `English`): the languages the vendor's phones
    /// show. A code missing here is a language the family lacks: a phone of the family is never
    /// given it (the change is refused).
    #[serde(default)]
    pub languages: BTreeMap<String, String>,
    /// Language tables of their own, by name, for models whose `language_index` attribute names
    /// one (`x` → `de` → `16`): such a model shows only the languages of its table, in its codes.
    #[serde(default)]
    pub model_languages: BTreeMap<String, BTreeMap<String, String>>,
    /// The vendor's own names for IANA time zones (`Europe/Berlin` → `Germany(Berlin)`), for
    /// phones that pick a zone (and its summer-time rule) from a built-in list. A zone missing
    /// here gets its offset and rule spelled out instead.
    #[serde(default)]
    pub timezones: BTreeMap<String, String>,
    /// The vendor's code for each key type (`line` → `15`): every type has one, so any key
    /// of a layout can be written (a vendor without a type of its own names the nearest one).
    pub key_types: BTreeMap<KeyType, String>,
    /// Files the phones request.
    pub files: Vec<FileSpec>,
    /// Files the phones upload (`PUT`): logs, local overrides.
    #[serde(default)]
    pub uploads: Vec<UploadSpec>,
    /// Models by name, with their accounts, keys and file-name attributes.
    #[serde(default)]
    pub models: BTreeMap<String, ModelSpec>,
}

/// One file name pattern a phone requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Name pattern: literal text with `{mac}` (lower12), `{MAC}` (UPPER12), `{model}`, or
    /// `{attr}` for any per-model attribute (`y000000000{cfg_id}.cfg`).
    pub name: String,
    /// Per-device (holds secrets) or common (never does).
    pub kind: FileKind,
    /// Template path under `templates/`.
    pub template: String,
    /// Output format, which decides escaping.
    pub format: Format,
    /// Content-Type header.
    pub content_type: String,
    /// Serve the device's latest upload of this very name instead of the template, when there
    /// is one (phones that keep local overrides on the server).
    #[serde(default)]
    pub prefer_upload: bool,
}

/// A file name a phone may `PUT` (only for its own MAC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSpec {
    /// Name pattern with `{mac}` or `{MAC}` (`{mac}-boot.log`).
    pub name: String,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
}

/// Whether a file is rendered for one device or shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// Per device, by MAC: holds SIP credentials.
    Device,
    /// Shared by a model or vendor: never holds secrets.
    Common,
}

/// The output format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `key = value` lines: values may not carry control characters.
    Text,
    /// XML: values are escaped.
    Xml,
}

/// A model: its accounts and keys, and attributes used in file names.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSpec {
    /// SIP accounts (registrations) the model has: the line plan's capacity.
    pub accounts: usize,
    /// Programmable keys on the phone itself.
    pub line_keys: usize,
    /// The expansion modules it takes (`[models.T54W.expansion]`), if any.
    #[serde(default)]
    pub expansion: Option<Expansion>,
    /// Other attributes (`cfg_id = "108"`), usable as `{cfg_id}` in file names.
    #[serde(flatten)]
    pub attrs: BTreeMap<String, String>,
}

impl FileSpec {
    /// `device` or `common`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            FileKind::Device => "device",
            FileKind::Common => "common",
        }
    }
}
