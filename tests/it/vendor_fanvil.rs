//! Fanvil: golden files, XML parse-back, capacities, secrets only where they belong, the
//! irregular per-model common file names, and the User-Agents of the reference.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

/// X3S: 4 lines, common file from [W].
const X3S: Phone = Phone {
    vendor: "fanvil",
    mac: "0c383e3a5b01",
    model: "X3S",
    ua: "Fanvil X3S 2.10.2.6887 0c383e3a5b01",
};
/// X4U: 12 lines, short language codes.
const X4U: Phone = Phone {
    vendor: "fanvil",
    mac: "0c383e2cd783",
    model: "X4U",
    ua: "Fanvil X4U 2.12.16.17 0c383e2cd783",
};
/// V62: 4 lines, numeric V-series language codes.
const V62: Phone = Phone {
    vendor: "fanvil",
    mac: "0c383e38e124",
    model: "V62",
    ua: "Fanvil V62 2.12.16.4 0c383e38e124",
};
/// X4 with the reference's own User-Agent.
const X4: Phone = Phone {
    vendor: "fanvil",
    mac: "0c383e07e16c",
    model: "X4",
    ua: "Fanvil X4 2.10.2.6887 0c383e07e16c",
};

/// The elements an occupied `<line>` carries (without an outbound proxy).
const LINE_FIELDS: &[&str] = &[
    "PhoneNumber",
    "DisplayName",
    "RegisterAddr",
    "RegisterPort",
    "RegisterUser",
    "RegisterPswd",
    "RegisterTTL",
    "EnableReg",
    "Transport",
    "MWINum",
    "ProxyAddr",
];

/// The elements a switched-off `<line>` carries.
const UNUSED_FIELDS: &[&str] = &[
    "PhoneNumber",
    "DisplayName",
    "RegisterAddr",
    "RegisterUser",
    "RegisterPswd",
    "EnableReg",
];

/// Every common file name with the model it must be rendered for (shared names go to the first
/// model in the profile's order when no User-Agent says otherwise).
const COMMON_FILES: &[(&str, &str)] = &[
    ("f0X1shw1.100.cfg", "X1S"),
    ("f0X3shw1.100.cfg", "X3S"),
    ("F0V00X3U0000.cfg", "X3U"),
    ("f0X4hw1.100.cfg", "X4"),
    ("F0V00X4U0000.cfg", "X4U"),
    ("F0V00X5U0000.cfg", "X5U"),
    ("F0V5UV200000.cfg", "X5U-V2"),
    ("F0V00X6U0000.cfg", "X6U"),
    ("F0V00X700000.cfg", "X7"),
    ("F0V00X200000.cfg", "X210"),
    ("F0V0V6100000.cfg", "V61"),
    ("F0VV61G00000.cfg", "V61G"),
    ("F0VV61W00000.cfg", "V61W"),
    ("F0V0V6200000.cfg", "V62"),
    ("F0V0V6400000.cfg", "V64"),
    ("F0V0V6500000.cfg", "V65"),
    ("F0V0V6700000.cfg", "V67"),
];

