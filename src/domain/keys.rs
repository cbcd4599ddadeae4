//! Programmable phone keys as admins describe them: the key types, the draft the API and the
//! sheet send, and the checks that turn drafts into keys.
//!
//! A user's keys follow them to every phone they own; a device's keys override the key at
//! their position on that one phone. Where each key lands is worked out by the key plan
//! ([`super::key_plan`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{PrintableText, RuleError};

mod owners;
mod values;

pub use owners::{DeviceKeys, KeyOwner, KeyRef};
use values::{check_sip_uri, check_value};

/// Most keys one list (a user's or a device's) may hold.
pub const MAX_KEYS: usize = 256;
/// Longest key label, in characters: key labels are short on every phone.
pub const MAX_KEY_LABEL_CHARS: usize = 32;
/// Highest key position deskprov accepts on the phone or on a module.
pub const MAX_KEY_POSITION: u32 = 255;
/// Highest expansion module number deskprov accepts.
pub const MAX_KEY_MODULE: u32 = 16;
/// Longest key value (a number or a SIP URI), in bytes.
const MAX_VALUE_LEN: usize = 128;

/// What a programmable key does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// One of the phone's SIP accounts (value: the account's line number).
    Line,
    /// Busy lamp field on an extension (or an external SIP URI).
    Blf,
    /// A number to dial (digits, `*`, `#`, `+`), or an external SIP URI.
    SpeedDial,
    /// A park orbit (digits).
    Park,
    /// Directed call pickup of an extension (or an external SIP URI).
    Pickup,
    /// A blank key.
    None,
}

impl KeyType {
    /// Every type, in the order the API lists them.
    pub const ALL: [KeyType; 6] = [
        KeyType::Line,
        KeyType::Blf,
        KeyType::SpeedDial,
        KeyType::Park,
        KeyType::Pickup,
        KeyType::None,
    ];

    /// The name the API and the sheet use (`speed_dial`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Line => "line",
            KeyType::Blf => "blf",
            KeyType::SpeedDial => "speed_dial",
            KeyType::Park => "park",
            KeyType::Pickup => "pickup",
            KeyType::None => "none",
        }
    }

    /// The type called `name`.
    pub fn parse(name: &str) -> Option<KeyType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the key watches another user (BLF, pickup): that user must exist, and the key
    /// goes when they do.
    pub fn watches_user(self) -> bool {
        matches!(self, KeyType::Blf | KeyType::Pickup)
    }

    /// Whether the key's value may be a user's extension whose name is its default label.
    pub fn names_user(self) -> bool {
        matches!(self, KeyType::Blf | KeyType::Pickup | KeyType::SpeedDial)
    }

    /// Whether the key may aim outside the tenant (a SIP URI).
    fn may_be_external(self) -> bool {
        self.names_user()
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a key sits: a position on the phone (`module` empty) or on expansion module `module`.
/// Ordered phone keys first, then module 1, 2, …, each by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// Expansion module, from 1; `None` for the phone's own keys.
    pub module: Option<u32>,
    /// Key position, from 1.
    pub position: u32,
}

/// A key as sent in `PUT …/keys` or read from a sheet row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyDraft {
    /// What the key does.
    #[serde(rename = "type")]
    #[schema(value_type = KeyType)]
    pub kind: String,
    /// Line number (`line`), extension or SIP URI (`blf`, `pickup`), number (`speed_dial`),
    /// orbit (`park`); empty or absent for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "102")]
    pub value: Option<String>,
    /// Text on the key; without one, the target user's name (or the value) is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Pins the key to this position (1 to 255); without one, it takes the next free key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 255, format = Int32)]
    pub position: Option<i64>,
    /// The expansion module (1 to 16) the pinned position is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 16, format = Int32)]
    pub module: Option<i64>,
    /// The value is a SIP URI outside the tenant (`sip:user@host`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

/// A checked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// What it does.
    pub kind: KeyType,
    /// Its value, checked for its type (empty for `none`).
    pub value: String,
    /// Its own label, if it has one.
    pub label: Option<PrintableText>,
    /// The position it is pinned to, if any.
    pub slot: Option<Slot>,
    /// Whether the value is an external SIP URI.
    pub external: bool,
}

/// What the key rules need to know about the list's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRules {
    /// Accounts of the plan: a `line` key names one of 1…accounts.
    pub accounts: usize,
}

impl Key {
    /// The key as a draft again: for snapshots, the sheet and the API's answers.
    pub fn to_draft(&self) -> KeyDraft {
        KeyDraft {
            kind: self.kind.as_str().to_owned(),
            value: Some(self.value.clone()),
            label: self.label.as_ref().map(|l| l.as_str().to_owned()),
            position: self.slot.map(|s| i64::from(s.position)),
            module: self.slot.and_then(|s| s.module).map(i64::from),
            external: self.external,
        }
    }

