//! The key plan: which key goes on which programmable key of one phone.
//!
//! The line plan's accounts take keys 1…N first; the user's keys pinned to a position take it,
//! then their other keys fill the next free keys in order; the device's own keys replace the
//! key at their position last. Keys the model cannot show, and keys replaced by a later one,
//! are overflow: reported, never silently dropped.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::keys::{Key, KeyType, Slot};
use super::line_plan::LinePlan;

/// The expansion modules a model takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Expansion {
    /// The module's name (`EXP50`).
    #[schema(example = "EXP50")]
    pub kind: String,
    /// Keys on one module.
    pub keys: u32,
    /// Modules the phone takes at most.
    pub max: u32,
}

/// What a model has for keys: its SIP accounts, its programmable keys, its modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCapacity {
    /// SIP registrations (the line plan's capacity).
    pub accounts: usize,
    /// Programmable keys on the phone itself.
    pub line_keys: usize,
    /// Expansion modules, if the model takes any.
    pub expansion: Option<Expansion>,
}

/// Where a key of the layout comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// An account of the line plan.
    Plan,
    /// The user's own keys.
    User,
    /// The device's overrides.
    Device,
}

/// Why a key is not on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// Its position is beyond the phone's line keys.
    BeyondLineKeys,
    /// Its module is beyond the modules the model takes (or it takes none).
    BeyondModules,
    /// Its position is beyond the keys of one module.
    BeyondModuleKeys,
    /// It pins no position and every line key is taken.
    NoFreeKey,
    /// A `line` key for an account that is not on this phone.
    AccountNotOnPhone,
    /// A later key took its position (a pinned user key, a device override).
    Replaced,
}

/// A key on the phone, resolved: its type, value and label as the phone shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaidKey {
    /// Where it is.
    pub slot: Slot,
    /// What it does.
    pub kind: KeyType,
    /// Its value (the line number for `line`, empty for `none`).
    pub value: String,
    /// The text shown: its own label, else the target's name, else the value.
    pub label: String,
    /// Whether the value is an external SIP URI.
    pub external: bool,
    /// Where it comes from.
    pub source: KeySource,
}

impl LaidKey {
    /// For a `line` key: the line (1-based) of the account it shows.
    pub fn account(&self) -> Option<usize> {
        (self.kind == KeyType::Line)
            .then(|| self.value.parse().ok())
            .flatten()
    }
}

/// A key that is not on the phone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowKey {
    /// Where it asked to be, if it pinned a position (or was given one).
    pub slot: Option<Slot>,
    /// The key, resolved as it would have been shown.
    pub kind: KeyType,
    /// Its value.
    pub value: String,
    /// Its label.
    pub label: String,
    /// Whether the value is an external SIP URI.
    pub external: bool,
    /// Where it comes from.
    pub source: KeySource,
    /// Why it is not on the phone.
    pub reason: OverflowReason,
}

/// Every key of one phone: what the renderer writes, sorted by (module, position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// SIP accounts of the model.
    pub accounts: usize,
    /// Programmable keys on the phone itself.
    pub line_keys: usize,
    /// The model's expansion modules, if any.
    pub expansion: Option<Expansion>,
    /// The keys on the phone: phone keys by position, then each module's by position.
    pub keys: Vec<LaidKey>,
    /// The keys that are not on the phone, in the order they were met.
    pub overflow: Vec<OverflowKey>,
}

/// What a layout is made of besides the model.
#[derive(Debug, Clone, Copy)]
pub struct KeySources<'a> {
    /// The device's line plan.
    pub plan: &'a LinePlan,
    /// The owner's keys, in their order.
    pub user: &'a [Key],
    /// The device's overrides, in their order.
    pub device: &'a [Key],
    /// Names of the tenant's users by extension (at least those the keys aim at).
    pub names: &'a BTreeMap<String, String>,
}

/// Lays out the keys of one phone of `model`.
pub fn resolve(model: &KeyCapacity, sources: KeySources<'_>) -> Layout {
    let mut board = Board {
        model,
        sources,
        placed: BTreeMap::new(),
        overflow: Vec::new(),
    };
    for line in &sources.plan.lines {
        let slot = Slot {
            module: None,
            position: u32::try_from(line.line).unwrap_or(u32::MAX),
        };
        let key = Key {
            kind: KeyType::Line,
            value: line.line.to_string(),
            label: None,
            slot: Some(slot),
            external: false,
        };
        board.place(&key, slot, KeySource::Plan);
    }
    board.add_list(sources.user, KeySource::User);
    board.add_list(sources.device, KeySource::Device);
    Layout {
        accounts: model.accounts,
        line_keys: model.line_keys,
        expansion: model.expansion.clone(),
        keys: board.placed.into_values().collect(),
        overflow: board.overflow,
    }
}

