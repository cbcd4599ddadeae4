//! Programmable phone keys as admins describe them: the key types, the draft the API and the
//! sheet send, and the checks that turn drafts into keys.
//!
//! A user's keys follow them to every phone they own; a device's keys override the key at
//! their position on that one phone. Where each key lands is worked out by the key plan
//! ([`super::key_plan`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{PrintableText, RuleError};

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
    /// Pins the key to this position (from 1); without one, it takes the next free key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub position: Option<i64>,
    /// The expansion module (from 1) the pinned position is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
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

/// Checks an in-tenant value for `kind` (never `none`).
fn check_value(kind: KeyType, value: &str, rules: &KeyRules) -> Result<(), RuleError> {
    let digits = |max: usize| value.len() <= max && value.bytes().all(|b| b.is_ascii_digit());
    let (ok, code, message) = match kind {
        KeyType::Line => (
            value
                .parse::<usize>()
                .is_ok_and(|n| (1..=rules.accounts).contains(&n))
                && digits(4),
            "key_line_unknown",
            format!(
                "a line key names an account of the plan by its line number: 1 to {}",
                rules.accounts
            ),
        ),
        KeyType::Blf | KeyType::Pickup => (
            digits(15),
            "key_extension_invalid",
            format!(
                "a {kind} key watches an extension (digits); for a target outside the tenant, give a SIP URI (sip:user@host) and \"external\": true"
            ),
        ),
        KeyType::SpeedDial => (
            value.len() <= 32
                && value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"*#+".contains(&b)),
            "key_speed_dial_invalid",
            "a speed dial is up to 32 digits, *, # and +, or a SIP URI with \"external\": true"
                .to_owned(),
        ),
        KeyType::Park | KeyType::None => (
            digits(15),
            "key_park_invalid",
            "a park key names its orbit: digits only".to_owned(),
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(RuleError::new("value", code, message))
    }
}

/// A full SIP URI: `sip:` (or `sips:`), a user part, `@`, a host name or address, an optional
/// port.
fn check_sip_uri(value: &str) -> Result<String, RuleError> {
    let rest = value
        .strip_prefix("sip:")
        .or_else(|| value.strip_prefix("sips:"));
    let ok = rest
        .and_then(|r| r.split_once('@'))
        .is_some_and(|(user, host)| {
            let user_ok = !user.is_empty()
                && user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/%".contains(&b));
            user_ok && host_ok(host)
        });
    if ok && value.len() <= MAX_VALUE_LEN {
        Ok(value.to_owned())
    } else {
        Err(RuleError::new(
            "value",
            "key_sip_uri_invalid",
            format!(
                "an external target is a full SIP URI of at most {MAX_VALUE_LEN} characters: sip:user@host"
            ),
        ))
    }
}

/// A host name (`pbx.example.com`), IPv4 address or `[IPv6]`, with an optional `:port`.
fn host_ok(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let name_ok = if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && name_ok
}

/// Whose list a key is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The user with this extension (their keys follow them to every phone).
    User(String),
    /// The phone with this MAC (its overrides).
    Device(super::Mac),
}

/// A key where it is kept: its owner's list, at `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// Whose list.
    pub owner: KeyOwner,
    /// Its place in the list, from 0.
    pub index: usize,
    /// The key.
    pub key: Key,
}

impl KeyRef {
    /// The key and its place as the API and the audit log show it:
    /// `{"owner": "user", "extension", "index", "key"}` or `{"owner": "device", "mac", …}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"index": self.index, "key": self.key.to_draft()});
        match &self.owner {
            KeyOwner::User(extension) => {
                v["owner"] = json!("user");
                v["extension"] = json!(extension);
            }
            KeyOwner::Device(mac) => {
                v["owner"] = json!("device");
                v["mac"] = json!(mac.lower12());
            }
        }
        v
    }

    /// Reads back what [`KeyRef::to_json`] wrote (from an audit snapshot): the owner, the
    /// place and the key as a draft, to be checked again.
    pub fn from_json(v: &Value) -> Option<(KeyOwner, usize, KeyDraft)> {
        let owner = match v.get("owner")?.as_str()? {
            "user" => KeyOwner::User(v.get("extension")?.as_str()?.to_owned()),
            "device" => KeyOwner::Device(super::Mac::parse(v.get("mac")?.as_str()?).ok()?),
            _ => return None,
        };
        let index = usize::try_from(v.get("index")?.as_u64()?).ok()?;
        let draft = serde_json::from_value(v.get("key")?.clone()).ok()?;
        Some((owner, index, draft))
    }
}

/// The keys of one phone before they are laid out: its owner's, its own, and the names of the
/// tenant's users they aim at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceKeys {
    /// The owner's keys, in order.
    pub user: Vec<Key>,
    /// The device's overrides, in order.
    pub device: Vec<Key>,
    /// Names by extension of the users the keys aim at.
    pub names: std::collections::BTreeMap<String, String>,
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
mod tests {
    use super::*;

