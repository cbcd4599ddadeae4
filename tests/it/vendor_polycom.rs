//! Poly / Polycom: golden files, parse-back, the boot chain, capacities, secrets only where
//! they belong.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

/// A VVX 101 (2 registrations); its UA is [W]'s VVX 101 example.
const VVX101: Phone = Phone {
    vendor: "polycom",
    mac: "0004f2a1b2c3",
    model: "VVX_101",
    ua: "FileTransport PolycomVVX-VVX_101-UA/5.4.3.1014 Type/Application",
};
/// A VVX 411 (12 registrations) in Poly's 48:25:67 block.
const VVX411: Phone = Phone {
    vendor: "polycom",
    mac: "482567d4e5f6",
    model: "VVX_411",
    ua: "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application",
};
/// A VVX 400 with the reference's User-Agent, in the 64:16:7F block.
const VVX400: Phone = Phone {
    vendor: "polycom",
    mac: "64167f0a0b0c",
    model: "VVX_400",
    ua: "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
};

/// The User-Agent examples of the reference with the capacity of the model each names.
const REFERENCE_UAS: [(&str, usize); 3] = [
    (
        "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
        12,
    ),
    (
        "FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078",
        2,
    ),
    (
        "FileTransport PolycomSoundStationIP-SSIP_6000-UA/5.0.3.1667 Type/Updater",
        1,
    ),
];

/// Every per-device file name, for a MAC.
fn device_files(mac: &str) -> Vec<String> {
    [
        ".cfg",
        "-user.cfg",
        "-phone.cfg",
        "-web.cfg",
        "-license.cfg",
        "-calls.xml",
        "-directory.xml",
    ]
    .iter()
    .map(|suffix| format!("{mac}{suffix}"))
    .collect()
}

/// Every common file name.
const COMMON_FILES: [&str; 4] = [
    "000000000000.cfg",
    "polycom-common.cfg",
    "000000000000-license.cfg",
    "000000000000-directory.xml",
];

/// Every attribute of every element, by name; a name set twice is an error (the phone would
/// take one of them silently).
fn attributes(body: &str) -> BTreeMap<String, String> {
    let doc = parse_xml(body);
    let mut out = BTreeMap::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        for a in node.attributes() {
            let old = out.insert(a.name().to_owned(), a.value().to_owned());
            assert!(old.is_none(), "{} is set twice:\n{body}", a.name());
        }
    }
    out
}

fn attr<'a>(attrs: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    attrs
        .get(key)
        .unwrap_or_else(|| panic!("{key} is missing"))
        .as_str()
}

/// The keys one used registration carries (without an outbound proxy).
fn registration_keys(n: usize) -> Vec<String> {
    [
        "type",
        "lineKeys",
        "label",
        "displayName",
        "address",
        "auth.userId",
        "auth.password",
        "server.1.address",
        "server.1.port",
        "server.1.transport",
        "server.1.expires",
        "server.1.register",
        "outboundProxy.address",
    ]
    .iter()
    .map(|k| format!("reg.{n}.{k}"))
    .collect()
}

/// The keys a registration with nothing on it carries.
fn unused_keys(n: usize) -> Vec<String> {
    [
        "address",
        "auth.userId",
        "auth.password",
        "server.1.register",
    ]
    .iter()
    .map(|k| format!("reg.{n}.{k}"))
    .collect()
}

/// Time, NTP and language keys in a European zone with summer time, and the admin password.
const EUROPEAN_SETTINGS: [&str; 19] = [
    "device.set",
    "device.auth.localAdminPassword",
    "device.auth.localAdminPassword.set",
    "tcpIpApp.sntp.address",
    "tcpIpApp.sntp.address.overrideDHCP",
    "tcpIpApp.sntp.gmtOffset",
    "tcpIpApp.sntp.gmtOffset.overrideDHCP",
    "tcpIpApp.sntp.daylightSavings.overrideDHCP",
    "tcpIpApp.sntp.daylightSavings.enable",
    "tcpIpApp.sntp.daylightSavings.fixedDayEnable",
    "tcpIpApp.sntp.daylightSavings.start.month",
    "tcpIpApp.sntp.daylightSavings.start.dayOfWeek",
    "tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth",
    "tcpIpApp.sntp.daylightSavings.start.time",
    "tcpIpApp.sntp.daylightSavings.stop.month",
    "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek",
    "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth",
    "tcpIpApp.sntp.daylightSavings.stop.time",
    "lcl.ml.lang",
];

