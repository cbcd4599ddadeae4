//! The keys of a device's file: its layout in the vendor's key codes, by key, module and page.

use std::collections::BTreeMap;

use super::DeviceContext;
use crate::domain::key_plan::{LaidKey, Layout};
use crate::domain::keys::KeyType;
use crate::profile::Vendor;

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
    /// Adds the keys of `layout` in `vendor`'s codes: the phone's own keys, its blank
    /// positions, and the expansion modules (those with keys, and every one the model takes).
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
        // Every module the model takes, in number order, each with its keys (or none).
        let (size, max) = layout
            .expansion
            .as_ref()
            .map_or((0, 0), |e| (e.keys, e.max));
        self.all_modules = (1..=max)
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
        self.modules = self
            .all_modules
            .iter()
            .filter(|m| !m.keys.is_empty())
            .cloned()
            .collect();
        self
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

#[cfg(test)]
mod tests {
    use super::{KeyContext, page_sizes, pages};

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
