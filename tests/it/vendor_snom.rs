//! Snom: setting-files lists, golden files, parse-back, capacities, secrets only where they
//! belong, and the User-Agents of the reference.

use std::collections::{BTreeMap, BTreeSet};

use deskprov::profile::Vendors;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

/// The base URL phones are told to use (fixed, so the lists in golden files are stable).
const PUBLIC_URL: &str = "https://prov.testsite.com";

/// The User-Agent the reference quotes for a D785 ([W] `wazo_snom/common/common.py`).
const REFERENCE_UA: &str = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)";

const D305: Phone = Phone {
    vendor: "snom",
    mac: "000413a11fa7",
    model: "D305",
    ua: "Mozilla/4.0 (compatible; snomD305-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413A11FA7 SXM:0 UXM:0)",
};
const D785: Phone = Phone {
    vendor: "snom",
    mac: "000413922d24",
    model: "D785",
    ua: REFERENCE_UA,
};

/// The four names a phone of `model` with `mac` asks for, in its boot order: the model list,
/// the model settings it names, the phone's own list, the identities file it names.
fn file_names(model: &str, mac: &str) -> [String; 4] {
    let mac = mac.to_uppercase();
    [
        format!("snom{model}.htm"),
        format!("snom{model}.xml"),
        format!("snom{model}-{mac}.htm"),
        format!("snom-{mac}.xml"),
    ]
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.public_url = Some(PUBLIC_URL.into())).await
}

/// The URLs of a `<setting-files>` list.
fn listed_urls(body: &str) -> Vec<String> {
    let doc = parse_xml(body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "setting-files", "{body}");
    root.children()
        .filter(|n| n.is_element())
        .map(|n| {
            assert_eq!(n.tag_name().name(), "file", "{body}");
            n.attribute("url").expect("file has a url").to_owned()
        })
        .collect()
}

/// A setting's name and its `idx`, if it has one.
type Key = (String, Option<usize>);

/// The sections of a settings file: `<phone-settings>`, and `<functionKeys>` in a phone's own
/// file only.
fn sections<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "settings");
    let elements: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    let names: Vec<&str> = elements.iter().map(|n| n.tag_name().name()).collect();
    assert!(
        names == ["phone-settings"] || names == ["phone-settings", "functionKeys"],
        "sections {names:?}"
    );
    elements
}

/// The `<phone-settings>` of a settings file as (name, idx) → value. Every setting must be
/// read-only for the user (`perm="R"`) and appear once.
fn phone_settings(body: &str) -> BTreeMap<Key, String> {
    let doc = parse_xml(body);
    let elements = sections(&doc);
    let mut out = BTreeMap::new();
    for n in elements[0].children().filter(|n| n.is_element()) {
        let name = n.tag_name().name().to_owned();
        assert_eq!(n.attribute("perm"), Some("R"), "{name} is read-only");
        let idx = n.attribute("idx").map(|i| i.parse().expect("numeric idx"));
        let value = n.text().unwrap_or("").to_owned();
        assert!(
            out.insert((name.clone(), idx), value).is_none(),
            "{name} {idx:?} twice"
        );
    }
    out
}

/// One `<fkey>` as written: its identity context, label and content (type and argument).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fkey {
    context: String,
    label: String,
    content: String,
}

/// The `<functionKeys>` of a phone's file by idx. Every key is read-only and written once.
fn function_keys(body: &str) -> BTreeMap<u32, Fkey> {
    let doc = parse_xml(body);
    let elements = sections(&doc);
    assert_eq!(elements.len(), 2, "a phone's file has its function keys");
    let mut out = BTreeMap::new();
    for n in elements[1].children().filter(|n| n.is_element()) {
        assert_eq!(n.tag_name().name(), "fkey");
        assert_eq!(n.attribute("perm"), Some("R"), "keys are read-only");
        let idx: u32 = n.attribute("idx").unwrap().parse().expect("numeric idx");
        let key = Fkey {
            context: n.attribute("context").unwrap().to_owned(),
            label: n.attribute("label").unwrap().to_owned(),
            content: n.text().unwrap_or("").to_owned(),
        };
        assert!(out.insert(idx, key).is_none(), "fkey {idx} twice");
    }
    out
}

