//! Yealink: golden files, parse-back, capacities, secrets only where they belong.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

const T31P: Phone = Phone {
    vendor: "yealink",
    mac: "805ec0d57d72",
    model: "T31P",
    ua: "Yealink SIP-T31P 124.85.257.55 80:5e:c0:d5:7d:72",
};
const T46U: Phone = Phone {
    vendor: "yealink",
    mac: "0015654aa937",
    model: "T46U",
    ua: "Yealink SIP-T46U 108.86.0.45 00:15:65:4a:a9:37",
};
/// 12 accounts, 15 line keys, no modules.
const T42U: Phone = Phone {
    vendor: "yealink",
    mac: "805ec0a1b2c3",
    model: "T42U",
    ua: "Yealink SIP-T42U 116.86.0.30 80:5e:c0:a1:b2:c3",
};
/// 16 accounts, 27 line keys, up to three EXP50 modules of 60 keys.
const T54W: Phone = Phone {
    vendor: "yealink",
    mac: "805ec0d4e5f6",
    model: "T54W",
    ua: "Yealink SIP-T54W 96.86.0.100 80:5e:c0:d4:e5:f6",
};

/// The keys one account line carries.
fn account_keys(n: usize) -> Vec<String> {
    [
        "enable",
        "label",
        "display_name",
        "user_name",
        "auth_name",
        "password",
        "sip_server.1.address",
        "sip_server.1.port",
        "sip_server.1.transport_type",
        "sip_server.1.expires",
        "outbound_proxy_enable",
        "subscribe_mwi",
        "subscribe_mwi_to_vm",
    ]
    .iter()
    .map(|k| format!("account.{n}.{k}"))
    .chain([format!("voice_mail.number.{n}")])
    .collect()
}

/// The keys of a device file: `lines` accounts of `capacity`, `line_keys` keys.
fn expected_keys(lines: usize, capacity: usize, line_keys: usize) -> BTreeSet<String> {
    let mut keys: Vec<String> = (1..=lines).flat_map(account_keys).collect();
    keys.extend((lines + 1..=capacity).map(|n| format!("account.{n}.enable")));
    keys.extend(
        (1..=line_keys)
            .flat_map(|n| ["type", "line", "value", "label"].map(|f| format!("linekey.{n}.{f}"))),
    );
    keys.extend(
        [
            "static.security.user_password",
            "local_time.time_zone",
            "local_time.time_zone_name",
            "local_time.summer_time",
            "local_time.ntp_server1",
            "lang.gui",
            "lang.wui",
        ]
        .map(String::from),
    );
    keys.into_iter().collect()
}

