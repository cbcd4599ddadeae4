//! Programmable phone keys (docs/keys.md) over real sockets: user keys and device overrides
//! round trip, every rule refused by key index and code with nothing written, the laid-out
//! keys of a phone, renames and deletes of watched users, and who may do what.

use deskprov::domain::token::TokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const USERS: &str = "/tenants/testsite.com/users";
/// A Yealink T54W (80:5E:C0 block): 16 accounts, 27 line keys, up to three EXP50 modules.
const T54W_MAC: &str = "805ec0000054";

/// `PUT` of `keys` to `path` (a `…/keys` endpoint), which must succeed; returns the answer.
async fn put_keys(app: &TestApp, path: &str, keys: Value) -> Value {
    let (status, body) = app
        .api(Method::PUT, path, Some(json!({ "keys": keys })))
        .await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Registers `mac` of `model` to `extension`.
async fn phone(app: &TestApp, mac: &str, model: &str, extension: &str) {
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": mac, "tenant": "testsite.com", "extension": extension, "model": model}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Tenant; 101 "John Smith" with aliases "John Support" and "John Sales" and a T46U; 102 "Mary
/// Jones"; 103 "Desk Three".
async fn office(app: &TestApp) {
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    app.alias("101", "John Sales").await;
    app.user("102", "Mary Jones").await;
    app.user("103", "Desk Three").await;
    phone(app, YEALINK_MAC, "T46U", "101").await;
}

/// `(position, module, type, value, label, source)` of each laid-out key, as text.
fn laid(layout: &Value) -> Vec<String> {
    layout["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys: {layout}"))
        .iter()
        .map(|k| {
            let module = k.get("module").map_or(String::new(), |m| format!("m{m}/"));
            format!(
                "{module}{} {} {} {} {}",
                k["position"],
                k["type"].as_str().unwrap(),
                k["value"].as_str().unwrap(),
                k["label"].as_str().unwrap(),
                k["source"].as_str().unwrap()
            )
        })
        .collect()
}

/// `(value, reason)` of each overflow key.
fn overflow(layout: &Value) -> Vec<(String, String)> {
    layout["overflow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let text = |f: &str| k[f].as_str().unwrap().to_owned();
            (text("value"), text("reason"))
        })
        .collect()
}

#[tokio::test]
async fn user_keys_and_device_keys_round_trip_and_are_audited() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let path = format!("{USERS}/101/keys");
    let (status, empty) = app.get(&path).await;
    assert_eq!((status, &empty), (StatusCode::OK, &json!({"keys": []})));
    let keys = json!([
        {"type": "blf", "value": "102"},
        {"type": "speed_dial", "value": "+4930123456", "label": "Office, \"main\""},
        {"type": "park", "value": "701", "position": 8},
        {"type": "pickup", "value": "103", "module": 1, "position": 2},
        {"type": "blf", "value": "sip:alice@pbx.other.example", "external": true},
        {"type": "line", "value": "3"},
        {"type": "none", "value": "", "position": 9}
    ]);
    let answer = put_keys(&app, &path, keys.clone()).await;
    assert_eq!(answer["keys"], keys, "the answer is the list as stored");
    assert_eq!(app.get(&path).await.1["keys"], keys);

    let device_path = format!("/devices/{YEALINK_MAC}/keys");
    let device_keys = json!([{"type": "park", "value": "702", "position": 4, "label": "Lobby"}]);
    put_keys(&app, &device_path, device_keys.clone()).await;
    assert_eq!(app.get(&device_path).await.1["keys"], device_keys);
    // The MAC in any spelling names the same phone.
    let (_, again) = app.get("/devices/00-15-65-AA-BB-CC/keys").await;
    assert_eq!(again["keys"], device_keys);

    // A PUT replaces the whole list.
    put_keys(&app, &path, json!([{"type": "park", "value": "703"}])).await;
    assert_eq!(
        app.get(&path).await.1["keys"],
        json!([{"type": "park", "value": "703"}])
    );

    let (_, audit) = app.get("/audit?limit=3").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(
        (
            &entries[0]["action"],
            &entries[0]["entity"],
            &entries[0]["key"]
        ),
        (&json!("update"), &json!("user_keys"), &json!("101"))
    );
    assert_eq!(entries[0]["before"]["keys"], keys);
    assert_eq!(
        entries[0]["after"]["keys"],
        json!([{"type": "park", "value": "703"}])
    );
    assert_eq!(
        (&entries[1]["entity"], &entries[1]["key"]),
        (&json!("device_keys"), &json!(YEALINK_MAC))
    );
}