/// The phone's keys and module size for `model`, from the profile (as the phone counts them).
fn key_counts(model: &str) -> (u32, u32) {
    let vendors = Vendors::builtin().unwrap();
    let spec = &vendors.get("snom").unwrap().profile.models[model];
    let size = spec.expansion.as_ref().map_or(0, |e| e.keys);
    (spec.line_keys as u32, size)
}

/// Reads the function keys back in deskprov's words: idx below the phone's keys is the phone's
/// key idx + 1, then each module's keys in turn; `line` keys show their identity (context),
/// the others their argument. Blank (`none`) keys are left out. Asserts every key of the phone
/// is written, so none keeps an old function.
fn shown_keys(body: &str, model: &str) -> Vec<ShownKey> {
    let (line_keys, size) = key_counts(model);
    let keys = function_keys(body);
    for idx in 0..line_keys {
        assert!(
            keys.contains_key(&idx),
            "phone key idx {idx} is not written"
        );
    }
    keys.into_iter()
        .filter(|(_, k)| k.content != "none")
        .map(|(idx, k)| {
            let (module, position) = match idx.checked_sub(line_keys) {
                None => (0, idx + 1),
                Some(on_modules) => (on_modules / size + 1, on_modules % size + 1),
            };
            let (code, argument) = k.content.split_once(' ').unwrap_or((&k.content, ""));
            let kind = match code {
                "line" => "line",
                "blf" => "blf",
                "speed" => "speed_dial",
                "orbit" => "park",
                "dest" => "pickup",
                other => panic!("unexpected key type {other}"),
            };
            let value = if kind == "line" {
                assert_eq!(argument, "", "a line key names its identity in context");
                k.context.clone()
            } else {
                assert_eq!(
                    k.context, "1",
                    "keys other than lines use the owner's identity"
                );
                argument.to_owned()
            };
            ShownKey {
                module,
                position,
                kind: kind.to_owned(),
                value,
                label: k.label,
            }
        })
        .collect()
}

fn get<'a>(settings: &'a BTreeMap<Key, String>, name: &str, idx: Option<usize>) -> &'a str {
    settings
        .get(&(name.to_owned(), idx))
        .unwrap_or_else(|| panic!("{name} {idx:?} missing"))
}

const USED_LINE_KEYS: [&str; 12] = [
    "user_active",
    "user_idle_text",
    "user_realname",
    "user_name",
    "user_pname",
    "user_pass",
    "user_host",
    "user_outbound",
    "user_expiry",
    "user_server_type",
    "user_srtp",
    "user_mailbox",
];
const UNUSED_LINE_KEYS: [&str; 9] = [
    "user_active",
    "user_idle_text",
    "user_realname",
    "user_name",
    "user_pname",
    "user_pass",
    "user_host",
    "user_outbound",
    "user_mailbox",
];

/// The keys of an identities file with `lines` of `capacity` in use; `zone_code` says whether
/// the time zone has a Snom code (else `utc_offset` and `dst` stand in for it).
fn expected_keys(lines: usize, capacity: usize, zone_code: bool) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    for n in 1..=capacity {
        let names: &[&str] = if n <= lines {
            &USED_LINE_KEYS
        } else {
            &UNUSED_LINE_KEYS
        };
        keys.extend(names.iter().map(|k| (k.to_string(), Some(n))));
    }
    keys.extend(global_keys(zone_code));
    keys.extend(["admin_mode_password", "http_user", "http_pass"].map(|k| (k.to_owned(), None)));
    keys
}

fn global_keys(zone_code: bool) -> BTreeSet<Key> {
    let mut names = vec!["timezone", "ntp_server", "language", "web_language"];
    if !zone_code {
        names.extend(["utc_offset", "dst"]);
    }
    names.into_iter().map(|n| (n.to_owned(), None)).collect()
}

/// Asserts the identity `n` carries `name` and the SIP account `user`/`password`.
fn assert_identity(s: &BTreeMap<Key, String>, n: usize, name: &str, user: &str, password: &str) {
    let i = Some(n);
    assert_eq!(get(s, "user_active", i), "on");
    assert_eq!(get(s, "user_idle_text", i), name);
    assert_eq!(get(s, "user_realname", i), name);
    assert_eq!(get(s, "user_name", i), user);
    assert_eq!(get(s, "user_pname", i), user, "auth name");
    assert_eq!(get(s, "user_pass", i), password);
}