#[tokio::test]
async fn few_lines_model() {
    let app = TestApp::spawn().await;
    provision(&app, T31P, "John Smith", &["John Support"]).await;
    let (body, content_type) = fetch(&app, T31P, "805ec0d57d72.cfg").await;
    assert_eq!(content_type, "text/plain; charset=utf-8");
    golden("yealink", "t31p-one-alias", "805ec0d57d72.cfg", &body);
    let pairs = parse_kv(&body);
    assert_eq!(keys(&pairs), expected_keys(2, 2, 2));
    assert_eq!(kv(&pairs, "account.1.password"), Some(OWNER_PASSWORD));
    assert_eq!(kv(&pairs, "account.2.display_name"), Some("John Support"));
    assert_eq!(
        kv(&pairs, "account.2.password"),
        Some(alias_password(1).as_str())
    );
    assert_eq!(kv(&pairs, "account.1.sip_server.1.port"), Some("5062"));
    assert_eq!(
        kv(&pairs, "linekey.1.type"),
        Some("15"),
        "the owner on key 1"
    );
    assert_eq!(
        kv(&pairs, "linekey.2.line"),
        Some("2"),
        "the alias on key 2"
    );
    assert_eq!(kv(&pairs, "linekey.2.label"), Some("John Support"));
    assert_eq!(
        kv(&pairs, "account.1.sip_server.1.transport_type"),
        Some("1"),
        "tcp is 1"
    );
    assert_eq!(kv(&pairs, "local_time.time_zone"), Some("+1"));
    assert_eq!(
        kv(&pairs, "local_time.ntp_server1"),
        Some("ntp.testsite.com")
    );
    assert_eq!(kv(&pairs, "lang.gui"), Some("German"));
    assert_eq!(
        kv(&pairs, "static.security.user_password"),
        Some(format!("admin:{ADMIN_PASSWORD}").as_str())
    );
    for n in 1..=2 {
        assert_eq!(
            kv(&pairs, &format!("voice_mail.number.{n}")),
            Some(VOICEMAIL)
        );
        assert_eq!(kv(&pairs, &format!("account.{n}.subscribe_mwi")), Some("1"));
        assert_eq!(
            kv(&pairs, &format!("account.{n}.subscribe_mwi_to_vm")),
            Some("1")
        );
    }

    let (common, _) = fetch(&app, T31P, "y000000000123.cfg").await;
    golden("yealink", "t31p-one-alias", "y000000000123.cfg", &common);
    assert_no_secrets("y000000000123.cfg", &common);
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        T46U,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, T46U, "0015654aa937.cfg").await;
    golden("yealink", "t46u-tricky-names", "0015654aa937.cfg", &body);
    let pairs = parse_kv(&body);
    assert_eq!(keys(&pairs), expected_keys(4, 16, 27));
    assert_eq!(
        kv(&pairs, "account.1.display_name"),
        Some(TRICKY_NAME),
        "text formats carry names verbatim"
    );
    assert_eq!(kv(&pairs, "account.3.label"), Some("Zoë Ångström"));
    assert_eq!(kv(&pairs, "account.4.label"), Some("李小龍"));
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        T31P,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let (body, _) = fetch(&app, T31P, "805ec0d57d72.cfg").await;
    golden("yealink", "t31p-overflow", "805ec0d57d72.cfg", &body);
    let pairs = parse_kv(&body);
    assert_eq!(keys(&pairs), expected_keys(2, 2, 2));
    assert!(!body.contains("Alias Two"));
    let (lines, overflow) = line_map(&app, T31P.mac).await;
    assert_eq!(lines, ["John Smith", "Alias One"]);
    assert_eq!(overflow, ["Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    provision(&app, T46U, "John Smith", &[]).await;
    assert_eq!(
        status_of(&app, T46U, "0015654aa937.cfg").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "0015654aa938",
        ua: "Yealink SIP-T46U 108.86.0.45 00:15:65:4a:a9:38",
        ..T46U
    };
    assert_eq!(
        status_of(&app, stranger, "0015654aa938.cfg").await,
        StatusCode::NOT_FOUND
    );
    let (_, device) = app.get("/devices/0015654aa937").await;
    assert_eq!(device["vendor"], "yealink");
    assert_eq!(device["capacity"], 16);
}

/// The `include:config` targets of a boot file, in order.
fn includes(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("include:config \""))
        .map(|l| l.trim_end_matches('"'))
        .collect()
}