/// The message-waiting keys of registration `n` (used or not).
fn mwi_keys(n: usize) -> Vec<String> {
    ["subscribe", "callBackMode", "callBack"]
        .iter()
        .map(|k| format!("msg.mwi.{n}.{k}"))
        .collect()
}

/// The flexible line key switch and the keys of line keys 1…`line_keys`.
fn line_key_keys(line_keys: usize) -> Vec<String> {
    let mut keys = vec!["lineKey.reassignment.enabled".to_owned()];
    for n in 1..=line_keys {
        keys.push(format!("lineKey.{n}.category"));
        keys.push(format!("lineKey.{n}.index"));
    }
    keys
}

/// The exact attribute set of a `-user.cfg` of a model with as many line keys as registrations,
/// `lines` of them used, and no keys but the accounts'.
fn expected_keys(lines: usize, capacity: usize) -> BTreeSet<String> {
    let mut keys: Vec<String> = (1..=lines).flat_map(registration_keys).collect();
    keys.extend(line_key_keys(capacity));
    keys.extend((lines + 1..=capacity).flat_map(unused_keys));
    keys.extend((1..=capacity).flat_map(mwi_keys));
    keys.extend(EUROPEAN_SETTINGS.map(String::from));
    keys.into_iter().collect()
}

/// The tenant's settings as the phone must see them (Berlin, German, its NTP server).
fn assert_tenant_settings(attrs: &BTreeMap<String, String>) {
    assert_eq!(attr(attrs, "tcpIpApp.sntp.gmtOffset"), "3600");
    assert_eq!(attr(attrs, "tcpIpApp.sntp.address"), "ntp.testsite.com");
    assert_eq!(attr(attrs, "tcpIpApp.sntp.daylightSavings.enable"), "1");
    // The European rule in Berlin's local hours: 02:00 standard time on, 03:00 summer time off.
    assert_eq!(
        attr(attrs, "tcpIpApp.sntp.daylightSavings.start.month"),
        "3"
    );
    assert_eq!(attr(attrs, "tcpIpApp.sntp.daylightSavings.start.time"), "2");
    assert_eq!(
        attr(attrs, "tcpIpApp.sntp.daylightSavings.stop.month"),
        "10"
    );
    assert_eq!(attr(attrs, "tcpIpApp.sntp.daylightSavings.stop.time"), "3");
    assert_eq!(attr(attrs, "lcl.ml.lang"), "German_Germany");
    assert_eq!(attr(attrs, "tcpIpApp.sntp.gmtOffset.overrideDHCP"), "1");
    assert_eq!(
        attr(attrs, "tcpIpApp.sntp.daylightSavings.overrideDHCP"),
        "1"
    );
    assert_eq!(attr(attrs, "device.set"), "1");
    assert_eq!(
        attr(attrs, "device.auth.localAdminPassword"),
        ADMIN_PASSWORD
    );
    assert_eq!(attr(attrs, "device.auth.localAdminPassword.set"), "1");
    assert_eq!(attr(attrs, "msg.mwi.1.subscribe"), "testsitecom_101");
    assert_eq!(attr(attrs, "msg.mwi.1.callBackMode"), "contact");
    assert_eq!(attr(attrs, "msg.mwi.1.callBack"), VOICEMAIL);
}

