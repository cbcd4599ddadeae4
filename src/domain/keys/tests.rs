//! The key rules without a database.

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
        r#"label text_invisible_characters {"type":"park","value":"7","label":"a\u202eb"}"#,
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
    let mac = crate::domain::Mac::parse("001565aabbcc").unwrap();
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