#[tokio::test]
async fn boot_files_include_the_model_common_file_then_the_device_file() {
    let app = TestApp::spawn().await;
    provision(&app, T46U, "John Smith", &["John Support"]).await;
    let (boot, _) = fetch(&app, T46U, "0015654aa937.boot").await;
    golden("yealink", "t46u-boot", "0015654aa937.boot", &boot);
    assert!(boot.starts_with("#!version:1.0.0.1\n"));
    assert_eq!(includes(&boot), ["y000000000108.cfg", "0015654aa937.cfg"]);
    assert_no_secrets("0015654aa937.boot", &boot);
    // Every file the boot file names is served to this phone.
    for file in includes(&boot) {
        assert_eq!(status_of(&app, T46U, file).await, StatusCode::OK, "{file}");
    }

    let (common, _) = fetch(&app, T46U, "y000000000000.boot").await;
    golden("yealink", "t46u-boot", "y000000000000.boot", &common);
    assert_eq!(includes(&common), ["y000000000108.cfg"]);
    assert_no_secrets("y000000000000.boot", &common);

    let stranger = Phone {
        mac: "0015654aa938",
        ua: "Yealink SIP-T46U 108.86.0.45 00:15:65:4a:a9:38",
        ..T46U
    };
    assert_eq!(
        status_of(&app, stranger, "0015654aa938.boot").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_boot_file_for_an_unknown_model_still_names_the_device_file() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.device(YEALINK_MAC, "101").await;
    let resp = app.phone_get("001565aabbcc.boot", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert_eq!(includes(&body), ["001565aabbcc.cfg"]);
}

#[tokio::test]
async fn shared_common_files_follow_the_model_the_phone_names() {
    let app = TestApp::spawn().await;
    let w56p = Phone {
        vendor: "yealink",
        mac: "001565a0b0c0",
        model: "W56P",
        ua: "Yealink SIP-W56P 25.81.0.10 00:15:65:a0:b0:c0",
    };
    provision(&app, w56p, "John Smith", &[]).await;
    let (common, _) = fetch(&app, w56p, "y000000000025.cfg").await;
    assert!(common.contains("common file for W56P"), "{common}");
    let (_, device) = app.get("/devices/001565a0b0c0").await;
    assert_eq!(device["capacity"], 5);
    // A DECT base has no line keys: its account is registered, on no key.
    let (body, _) = fetch(&app, w56p, "001565a0b0c0.cfg").await;
    assert_eq!(kv(&parse_kv(&body), "account.1.enable"), Some("1"));
    assert!(!body.contains("linekey."), "{body}");
}

/// The time keys of a `key = value` file, in order.
fn time_keys(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k.starts_with("local_time.") && k != "local_time.ntp_server1")
        .map(|(k, v)| format!("{} = {v}", k.trim_start_matches("local_time.")))
        .collect()
}

/// Zones on Yealink's list get its name and the phone's own rule (summer_time 2); others get
/// the rule spelled out (summer_time 1) or none (0), in the device file and the common file.
#[tokio::test]
async fn time_zones_by_name_or_by_rule() {
    let app = TestApp::spawn().await;
    provision(&app, T31P, "John Smith", &[]).await;
    let named = |offset: &str, name: &str| {
        vec![
            format!("time_zone = {offset}"),
            format!("time_zone_name = {name}"),
            "summer_time = 2".to_owned(),
        ]
    };
    let ruled = |offset: &str, start: &str, end: &str| {
        vec![
            format!("time_zone = {offset}"),
            "summer_time = 1".to_owned(),
            "dst_time_type = 1".to_owned(),
            format!("start_time = {start}"),
            format!("end_time = {end}"),
            "offset_time = 60".to_owned(),
        ]
    };
    let cases = [
        ("Europe/Berlin", named("+1", "Germany(Berlin)")),
        (
            "America/New_York",
            named("-5", "United States-Eastern Time"),
        ),
        ("Asia/Kolkata", named("+5:30", "India(Calcutta)")),
        (
            "Australia/Sydney",
            named("+10", "Australia(Sydney,Melbourne,Canberra)"),
        ),
        ("America/Sao_Paulo", named("-3", "Brazil(no DST)")),
        ("UTC", named("0", "GMT")),
        // Not on the list (Yealink's entry starts an hour late): the rule by week, Sunday 7.
        ("Pacific/Auckland", ruled("+12", "9/5/7/2", "4/1/7/3")),
        // Not on the list, a rule of its own: the last Friday of March (2025).
        ("Asia/Jerusalem", ruled("+2", "3/5/5/2", "10/5/7/2")),
        // Not on the list, no summer time.
        (
            "Asia/Tehran",
            vec!["time_zone = +3:30".to_owned(), "summer_time = 0".to_owned()],
        ),
    ];
    for (zone, expected) in cases {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/tenants/testsite.com",
                Some(json!({ "timezone": zone })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (body, _) = fetch(&app, T31P, "805ec0d57d72.cfg").await;
        assert_eq!(time_keys(&parse_kv(&body)), expected, "{zone}");
        // The common file knows no tenant (no URL key): UTC, by name.
        let (common, _) = fetch(&app, T31P, "y000000000123.cfg").await;
        assert_eq!(time_keys(&parse_kv(&common)), named("0", "GMT"), "{zone}");
    }
}

/// Without a voicemail number, the accounts neither subscribe nor keep an old number.
#[tokio::test]
async fn no_voicemail_number_switches_message_waiting_off() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.device(YEALINK_MAC, "101").await;
    let resp = app.phone_get("001565aabbcc.cfg", None).await;
    let pairs = parse_kv(&resp.text().await.unwrap());
    assert_eq!(kv(&pairs, "voice_mail.number.1"), Some("%NULL%"));
    assert_eq!(kv(&pairs, "account.1.subscribe_mwi"), Some("0"));
    assert_eq!(kv(&pairs, "account.1.subscribe_mwi_to_vm"), Some("0"));
}

/// Every language deskprov knows is one of Yealink's names.
#[tokio::test]
async fn every_language_has_a_yealink_name() {
    let app = TestApp::spawn().await;
    provision(&app, T31P, "John Smith", &[]).await;
    for (code, name) in [
        ("cs", "Czech"),
        ("sv", "Swedish"),
        ("zh", "Chinese_S"),
        ("en", "English"),
    ] {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/tenants/testsite.com",
                Some(json!({ "language": code })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (body, _) = fetch(&app, T31P, "805ec0d57d72.cfg").await;
        let pairs = parse_kv(&body);
        assert_eq!(kv(&pairs, "lang.gui"), Some(name), "{code}");
        assert_eq!(kv(&pairs, "lang.wui"), Some(name), "{code}");
    }
}

/// The keys a Yealink device file shows, in deskprov's words: `linekey.N.*` on the phone and
/// `expansion_module.M.key.K.*` on module M, each with exactly its type, line, value and label.
/// Cleared keys (type 0, the rest `%NULL%`) are left out; a line key names its account in
/// `line`, every other key the owner's account 1.
fn shown_keys(pairs: &[(String, String)]) -> Vec<ShownKey> {
    let mut slots: BTreeMap<(u32, u32), BTreeMap<&str, &str>> = BTreeMap::new();
    for (key, value) in pairs {
        let (module, rest) = if let Some(rest) = key.strip_prefix("linekey.") {
            (0, rest)
        } else if let Some(rest) = key.strip_prefix("expansion_module.") {
            let (module, rest) = rest.split_once(".key.").expect("expansion_module.M.key.K");
            (module.parse().unwrap(), rest)
        } else {
            continue;
        };
        let (position, field) = rest.split_once('.').unwrap();
        let fields = slots
            .entry((module, position.parse().unwrap()))
            .or_default();
        assert!(fields.insert(field, value).is_none(), "{key} twice");
    }
    slots
        .into_iter()
        .filter_map(|((module, position), f)| {
            let at = format!("key {module}/{position}");
            let names: Vec<&str> = f.keys().copied().collect();
            assert_eq!(names, ["label", "line", "type", "value"], "{at}");
            let kind = match f["type"] {
                "0" => {
                    assert_eq!([f["line"], f["value"], f["label"]], ["%NULL%"; 3], "{at}");
                    return None;
                }
                "15" => "line",
                "16" => "blf",
                "13" => "speed_dial",
                "10" => "park",
                "9" => "pickup",
                other => panic!("{at} has type {other}"),
            };
            let value = if kind == "line" {
                assert_eq!(
                    f["value"], "%NULL%",
                    "{at}: a line key names its account in line"
                );
                f["line"]
            } else {
                assert_eq!(f["line"], "1", "{at}: on the owner's account");
                f["value"]
            };
            Some(ShownKey {
                module,
                position,
                kind: kind.to_owned(),
                value: value.to_owned(),
                label: f["label"].to_owned(),
            })
        })
        .collect()
}

/// Every account on its own line key, then the user's and the device's keys, the rest cleared.
#[tokio::test]
async fn accounts_and_keys_on_the_line_keys() {
    let app = TestApp::spawn().await;
    provision(&app, T42U, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, T42U, false).await;
    let (body, _) = fetch(&app, T42U, "805ec0a1b2c3.cfg").await;
    let pairs = parse_kv(&body);
    assert_eq!(keys(&pairs), expected_keys(3, 12, 15));
    let shown = shown_keys(&pairs);
    assert_eq!(
        shown.len(),
        9,
        "3 accounts, 5 user keys, 1 device key: {shown:?}"
    );
    assert_keys_as_laid_out(&app, T42U.mac, shown).await;
    // In Yealink's own words: Directed Pickup of 102, the external URI as it is, and key 10
    // onwards cleared.
    assert_eq!(kv(&pairs, "linekey.3.type"), Some("15"));
    assert_eq!(kv(&pairs, "linekey.3.line"), Some("3"));
    assert_eq!(kv(&pairs, "linekey.3.label"), Some("John Sales"));
    assert_eq!(kv(&pairs, "linekey.7.type"), Some("9"));
    assert_eq!(kv(&pairs, "linekey.7.value"), Some(WATCHED.0));
    assert_eq!(
        kv(&pairs, "linekey.8.value"),
        Some("sip:desk@pbx.example.net")
    );
    assert_eq!(kv(&pairs, "linekey.8.label"), Some("desk"));
    assert_eq!(kv(&pairs, "linekey.9.value"), Some("*98"));
    for n in 10..=15 {
        assert_eq!(kv(&pairs, &format!("linekey.{n}.type")), Some("0"), "{n}");
    }
}

/// Module keys as `expansion_module.M.key.K`, with the module's other keys cleared.
#[tokio::test]
async fn expansion_module_keys() {
    let app = TestApp::spawn().await;
    provision(&app, T54W, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, T54W, true).await;
    let (body, _) = fetch(&app, T54W, "805ec0d4e5f6.cfg").await;
    golden("yealink", "t54w-keys", "805ec0d4e5f6.cfg", &body);
    let pairs = parse_kv(&body);
    let shown = shown_keys(&pairs);
    assert!(
        shown.contains(&ShownKey {
            module: 1,
            position: 2,
            kind: "blf".into(),
            value: WATCHED.0.into(),
            label: "Mary EXP".into(),
        }),
        "{shown:?}"
    );
    assert_keys_as_laid_out(&app, T54W.mac, shown).await;
    let module_keys = keys(&pairs)
        .into_iter()
        .filter(|k| k.starts_with("expansion_module.1.key.") && k.ends_with(".type"))
        .count();
    assert_eq!(module_keys, 60, "every key of module 1 is written");
    assert!(
        !body.contains("expansion_module.2."),
        "module 2 has no keys"
    );
}

/// A key taken off the list is written cleared on the next fetch; a module whose last key goes
/// is left out, and the boot file's overwrite mode puts it back to its default.
#[tokio::test]
async fn removed_keys_are_cleared() {
    let app = TestApp::spawn().await;
    provision(&app, T54W, "John Smith", &[]).await;
    provision_keys(&app, T54W, true).await;
    let (body, _) = fetch(&app, T54W, "805ec0d4e5f6.cfg").await;
    let pairs = parse_kv(&body);
    // The device's speed dial takes the first key after the user's five.
    assert_eq!(kv(&pairs, "linekey.7.value"), Some("*98"));
    assert_eq!(kv(&pairs, "expansion_module.1.key.2.type"), Some("16"));

    for (path, keys) in [
        (format!("/devices/{}/keys", T54W.mac), json!([])),
        (
            "/tenants/testsite.com/users/101/keys".to_owned(),
            json!([{"type": "blf", "value": WATCHED.0}]),
        ),
    ] {
        let (status, body) = app
            .api(Method::PUT, &path, Some(json!({ "keys": keys })))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (body, _) = fetch(&app, T54W, "805ec0d4e5f6.cfg").await;
    let pairs = parse_kv(&body);
    for n in 3..=27 {
        assert_eq!(kv(&pairs, &format!("linekey.{n}.type")), Some("0"), "{n}");
        assert_eq!(kv(&pairs, &format!("linekey.{n}.value")), Some("%NULL%"));
        assert_eq!(kv(&pairs, &format!("linekey.{n}.label")), Some("%NULL%"));
    }
    assert!(!body.contains("expansion_module."), "{body}");
    let (boot, _) = fetch(&app, T54W, "805ec0d4e5f6.boot").await;
    assert!(boot.lines().any(|l| l == "overwrite_mode = 1"), "{boot}");
    assert_keys_as_laid_out(&app, T54W.mac, shown_keys(&pairs)).await;
}