/// The layout while it is being made.
struct Board<'a> {
    model: &'a KeyCapacity,
    sources: KeySources<'a>,
    placed: BTreeMap<Slot, LaidKey>,
    overflow: Vec<OverflowKey>,
}

impl Board<'_> {
    /// Pinned keys first, so that a key filling the next free position never takes one a
    /// later key of the same list pins; then the others in order.
    fn add_list(&mut self, keys: &[Key], source: KeySource) {
        for key in keys {
            if let Some(slot) = key.slot {
                self.place(key, slot, source);
            }
        }
        let pinned: HashSet<Slot> = keys.iter().filter_map(|k| k.slot).collect();
        for key in keys.iter().filter(|k| k.slot.is_none()) {
            match self.next_free(&pinned) {
                Some(slot) => self.place(key, slot, source),
                None => self.overflow(key, None, source, OverflowReason::NoFreeKey),
            }
        }
    }

    /// The lowest line key that holds nothing and that no key of the list pins.
    fn next_free(&self, pinned: &HashSet<Slot>) -> Option<Slot> {
        (1..=u32::try_from(self.model.line_keys).unwrap_or(u32::MAX))
            .map(|position| Slot {
                module: None,
                position,
            })
            .find(|slot| !self.placed.contains_key(slot) && !pinned.contains(slot))
    }

    /// Puts `key` at `slot`, or into the overflow when the phone cannot show it there; a key
    /// it replaces goes to the overflow.
    fn place(&mut self, key: &Key, slot: Slot, source: KeySource) {
        if let Some(reason) = self.misfit(key, slot) {
            return self.overflow(key, Some(slot), source, reason);
        }
        let laid = LaidKey {
            slot,
            kind: key.kind,
            value: key.value.clone(),
            label: self.label(key),
            external: key.external,
            source,
        };
        if let Some(old) = self.placed.insert(slot, laid) {
            self.overflow.push(OverflowKey {
                slot: Some(old.slot),
                kind: old.kind,
                value: old.value,
                label: old.label,
                external: old.external,
                source: old.source,
                reason: OverflowReason::Replaced,
            });
        }
    }

    /// Why the phone cannot show `key` at `slot`, if it cannot.
    fn misfit(&self, key: &Key, slot: Slot) -> Option<OverflowReason> {
        let position = slot.position as usize;
        let reason = match (slot.module, &self.model.expansion) {
            (None, _) if position > self.model.line_keys => OverflowReason::BeyondLineKeys,
            (Some(_), None) => OverflowReason::BeyondModules,
            (Some(m), Some(e)) if m > e.max => OverflowReason::BeyondModules,
            (Some(_), Some(e)) if slot.position > e.keys => OverflowReason::BeyondModuleKeys,
            _ if key.kind == KeyType::Line && self.account_name(&key.value).is_none() => {
                OverflowReason::AccountNotOnPhone
            }
            _ => return None,
        };
        Some(reason)
    }

    fn overflow(&mut self, key: &Key, slot: Option<Slot>, source: KeySource, why: OverflowReason) {
        self.overflow.push(OverflowKey {
            slot,
            kind: key.kind,
            value: key.value.clone(),
            label: self.label(key),
            external: key.external,
            source,
            reason: why,
        });
    }

    /// The name of the account on line `value` of the plan.
    fn account_name(&self, value: &str) -> Option<&str> {
        let line: usize = value.parse().ok()?;
        let planned = self.sources.plan.lines.iter().find(|l| l.line == line)?;
        Some(planned.account.name.as_str())
    }

    /// The key's own label; else the account's name (`line`), the target user's name, the
    /// user part of an external URI, or the value.
    fn label(&self, key: &Key) -> String {
        if let Some(label) = &key.label {
            return label.as_str().to_owned();
        }
        let found = match key.kind {
            KeyType::None => Some(""),
            KeyType::Line => self.account_name(&key.value),
            _ if key.external => uri_user(&key.value),
            _ => key
                .target()
                .and_then(|ext| self.sources.names.get(ext))
                .map(String::as_str),
        };
        found.unwrap_or(&key.value).to_owned()
    }
}

/// `alice` of `sip:alice@host`.
fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':')?.1;
    Some(rest.split_once('@')?.0)
}

#[cfg(test)]
mod tests;