/// Every refused `PUT` of user 101's keys: the key's field, the rule's code, and the list.
fn refusals() -> Vec<(&'static str, &'static str, Value)> {
    let cases = [
        r#"keys[1].type key_type_unknown [{"type":"park","value":"7"},{"type":"macro","value":"1"}]"#,
        r#"keys[0].value key_line_unknown [{"type":"line","value":"4"}]"#,
        r#"keys[0].value key_extension_unknown [{"type":"blf","value":"199"}]"#,
        r#"keys[0].value key_extension_unknown [{"type":"pickup","value":"199"}]"#,
        r#"keys[0].value key_extension_invalid [{"type":"blf","value":"sip:a@b.example"}]"#,
        r#"keys[0].value key_sip_uri_invalid [{"type":"blf","value":"102","external":true}]"#,
        r#"keys[0].external key_external_not_allowed [{"type":"park","value":"7","external":true}]"#,
        r#"keys[0].value key_speed_dial_invalid [{"type":"speed_dial","value":"0800-CALL"}]"#,
        r#"keys[0].value key_park_invalid [{"type":"park","value":"7a"}]"#,
        r#"keys[0].value key_value_required [{"type":"blf"}]"#,
        r#"keys[0].label text_not_printable [{"type":"park","value":"7","label":"Park\nkey"}]"#,
        r#"keys[0].label text_invisible_characters [{"type":"park","value":"7","label":"Park\u200b"}]"#,
        r#"keys[0].label text_too_long [{"type":"park","value":"7","label":"123456789012345678901234567890123"}]"#,
        r#"keys[1].position key_position_taken [{"type":"park","value":"7","position":5},{"type":"park","value":"8","position":5}]"#,
        r#"keys[0].position key_position_required [{"type":"park","value":"7","module":1}]"#,
        r#"keys[0].position key_position_out_of_range [{"type":"park","value":"7","position":0}]"#,
    ];
    let mut out: Vec<(&str, &str, Value)> = cases
        .iter()
        .map(|case| {
            let mut parts = case.splitn(3, ' ');
            let (field, code) = (parts.next().unwrap(), parts.next().unwrap());
            (
                field,
                code,
                serde_json::from_str(parts.next().unwrap()).unwrap(),
            )
        })
        .collect();
    let many = vec![json!({"type": "park", "value": "7"}); 257];
    out.push(("keys", "too_many_keys", json!(many)));
    out
}