    const RULES: KeyRules = KeyRules { accounts: 3 };

    fn draft(json: serde_json::Value) -> KeyDraft {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_valid_key_of_every_type_passes() {
        use serde_json::json;
        for ok in [
            json!({"type": "line", "value": "3"}),
            json!({"type": "blf", "value": "102", "label": "Boss"}),
            json!({"type": "blf", "value": "sip:alice@pbx.other.example:5060", "external": true}),
            json!({"type": "pickup", "value": "102", "position": 4}),
            json!({"type": "speed_dial", "value": "+49*30#1"}),
            json!({"type": "speed_dial", "value": "sips:desk@[2001:db8::1]", "external": true}),
            json!({"type": "park", "value": "701", "module": 2, "position": 1}),
            json!({"type": "none", "position": 5}),
            json!({"type": "none", "value": ""}),
        ] {
            draft(ok.clone())
                .check(&RULES)
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn each_rule_names_its_field_and_code() {
        // "field code body"
        for case in [
            r#"type key_type_unknown {"type":"macro","value":"1"}"#,
            r#"value key_line_unknown {"type":"line","value":"4"}"#,
            r#"value key_line_unknown {"type":"line","value":"0"}"#,
            r#"value key_value_required {"type":"blf"}"#,
            r#"value key_extension_invalid {"type":"blf","value":"sip:a@b"}"#,
            r#"value key_extension_invalid {"type":"pickup","value":"10x"}"#,
            r#"value key_sip_uri_invalid {"type":"blf","value":"102","external":true}"#,
            r#"value key_sip_uri_invalid {"type":"blf","value":"sip:@h","external":true}"#,
            r#"value key_sip_uri_invalid {"type":"blf","value":"sip:a@b c","external":true}"#,
            r#"value key_speed_dial_invalid {"type":"speed_dial","value":"12a"}"#,
            r#"value key_park_invalid {"type":"park","value":"*70"}"#,
            r#"external key_external_not_allowed {"type":"park","value":"7","external":true}"#,
            r#"value key_value_not_allowed {"type":"none","value":"1"}"#,
            r#"label text_not_printable {"type":"park","value":"7","label":"a\u202eb"}"#,
            r#"position key_position_out_of_range {"type":"park","value":"7","position":0}"#,
            r#"position key_position_required {"type":"park","value":"7","module":1}"#,
            r#"module key_module_out_of_range {"type":"park","value":"7","module":0,"position":1}"#,
        ] {
            let mut parts = case.splitn(3, ' ');
            let (field, code) = (parts.next().unwrap(), parts.next().unwrap());
            let json = parts.next().unwrap();
            let d: KeyDraft = serde_json::from_str(json).unwrap();
            let err = d.check(&RULES).unwrap_err();
            assert_eq!((err.field.as_str(), err.code), (field, code), "{json}");
        }
    }

    #[test]
    fn a_list_names_the_index_refuses_shared_positions_and_is_bounded() {
        use serde_json::json;
        let list = |v: serde_json::Value| -> Vec<KeyDraft> { serde_json::from_value(v).unwrap() };
        let err = check_list(
            &list(json!([{"type": "park", "value": "7"}, {"type": "blf", "value": "x"}])),
            &RULES,
        )
        .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("keys[1].value", "key_extension_invalid")
        );
        let err = check_list(
            &list(json!([
                {"type": "park", "value": "7", "position": 2},
                {"type": "park", "value": "8", "position": 2, "module": 1},
                {"type": "park", "value": "9", "position": 2}
            ])),
            &RULES,
        )
        .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("keys[2].position", "key_position_taken")
        );
        let many = vec![draft(json!({"type": "park", "value": "7"})); MAX_KEYS + 1];
        assert_eq!(check_list(&many, &RULES).unwrap_err().code, "too_many_keys");
        assert_eq!(
            check_list(&many[..MAX_KEYS], &RULES).unwrap().len(),
            MAX_KEYS
        );
    }

    #[test]
    fn a_key_reads_back_as_its_draft_and_a_placed_key_as_its_json() {
        let d = draft(
            serde_json::json!({"type": "blf", "value": "102", "label": "Boss", "position": 3, "module": 1}),
        );
        let key = d.check(&RULES).unwrap();
        assert_eq!(key.to_draft(), d);
        let mac = super::super::Mac::parse("001565aabbcc").unwrap();
        for owner in [KeyOwner::User("101".into()), KeyOwner::Device(mac)] {
            let placed = KeyRef {
                owner: owner.clone(),
                index: 4,
                key: key.clone(),
            };
            assert_eq!(
                KeyRef::from_json(&placed.to_json()),
                Some((owner, 4, d.clone()))
            );
        }
    }
}