/// Asserts the identity `n` is switched off and holds nothing.
fn assert_unused(s: &BTreeMap<Key, String>, n: usize) {
    assert_eq!(get(s, "user_active", Some(n)), "off");
    for key in &UNUSED_LINE_KEYS[1..] {
        assert_eq!(get(s, key, Some(n)), "", "{key} of unused identity {n}");
    }
}

/// Replaces the device-level settings of `mac`.
async fn set_device_settings(app: &TestApp, mac: &str, settings: serde_json::Value) {
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/devices/{mac}"),
            Some(json!({ "settings": settings })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn few_lines_model_boots_through_both_lists() {
    let app = spawn().await;
    provision(&app, D305, "John Smith", &["John Support"]).await;
    let [model_htm, model_xml, device_htm, device_xml] = file_names("D305", D305.mac);
    let case = "d305-one-alias";

    // The model list names the model settings file, as an absolute URL.
    let (body, content_type) = fetch(&app, D305, &model_htm).await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("snom", case, &model_htm, &body);
    assert_no_secrets(&model_htm, &body);
    assert_eq!(listed_urls(&body), [format!("{PUBLIC_URL}/{model_xml}")]);

    // Model settings: time zone, NTP, language only. No key here, so built-in defaults.
    let (body, content_type) = fetch(&app, D305, &model_xml).await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("snom", case, &model_xml, &body);
    assert_no_secrets(&model_xml, &body);
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        global_keys(false)
    );
    assert!(
        s.keys().all(|(k, _)| !k.starts_with("user_")),
        "no identities in a common file"
    );

    // The phone's own list names its identities file; it carries no credentials itself.
    let (body, content_type) = fetch(&app, D305, &device_htm).await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("snom", case, &device_htm, &body);
    assert_no_secrets(&device_htm, &body);
    assert_eq!(listed_urls(&body), [format!("{PUBLIC_URL}/{device_xml}")]);

    // The identities: owner on 1, the alias on 2, with tenant settings.
    let (body, content_type) = fetch(&app, D305, &device_xml).await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("snom", case, &device_xml, &body);
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 2, true)
    );
    assert_identity(&s, 1, "John Smith", "testsitecom_101", OWNER_PASSWORD);
    assert_eq!(
        get(&s, "user_pass", Some(1)),
        owner_password(&app).await,
        "the password the API reveals"
    );
    assert_identity(
        &s,
        2,
        "John Support",
        "testsitecom_101_2",
        &alias_password(1),
    );
    for n in [Some(1), Some(2)] {
        assert_eq!(get(&s, "user_host", n), "pbx.testsite.com:5062");
        assert_eq!(
            get(&s, "user_outbound", n),
            "pbx.testsite.com:5062;transport=tcp"
        );
        assert_eq!(get(&s, "user_expiry", n), "3600");
    }
    assert_eq!(get(&s, "timezone", None), "GER+1");
    assert_eq!(get(&s, "ntp_server", None), "ntp.testsite.com");
    assert_eq!(get(&s, "language", None), "Deutsch");
    assert_eq!(get(&s, "web_language", None), "Deutsch");
    assert_eq!(get(&s, "admin_mode_password", None), ADMIN_PASSWORD);
    assert_eq!(get(&s, "http_user", None), "admin");
    assert_eq!(get(&s, "http_pass", None), ADMIN_PASSWORD);
    for n in [Some(1), Some(2)] {
        assert_eq!(get(&s, "user_mailbox", n), VOICEMAIL);
    }
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = spawn().await;
    provision(
        &app,
        D785,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let [_, _, _, device_xml] = file_names("D785", D785.mac);
    let (body, _) = fetch(&app, D785, &device_xml).await;
    golden("snom", "d785-tricky-names", &device_xml, &body);
    assert!(
        !body.contains(TRICKY_NAME) && !body.contains("<x>"),
        "names are XML-escaped"
    );
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(4, 12, true)
    );
    assert_identity(&s, 1, TRICKY_NAME, "testsitecom_101", OWNER_PASSWORD);
    assert_eq!(get(&s, "user_realname", Some(2)), "John Support");
    assert_eq!(get(&s, "user_realname", Some(3)), "Zoë Ångström");
    assert_eq!(get(&s, "user_idle_text", Some(4)), "李小龍");
    assert_eq!(get(&s, "user_pass", Some(4)), alias_password(3));
    for n in 5..=12 {
        assert_unused(&s, n);
    }
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = spawn().await;
    provision(
        &app,
        D305,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let [_, _, _, device_xml] = file_names("D305", D305.mac);
    let (body, _) = fetch(&app, D305, &device_xml).await;
    golden("snom", "d305-overflow", &device_xml, &body);
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 2, true)
    );
    assert_eq!(get(&s, "user_realname", Some(2)), "Alias One");
    assert!(!body.contains("Alias Two") && !body.contains("Alias Three"));
    assert!(!body.contains(&alias_password(2)));
    let (lines, overflow) = line_map(&app, D305.mac).await;
    assert_eq!(lines, ["John Smith", "Alias One"]);
    assert_eq!(overflow, ["Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn outbound_proxy_transports_and_zones_without_a_code() {
    let app = spawn().await;
    provision(&app, D785, "John Smith", &["John Support"]).await;
    let [_, _, _, device_xml] = file_names("D785", D785.mac);

    // TLS through an outbound proxy, a US zone, French.
    set_device_settings(
        &app,
        D785.mac,
        json!({"transport": "tls", "outbound_proxy": "sbc.testsite.com", "outbound_proxy_port": 5071,
               "timezone": "America/New_York", "language": "fr", "registration_expires": 600}),
    )
    .await;
    let (body, _) = fetch(&app, D785, &device_xml).await;
    golden("snom", "d785-tls-outbound-proxy", &device_xml, &body);
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 12, true)
    );
    for n in [Some(1), Some(2)] {
        assert_eq!(get(&s, "user_host", n), "pbx.testsite.com:5062");
        assert_eq!(
            get(&s, "user_outbound", n),
            "sbc.testsite.com:5071;transport=tls"
        );
        assert_eq!(get(&s, "user_expiry", n), "600");
    }
    assert_eq!(get(&s, "timezone", None), "USA-5");
    assert_eq!(
        get(&s, "language", None),
        "Francais",
        "Snom's ASCII spelling"
    );

    // UDP without a proxy: the transport rides on the registrar.
    set_device_settings(&app, D785.mac, json!({"transport": "udp"})).await;
    let (body, _) = fetch(&app, D785, &device_xml).await;
    let s = phone_settings(&body);
    assert_eq!(
        get(&s, "user_outbound", Some(1)),
        "pbx.testsite.com:5062;transport=udp"
    );

    // A language Snom lacks is refused, naming the family.
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/devices/{}", D785.mac),
            Some(json!({"settings": {"language": "zh"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "settings.language", "language_unsupported");
    assert!(body["error"]["message"].as_str().unwrap().contains("Snom"));

    // DNS SRV: registrar without port or transport; a zone with no Snom code (UTC+5:45) falls
    // back to its offset; Czech in Snom's spelling.
    set_device_settings(
        &app,
        D785.mac,
        json!({"transport": "dns_srv", "timezone": "Asia/Kathmandu", "language": "cs"}),
    )
    .await;
    let (body, _) = fetch(&app, D785, &device_xml).await;
    golden("snom", "d785-dns-srv-zone-offset", &device_xml, &body);
    let s = phone_settings(&body);
    assert_eq!(
        s.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 12, false)
    );
    for n in [Some(1), Some(2)] {
        assert_eq!(get(&s, "user_host", n), "pbx.testsite.com");
        assert_eq!(get(&s, "user_outbound", n), "");
    }
    assert_eq!(get(&s, "timezone", None), "");
    assert_eq!(get(&s, "utc_offset", None), "+20700");
    assert_eq!(get(&s, "dst", None), "");
    assert_eq!(get(&s, "language", None), "Cestina");

    // An IPv6 registrar goes in brackets before its port.
    set_device_settings(&app, D785.mac, json!({"sip_server": "2001:db8::5"})).await;
    let (body, _) = fetch(&app, D785, &device_xml).await;
    let s = phone_settings(&body);
    assert_eq!(get(&s, "user_host", Some(1)), "[2001:db8::5]:5062");
    assert_eq!(
        get(&s, "user_outbound", Some(1)),
        "[2001:db8::5]:5062;transport=tcp"
    );

    // West of UTC, the offset is negative.
    set_device_settings(&app, D785.mac, json!({"timezone": "America/Bogota"})).await;
    let (body, _) = fetch(&app, D785, &device_xml).await;
    assert_eq!(get(&phone_settings(&body), "utc_offset", None), "-18000");

    // Zones with summer time and no Snom code get their own rule in `dst` (seconds saved, then
    // month.week.weekday and time, week 05 = last, weekday 07 = Sunday); a code wins where
    // one exists, and a zone that dropped summer time gets none.
    for (zone, offset, dst) in [
        (
            "Asia/Jerusalem",
            "+7200",
            "3600 03.05.05 02:00:00 10.05.07 02:00:00",
        ),
        (
            "America/Santiago",
            "-14400",
            "3600 09.01.07 00:00:00 04.01.07 00:00:00",
        ),
        (
            "Australia/Lord_Howe",
            "+37800",
            "1800 10.01.07 02:00:00 04.01.07 02:00:00",
        ),
        ("America/Sao_Paulo", "-10800", ""),
    ] {
        set_device_settings(&app, D785.mac, json!({ "timezone": zone })).await;
        let (body, _) = fetch(&app, D785, &device_xml).await;
        let s = phone_settings(&body);
        assert_eq!(get(&s, "timezone", None), "", "{zone}");
        assert_eq!(get(&s, "utc_offset", None), offset, "{zone}");
        assert_eq!(get(&s, "dst", None), dst, "{zone}");
    }
    // Zones with a Snom code: the code alone (the phone knows its rule).
    for (zone, code) in [
        ("Australia/Sydney", "AUS+10"),
        ("Asia/Kolkata", "IND+5.5"),
        ("Europe/Berlin", "GER+1"),
        ("America/New_York", "USA-5"),
    ] {
        set_device_settings(&app, D785.mac, json!({ "timezone": zone })).await;
        let (body, _) = fetch(&app, D785, &device_xml).await;
        let s = phone_settings(&body);
        assert_eq!(get(&s, "timezone", None), code, "{zone}");
        assert!(!s.contains_key(&("dst".to_owned(), None)), "{zone}");
        assert!(!s.contains_key(&("utc_offset".to_owned(), None)), "{zone}");
    }
}

#[tokio::test]
async fn lists_carry_the_tenant_url_key() {
    let app = spawn().await;
    provision(&app, D785, "John Smith", &[]).await;
    let key = "k3y-0123456789abcdef";
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"url_key": key}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let [model_htm, model_xml, device_htm, device_xml] = file_names("D785", D785.mac);

    let (body, _) = fetch(&app, D785, &format!("{key}/{model_htm}")).await;
    assert_eq!(
        listed_urls(&body),
        [format!("{PUBLIC_URL}/{key}/{model_xml}")]
    );
    let (body, _) = fetch(&app, D785, &format!("{key}/{device_htm}")).await;
    assert_eq!(
        listed_urls(&body),
        [format!("{PUBLIC_URL}/{key}/{device_xml}")]
    );

    // With the key, the model file carries the tenant's settings; without, the defaults.
    let (body, _) = fetch(&app, D785, &format!("{key}/{model_xml}")).await;
    let s = phone_settings(&body);
    assert_eq!(get(&s, "timezone", None), "GER+1");
    assert_eq!(get(&s, "language", None), "Deutsch");
    let (body, _) = fetch(&app, D785, &model_xml).await;
    let s = phone_settings(&body);
    assert_eq!(get(&s, "timezone", None), "", "UTC has no Snom code");
    assert_eq!(get(&s, "utc_offset", None), "+0");
    assert_eq!(get(&s, "language", None), "English");

    let (body, _) = fetch(&app, D785, &format!("{key}/{device_xml}")).await;
    assert_eq!(
        get(&phone_settings(&body), "user_pass", Some(1)),
        OWNER_PASSWORD
    );
    assert_eq!(
        status_of(&app, D785, &device_xml).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = spawn().await;
    provision(&app, D785, "John Smith", &[]).await;
    for name in file_names("D785", D785.mac) {
        assert_eq!(status_of(&app, D785, &name).await, StatusCode::OK, "{name}");
    }
    // The phone may write the MAC in either case.
    assert_eq!(
        status_of(&app, D785, "snom-000413922d24.xml").await,
        StatusCode::OK
    );

    let stranger = Phone {
        mac: "000413922d25",
        ua: "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D25 SXM:0 UXM:0)",
        ..D785
    };
    let [model_htm, _, device_htm, device_xml] = file_names("D785", stranger.mac);
    assert_eq!(
        status_of(&app, stranger, &device_htm).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, stranger, &device_xml).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, stranger, &model_htm).await,
        StatusCode::OK,
        "common files need no registration"
    );

    // A User-Agent naming another MAC than the path is refused.
    let [_, _, _, registered_xml] = file_names("D785", D785.mac);
    assert_eq!(
        status_of(&app, stranger, &registered_xml).await,
        StatusCode::NOT_FOUND
    );

    let (_, device) = app.get("/devices/000413922d24").await;
    assert_eq!(device["vendor"], "snom");
    assert_eq!(device["capacity"], 12);
}

