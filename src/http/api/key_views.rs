//! What the key endpoints answer: a key list, a key in someone's list, a phone's layout.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::key_plan::{Expansion, KeySource, LaidKey, OverflowKey, OverflowReason};
use crate::domain::keys::{KeyOwner, KeyRef};
use crate::domain::{Key, KeyType, Layout};

/// A programmable key, in the shape `PUT …/keys` takes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// What the key does.
    #[serde(rename = "type")]
    pub kind: KeyType,
    /// Line number, extension, number, orbit or SIP URI; empty for `none`.
    #[schema(example = "102")]
    pub value: String,
    /// Its own label, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The position it is pinned to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 255)]
    pub position: Option<u32>,
    /// The expansion module of the pinned position, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 16)]
    pub module: Option<u32>,
    /// Present and true when the value is a SIP URI outside the tenant.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub external: bool,
}

impl From<&Key> for KeyView {
    fn from(k: &Key) -> Self {
        Self {
            kind: k.kind,
            value: k.value.clone(),
            label: k.label.as_ref().map(|l| l.as_str().to_owned()),
            position: k.slot.map(|s| s.position),
            module: k.slot.and_then(|s| s.module),
            external: k.external,
        }
    }
}

/// `GET`/`PUT …/keys`: a user's keys or a device's overrides, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeysView {
    /// The keys, in the order they fill free positions.
    pub keys: Vec<KeyView>,
}

impl KeysView {
    /// The list `keys`.
    pub fn new(keys: &[Key]) -> Self {
        Self {
            keys: keys.iter().map(KeyView::from).collect(),
        }
    }
}

/// Whose list a key is in.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyOwnerKind {
    /// A user's keys (named by `extension`).
    User,
    /// A device's overrides (named by `mac`).
    Device,
}

/// A key in a user's or a device's list: one a delete removed, or one a rename relabelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacedKeyView {
    /// A user's list or a device's.
    pub owner: KeyOwnerKind,
    /// The owning user's extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The owning device's MAC (12 lower-case hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its place in the list, from 0.
    pub index: usize,
    /// The key.
    pub key: KeyView,
}

impl From<&KeyRef> for PlacedKeyView {
    fn from(r: &KeyRef) -> Self {
        let (owner, extension, mac) = match &r.owner {
            KeyOwner::User(ext) => (KeyOwnerKind::User, Some(ext.clone()), None),
            KeyOwner::Device(mac) => (KeyOwnerKind::Device, None, Some(mac.lower12())),
        };
        Self {
            owner,
            extension,
            mac,
            index: r.index,
            key: KeyView::from(&r.key),
        }
    }
}

/// What `DELETE …/users/{extension}` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedUserView {
    /// The deleted user's extension.
    pub extension: String,
    /// The audit entry of the delete: `POST /api/v1/audit/{id}/restore` brings the user back,
    /// with their aliases and keys and the keys listed here.
    pub audit_id: i64,
    /// Other users' and devices' BLF and pickup keys that watched the user, removed with it.
    pub removed_keys: Vec<PlacedKeyView>,
}

/// A key on the phone, resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaidKeyView {
    /// Position, from 1 (on the phone, or on `module`).
    pub position: u32,
    /// Expansion module, from 1; absent for the phone's own keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<u32>,
    /// What it does.
    #[serde(rename = "type")]
    pub kind: KeyType,
    /// Its value (the account's line number for `line`, empty for `none`).
    pub value: String,
    /// The text shown: its own label, else the target's or account's name, else the value.
    pub label: String,
    /// Present and true when the value is a SIP URI outside the tenant.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub external: bool,
    /// Where it comes from.
    pub source: KeySource,
}

impl From<&LaidKey> for LaidKeyView {
    fn from(k: &LaidKey) -> Self {
        Self {
            position: k.slot.position,
            module: k.slot.module,
            kind: k.kind,
            value: k.value.clone(),
            label: k.label.clone(),
            external: k.external,
            source: k.source,
        }
    }
}

/// A key the phone does not show, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverflowKeyView {
    /// The position it asked for, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 255)]
    pub position: Option<u32>,
    /// The module it asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 16)]
    pub module: Option<u32>,
    /// What it does.
    #[serde(rename = "type")]
    pub kind: KeyType,
    /// Its value.
    pub value: String,
    /// The label it would show.
    pub label: String,
    /// Present and true when the value is a SIP URI outside the tenant.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub external: bool,
    /// Where it comes from.
    pub source: KeySource,
    /// Why it is not on the phone.
    pub reason: OverflowReason,
}

impl From<&OverflowKey> for OverflowKeyView {
    fn from(k: &OverflowKey) -> Self {
        Self {
            position: k.slot.map(|s| s.position),
            module: k.slot.and_then(|s| s.module),
            kind: k.kind,
            value: k.value.clone(),
            label: k.label.clone(),
            external: k.external,
            source: k.source,
            reason: k.reason,
        }
    }
}

/// `GET /api/v1/devices/{mac}/layout`: every key of the phone for its model.
#[derive(Debug, Serialize, ToSchema)]
pub struct LayoutView {
    /// The model laid out for (as seen, else as registered); absent facts use the vendor's
    /// defaults.
    #[schema(required = true)]
    pub model: Option<String>,
    /// SIP accounts the model has.
    pub accounts: usize,
    /// Programmable keys on the phone itself.
    pub line_keys: usize,
    /// The expansion modules the model takes, if any.
    #[schema(required = true)]
    pub expansion: Option<Expansion>,
    /// The keys on the phone, by (module, position): the phone's own first.
    pub keys: Vec<LaidKeyView>,
    /// The keys it does not show, each with its reason.
    pub overflow: Vec<OverflowKeyView>,
}

impl LayoutView {
    /// The layout of a phone of `model`.
    pub fn new(model: Option<String>, layout: &Layout) -> Self {
        Self {
            model,
            accounts: layout.accounts,
            line_keys: layout.line_keys,
            expansion: layout.expansion.clone(),
            keys: layout.keys.iter().map(LaidKeyView::from).collect(),
            overflow: layout.overflow.iter().map(OverflowKeyView::from).collect(),
        }
    }
}