/// The comma list of a master file's `APPLICATION` element.
fn config_files(master: &str) -> Vec<String> {
    let doc = parse_xml(master);
    let app = doc.root_element();
    assert_eq!(app.tag_name().name(), "APPLICATION");
    assert_eq!(app.attribute("APP_FILE_PATH"), Some("sip.ld"));
    app.attribute("CONFIG_FILES")
        .expect("CONFIG_FILES")
        .split(',')
        .map(|f| f.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn few_lines_model() {
    let app = TestApp::spawn().await;
    provision(&app, VVX101, "John Smith", &["John Support"]).await;

    let (master, content_type) = fetch(&app, VVX101, "0004f2a1b2c3.cfg").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("polycom", "vvx101-one-alias", "0004f2a1b2c3.cfg", &master);
    assert_eq!(
        config_files(&master),
        ["0004f2a1b2c3-user.cfg", "polycom-common.cfg"],
        "the device's own file first: the file named first wins"
    );

    let (body, content_type) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden(
        "polycom",
        "vvx101-one-alias",
        "0004f2a1b2c3-user.cfg",
        &body,
    );
    let attrs = attributes(&body);
    assert_eq!(
        attrs.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 2)
    );
    assert_eq!(attr(&attrs, "reg.1.label"), "John Smith");
    assert_eq!(attr(&attrs, "reg.1.address"), "testsitecom_101");
    assert_eq!(attr(&attrs, "reg.1.auth.userId"), "testsitecom_101");
    assert_eq!(attr(&attrs, "reg.1.auth.password"), OWNER_PASSWORD);
    assert_eq!(
        attr(&attrs, "reg.1.auth.password"),
        owner_password(&app).await,
        "the password the API reveals"
    );
    assert_eq!(attr(&attrs, "reg.2.displayName"), "John Support");
    assert_eq!(attr(&attrs, "reg.2.auth.password"), alias_password(1));
    for n in 1..=2 {
        let key = |k: &str| format!("reg.{n}.{k}");
        assert_eq!(attr(&attrs, &key("server.1.address")), "pbx.testsite.com");
        assert_eq!(attr(&attrs, &key("server.1.port")), "5062");
        assert_eq!(attr(&attrs, &key("server.1.transport")), "TCPOnly");
        assert_eq!(attr(&attrs, &key("server.1.expires")), "3600");
        assert_eq!(attr(&attrs, &key("server.1.register")), "1");
        assert_eq!(attr(&attrs, &key("outboundProxy.address")), "");
    }
    assert_tenant_settings(&attrs);

    // Without a tenant URL key the common file cannot know the tenant: built-in defaults (UTC,
    // English), which the device's own file, named first, overrides.
    let (common, _) = fetch(&app, VVX101, "polycom-common.cfg").await;
    golden("polycom", "vvx101-one-alias", "polycom-common.cfg", &common);
    assert_no_secrets("polycom-common.cfg", &common);
    let attrs = attributes(&common);
    assert!(attrs.keys().all(|k| !k.starts_with("reg.")), "{common}");
    assert_eq!(attr(&attrs, "tcpIpApp.sntp.gmtOffset"), "0");
    assert_eq!(attr(&attrs, "tcpIpApp.sntp.daylightSavings.enable"), "0");
    assert_eq!(attr(&attrs, "tcpIpApp.sntp.address"), "pool.ntp.org");
    assert_eq!(attr(&attrs, "lcl.ml.lang"), "English_United_States");
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        VVX411,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, VVX411, "482567d4e5f6-user.cfg").await;
    golden(
        "polycom",
        "vvx411-tricky-names",
        "482567d4e5f6-user.cfg",
        &body,
    );
    assert!(
        !body.contains("<x>") && !body.contains("\"q\""),
        "markup in names is escaped"
    );
    let attrs = attributes(&body);
    assert_eq!(
        attrs.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(4, 12)
    );
    assert_eq!(
        attr(&attrs, "reg.1.displayName"),
        TRICKY_NAME,
        "XML escaping round-trips"
    );
    assert_eq!(attr(&attrs, "reg.1.label"), TRICKY_NAME);
    assert_eq!(attr(&attrs, "reg.3.label"), "Zoë Ångström");
    assert_eq!(attr(&attrs, "reg.4.displayName"), "李小龍");
    assert_eq!(attr(&attrs, "reg.4.auth.password"), alias_password(3));
    for n in 5..=12 {
        assert_eq!(attr(&attrs, &format!("reg.{n}.address")), "", "line {n}");
        assert_eq!(attr(&attrs, &format!("reg.{n}.server.1.register")), "0");
    }
    assert_tenant_settings(&attrs);
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        VVX101,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let (body, _) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
    golden("polycom", "vvx101-overflow", "0004f2a1b2c3-user.cfg", &body);
    let attrs = attributes(&body);
    assert_eq!(
        attrs.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(2, 2)
    );
    assert_eq!(attr(&attrs, "reg.2.label"), "Alias One");
    assert!(!body.contains("Alias Two") && !body.contains("Alias Three"));
    let (lines, overflow) = line_map(&app, VVX101.mac).await;
    assert_eq!(lines, ["John Smith", "Alias One"]);
    assert_eq!(overflow, ["Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    provision(&app, VVX400, "John Smith", &[]).await;
    for file in device_files(VVX400.mac) {
        assert_eq!(
            status_of(&app, VVX400, &file).await,
            StatusCode::OK,
            "{file}"
        );
    }
    // The MAC in the name is matched in either case.
    assert_eq!(
        status_of(&app, VVX400, "64167F0A0B0C-user.cfg").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "64167f0a0b0d",
        ..VVX400
    };
    for file in device_files(stranger.mac) {
        assert_eq!(
            status_of(&app, stranger, &file).await,
            StatusCode::NOT_FOUND,
            "{file}"
        );
    }
    // Another vendor's User-Agent on a Poly phone's file is refused.
    let yealink_ua = Phone {
        ua: "Yealink SIP-T46U 108.86.0.45",
        ..VVX400
    };
    assert_eq!(
        status_of(&app, yealink_ua, "64167f0a0b0c-user.cfg").await,
        StatusCode::NOT_FOUND
    );
    let (_, device) = app.get("/devices/64167f0a0b0c").await;
    assert_eq!(device["vendor"], "polycom");
    assert_eq!(device["capacity"], 12);
}

#[tokio::test]
async fn every_file_the_phone_requests_is_a_valid_document() {
    let app = TestApp::spawn().await;
    provision(&app, VVX400, "John Smith", &["John Support"]).await;
    let names: Vec<String> = device_files(VVX400.mac)
        .into_iter()
        .chain(COMMON_FILES.map(String::from))
        .collect();
    for name in &names {
        let (body, content_type) = fetch(&app, VVX400, name).await;
        assert_eq!(content_type, "text/xml; charset=utf-8", "{name}");
        assert!(body.ends_with('\n'), "{name}");
        parse_xml(&body);
        if name.ends_with("-user.cfg") {
            continue; // the accounts file has its own cases above
        }
        golden("polycom", "vvx400-files", name, &body);
        assert!(!body.contains("John"), "{name} names the owner:\n{body}");
        assert!(!body.contains(OWNER_PASSWORD), "{name} leaks a password");
    }
    for name in COMMON_FILES {
        let (body, _) = fetch(&app, VVX400, name).await;
        assert_no_secrets(name, &body);
    }
    // The empty documents hold no entries.
    for (name, root) in [
        ("64167f0a0b0c-directory.xml", "directory"),
        ("000000000000-directory.xml", "directory"),
        ("64167f0a0b0c-phone.cfg", "PHONE_CONFIG"),
        ("64167f0a0b0c-web.cfg", "PHONE_CONFIG"),
        ("64167f0a0b0c-license.cfg", "polycomConfig"),
        ("000000000000-license.cfg", "polycomConfig"),
        ("64167f0a0b0c-calls.xml", "callList"),
    ] {
        let (body, _) = fetch(&app, VVX400, name).await;
        let doc = parse_xml(&body);
        assert_eq!(doc.root_element().tag_name().name(), root, "{name}");
        assert!(
            doc.descendants().all(|n| n.attributes().next().is_none()),
            "{name} sets something:\n{body}"
        );
        assert!(
            doc.descendants().filter(|n| n.is_element()).count() <= 2,
            "{name} has entries:\n{body}"
        );
    }
}

#[tokio::test]
async fn master_files_name_only_files_that_are_served() {
    let app = TestApp::spawn().await;
    provision(&app, VVX400, "John Smith", &[]).await;
    let (master, _) = fetch(&app, VVX400, "64167f0a0b0c.cfg").await;
    for file in config_files(&master) {
        assert_eq!(
            status_of(&app, VVX400, &file).await,
            StatusCode::OK,
            "{file}"
        );
    }
    // The all-zero master is a common file, not a device: the phone puts its own MAC in.
    let (common_master, _) = fetch(&app, VVX400, "000000000000.cfg").await;
    assert_no_secrets("000000000000.cfg", &common_master);
    let listed = config_files(&common_master);
    assert_eq!(
        listed,
        ["[PHONE_MAC_ADDRESS]-user.cfg", "polycom-common.cfg"]
    );
    for file in &listed {
        let file = file.replace("[PHONE_MAC_ADDRESS]", VVX400.mac);
        assert_eq!(
            status_of(&app, VVX400, &file).await,
            StatusCode::OK,
            "{file}"
        );
    }
    // An unregistered phone gets the all-zero master and the common file, nothing of its own.
    let stranger = Phone {
        mac: "64167f0a0b0d",
        ..VVX400
    };
    assert_eq!(
        status_of(&app, stranger, "000000000000.cfg").await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, stranger, "64167f0a0b0d.cfg").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, stranger, "64167f0a0b0d-user.cfg").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn reference_user_agents_name_known_models() {
    let app = TestApp::spawn().await;
    let aliases = [
        "A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10", "A11",
    ];
    provision(&app, VVX400, "John Smith", &aliases).await;
    // The model the User-Agent names decides the registrations, so each example must map to a
    // model the profile lists (an unknown one would fall back to the default of 2).
    for (ua, capacity) in REFERENCE_UAS {
        let phone = Phone { ua, ..VVX400 };
        let (body, _) = fetch(&app, phone, "64167f0a0b0c-user.cfg").await;
        let attrs = attributes(&body);
        let used = (1..=34)
            .filter(|n| {
                attrs
                    .get(&format!("reg.{n}.server.1.register"))
                    .map(String::as_str)
                    == Some("1")
            })
            .count();
        assert_eq!(used, capacity, "{ua}");
        assert!(
            !attrs.contains_key(&format!("reg.{}.address", capacity + 1)),
            "{ua}"
        );
    }
}

#[tokio::test]
async fn device_settings_reach_the_phone() {
    let app = TestApp::spawn().await;
    provision(&app, VVX101, "John Smith", &[]).await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0004f2a1b2c3",
            Some(json!({"settings": {"outbound_proxy": "sbc.testsite.com", "outbound_proxy_port": 5070,
                                     "transport": "tls", "timezone": "America/New_York", "language": "fr"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
    golden(
        "polycom",
        "vvx101-proxy-new-york",
        "0004f2a1b2c3-user.cfg",
        &body,
    );
    let new_york = body.clone();
    let attrs = attributes(&body);
    assert_eq!(attr(&attrs, "reg.1.server.1.transport"), "TLS");
    assert_eq!(
        attr(&attrs, "reg.1.outboundProxy.address"),
        "sbc.testsite.com"
    );
    assert_eq!(attr(&attrs, "reg.1.outboundProxy.port"), "5070");
    assert_eq!(attr(&attrs, "reg.1.outboundProxy.transport"), "TLS");
    assert_eq!(attr(&attrs, "reg.2.address"), "", "line 2 is unused");
    assert_eq!(attr(&attrs, "tcpIpApp.sntp.gmtOffset"), "-18000");
    // New York's rule spelled out: second Sunday of March, first Sunday of November, 02:00.
    assert_eq!(
        dst_rule(&attrs),
        Some("start 3 date 8 day 1 last 0 at 2; stop 11 date 1 day 1 last 0 at 2".to_owned())
    );
    assert_eq!(attr(&attrs, "lcl.ml.lang"), "French_France");

    // A language Poly lacks is refused, naming the family; nothing changes.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0004f2a1b2c3",
            Some(json!({"settings": {"timezone": "Asia/Kolkata", "language": "fi"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "settings.language", "language_unsupported");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Poly"),
        "{body}"
    );
    let (again, _) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
    assert_eq!(again, new_york, "a refused change writes nothing");

    // No summer time, a half-hour zone.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0004f2a1b2c3",
            Some(json!({"settings": {"timezone": "Asia/Kolkata", "language": "sv"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
    let attrs = attributes(&body);
    assert_eq!(attr(&attrs, "tcpIpApp.sntp.gmtOffset"), "19800");
    assert_eq!(dst_rule(&attrs), None);
    assert_eq!(attr(&attrs, "lcl.ml.lang"), "Swedish_Sweden");
    assert_eq!(
        attr(&attrs, "reg.1.outboundProxy.address"),
        "",
        "settings replaced"
    );
}

/// The summer-time keys in one line (`None` when switched off); every key the rule sets is
/// consumed, so a stray or missing one fails the comparison.
fn dst_rule(attrs: &BTreeMap<String, String>) -> Option<String> {
    let mut dst: BTreeMap<&str, &str> = attrs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("tcpIpApp.sntp.daylightSavings.")
                .map(|k| (k, v.as_str()))
        })
        .collect();
    assert_eq!(dst.remove("overrideDHCP"), Some("1"));
    match dst.remove("enable") {
        Some("0") => {
            assert!(dst.is_empty(), "rule keys without summer time: {dst:?}");
            return None;
        }
        Some("1") => {}
        other => panic!("daylightSavings.enable is {other:?}"),
    }
    assert_eq!(dst.remove("fixedDayEnable"), Some("0"));
    let mut end = |name: &str| {
        let mut take = |k: &str| dst.remove(format!("{name}.{k}").as_str()).unwrap_or("-");
        format!(
            "{name} {} date {} day {} last {} at {}",
            take("month"),
            take("date"),
            take("dayOfWeek"),
            take("dayOfWeek.lastInMonth"),
            take("time")
        )
    };
    let rule = format!("{}; {}", end("start"), end("stop"));
    assert!(dst.is_empty(), "unexpected keys: {dst:?}");
    Some(rule)
}

/// Each zone's own rule: the southern hemisphere, a zone that dropped summer time, and rules
/// that no hard-coded table held.
#[tokio::test]
async fn summer_time_follows_the_zone() {
    let app = TestApp::spawn().await;
    provision(&app, VVX101, "John Smith", &[]).await;
    for (zone, offset, rule) in [
        (
            "Europe/Berlin",
            "3600",
            Some("start 3 date - day 1 last 1 at 2; stop 10 date - day 1 last 1 at 3"),
        ),
        (
            "America/New_York",
            "-18000",
            Some("start 3 date 8 day 1 last 0 at 2; stop 11 date 1 day 1 last 0 at 2"),
        ),
        ("Asia/Kolkata", "19800", None),
        (
            "Australia/Sydney",
            "36000",
            Some("start 10 date 1 day 1 last 0 at 2; stop 4 date 1 day 1 last 0 at 3"),
        ),
        (
            "Pacific/Auckland",
            "43200",
            Some("start 9 date - day 1 last 1 at 2; stop 4 date 1 day 1 last 0 at 3"),
        ),
        ("America/Sao_Paulo", "-10800", None),
        ("Asia/Tehran", "12600", None),
        (
            "America/Santiago",
            "-14400",
            Some("start 9 date 1 day 1 last 0 at 0; stop 4 date 1 day 1 last 0 at 0"),
        ),
        // Friday (6) before the last Sunday of March: the last Friday in 2025.
        (
            "Asia/Jerusalem",
            "7200",
            Some("start 3 date - day 6 last 1 at 2; stop 10 date - day 1 last 1 at 2"),
        ),
    ] {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/tenants/testsite.com",
                Some(json!({ "timezone": zone })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (body, _) = fetch(&app, VVX101, "0004f2a1b2c3-user.cfg").await;
        let attrs = attributes(&body);
        assert_eq!(attr(&attrs, "tcpIpApp.sntp.gmtOffset"), offset, "{zone}");
        assert_eq!(dst_rule(&attrs).as_deref(), rule, "{zone}");
    }
}

/// A VVX 450: twelve line keys, no expansion module modelled.
const VVX450: Phone = Phone {
    vendor: "polycom",
    mac: "0004f2450450",
    model: "VVX_450",
    ua: "FileTransport PolycomVVX-VVX_450-UA/6.4.6.2024 Type/Application",
};

/// Keys on a VVX Color Expansion Module: 28 keys on each of three pages.
const COLOR_EM_KEYS: u32 = 84;

/// Poly watches an extension the same way for BLF and for pickup (pressing a ringing BLF key
/// picks the call up): the files show the layout's pickup keys as BLF keys.
const PICKUP_AS_BLF: &[(&str, &str)] = &[("pickup", "blf")];

/// Where line key `n` is, counting the phone's `line_keys` and then each module's.
fn place(n: u32, line_keys: u32) -> (u32, u32) {
    if n <= line_keys {
        (0, n)
    } else {
        let past = n - line_keys - 1;
        (past / COLOR_EM_KEYS + 1, past % COLOR_EM_KEYS + 1)
    }
}

/// The keys a Poly phone shows, from its `-user.cfg` (line keys, registrations' labels, the
/// attendant resource list) and its
/// `-directory.xml` (the favourites speed dial keys name).
fn poly_keys(user: &str, directory: &str, line_keys: u32) -> Vec<ShownKey> {
    let attrs = attributes(user);
    assert_eq!(attr(&attrs, "lineKey.reassignment.enabled"), "1");
    // The resources in document order: BLF keys take them in key order.
    let doc = parse_xml(user);
    let resources: Vec<(String, String, String)> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("attendant"))
        .enumerate()
        .map(|(i, _)| {
            let get =
                |f: &str| attr(&attrs, &format!("attendant.resourceList.{}.{f}", i + 1)).to_owned();
            (get("address"), get("label"), get("type"))
        })
        .collect();
    let favourites: BTreeMap<String, (String, String)> = parse_xml(directory)
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let text = |tag: &str| {
                item.children()
                    .find(|c| c.has_tag_name(tag))
                    .and_then(|c| c.text())
                    .unwrap_or("")
                    .to_owned()
            };
            (text("sd"), (text("ct"), text("fn")))
        })
        .collect();
    let mut numbers: Vec<u32> = attrs
        .keys()
        .filter_map(|k| {
            k.strip_prefix("lineKey.")?
                .strip_suffix(".category")?
                .parse()
                .ok()
        })
        .collect();
    numbers.sort();
    let mut blf = resources.into_iter();
    let mut shown = Vec::new();
    for n in numbers {
        let (module, position) = place(n, line_keys);
        let index = attr(&attrs, &format!("lineKey.{n}.index"));
        let (kind, value, label) = match attr(&attrs, &format!("lineKey.{n}.category")) {
            "Unassigned" => continue,
            "Line" => (
                "line".to_owned(),
                index.to_owned(),
                attr(&attrs, &format!("reg.{index}.label")).to_owned(),
            ),
            "SpeedDial" => {
                let (number, name) = favourites
                    .get(index)
                    .unwrap_or_else(|| panic!("no favourite {index}:\n{directory}"))
                    .clone();
                ("speed_dial".to_owned(), number, name)
            }
            "BLF" => {
                assert_eq!(index, "0", "BLF keys take the resource list in order");
                let (address, label, kind) = blf.next().expect("a resource per BLF key");
                // An orbit is watched as `automata`; an extension as `normal`, for BLF and
                // pickup alike.
                let kind = match kind.as_str() {
                    "automata" => "park",
                    "normal" => "blf",
                    other => panic!("resource type {other}"),
                };
                (kind.to_owned(), address, label)
            }
            other => panic!("line key {n} is {other}"),
        };
        shown.push(ShownKey {
            module,
            position,
            kind,
            value,
            label,
        });
    }
    assert!(blf.next().is_none(), "a resource without a BLF key");
    shown
}

/// Every account and the standard keys on a VVX 450, read back from its files: the plan's three
/// accounts on keys 1 to 3, the user's keys and the device's speed dial after them.
#[tokio::test]
async fn keys_of_a_phone_without_modules_are_laid_out() {
    let app = TestApp::spawn().await;
    provision(&app, VVX450, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, VVX450, false).await;
    let (user, _) = fetch(&app, VVX450, "0004f2450450-user.cfg").await;
    let (directory, _) = fetch(&app, VVX450, "0004f2450450-directory.xml").await;
    let attrs = attributes(&user);
    assert_eq!(attr(&attrs, "lineKey.3.category"), "Line");
    assert_eq!(attr(&attrs, "lineKey.3.index"), "3");
    assert_eq!(attr(&attrs, "lineKey.4.category"), "BLF");
    assert_eq!(attr(&attrs, "attendant.resourceList.1.address"), "102");
    assert_eq!(attr(&attrs, "attendant.resourceList.1.label"), "Mary Jones");
    assert_eq!(attr(&attrs, "lineKey.5.category"), "SpeedDial");
    assert_eq!(attr(&attrs, "lineKey.5.index"), "1", "the first favourite");
    assert_eq!(
        attr(&attrs, "attendant.resourceList.2.type"),
        "automata",
        "the park orbit"
    );
    assert_eq!(
        attr(&attrs, "attendant.resourceList.4.address"),
        "sip:desk@pbx.example.net",
        "an external target as its SIP URI"
    );
    assert_eq!(
        attr(&attrs, "lineKey.9.index"),
        "2",
        "the device's speed dial, second"
    );
    assert_eq!(attr(&attrs, "lineKey.12.category"), "Unassigned");
    assert!(directory.contains("<ct>+4930123456</ct>") && directory.contains("<sd>2</sd>"));
    assert_keys_shown_as(
        &app,
        VVX450.mac,
        poly_keys(&user, &directory, 12),
        PICKUP_AS_BLF,
    )
    .await;
}

/// The standard keys with one on the first Color Expansion Module of a VVX 411, whose keys are
/// numbered after the phone's twelve; as golden files.
#[tokio::test]
async fn keys_on_an_expansion_module() {
    let app = TestApp::spawn().await;
    provision(&app, VVX411, "John Smith", &["John Support"]).await;
    provision_keys(&app, VVX411, true).await;
    let (user, _) = fetch(&app, VVX411, "482567d4e5f6-user.cfg").await;
    let (directory, _) = fetch(&app, VVX411, "482567d4e5f6-directory.xml").await;
    golden("polycom", "vvx411-keys", "482567d4e5f6-user.cfg", &user);
    golden(
        "polycom",
        "vvx411-keys",
        "482567d4e5f6-directory.xml",
        &directory,
    );
    let attrs = attributes(&user);
    assert_eq!(
        attr(&attrs, "lineKey.14.category"),
        "BLF",
        "module 1, key 2"
    );
    assert_eq!(attr(&attrs, "attendant.resourceList.5.label"), "Mary EXP");
    assert_eq!(
        attr(&attrs, "lineKey.96.category"),
        "Unassigned",
        "module 1, key 84"
    );
    assert!(
        !attrs.contains_key("lineKey.97.category"),
        "no second module"
    );
    assert_keys_shown_as(
        &app,
        VVX411.mac,
        poly_keys(&user, &directory, 12),
        PICKUP_AS_BLF,
    )
    .await;
}

/// A key taken off the user's list is written Unassigned, and its resource and favourite go.
#[tokio::test]
async fn a_removed_key_is_written_blank() {
    let app = TestApp::spawn().await;
    provision(&app, VVX450, "John Smith", &[]).await;
    provision_keys(&app, VVX450, false).await;
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "park", "value": "701"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .api(
            Method::PUT,
            "/devices/0004f2450450/keys",
            Some(json!({"keys": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (user, _) = fetch(&app, VVX450, "0004f2450450-user.cfg").await;
    let (directory, _) = fetch(&app, VVX450, "0004f2450450-directory.xml").await;
    let attrs = attributes(&user);
    assert_eq!(attr(&attrs, "lineKey.2.category"), "BLF");
    assert_eq!(attr(&attrs, "attendant.resourceList.1.address"), "701");
    for n in 3..=12 {
        assert_eq!(attr(&attrs, &format!("lineKey.{n}.category")), "Unassigned");
        assert_eq!(attr(&attrs, &format!("lineKey.{n}.index")), "0");
    }
    assert!(!attrs.contains_key("attendant.resourceList.2.address"));
    assert!(
        !directory.contains("<item>"),
        "no favourites left:\n{directory}"
    );
    assert_keys_shown_as(
        &app,
        VVX450.mac,
        poly_keys(&user, &directory, 12),
        PICKUP_AS_BLF,
    )
    .await;
}
