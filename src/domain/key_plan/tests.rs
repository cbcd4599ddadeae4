//! The key plan without a database: plan keys first, user keys filling and pinning, device
//! overrides, expansion modules, and everything that does not fit reported as overflow.

use serde_json::{Value, json};

use super::*;
use crate::domain::SipPassword;
use crate::domain::keys::{KeyDraft, KeyRules, check_list};
use crate::domain::line_plan::{AccountKind, SipAccount};

fn account(kind: AccountKind, name: &str) -> SipAccount {
    SipAccount {
        kind,
        alias_id: None,
        name: name.into(),
        sip_username: name.to_lowercase().replace(' ', "_"),
        password: SipPassword::from_trusted("x".into()),
    }
}

/// Owner "John Smith" with aliases "John Support" and "John Sales" on a phone of `accounts`.
fn plan(accounts: usize) -> LinePlan {
    let aliases = vec![
        account(AccountKind::Alias, "John Support"),
        account(AccountKind::Alias, "John Sales"),
    ];
    LinePlan::build(account(AccountKind::User, "John Smith"), aliases, accounts)
}

fn keys(list: Value) -> Vec<Key> {
    let drafts: Vec<KeyDraft> = serde_json::from_value(list).unwrap();
    check_list(&drafts, &KeyRules { accounts: 3 }).unwrap()
}

fn names() -> BTreeMap<String, String> {
    [("102", "Mary Jones"), ("103", "Desk Three")]
        .into_iter()
        .map(|(e, n)| (e.to_owned(), n.to_owned()))
        .collect()
}

fn model(line_keys: usize, expansion: Option<Expansion>) -> KeyCapacity {
    KeyCapacity {
        accounts: 16,
        line_keys,
        expansion,
    }
}

fn exp50() -> Option<Expansion> {
    Some(Expansion {
        kind: "EXP50".into(),
        keys: 60,
        max: 3,
    })
}

fn layout(model: &KeyCapacity, plan: &LinePlan, user: &[Key], device: &[Key]) -> Layout {
    let names = names();
    resolve(
        model,
        KeySources {
            plan,
            user,
            device,
            names: &names,
        },
    )
}

/// `(module, position, type, value, label, source)` of a key on the phone.
type Shown<'a> = (Option<u32>, u32, &'a str, &'a str, &'a str, KeySource);

/// Each key on the phone, as [`Shown`].
fn shown(layout: &Layout) -> Vec<Shown<'_>> {
    layout
        .keys
        .iter()
        .map(|k| {
            let (m, p) = (k.slot.module, k.slot.position);
            (
                m,
                p,
                k.kind.as_str(),
                k.value.as_str(),
                k.label.as_str(),
                k.source,
            )
        })
        .collect()
}

fn overflow(layout: &Layout) -> Vec<(&str, OverflowReason)> {
    layout
        .overflow
        .iter()
        .map(|k| (k.value.as_str(), k.reason))
        .collect()
}

use KeySource::{Device, Plan, User};

#[test]
fn plan_accounts_take_the_first_keys_then_user_keys_fill_in_order() {
    let user = keys(json!([
        {"type": "blf", "value": "102"},
        {"type": "speed_dial", "value": "+4930123456", "label": "Office"},
        {"type": "pickup", "value": "103"},
        {"type": "line", "value": "1"}
    ]));
    let laid = layout(&model(8, None), &plan(16), &user, &[]);
    assert_eq!(
        shown(&laid),
        [
            (None, 1, "line", "1", "John Smith", Plan),
            (None, 2, "line", "2", "John Support", Plan),
            (None, 3, "line", "3", "John Sales", Plan),
            (None, 4, "blf", "102", "Mary Jones", User),
            (None, 5, "speed_dial", "+4930123456", "Office", User),
            (None, 6, "pickup", "103", "Desk Three", User),
            (None, 7, "line", "1", "John Smith", User),
        ]
    );
    assert!(laid.overflow.is_empty());
    assert_eq!(laid.keys[6].account(), Some(1));
    assert_eq!((laid.accounts, laid.line_keys), (16, 8));
}

#[test]
fn pinned_keys_keep_their_position_and_the_others_go_around_them() {
    let user = keys(json!([
        {"type": "blf", "value": "102"},
        {"type": "park", "value": "701", "position": 4},
        {"type": "speed_dial", "value": "999"}
    ]));
    let laid = layout(&model(6, None), &plan(16), &user, &[]);
    let at: Vec<(u32, &str)> = laid
        .keys
        .iter()
        .map(|k| (k.slot.position, k.value.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            (1, "1"),
            (2, "2"),
            (3, "3"),
            (4, "701"),
            (5, "102"),
            (6, "999")
        ]
    );
}

