//! Keys where they are kept: whose list, at which place; and a phone's keys before they are
//! laid out.

use serde_json::{Value, json};

use super::{Key, KeyDraft};

/// Whose list a key is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The user with this extension (their keys follow them to every phone).
    User(String),
    /// The phone with this MAC (its overrides).
    Device(crate::domain::Mac),
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
            "device" => KeyOwner::Device(crate::domain::Mac::parse(v.get("mac")?.as_str()?).ok()?),
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