#[tokio::test]
async fn every_key_rule_names_the_key_and_its_rule_and_writes_nothing() {
    let app = TestApp::spawn().await;
    office(&app).await;
    put_keys(
        &app,
        &format!("{USERS}/101/keys"),
        json!([{"type": "park", "value": "9"}]),
    )
    .await;
    for (field, code, keys) in refusals() {
        for path in [
            format!("{USERS}/101/keys"),
            format!("/devices/{YEALINK_MAC}/keys"),
        ] {
            let body = Some(json!({ "keys": keys }));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            assert_refused(&app, Method::PUT, &path, body, status, field, code).await;
        }
    }
    let (_, kept) = app.get(&format!("{USERS}/101/keys")).await;
    assert_eq!(kept["keys"], json!([{"type": "park", "value": "9"}]));
    // A device's line keys name the accounts on that phone: a T31P has two.
    phone(&app, "805ec0d57d72", "T31P", "101").await;
    let body = Some(json!({"keys": [{"type": "line", "value": "3"}]}));
    let path = "/devices/805ec0d57d72/keys";
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    assert_refused(
        &app,
        Method::PUT,
        path,
        body,
        status,
        "keys[0].value",
        "key_line_unknown",
    )
    .await;
    // Unknown fields are refused naming them.
    let body = Some(json!({"keys": [{"type": "park", "value": "7", "colour": "red"}]}));
    let path = &format!("{USERS}/101/keys");
    let (status, err) = app.api(Method::PUT, path, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"]["field"], "colour", "{err}");
}

#[tokio::test]
async fn the_layout_puts_plan_keys_first_then_user_keys_then_device_overrides() {
    let app = TestApp::spawn().await;
    office(&app).await;
    put_keys(
        &app,
        &format!("{USERS}/101/keys"),
        json!([
            {"type": "blf", "value": "102"},
            {"type": "park", "value": "701", "position": 5},
            {"type": "speed_dial", "value": "*97", "label": "Voicemail"},
            {"type": "pickup", "value": "103"},
            {"type": "blf", "value": "103", "position": 28},
            {"type": "blf", "value": "102", "module": 4, "position": 1}
        ]),
    )
    .await;
    put_keys(
        &app,
        &format!("/devices/{YEALINK_MAC}/keys"),
        json!([{"type": "none", "position": 4}, {"type": "park", "value": "702", "position": 7}]),
    )
    .await;
    let (status, layout) = app.get(&format!("/devices/{YEALINK_MAC}/layout")).await;
    assert_eq!(status, StatusCode::OK, "{layout}");
    assert_eq!(
        (
            &layout["model"],
            &layout["accounts"],
            &layout["line_keys"],
            &layout["expansion"]
        ),
        (
            &json!("T46U"),
            &json!(16),
            &json!(27),
            &json!({"kind": "EXP43", "keys": 60, "max": 3})
        )
    );
    assert_eq!(
        laid(&layout),
        [
            "1 line 1 John Smith plan",
            "2 line 2 John Support plan",
            "3 line 3 John Sales plan",
            "4 none   device",
            "5 park 701 701 user",
            "6 speed_dial *97 Voicemail user",
            "7 park 702 702 device",
        ]
    );
    assert_eq!(
        overflow(&layout),
        [
            ("103".into(), "beyond_line_keys".into()),
            ("102".into(), "beyond_modules".into()),
            ("102".into(), "replaced".into()),
            ("103".into(), "replaced".into()),
        ]
    );
    // The owner's own line plan is untouched.
    let (_, lines) = app.get(&format!("/devices/{YEALINK_MAC}/lines")).await;
    assert_eq!(lines["lines"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn expansion_module_keys_are_addressed_by_module_and_position() {
    let app = TestApp::spawn().await;
    office(&app).await;
    phone(&app, T54W_MAC, "T54W", "102").await;
    put_keys(
        &app,
        &format!("{USERS}/102/keys"),
        json!([
            {"type": "blf", "value": "101", "module": 2, "position": 60},
            {"type": "blf", "value": "103", "module": 1, "position": 1},
            {"type": "park", "value": "701", "position": 27},
            {"type": "park", "value": "702", "module": 4, "position": 1},
            {"type": "park", "value": "703", "module": 1, "position": 61}
        ]),
    )
    .await;
    let (status, layout) = app.get(&format!("/devices/{T54W_MAC}/layout")).await;
    assert_eq!(status, StatusCode::OK, "{layout}");
    assert_eq!(
        (
            &layout["accounts"],
            &layout["line_keys"],
            &layout["expansion"]
        ),
        (
            &json!(16),
            &json!(27),
            &json!({"kind": "EXP50", "keys": 60, "max": 3})
        )
    );
    assert_eq!(
        laid(&layout),
        [
            "1 line 1 Mary Jones plan",
            "27 park 701 701 user",
            "m1/1 blf 103 Desk Three user",
            "m2/60 blf 101 John Smith user",
        ]
    );
    assert_eq!(
        overflow(&layout),
        [
            ("702".into(), "beyond_modules".into()),
            ("703".into(), "beyond_module_keys".into()),
        ]
    );
}

#[tokio::test]
async fn a_rename_shows_on_unlabelled_keys_and_the_answer_lists_them() {
    let app = TestApp::spawn().await;
    office(&app).await;
    put_keys(
        &app,
        &format!("{USERS}/101/keys"),
        json!([{"type": "blf", "value": "102"}, {"type": "pickup", "value": "102", "label": "Mary"}]),
    )
    .await;
    put_keys(
        &app,
        &format!("/devices/{YEALINK_MAC}/keys"),
        json!([{"type": "speed_dial", "value": "102", "position": 9}]),
    )
    .await;
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/102"),
            Some(json!({"name": "Mary Smith"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(
        user["relabelled_keys"],
        json!([
            {"owner": "user", "extension": "101", "index": 0, "key": {"type": "blf", "value": "102"}},
            {"owner": "device", "mac": YEALINK_MAC, "index": 0,
             "key": {"type": "speed_dial", "value": "102", "position": 9}}
        ])
    );
    let (_, layout) = app.get(&format!("/devices/{YEALINK_MAC}/layout")).await;
    let labels: Vec<&str> = layout["keys"].as_array().unwrap()[3..]
        .iter()
        .map(|k| k["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Mary Smith", "Mary", "Mary Smith"]);
    // A change that keeps the name lists nothing.
    let (_, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/102"),
            Some(json!({"department": "Sales"})),
        )
        .await;
    assert!(user.get("relabelled_keys").is_none(), "{user}");
}

#[tokio::test]
async fn installers_read_layouts_and_device_keys_of_their_tenant_and_change_no_keys() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let device_keys = json!([{"type": "park", "value": "702", "position": 5}]);
    put_keys(
        &app,
        &format!("/devices/{YEALINK_MAC}/keys"),
        device_keys.clone(),
    )
    .await;
    let tenant = tenant_id(&app, "testsite.com").await;
    let installer = create_token(app.store(), TokenRole::Installer, Some(tenant), "inst").await;
    let (status, keys) = app
        .api_as(
            &installer,
            Method::GET,
            &format!("/devices/{YEALINK_MAC}/keys"),
            None,
        )
        .await;
    assert_eq!((status, &keys["keys"]), (StatusCode::OK, &device_keys));
    let (status, layout) = app
        .api_as(
            &installer,
            Method::GET,
            &format!("/devices/{YEALINK_MAC}/layout"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{layout}");
    assert_eq!(laid(&layout)[3], "5 park 702 702 device");
    let before = app.counts().await;
    let body = json!({"keys": [{"type": "park", "value": "1"}]});
    for (method, path, body) in [
        (Method::GET, format!("{USERS}/101/keys"), None),
        (Method::PUT, format!("{USERS}/101/keys"), Some(body.clone())),
        (
            Method::PUT,
            format!("/devices/{YEALINK_MAC}/keys"),
            Some(body),
        ),
    ] {
        let (status, err) = app.api_as(&installer, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
    }
    assert_eq!(app.counts().await, before, "a refusal writes nothing");

    // Another tenant's installer sees none of it.
    let (status, _) = app
        .post(
            "/tenants",
            json!({"name": "other.com", "sip_server": "pbx.other.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let other = tenant_id(&app, "other.com").await;
    let stranger = create_token(app.store(), TokenRole::Installer, Some(other), "other").await;
    for path in [
        format!("/devices/{YEALINK_MAC}/keys"),
        format!("/devices/{YEALINK_MAC}/layout"),
    ] {
        let (status, _) = app.api_as(&stranger, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
}

/// Keys aimed at 102 "Mary Jones": on 101's list, on 103's, and on 101's phone; and 102's own.
async fn keys_aimed_at_mary(app: &TestApp) {
    put_keys(
        app,
        &format!("{USERS}/101/keys"),
        json!([
            {"type": "park", "value": "701"},
            {"type": "blf", "value": "102"},
            {"type": "speed_dial", "value": "102"},
            {"type": "pickup", "value": "102", "label": "Mary", "position": 9}
        ]),
    )
    .await;
    put_keys(
        app,
        &format!("{USERS}/103/keys"),
        json!([{"type": "blf", "value": "102"}]),
    )
    .await;
    put_keys(
        app,
        &format!("/devices/{YEALINK_MAC}/keys"),
        json!([{"type": "blf", "value": "102", "position": 12}]),
    )
    .await;
    put_keys(
        app,
        &format!("{USERS}/102/keys"),
        json!([{"type": "blf", "value": "101"}]),
    )
    .await;
}

/// The keys of 101, of 103 and of 101's phone.
async fn lists(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("{USERS}/101/keys"),
        format!("{USERS}/103/keys"),
        format!("/devices/{YEALINK_MAC}/keys"),
    ] {
        out.push(app.get(&path).await.1["keys"].clone());
    }
    out
}

#[tokio::test]
async fn deleting_a_watched_user_removes_the_keys_watching_it_and_a_restore_brings_them_back() {
    let app = TestApp::spawn().await;
    office(&app).await;
    keys_aimed_at_mary(&app).await;
    let original = lists(&app).await;

    let (status, deleted) = app
        .api(Method::DELETE, &format!("{USERS}/102?confirm=102"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted["removed_keys"],
        json!([
            {"owner": "user", "extension": "101", "index": 1, "key": {"type": "blf", "value": "102"}},
            {"owner": "user", "extension": "101", "index": 3,
             "key": {"type": "pickup", "value": "102", "label": "Mary", "position": 9}},
            {"owner": "user", "extension": "103", "index": 0, "key": {"type": "blf", "value": "102"}},
            {"owner": "device", "mac": YEALINK_MAC, "index": 0,
             "key": {"type": "blf", "value": "102", "position": 12}}
        ])
    );
    let after = lists(&app).await;
    assert_eq!(
        after,
        [
            json!([{"type": "park", "value": "701"}, {"type": "speed_dial", "value": "102"}]),
            json!([]),
            json!([]),
        ],
        "a speed dial is a number, and stays"
    );
    let (_, audit) = app.get("/audit?limit=5").await;
    let entries = audit["entries"].as_array().unwrap();
    let what: Vec<(&str, &str)> = entries[..4]
        .iter()
        .map(|e| (e["entity"].as_str().unwrap(), e["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        what,
        [
            ("user", "102"),
            ("device_keys", YEALINK_MAC),
            ("user_keys", "103"),
            ("user_keys", "101")
        ]
    );
    assert_eq!(entries[0]["id"], deleted["audit_id"]);
    assert_eq!(
        entries[0]["before"]["removed_keys"],
        deleted["removed_keys"]
    );

    let id = deleted["audit_id"].as_i64().unwrap();
    let (status, restored) = app
        .api(Method::POST, &format!("/audit/{id}/restore"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{restored}");
    assert_eq!(
        restored["record"]["keys"],
        json!([{"type": "blf", "value": "101"}])
    );
    assert_eq!(restored["record"]["restored_keys"], deleted["removed_keys"]);
    assert_eq!(
        lists(&app).await,
        original,
        "every key is back at its place"
    );
    let (_, own) = app.get(&format!("{USERS}/102/keys")).await;
    assert_eq!(own["keys"], json!([{"type": "blf", "value": "101"}]));
}

#[tokio::test]
async fn a_refused_delete_of_a_watched_user_keeps_every_key() {
    let app = TestApp::spawn().await;
    office(&app).await;
    put_keys(
        &app,
        &format!("{USERS}/102/keys"),
        json!([{"type": "blf", "value": "101"}]),
    )
    .await;
    // 101 still has a phone: the delete is refused, and the key watching 101 stays.
    let path = format!("{USERS}/101?confirm=101");
    let status = StatusCode::CONFLICT;
    assert_refused(
        &app,
        Method::DELETE,
        &path,
        None,
        status,
        "extension",
        "user_has_devices",
    )
    .await;
    let (_, keys) = app.get(&format!("{USERS}/102/keys")).await;
    assert_eq!(keys["keys"], json!([{"type": "blf", "value": "101"}]));
}

#[tokio::test]
async fn a_restore_whose_keys_no_longer_fit_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    office(&app).await;
    put_keys(
        &app,
        &format!("{USERS}/103/keys"),
        json!([{"type": "blf", "value": "102", "position": 4}]),
    )
    .await;
    let (_, deleted) = app
        .api(Method::DELETE, &format!("{USERS}/102?confirm=102"), None)
        .await;
    put_keys(
        &app,
        &format!("{USERS}/103/keys"),
        json!([{"type": "park", "value": "701", "position": 4}]),
    )
    .await;
    let id = deleted["audit_id"].as_i64().unwrap();
    let path = format!("/audit/{id}/restore");
    let status = StatusCode::CONFLICT;
    assert_refused(
        &app,
        Method::POST,
        &path,
        None,
        status,
        "removed_keys",
        "key_position_taken",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_phone_comes_back_with_its_keys() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let keys = json!([
        {"type": "blf", "value": "102", "position": 6},
        {"type": "none", "value": "", "position": 2}
    ]);
    put_keys(&app, &format!("/devices/{YEALINK_MAC}/keys"), keys.clone()).await;
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, audit) = app.get("/audit?limit=1").await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["entity"], &entry["before"]["keys"]),
        (&json!("device"), &keys)
    );
    let id = entry["id"].as_i64().unwrap();
    let (status, restored) = app
        .api(Method::POST, &format!("/audit/{id}/restore"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{restored}");
    assert_eq!(restored["record"]["keys"], keys);
    let (_, back) = app.get(&format!("/devices/{YEALINK_MAC}/keys")).await;
    assert_eq!(back["keys"], keys);
}