/// The `<sip><line>` elements of a device file: index → (element → text).
fn lines(doc: &roxmltree::Document<'_>) -> BTreeMap<usize, BTreeMap<String, String>> {
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "sysConf");
    let sip = root
        .children()
        .find(|n| n.has_tag_name("sip"))
        .expect("a <sip> section");
    sip.children()
        .filter(|n| n.is_element())
        .map(|line| {
            assert!(line.has_tag_name("line"), "only <line> in <sip>");
            let index: usize = line.attribute("index").unwrap().parse().unwrap();
            let fields = line
                .children()
                .filter(|n| n.is_element())
                .map(|f| {
                    (
                        f.tag_name().name().to_owned(),
                        f.text().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            (index, fields)
        })
        .collect()
}

/// The text of the one element `path` (`phone/date/TimeZone`) below `<sysConf>`.
fn value<'a>(doc: &'a roxmltree::Document<'_>, path: &str) -> &'a str {
    let mut node = doc.root_element();
    for step in path.split('/') {
        let mut found = node.children().filter(|n| n.has_tag_name(step));
        node = found.next().unwrap_or_else(|| panic!("no {path}"));
        assert!(found.next().is_none(), "{step} twice in {path}");
    }
    node.text().unwrap_or("")
}

/// The summer-time rule of `<phone><date>` in one line, or `None` when switched off; every
/// DST element is consumed, so a stray or missing one fails.
fn dst(doc: &roxmltree::Document<'_>) -> Option<String> {
    let date = doc
        .descendants()
        .find(|n| n.has_tag_name("date"))
        .expect("<date>");
    let mut fields: BTreeMap<String, String> = date
        .children()
        .filter(|n| n.is_element() && n.tag_name().name().contains("DST"))
        .map(|n| {
            (
                n.tag_name().name().to_owned(),
                n.text().unwrap_or("").to_owned(),
            )
        })
        .collect();
    match fields.remove("EnableDST").as_deref() {
        Some("0") => {
            assert!(fields.is_empty(), "rule without summer time: {fields:?}");
            return None;
        }
        Some("2") => {}
        other => panic!("EnableDST is {other:?}"),
    }
    assert_eq!(fields.remove("DSTFixedType").as_deref(), Some("2"));
    let saved = fields.remove("DSTMinOffset").unwrap();
    let mut end = |name: &str| {
        let mut take = |k: &str| fields.remove(&format!("DST{name}{k}")).unwrap();
        format!(
            "{}/{}/{} {}h",
            take("Mon"),
            take("Week"),
            take("Wday"),
            take("Hour")
        )
    };
    let rule = format!("{} -> {}, {saved}", end("Start"), end("End"));
    assert!(fields.is_empty(), "unexpected: {fields:?}");
    Some(rule)
}

/// The names of an element's children.
fn keys_of(fields: &BTreeMap<String, String>) -> BTreeSet<&str> {
    fields.keys().map(String::as_str).collect()
}

/// Asserts the device file's shape: `used` occupied lines out of `capacity`, the others off.
fn assert_line_shape(doc: &roxmltree::Document<'_>, used: usize, capacity: usize) {
    let lines = lines(doc);
    assert_eq!(
        lines.keys().copied().collect::<Vec<_>>(),
        (1..=capacity).collect::<Vec<_>>(),
        "every line of the model, in order"
    );
    for (n, fields) in &lines {
        if *n <= used {
            assert_eq!(keys_of(fields), LINE_FIELDS.iter().copied().collect());
            assert_eq!(fields["EnableReg"], "1");
        } else {
            assert_eq!(keys_of(fields), UNUSED_FIELDS.iter().copied().collect());
            assert_eq!(fields["EnableReg"], "0", "line {n} is switched off");
            assert_eq!(fields["RegisterPswd"], "", "line {n} keeps no password");
        }
    }
}

#[tokio::test]
async fn few_lines_model() {
    let app = TestApp::spawn().await;
    provision(&app, X3S, "John Smith", &["John Support"]).await;
    let (body, content_type) = fetch(&app, X3S, "0c383e3a5b01.cfg").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("fanvil", "x3s-one-alias", "0c383e3a5b01.cfg", &body);
    let doc = parse_xml(&body);
    assert_eq!(value(&doc, "Version"), "2.0000000000");
    assert_line_shape(&doc, 2, 4);
    let lines = lines(&doc);
    let owner = &lines[&1];
    assert_eq!(owner["PhoneNumber"], "testsitecom_101");
    assert_eq!(owner["RegisterUser"], "testsitecom_101");
    assert_eq!(owner["RegisterPswd"], OWNER_PASSWORD);
    assert_eq!(owner["DisplayName"], "John Smith");
    assert_eq!(owner["RegisterAddr"], "pbx.testsite.com");
    assert_eq!(owner["RegisterPort"], "5062");
    assert_eq!(owner["RegisterTTL"], "3600");
    assert_eq!(owner["Transport"], "1", "tcp is 1");
    assert_eq!(owner["ProxyAddr"], "", "no outbound proxy: cleared");
    let alias = &lines[&2];
    assert_eq!(alias["DisplayName"], "John Support");
    assert_eq!(alias["PhoneNumber"], "testsitecom_101_2");
    assert_eq!(alias["RegisterPswd"], alias_password(1));
    // Berlin: UTC+1 is 4 quarter-hours; X3S takes [W]'s numeric code for German.
    assert_eq!(value(&doc, "phone/date/TimeZone"), "4");
    assert_eq!(value(&doc, "phone/date/TimeZoneName"), "UTC+1");
    assert_eq!(value(&doc, "phone/date/SNTPServer"), "ntp.testsite.com");
    assert_eq!(value(&doc, "phone/date/EnableSNTP"), "1");
    assert_eq!(value(&doc, "phone/display/DefaultLanguage"), "16");
    // The EU rule: the last Sunday (week -1, weekday 0) of March and of October.
    assert_eq!(dst(&doc).as_deref(), Some("3/-1/0 2h -> 10/-1/0 3h, 60"));
    assert_eq!(owner["MWINum"], VOICEMAIL);
    assert_eq!(alias["MWINum"], VOICEMAIL);
    assert_eq!(value(&doc, "phone/MenuPassword"), ADMIN_PASSWORD);
    assert_eq!(value(&doc, "web/account/Name"), "admin");
    assert_eq!(value(&doc, "web/account/Password"), ADMIN_PASSWORD);
    assert_eq!(value(&doc, "web/account/Level"), "10");

    let (common, content_type) = fetch(&app, X3S, "f0X3shw1.100.cfg").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("fanvil", "x3s-one-alias", "f0X3shw1.100.cfg", &common);
    assert_no_secrets("f0X3shw1.100.cfg", &common);
    let doc = parse_xml(&common);
    assert!(doc.descendants().all(|n| !n.has_tag_name("sip")));
    // A common file asked for without a tenant URL key has only the built-in defaults.
    assert_eq!(value(&doc, "phone/date/TimeZone"), "0");
    assert_eq!(value(&doc, "phone/date/TimeZoneName"), "UCT");
    assert_eq!(value(&doc, "phone/date/SNTPServer"), "pool.ntp.org");
    assert_eq!(value(&doc, "phone/display/DefaultLanguage"), "0", "English");
    assert_eq!(dst(&doc), None);
    assert!(doc.descendants().all(|n| !n.has_tag_name("MenuPassword")));
    assert!(doc.descendants().all(|n| !n.has_tag_name("web")));
    assert_eq!(value(&doc, "ap/DownloadDeviceConf"), "1");
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        X4U,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    golden("fanvil", "x4u-tricky-names", "0c383e2cd783.cfg", &body);
    assert!(
        !body.contains("<x>") && !body.contains("A & B"),
        "names are XML-escaped"
    );
    let doc = parse_xml(&body);
    assert_line_shape(&doc, 4, 12);
    let lines = lines(&doc);
    assert_eq!(lines[&1]["DisplayName"], TRICKY_NAME, "comes back intact");
    assert_eq!(lines[&3]["DisplayName"], "Zoë Ångström");
    assert_eq!(lines[&4]["DisplayName"], "李小龍");
    assert_eq!(lines[&4]["RegisterPswd"], alias_password(3));
    assert_eq!(
        value(&doc, "phone/display/DefaultLanguage"),
        "de",
        "X4U takes short codes"
    );
    let (common, _) = fetch(&app, X4U, "F0V00X4U0000.cfg").await;
    golden("fanvil", "x4u-tricky-names", "F0V00X4U0000.cfg", &common);
    assert_no_secrets("F0V00X4U0000.cfg", &common);
    assert!(
        !common.contains("Ångström") && !common.contains("John Support"),
        "no names in a common file"
    );
}

#[tokio::test]
async fn v_series_takes_numeric_language_codes() {
    let app = TestApp::spawn().await;
    provision(&app, V62, "John Smith", &[]).await;
    let (body, _) = fetch(&app, V62, "0c383e38e124.cfg").await;
    golden("fanvil", "v62-no-alias", "0c383e38e124.cfg", &body);
    let doc = parse_xml(&body);
    assert_line_shape(&doc, 1, 4);
    assert_eq!(value(&doc, "phone/display/DefaultLanguage"), "16");
    let (common, _) = fetch(&app, V62, "F0V0V6200000.cfg").await;
    golden("fanvil", "v62-no-alias", "F0V0V6200000.cfg", &common);
    assert_no_secrets("F0V0V6200000.cfg", &common);
    assert_eq!(
        value(&parse_xml(&common), "phone/display/DefaultLanguage"),
        "0",
        "built-in default: English"
    );
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        X3S,
        "John Smith",
        &[
            "Alias One",
            "Alias Two",
            "Alias Three",
            "Alias Four",
            "Alias Five",
        ],
    )
    .await;
    let (body, _) = fetch(&app, X3S, "0c383e3a5b01.cfg").await;
    golden("fanvil", "x3s-overflow", "0c383e3a5b01.cfg", &body);
    let doc = parse_xml(&body);
    assert_line_shape(&doc, 4, 4);
    assert!(!body.contains("Alias Four") && !body.contains("Alias Five"));
    assert!(!body.contains(&alias_password(4)));
    let (lines, overflow) = line_map(&app, X3S.mac).await;
    assert_eq!(
        lines,
        ["John Smith", "Alias One", "Alias Two", "Alias Three"]
    );
    assert_eq!(overflow, ["Alias Four", "Alias Five"]);
}

#[tokio::test]
async fn proxy_tls_and_other_zones() {
    let app = TestApp::spawn().await;
    provision(&app, X4U, "John Smith", &["John Support"]).await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"transport": "tls", "outbound_proxy": "sbc.testsite.com",
                        "outbound_proxy_port": 5061, "timezone": "America/New_York", "language": "cs"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    golden("fanvil", "x4u-proxy-tls", "0c383e2cd783.cfg", &body);
    let doc = parse_xml(&body);
    for (n, line) in lines(&doc).into_iter().take(2) {
        assert_eq!(line["Transport"], "3", "line {n}: tls is 3");
        assert_eq!(line["ProxyAddr"], "sbc.testsite.com");
        assert_eq!(line["ProxyPort"], "5061");
    }
    assert_eq!(value(&doc, "phone/date/TimeZone"), "-20");
    assert_eq!(value(&doc, "phone/date/TimeZoneName"), "UTC-05");
    assert_eq!(
        dst(&doc).as_deref(),
        Some("3/2/0 2h -> 11/1/0 2h, 60"),
        "second Sunday of March, first of November"
    );
    assert_eq!(
        value(&doc, "phone/display/DefaultLanguage"),
        "cz",
        "Fanvil's code for Czech"
    );

    for (zone, quarters, name, rule) in [
        ("Asia/Kolkata", "22", "UTC+5:30", None),
        // Southern hemisphere: on in October, off in April at 03:00 summer time.
        (
            "Australia/Sydney",
            "40",
            "UTC+10",
            Some("10/1/0 2h -> 4/1/0 3h, 60"),
        ),
        ("America/Sao_Paulo", "-12", "UTC-03", None),
        ("UTC", "0", "UCT", None),
    ] {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/tenants/testsite.com",
                Some(json!({"timezone": zone, "transport": "dns_srv"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
        let doc = parse_xml(&body);
        assert_eq!(value(&doc, "phone/date/TimeZone"), quarters, "{zone}");
        assert_eq!(value(&doc, "phone/date/TimeZoneName"), name, "{zone}");
        assert_eq!(dst(&doc).as_deref(), rule, "{zone}");
        assert_eq!(
            lines(&doc)[&1]["Transport"],
            "0",
            "dns_srv falls back to udp"
        );
    }
}

/// Fanvil has no Swedish: refused for the tenant while it has a Fanvil phone. A V-series
/// phone shows only the languages of its numeric table: Portuguese, fine on an X4U, is refused
/// for it, at registration too.
#[tokio::test]
async fn languages_fanvil_lacks_are_refused() {
    let app = TestApp::spawn().await;
    provision(&app, X4U, "John Smith", &[]).await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"language": "sv"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "language", "language_unsupported");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Fanvil")
    );

    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"language": "pt"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    assert_eq!(
        value(&parse_xml(&body), "phone/display/DefaultLanguage"),
        "pt"
    );
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": V62.mac, "tenant": "testsite.com", "extension": "101", "model": "V62"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "language", "language_unsupported");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Fanvil V62"), "{message}");
    assert!(
        message.ends_with("they show en, de, fr, es, it, nl"),
        "{message}"
    );
    let (status, _) = app.get(&format!("/devices/{}", V62.mac)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was registered");
    // With a language of its own that its table has, it registers.
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": V62.mac, "tenant": "testsite.com", "extension": "101", "model": "V62",
                   "settings": {"language": "fr"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (body, _) = fetch(&app, V62, "0c383e38e124.cfg").await;
    assert_eq!(
        value(&parse_xml(&body), "phone/display/DefaultLanguage"),
        "5",
        "the V series' code for French"
    );
}

#[tokio::test]
async fn every_common_file_is_served_without_secrets() {
    let app = TestApp::spawn().await;
    provision(&app, X4U, "John Smith", &["A One", "A Two", "A Three"]).await;
    let revealed = owner_password(&app).await;
    assert_eq!(revealed, OWNER_PASSWORD);
    for (file, model) in COMMON_FILES {
        let resp = app.phone_get(file, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{file}");
        assert_eq!(
            resp.headers()["content-type"],
            "text/xml; charset=utf-8",
            "{file}"
        );
        let body = resp.text().await.unwrap();
        assert_no_secrets(file, &body);
        assert!(
            body.contains(&format!("Fanvil common file for {model}.")),
            "{file} is {model}'s:\n{body}"
        );
        let doc = parse_xml(&body);
        assert!(doc.descendants().all(|n| !n.has_tag_name("sip")), "{file}");
        assert_eq!(value(&doc, "phone/date/EnableSNTP"), "1", "{file}");
    }
    // A shared name is rendered for the model the User-Agent names.
    let x3sp = Phone {
        model: "X3SP",
        ua: "Fanvil X3SP 2.14.0.7387 0c383e3a5b09",
        ..X3S
    };
    let (body, _) = fetch(&app, x3sp, "f0X3shw1.100.cfg").await;
    assert!(body.contains("Fanvil common file for X3SP."), "{body}");
    // Case matters, and the firmware manifests are not configuration.
    for name in [
        "F0X4HW1.100.CFG",
        "f0x4hw1.100.cfg",
        "fanvil_x5u_v2_hwv2_0.txt",
        "fanvil_v62_hwv1_0.txt",
        "F0V00X600000.cfg",
    ] {
        assert_eq!(
            app.phone_get(name, None).await.status(),
            StatusCode::NOT_FOUND,
            "{name}"
        );
    }
}

#[tokio::test]
async fn user_agents_from_the_reference() {
    // (UA, registered model, lines the UA's model has). A UA whose model was misread would get
    // the default of 6 lines.
    let cases = [
        ("Fanvil X4 2.10.2.6887 0c383e07e16c", "X4", 12),
        ("Fanvil X6U Pro 0.0.10 0c383e2cd782", "X6U", 20),
        ("Fanvil X5U-V2 2.12.16.17 0c383e557eb1", "X5U-V2", 16),
        ("Fanvil V67 2.6.6.187 0c383e2b29e6", "V67", 20),
    ];
    let app = TestApp::spawn().await;
    provision(&app, X3S, "John Smith", &[]).await;
    for (i, (ua, model, capacity)) in cases.into_iter().enumerate() {
        let mac = &ua[ua.len() - 12..];
        let extension = format!("{}", 102 + i);
        let (status, body) = app
            .post(
                "/tenants/testsite.com/users",
                json!({"name": format!("User {extension}"), "extension": extension}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = app
            .post(
                "/devices",
                json!({"mac": mac, "tenant": "testsite.com", "extension": extension,
                       "model": model, "vendor": "fanvil"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let phone = Phone {
            vendor: "fanvil",
            mac,
            model,
            ua,
        };
        let (body, _) = fetch(&app, phone, &format!("{mac}.cfg")).await;
        let doc = parse_xml(&body);
        assert_eq!(lines(&doc).len(), capacity, "{ua}");
        assert!(body.contains(&format!("Fanvil {model} {mac}.")), "{ua}");
    }
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    provision(&app, X4, "John Smith", &[]).await;
    assert_eq!(
        status_of(&app, X4, "0c383e07e16c.cfg").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "0c383e07e16d",
        ua: "Fanvil X4 2.10.2.6887 0c383e07e16d",
        ..X4
    };
    assert_eq!(
        status_of(&app, stranger, "0c383e07e16d.cfg").await,
        StatusCode::NOT_FOUND
    );
    // The registered MAC asked for by a phone whose UA carries another MAC, or a broken one.
    for ua in [
        "Fanvil X4 2.10.2.6887 0c383e07e16d",
        "Fanvil X4 2.10.2.6887 0c383e07e16",
    ] {
        let impostor = Phone { ua, ..X4 };
        assert_eq!(
            status_of(&app, impostor, "0c383e07e16c.cfg").await,
            StatusCode::NOT_FOUND,
            "{ua}"
        );
    }
    let (_, device) = app.get("/devices/0c383e07e16c").await;
    assert_eq!(device["vendor"], "fanvil");
    assert_eq!(device["capacity"], 12);
}

/// The `key_pages` of `model` in the Fanvil profile (keys per page, the side page first), and
/// its `line_keys`.
fn key_pages(model: &str) -> (Vec<u32>, u32) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vendors/fanvil.toml");
    let profile: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let spec = &profile["models"][model];
    let pages = spec.get("key_pages").map_or_else(Vec::new, |list| {
        let list = list.as_str().unwrap();
        list.split(',').map(|n| n.parse().unwrap()).collect()
    });
    (
        pages,
        u32::try_from(spec["line_keys"].as_integer().unwrap()).unwrap(),
    )
}

/// The keys a Fanvil device file shows, in deskprov's words. `pages` are the model's key pages:
/// the side keys (`<dssSide index="1">`, absent when there are none) and the DSS pages
/// (`<internal index="n">`) must each hold exactly their keys, `<Fkey index="1">` on, with
/// Type, Value and Title; a key's position counts on from the pages before it. Blank keys
/// (Type 0, nothing else) are left out.
fn shown_keys(doc: &roxmltree::Document<'_>, pages: &[u32]) -> Vec<ShownKey> {
    let dsskey = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("dsskey"))
        .expect("a <dsskey> section");
    let children: Vec<roxmltree::Node<'_, '_>> =
        dsskey.children().filter(|n| n.is_element()).collect();
    assert_eq!(children[0].tag_name().name(), "FuncKeyPageNum");
    assert_eq!(
        children[0].text(),
        Some((pages.len() - 1).to_string().as_str())
    );
    let groups: Vec<String> = children[1..]
        .iter()
        .map(|n| format!("{}/{}", n.tag_name().name(), n.attribute("index").unwrap()))
        .collect();
    let expected: Vec<String> = (0..pages.len())
        .filter(|&i| i > 0 || pages[0] > 0)
        .map(|i| match i {
            0 => "dssSide/1".to_owned(),
            _ => format!("internal/{i}"),
        })
        .collect();
    assert_eq!(groups, expected, "the model's pages, in order");

    let mut shown = Vec::new();
    let mut before = 0;
    for (group, &size) in children[1..].iter().zip(pages.iter().filter(|&&s| s > 0)) {
        let fkeys: Vec<roxmltree::Node<'_, '_>> =
            group.children().filter(|n| n.is_element()).collect();
        assert_eq!(
            fkeys.len(),
            size as usize,
            "every key of the page is written"
        );
        for (index, fkey) in (1..).zip(fkeys) {
            assert!(fkey.has_tag_name("Fkey"));
            assert_eq!(fkey.attribute("index"), Some(index.to_string().as_str()));
            let fields: Vec<(&str, &str)> = fkey
                .children()
                .filter(|n| n.is_element())
                .map(|n| (n.tag_name().name(), n.text().unwrap_or("")))
                .collect();
            let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
            assert_eq!(names, ["Type", "Value", "Title"]);
            let (code, value, label) = (fields[0].1, fields[1].1, fields[2].1);
            let position = before + index;
            let (kind, value) = match code {
                "0" => {
                    assert_eq!((value, label), ("", ""), "key {position}");
                    continue;
                }
                "2" => ("line", value.strip_prefix("SIP").expect("SIP<n>")),
                "1" => {
                    let (target, rest) = value.rsplit_once('@').expect("<number>@<line>/…");
                    let (line, subtype) = rest.split_once('/').expect("…/<subtype>");
                    assert_eq!(line, "1", "key {position} is on the owner's line");
                    let kind = match subtype {
                        "f" => "speed_dial",
                        "c" => "park",
                        "ba" => "blf",
                        "bc" => "pickup",
                        other => panic!("key {position} has subtype {other}"),
                    };
                    (kind, target)
                }
                other => panic!("key {position} has type {other}"),
            };
            shown.push(ShownKey {
                module: 0,
                position,
                kind: kind.to_owned(),
                value: value.to_owned(),
                label: label.to_owned(),
            });
        }
        before += size;
    }
    shown
}

/// Every model's pages add up to its line keys, so the layout's keys are exactly the ones the
/// file writes.
#[test]
fn key_pages_add_up_to_the_line_keys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vendors/fanvil.toml");
    let profile: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for model in profile["models"].as_table().unwrap().keys() {
        let (pages, line_keys) = key_pages(model);
        assert_eq!(pages.iter().sum::<u32>(), line_keys, "{model}");
    }
}

/// The accounts on the side keys, the user's and the device's keys on the DSS pages, the rest
/// blank. Fanvil takes no expansion module here: a module key is overflow, not in the file.
#[tokio::test]
async fn accounts_and_keys_on_the_dss_pages() {
    let app = TestApp::spawn().await;
    provision(&app, X4U, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, X4U, true).await;
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    golden("fanvil", "x4u-keys", "0c383e2cd783.cfg", &body);
    let doc = parse_xml(&body);
    let (pages, _) = key_pages("X4U");
    let shown = shown_keys(&doc, &pages);
    assert_eq!(
        shown.len(),
        9,
        "3 accounts, 5 user keys, 1 device key: {shown:?}"
    );
    assert_keys_as_laid_out(&app, X4U.mac, shown).await;
    // The three side keys hold the accounts; the DSS pages start with the user's keys.
    assert!(body.contains("<Value>SIP3</Value>"));
    assert!(body.contains("<Value>102@1/ba</Value>"));
    assert!(body.contains("<Value>+4930123456@1/f</Value>"));
    assert!(body.contains("<Value>701@1/c</Value>"));
    assert!(body.contains("<Value>102@1/bc</Value>"));
    assert!(body.contains("<Value>sip:desk@pbx.example.net@1/ba</Value>"));
    assert!(!body.contains("Mary EXP"), "the module key is not written");
    let (_, layout) = app.get(&format!("/devices/{}/layout", X4U.mac)).await;
    assert_eq!(layout["overflow"][0]["label"], "Mary EXP");
    assert_eq!(layout["overflow"][0]["reason"], "beyond_modules");
}

/// A key taken off the list is written blank on the next fetch.
#[tokio::test]
async fn removed_keys_are_blank() {
    let app = TestApp::spawn().await;
    provision(&app, X4U, "John Smith", &[]).await;
    provision_keys(&app, X4U, false).await;
    let (pages, _) = key_pages("X4U");
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    let before = shown_keys(&parse_xml(&body), &pages);
    assert_eq!(
        before.last().map(|k| (k.position, k.value.as_str())),
        Some((7, "*98"))
    );

    let (status, body) = app
        .api(
            Method::PUT,
            &format!("/devices/{}/keys", X4U.mac),
            Some(json!({"keys": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, X4U, "0c383e2cd783.cfg").await;
    let doc = parse_xml(&body);
    let after = shown_keys(&doc, &pages);
    assert_eq!(after, before[..before.len() - 1]);
    // Key 7 is the fourth of the first DSS page (after three side keys), now blank.
    let key = doc
        .descendants()
        .filter(|n| n.has_tag_name("internal") && n.attribute("index") == Some("1"))
        .flat_map(|page| page.children())
        .find(|n| n.has_tag_name("Fkey") && n.attribute("index") == Some("4"))
        .unwrap();
    let texts: Vec<&str> = key
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.text().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["0", "", ""]);
    assert!(!body.contains("*98"));
    assert_keys_as_laid_out(&app, X4U.mac, after).await;
}