#[tokio::test]
async fn every_model_gets_its_list_and_settings() {
    let app = spawn().await;
    let vendors = Vendors::builtin().unwrap();
    let snom = vendors.get("snom").unwrap();
    assert!(snom.profile.models.len() >= 20);
    for model in snom.profile.models.keys() {
        let htm = app.phone_get(&format!("snom{model}.htm"), None).await;
        assert_eq!(htm.status(), StatusCode::OK, "{model}");
        let body = htm.text().await.unwrap();
        assert_no_secrets(model, &body);
        assert_eq!(
            listed_urls(&body),
            [format!("{PUBLIC_URL}/snom{model}.xml")]
        );
        let xml = app.phone_get(&format!("snom{model}.xml"), None).await;
        assert_eq!(xml.status(), StatusCode::OK, "{model}");
        let body = xml.text().await.unwrap();
        assert_no_secrets(model, &body);
        phone_settings(&body);
    }
    assert_eq!(
        app.phone_get("snomD999.htm", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A D865 (no module) with two aliases and the standard keys: every identity on its own line
/// key, the user's and the device's keys after them, every other phone key blank.
#[tokio::test]
async fn keys_as_laid_out_on_a_phone_without_modules() {
    let app = spawn().await;
    let d865 = Phone {
        mac: "000413b00865",
        model: "D865",
        ua: "Mozilla/4.0 (compatible; snomD865-SIP 10.1.159.12 2010.12-00001-gd311851f1 000413B00865 SXM:0 UXM:0)",
        ..D785
    };
    provision(&app, d865, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, d865, false).await;
    let [_, _, _, device_xml] = file_names("D865", d865.mac);
    let (body, _) = fetch(&app, d865, &device_xml).await;
    let keys = function_keys(&body);
    assert_eq!(keys.len(), 36, "the D865's 36 keys, no module");
    assert_eq!(
        keys[&0],
        Fkey {
            context: "1".into(),
            label: "John Smith".into(),
            content: "line".into()
        }
    );
    assert_eq!(keys[&2].context, "3", "the second alias is identity 3");
    assert_eq!(keys[&3].content, "blf 102");
    assert_eq!(keys[&6].content, "dest 102", "pickup: an Extension key");
    assert_eq!(keys[&7].content, "blf sip:desk@pbx.example.net");
    assert_eq!(keys[&35].content, "none");
    assert_keys_as_laid_out(&app, d865.mac, shown_keys(&body, "D865")).await;
}

/// A D785 with a key on its D7 module: module keys continue the phone's idx range.
#[tokio::test]
async fn keys_on_an_expansion_module() {
    let app = spawn().await;
    provision(&app, D785, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, D785, true).await;
    let [_, _, _, device_xml] = file_names("D785", D785.mac);
    let (body, _) = fetch(&app, D785, &device_xml).await;
    golden("snom", "d785-keys-module", &device_xml, &body);
    let keys = function_keys(&body);
    assert_eq!(
        keys[&25],
        Fkey {
            context: "1".into(),
            label: "Mary EXP".into(),
            content: "blf 102".into()
        },
        "module 1, key 2: idx 24 phone keys + 1"
    );
    assert_eq!(
        keys.len(),
        24 + 3 * 18,
        "the phone's keys and every key of the three modules it takes"
    );
    assert_eq!(keys[&24].content, "none");
    assert_eq!(keys[&77].content, "none");
    assert_keys_as_laid_out(&app, D785.mac, shown_keys(&body, "D785")).await;
}

/// A key taken off the user's list goes blank on the phone, and the keys after it move up.
#[tokio::test]
async fn a_removed_key_is_written_blank() {
    let app = spawn().await;
    provision(&app, D785, "John Smith", &[]).await;
    provision_keys(&app, D785, false).await;
    let [_, _, _, device_xml] = file_names("D785", D785.mac);
    let (body, _) = fetch(&app, D785, &device_xml).await;
    let before = function_keys(&body);
    assert_eq!(before[&1].content, "blf 102");
    assert_eq!(before[&5].content, "blf sip:desk@pbx.example.net");
    assert_eq!(before[&6].content, "speed *98", "the device's key");

    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "speed_dial", "value": "+4930123456", "label": "Office"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, D785, &device_xml).await;
    let after = function_keys(&body);
    assert_eq!(after[&1].content, "speed +4930123456");
    assert_eq!(after[&2].content, "speed *98");
    for idx in 3..24 {
        assert_eq!(after[&idx].content, "none", "idx {idx}");
        assert_eq!(after[&idx].label, "", "idx {idx}");
    }
    assert!(!body.contains("102") && !body.contains("orbit"));
    assert_keys_as_laid_out(&app, D785.mac, shown_keys(&body, "D785")).await;
}

#[test]
fn capacities() {
    let vendors = Vendors::builtin().unwrap();
    let snom = vendors.get("snom").unwrap();
    for (model, lines) in [
        ("D785", 12),
        ("D765", 12),
        ("D745", 12),
        ("D735", 12),
        ("D385", 12),
        ("D375", 12),
        ("D345", 12),
        ("D335", 12),
        ("D717", 6),
        ("D715", 4),
        ("D713", 4),
        ("D712", 4),
        ("D315", 4),
        ("D305", 2),
    ] {
        assert_eq!(snom.capacity(Some(model)), lines, "{model}");
    }
    assert_eq!(snom.capacity(Some("d785")), 12, "model names ignore case");
    assert_eq!(snom.capacity(Some("D999")), 2, "unknown: the smallest");
    let mac = deskprov::domain::Mac::parse("00:04:13:92:2d:24").unwrap();
    assert_eq!(vendors.for_mac(&mac).unwrap().id(), "snom");
}

#[test]
fn user_agents_of_the_reference() {
    let vendors = Vendors::builtin().unwrap();
    let parse = |ua: &str| {
        let info = vendors
            .parse_ua(ua)
            .unwrap_or_else(|| panic!("unrecognised: {ua}"));
        assert_eq!(info.vendor, "snom", "{ua}");
        assert!(!info.bad_mac, "{ua}");
        (
            info.model.unwrap(),
            info.firmware.unwrap(),
            info.mac.map(|m| m.upper12()),
        )
    };
    let mac = |m: &str| Some(m.to_owned());
    // §4.2, both examples; the second as the reference elides it and in full ([F] index.php),
    // whose build holds parentheses of its own.
    assert_eq!(
        parse(REFERENCE_UA),
        ("D785".into(), "10.1.33.33".into(), mac("000413922D24"))
    );
    assert_eq!(
        parse("… snomD785-SIP 10.1.169.16 … 00041396D9B4 SXM:0 UXM:0 UXMC:0)"),
        ("D785".into(), "10.1.169.16".into(), mac("00041396D9B4"))
    );
    assert_eq!(
        parse(
            "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 (Feb 25 2019 - 14:19:43) 00041396D9B4 SXM:0 UXM:0 UXMC:0)"
        ),
        ("D785".into(), "10.1.169.16".into(), mac("00041396D9B4"))
    );
    // Older firmware ([W] common.py): the MAC before ")", or none at all.
    assert_eq!(
        parse("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)"),
        ("710".into(), "8.7.5.35".into(), mac("000413741767"))
    );
    assert_eq!(
        parse("Mozilla/4.0 (compatible; snom710-SIP 8.7.3.19 1.1.5-IFX-05.01.12)"),
        ("710".into(), "8.7.3.19".into(), None)
    );
    assert_eq!(
        parse(
            "Mozilla/4.0 (compatible; snom320-SIP 6.5.20; snom320 jffs2 v3.36; snom320 linux 3.38)"
        ),
        ("320".into(), "6.5.20".into(), None)
    );
    assert_eq!(
        parse(D305.ua),
        ("D305".into(), "10.1.33.33".into(), mac("000413A11FA7"))
    );
    let other = vendors.parse_ua("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37");
    assert_eq!(other.map(|u| u.vendor).as_deref(), Some("yealink"));
}