#[test]
fn device_overrides_replace_the_key_at_their_position_and_none_blanks_it() {
    let user = keys(json!([{"type": "blf", "value": "102"}, {"type": "blf", "value": "103"}]));
    let device = keys(json!([
        {"type": "park", "value": "702", "position": 4, "label": "Lobby park"},
        {"type": "none", "position": 5},
        {"type": "speed_dial", "value": "555"}
    ]));
    let laid = layout(&model(8, None), &plan(16), &user, &device);
    assert_eq!(
        shown(&laid)[3..],
        [
            (None, 4, "park", "702", "Lobby park", Device),
            (None, 5, "none", "", "", Device),
            (None, 6, "speed_dial", "555", "555", Device),
        ]
    );
    assert_eq!(
        overflow(&laid),
        [
            ("102", OverflowReason::Replaced),
            ("103", OverflowReason::Replaced)
        ]
    );
}

#[test]
fn expansion_keys_are_addressed_by_module_and_sorted_after_the_phones_keys() {
    let user = keys(json!([
        {"type": "blf", "value": "103", "module": 2, "position": 1},
        {"type": "blf", "value": "102", "module": 1, "position": 60},
        {"type": "park", "value": "701"}
    ]));
    let laid = layout(&model(27, exp50()), &plan(16), &user, &[]);
    let slots: Vec<(Option<u32>, u32)> = laid
        .keys
        .iter()
        .map(|k| (k.slot.module, k.slot.position))
        .collect();
    assert_eq!(
        slots,
        [
            (None, 1),
            (None, 2),
            (None, 3),
            (None, 4),
            (Some(1), 60),
            (Some(2), 1)
        ]
    );
    assert_eq!(laid.keys[4].label, "Mary Jones");
    assert_eq!(laid.expansion, exp50());
}

#[test]
fn keys_the_model_cannot_show_are_overflow_with_their_reason() {
    let user = keys(json!([
        {"type": "park", "value": "1", "position": 9},
        {"type": "park", "value": "2", "module": 4, "position": 1},
        {"type": "park", "value": "3", "module": 1, "position": 61},
        {"type": "park", "value": "4"},
        {"type": "park", "value": "5"}
    ]));
    let laid = layout(&model(4, exp50()), &plan(16), &user, &[]);
    assert_eq!(
        overflow(&laid),
        [
            ("1", OverflowReason::BeyondLineKeys),
            ("2", OverflowReason::BeyondModules),
            ("3", OverflowReason::BeyondModuleKeys),
            ("5", OverflowReason::NoFreeKey),
        ]
    );
    assert_eq!(laid.keys.len(), 4, "three accounts and park 4");
    let no_modules = layout(&model(4, None), &plan(16), &user[1..2], &[]);
    assert_eq!(
        overflow(&no_modules),
        [("2", OverflowReason::BeyondModules)]
    );
}

#[test]
fn accounts_beyond_the_line_keys_and_lines_not_on_the_phone_are_overflow() {
    // Two accounts on the phone: alias "John Sales" (line 3) is not on it.
    let laid = layout(&model(1, None), &plan(2), &[], &[]);
    assert_eq!(overflow(&laid), [("2", OverflowReason::BeyondLineKeys)]);
    assert_eq!(shown(&laid), [(None, 1, "line", "1", "John Smith", Plan)]);
    let user = keys(json!([{"type": "line", "value": "3"}]));
    let laid = layout(&model(3, None), &plan(2), &user, &[]);
    assert_eq!(overflow(&laid), [("3", OverflowReason::AccountNotOnPhone)]);
    assert_eq!(laid.keys.len(), 2);
}

#[test]
fn labels_default_to_the_targets_name_the_uri_user_or_the_value() {
    let user = keys(json!([
        {"type": "blf", "value": "104"},
        {"type": "blf", "value": "sip:alice@pbx.other.example", "external": true},
        {"type": "park", "value": "701"}
    ]));
    let laid = layout(&model(8, None), &plan(1), &user, &[]);
    let labels: Vec<&str> = laid.keys[1..].iter().map(|k| k.label.as_str()).collect();
    assert_eq!(labels, ["104", "alice", "701"]);
    assert!(laid.keys[2].external);
}