    /// The extension of the tenant user this key aims at, if it aims at one.
    pub fn target(&self) -> Option<&str> {
        (self.kind.names_user() && !self.external).then_some(self.value.as_str())
    }
}

impl KeyDraft {
    /// Checks one key; errors name the bare field (`value`, `label`, …).
    pub fn check(&self, rules: &KeyRules) -> Result<Key, RuleError> {
        let kind = KeyType::parse(&self.kind).ok_or_else(|| {
            let names: Vec<&str> = KeyType::ALL.iter().map(|t| t.as_str()).collect();
            RuleError::new(
                "type",
                "key_type_unknown",
                format!("a key's type is one of {}", names.join(", ")),
            )
        })?;
        if self.external && !kind.may_be_external() {
            return Err(RuleError::new(
                "external",
                "key_external_not_allowed",
                format!(
                    "a {kind} key cannot aim outside the tenant; only blf, pickup and speed_dial keys can"
                ),
            ));
        }
        let value = self.checked_value(kind, rules)?;
        let label = self
            .label
            .as_deref()
            .map(|l| PrintableText::label(l, "label", MAX_KEY_LABEL_CHARS))
            .transpose()?;
        Ok(Key {
            kind,
            value,
            label,
            slot: self.slot()?,
            external: self.external,
        })
    }

    /// The value, checked for `kind`.
    fn checked_value(&self, kind: KeyType, rules: &KeyRules) -> Result<String, RuleError> {
        let value = self.value.as_deref().unwrap_or_default();
        if kind == KeyType::None {
            return if value.is_empty() {
                Ok(String::new())
            } else {
                Err(RuleError::new(
                    "value",
                    "key_value_not_allowed",
                    "a none key is blank: leave its value out",
                ))
            };
        }
        if value.is_empty() {
            return Err(RuleError::new(
                "value",
                "key_value_required",
                format!("a {kind} key needs a value"),
            ));
        }
        if self.external {
            return check_sip_uri(value);
        }
        check_value(kind, value, rules)?;
        Ok(value.to_owned())
    }

    /// The pinned slot: a position from 1, on the phone or on a module from 1.
    fn slot(&self) -> Result<Option<Slot>, RuleError> {
        let in_range = |n: i64, max: u32| u32::try_from(n).ok().filter(|n| (1..=max).contains(n));
        let module = match self.module {
            None => None,
            Some(m) => Some(in_range(m, MAX_KEY_MODULE).ok_or_else(|| {
                RuleError::new(
                    "module",
                    "key_module_out_of_range",
                    format!("an expansion module is numbered 1 to {MAX_KEY_MODULE}"),
                )
            })?),
        };
        let Some(position) = self.position else {
            return match module {
                Some(_) => Err(RuleError::new(
                    "position",
                    "key_position_required",
                    "a key on an expansion module needs its position on the module",
                )),
                None => Ok(None),
            };
        };
        let position = in_range(position, MAX_KEY_POSITION).ok_or_else(|| {
            RuleError::new(
                "position",
                "key_position_out_of_range",
                format!("a key position is 1 to {MAX_KEY_POSITION}"),
            )
        })?;
        Ok(Some(Slot { module, position }))
    }
}

/// Checks a whole list: each key (errors name `keys[i].field`), at most [`MAX_KEYS`], and no
/// two keys pinned to one position.
pub fn check_list(drafts: &[KeyDraft], rules: &KeyRules) -> Result<Vec<Key>, RuleError> {
    check_count(drafts.len())?;
    let keys = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| d.check(rules).map_err(|e| in_list(i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    check_positions(&keys).map_err(|(i, e)| in_list(i, e))?;
    Ok(keys)
}

/// `err` of the key at `index` of a list, named `keys[index].field`.
pub fn in_list(index: usize, err: RuleError) -> RuleError {
    let field = format!("keys[{index}].{}", err.field);
    err.in_field(field)
}

/// Refuses a list longer than [`MAX_KEYS`].
pub fn check_count(len: usize) -> Result<(), RuleError> {
    if len > MAX_KEYS {
        return Err(RuleError::new(
            "keys",
            "too_many_keys",
            format!("a list holds at most {MAX_KEYS} keys"),
        ));
    }
    Ok(())
}

/// Refuses a second key pinned to a position already taken in the list: the index of the
/// later key and the error naming its `position`.
pub fn check_positions(keys: &[Key]) -> Result<(), (usize, RuleError)> {
    let mut seen = std::collections::HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(slot) = key.slot else { continue };
        if let Some(first) = seen.insert(slot, i) {
            let place = match slot.module {
                Some(m) => format!("position {} of module {m}", slot.position),
                None => format!("position {}", slot.position),
            };
            return Err((
                i,
                RuleError::new(
                    "position",
                    "key_position_taken",
                    format!("{place} already has a key (keys[{first}])"),
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
