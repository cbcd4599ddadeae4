//! Cisco MPP (68xx/78xx/88xx, 3PCC firmware): golden files, parse-back, capacities, the
//! factory `<model>-3PCC.xml` file pointing at `$MA.xml`, regional keys, secrets only where
//! they belong. The flat-profile helpers here are shared with `vendor_cisco_spa`.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

const M7821: Phone = Phone {
    vendor: "cisco_mpp",
    mac: "00562b0a7821",
    model: "7821",
    ua: "Cisco-CP-7821-3PCC/11.3.7 (00562b0a7821)",
};
const M7861: Phone = Phone {
    vendor: "cisco_mpp",
    mac: "00562b0a7861",
    model: "7861",
    ua: "Cisco-CP-7861-3PCC/12.0.1 (00562b0a7861)",
};
/// The User-Agent from the reference, with its own MAC.
const M7832: Phone = Phone {
    vendor: "cisco_mpp",
    mac: "00562b043615",
    model: "7832",
    ua: "Cisco-CP-7832-3PCC/11.0.1 (00562b043615)",
};

/// Every model the profile lists, with its line capacity.
const MODELS: [(&str, usize); 16] = [
    ("6821", 2),
    ("6841", 4),
    ("6851", 4),
    ("6861", 4),
    ("6871", 6),
    ("7811", 1),
    ("7821", 2),
    ("7832", 1),
    ("7841", 4),
    ("7861", 16),
    ("8811", 10),
    ("8841", 10),
    ("8845", 10),
    ("8851", 10),
    ("8861", 10),
    ("8865", 10),
];

/// A `<flat-profile>` document as element name → text. Panics if it is not well-formed XML,
/// if the root is not `flat-profile`, if an element has children, or if a key repeats (the
/// phone would silently keep the last one).
pub fn flat_profile(body: &str) -> BTreeMap<String, String> {
    let doc = parse_xml(body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "flat-profile");
    let mut out = BTreeMap::new();
    for el in root.children().filter(|n| n.is_element()) {
        assert!(
            !el.children().any(|c| c.is_element()),
            "nested element in {}",
            el.tag_name().name()
        );
        let name = el.tag_name().name().to_owned();
        let text = el.text().unwrap_or("").to_owned();
        assert!(
            out.insert(name.clone(), text).is_none(),
            "{name} appears twice"
        );
    }
    out
}

/// The value of `key`, which must be present.
pub fn val<'a>(profile: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    profile
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .as_str()
}

/// The keys of one occupied line.
pub fn line_keys(n: usize) -> Vec<String> {
    [
        "Line_Enable",
        "Display_Name",
        "User_ID",
        "Use_Auth_ID",
        "Auth_ID",
        "Password",
        "Proxy",
        "Use_DNS_SRV",
        "SIP_Transport",
        "Register",
        "Register_Expires",
        "Use_Outbound_Proxy",
        "Outbound_Proxy",
        "Mailbox_ID",
    ]
    .iter()
    .map(|k| format!("{k}_{n}_"))
    .collect()
}

/// The keys of a line with nothing on it.
pub fn unused_line_keys(n: usize) -> Vec<String> {
    vec![format!("Line_Enable_{n}_")]
}

/// The keys of line key `p`, whatever it shows.
pub fn key_slot(p: usize) -> Vec<String> {
    ["Extension", "Short_Name", "Extended_Function"]
        .iter()
        .map(|k| format!("{k}_{p}_"))
        .collect()
}

/// Time, NTP and language keys; the DST rule only where deskprov knows it.
pub fn regional_keys(with_dst_rule: bool) -> Vec<String> {
    let mut keys = vec![
        "Time_Zone",
        "Daylight_Saving_Time_Enable",
        "Primary_NTP_Server",
        "Language_Selection",
        "Locale",
    ];
    if with_dst_rule {
        keys.push("Daylight_Saving_Time_Rule");
    }
    keys.into_iter().map(String::from).collect()
}

/// The exact key set of a per-device file: `lines` occupied of `capacity`, `line_keys` line
/// keys, plus `extra`.
pub fn device_keys(
    lines: usize,
    capacity: usize,
    line_keys_on_phone: usize,
    extra: &[&str],
) -> BTreeSet<String> {
    let mut keys: Vec<String> = (1..=lines).flat_map(line_keys).collect();
    keys.extend((lines + 1..=capacity).flat_map(unused_line_keys));
    keys.extend((1..=line_keys_on_phone).flat_map(key_slot));
    keys.extend(regional_keys(true));
    keys.extend(extra.iter().map(|k| k.to_string()));
    keys.into_iter().collect()
}

/// The exact key set of an MPP per-device file of a model with as many line keys as lines: the
/// lines, the admin password, voicemail (the number, and per line the server of the
/// message-waiting subscription).
pub fn mpp_device_keys(lines: usize, capacity: usize) -> BTreeSet<String> {
    let mut extra: Vec<String> = [
        "Station_Display_Name",
        "Admin_Password",
        "Voice_Mail_Number",
    ]
    .map(String::from)
    .to_vec();
    extra.extend((1..=lines).map(|n| format!("Voice_Mail_Server_{n}_")));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    device_keys(lines, capacity, capacity, &extra)
}

/// The exact key set of a common file (`with_dst_rule`: the zone has a known DST rule).
pub fn common_keys(with_dst_rule: bool) -> BTreeSet<String> {
    let mut keys = regional_keys(with_dst_rule);
    keys.extend(
        [
            "Profile_Rule",
            "Profile_Rule_B",
            "Profile_Rule_C",
            "Profile_Rule_D",
            "Resync_On_Reset",
        ]
        .map(String::from),
    );
    keys.into_iter().collect()
}

/// The regional values of the `testsite.com` tenant (Berlin, German, its NTP server).
pub fn assert_berlin_german(p: &BTreeMap<String, String>) {
    assert_eq!(val(p, "Time_Zone"), "GMT+01:00");
    assert_eq!(val(p, "Daylight_Saving_Time_Enable"), "Yes");
    assert_eq!(
        val(p, "Daylight_Saving_Time_Rule"),
        "start=3/-1/7/2;end=10/-1/7/3;save=1",
        "EU rule: 01:00 UTC is 02:00 CET and 03:00 CEST"
    );
    assert_eq!(val(p, "Primary_NTP_Server"), "ntp.testsite.com");
    assert_eq!(val(p, "Language_Selection"), "German");
    assert_eq!(val(p, "Locale"), "de-DE");
}

/// Sets the tenant's phone URL key.
pub async fn set_url_key(app: &TestApp, key: &str) {
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"url_key": key}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Patches the tenant's settings.
pub async fn patch_tenant(app: &TestApp, patch: serde_json::Value) {
    let (status, body) = app
        .api(Method::PATCH, "/tenants/testsite.com", Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A server whose phones reach it at a fixed public URL, so common files are stable.
pub async fn app_with_public_url() -> TestApp {
    TestApp::spawn_with(|c| c.public_url = Some("https://prov.testsite.com".into())).await
}

#[tokio::test]
async fn few_lines_model() {
    let app = TestApp::spawn().await;
    provision(&app, M7821, "John Smith", &["John Support"]).await;
    let (body, content_type) = fetch(&app, M7821, "00562b0a7821.xml").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("cisco_mpp", "7821-one-alias", "00562b0a7821.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        mpp_device_keys(2, 2)
    );
    assert_eq!(val(&p, "Station_Display_Name"), "John Smith");
    assert_eq!(val(&p, "Line_Enable_1_"), "Yes");
    assert_eq!(val(&p, "Display_Name_1_"), "John Smith");
    assert_eq!(val(&p, "User_ID_1_"), "testsitecom_101");
    assert_eq!(val(&p, "Auth_ID_1_"), "testsitecom_101");
    assert_eq!(val(&p, "Use_Auth_ID_1_"), "Yes");
    assert_eq!(val(&p, "Password_1_"), OWNER_PASSWORD);
    assert_eq!(val(&p, "Display_Name_2_"), "John Support");
    assert_eq!(val(&p, "Short_Name_2_"), "John Support");
    assert_eq!(val(&p, "User_ID_2_"), "testsitecom_101_2");
    assert_eq!(val(&p, "Password_2_"), alias_password(1));
    for n in 1..=2 {
        assert_eq!(val(&p, &format!("Proxy_{n}_")), "pbx.testsite.com:5062");
        assert_eq!(val(&p, &format!("SIP_Transport_{n}_")), "TCP");
        assert_eq!(val(&p, &format!("Use_DNS_SRV_{n}_")), "No");
        assert_eq!(val(&p, &format!("Register_{n}_")), "Yes");
        assert_eq!(val(&p, &format!("Register_Expires_{n}_")), "3600");
        assert_eq!(val(&p, &format!("Use_Outbound_Proxy_{n}_")), "No");
        assert_eq!(val(&p, &format!("Outbound_Proxy_{n}_")), "");
        assert_eq!(val(&p, &format!("Extension_{n}_")), n.to_string());
    }
    assert_berlin_german(&p);
    assert_eq!(val(&p, "Admin_Password"), ADMIN_PASSWORD);
    assert_eq!(val(&p, "Voice_Mail_Number"), VOICEMAIL);
    assert_eq!(val(&p, "Mailbox_ID_1_"), "testsitecom_101");
    assert_eq!(val(&p, "Mailbox_ID_2_"), "testsitecom_101_2");
    assert_eq!(val(&p, "Voice_Mail_Server_2_"), "pbx.testsite.com");

    let (common, content_type) = fetch(&app, M7821, "7821-3PCC.xml").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    assert_no_secrets("7821-3PCC.xml", &common);
    assert_eq!(
        flat_profile(&common)
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        common_keys(false)
    );
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        M7861,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, M7861, "00562b0a7861.xml").await;
    golden("cisco_mpp", "7861-tricky-names", "00562b0a7861.xml", &body);
    assert!(
        body.contains("A &#38; B &#60;x&#62;") && !body.contains("<x>"),
        "names are XML-escaped"
    );
    let p = flat_profile(&body);
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        mpp_device_keys(4, 16)
    );
    assert_eq!(
        val(&p, "Display_Name_1_"),
        TRICKY_NAME,
        "intact after parsing"
    );
    assert_eq!(val(&p, "Short_Name_1_"), TRICKY_NAME);
    assert_eq!(val(&p, "Station_Display_Name"), TRICKY_NAME);
    assert_eq!(val(&p, "Short_Name_3_"), "Zoë Ångström");
    assert_eq!(val(&p, "Display_Name_4_"), "李小龍");
    assert_eq!(val(&p, "Password_4_"), alias_password(3));
    for n in 5..=16 {
        assert_eq!(val(&p, &format!("Line_Enable_{n}_")), "No");
        assert_eq!(val(&p, &format!("Extension_{n}_")), "Disabled");
        assert_eq!(val(&p, &format!("Short_Name_{n}_")), "");
    }
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        M7821,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    golden("cisco_mpp", "7821-overflow", "00562b0a7821.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        mpp_device_keys(2, 2)
    );
    assert_eq!(val(&p, "Display_Name_2_"), "Alias One");
    assert!(!body.contains("Alias Two") && !body.contains("Alias Three"));
    let (lines, overflow) = line_map(&app, M7821.mac).await;
    assert_eq!(lines, ["John Smith", "Alias One"]);
    assert_eq!(overflow, ["Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // No "vendor": the 00:56:2B block names the profile.
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": M7832.mac, "tenant": "testsite.com", "extension": "101", "model": "7832"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        status_of(&app, M7832, "00562b043615.xml").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "00562b043616",
        ua: "Cisco-CP-7832-3PCC/11.0.1 (00562b043616)",
        ..M7832
    };
    assert_eq!(
        status_of(&app, stranger, "00562b043616.xml").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, stranger, "00562b043615.xml").await,
        StatusCode::NOT_FOUND,
        "a UA naming another MAC is refused"
    );
    let (body, _) = fetch(&app, M7832, "00562b043615.xml").await;
    assert_eq!(
        val(&flat_profile(&body), "Password_1_"),
        owner_password(&app).await,
        "the password the API reveals is the one on the phone"
    );
    let (_, device) = app.get("/devices/00562b043615").await;
    assert_eq!(device["vendor"], "cisco_mpp");
    assert_eq!(device["capacity"], 1);
    let (_, lines) = app.get("/devices/00562b043615/lines").await;
    assert_eq!(lines["lines"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_model_common_file_points_at_the_device_file_and_holds_no_secret() {
    let app = app_with_public_url().await;
    provision(&app, M7832, "John Smith", &["John Support", "John Sales"]).await;
    // Without a tenant URL key the phone's tenant is unknown: built-in defaults.
    let (common, _) = fetch(&app, M7832, "7832-3PCC.xml").await;
    golden("cisco_mpp", "common", "7832-3PCC.xml", &common);
    let p = flat_profile(&common);
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        common_keys(false)
    );
    assert_eq!(
        val(&p, "Profile_Rule"),
        "https://prov.testsite.com/$PSN.xml"
    );
    assert_eq!(
        val(&p, "Profile_Rule_B"),
        "https://prov.testsite.com/$MA.xml"
    );
    assert_eq!(val(&p, "Profile_Rule_C"), "");
    assert_eq!(val(&p, "Profile_Rule_D"), "");
    assert_eq!(val(&p, "Time_Zone"), "GMT+00:00");
    assert_eq!(val(&p, "Daylight_Saving_Time_Enable"), "No");
    assert_eq!(val(&p, "Primary_NTP_Server"), "pool.ntp.org");
    assert_eq!(val(&p, "Language_Selection"), "English");
    assert_eq!(val(&p, "Locale"), "en-US");

    for (model, _) in MODELS {
        let name = format!("{model}-3PCC.xml");
        let ua = format!("Cisco-CP-{model}-3PCC/12.0.1 (00562b043615)");
        let resp = app.phone_get(&name, Some(&ua)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        let body = resp.text().await.unwrap();
        assert_no_secrets(&name, &body);
        assert!(
            body.contains(&format!("common file for {model}.")),
            "{name}:\n{body}"
        );
        assert_eq!(
            val(&flat_profile(&body), "Profile_Rule_B"),
            "https://prov.testsite.com/$MA.xml"
        );
    }
    assert_eq!(
        status_of(&app, M7832, "9999-3PCC.xml").await,
        StatusCode::NOT_FOUND
    );

    // With the tenant's URL key: the key is in every rule, and the tenant's settings apply.
    let key = "k3y-0123456789abcdef";
    set_url_key(&app, key).await;
    let (common, _) = fetch(&app, M7832, &format!("{key}/7832-3PCC.xml")).await;
    golden("cisco_mpp", "common-url-key", "7832-3PCC.xml", &common);
    assert_no_secrets("7832-3PCC.xml", &common);
    let p = flat_profile(&common);
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        common_keys(true)
    );
    assert_eq!(
        val(&p, "Profile_Rule"),
        format!("https://prov.testsite.com/{key}/$PSN.xml")
    );
    assert_eq!(
        val(&p, "Profile_Rule_B"),
        format!("https://prov.testsite.com/{key}/$MA.xml")
    );
    assert_berlin_german(&p);
    // ... and the file Profile_Rule_B names is served under that key.
    let (device, _) = fetch(&app, M7832, &format!("{key}/00562b043615.xml")).await;
    assert_eq!(val(&flat_profile(&device), "Password_1_"), OWNER_PASSWORD);
}

#[tokio::test]
async fn dns_srv_and_outbound_proxy() {
    let app = TestApp::spawn().await;
    provision(&app, M7821, "John Smith", &["John Support"]).await;
    patch_tenant(
        &app,
        json!({"transport": "dns_srv", "outbound_proxy": "sbc.testsite.com", "outbound_proxy_port": 5070}),
    )
    .await;
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    golden("cisco_mpp", "7821-srv-outbound", "00562b0a7821.xml", &body);
    let p = flat_profile(&body);
    for n in 1..=2 {
        assert_eq!(val(&p, &format!("SIP_Transport_{n}_")), "AUTO");
        assert_eq!(val(&p, &format!("Use_DNS_SRV_{n}_")), "Yes");
        assert_eq!(
            val(&p, &format!("Proxy_{n}_")),
            "pbx.testsite.com",
            "SRV finds the port"
        );
        assert_eq!(val(&p, &format!("Use_Outbound_Proxy_{n}_")), "Yes");
        assert_eq!(val(&p, &format!("Outbound_Proxy_{n}_")), "sbc.testsite.com");
    }

    patch_tenant(&app, json!({"transport": "udp"})).await;
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "SIP_Transport_1_"), "UDP");
    assert_eq!(val(&p, "Use_DNS_SRV_1_"), "No");
    assert_eq!(val(&p, "Proxy_1_"), "pbx.testsite.com:5062");
    assert_eq!(val(&p, "Outbound_Proxy_1_"), "sbc.testsite.com:5070");
    patch_tenant(&app, json!({"transport": "tls"})).await;
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    assert_eq!(val(&flat_profile(&body), "SIP_Transport_2_"), "TLS");
}

#[tokio::test]
async fn time_zones_and_languages() {
    let app = TestApp::spawn().await;
    provision(&app, M7821, "John Smith", &[]).await;
    let eu = |start: u8| format!("start=3/-1/7/{start};end=10/-1/7/{};save=1", start + 1);
    let us = "start=3/8/7/2;end=11/1/7/2;save=1".to_owned();
    let rule = |r: &str| Some(r.to_owned());
    let cases: [(&str, &str, Option<String>); 17] = [
        ("UTC", "GMT+00:00", None),
        ("Europe/London", "GMT+00:00", Some(eu(1))),
        ("Europe/Berlin", "GMT+01:00", Some(eu(2))),
        ("Europe/Helsinki", "GMT+02:00", Some(eu(3))),
        ("Atlantic/Azores", "GMT-01:00", Some(eu(0))),
        ("America/New_York", "GMT-05:00", Some(us.clone())),
        ("America/St_Johns", "GMT-03:30", Some(us.clone())),
        ("America/Phoenix", "GMT-07:00", None),
        ("Asia/Kolkata", "GMT+05:30", None),
        // Southern hemisphere: on in October, off in April at 03:00 summer time.
        (
            "Australia/Sydney",
            "GMT+10:00",
            rule("start=10/1/7/2;end=4/1/7/3;save=1"),
        ),
        ("Australia/Brisbane", "GMT+10:00", None),
        (
            "Pacific/Auckland",
            "GMT+12:00",
            rule("start=9/-1/7/2;end=4/1/7/3;save=1"),
        ),
        // Brazil dropped summer time in 2019, Iran in 2022.
        ("America/Sao_Paulo", "GMT-03:00", None),
        ("Asia/Tehran", "GMT+03:30", None),
        // Rules no table held: Chile changes at midnight on the first Sunday of September and
        // April; Israel on the last Friday of March (in 2025) and the last Sunday of October.
        (
            "America/Santiago",
            "GMT-04:00",
            rule("start=9/1/7/0;end=4/1/7/0;save=1"),
        ),
        (
            "Asia/Jerusalem",
            "GMT+02:00",
            rule("start=3/-1/5/2;end=10/-1/7/2;save=1"),
        ),
        // Half an hour saved.
        (
            "Australia/Lord_Howe",
            "GMT+10:30",
            rule("start=10/1/7/2;end=4/1/7/2;save=0:30"),
        ),
    ];
    for (tz, offset, rule) in cases {
        patch_tenant(&app, json!({"timezone": tz})).await;
        let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
        let p = flat_profile(&body);
        assert_eq!(val(&p, "Time_Zone"), offset, "{tz}");
        assert_eq!(
            val(&p, "Daylight_Saving_Time_Enable"),
            if rule.is_some() { "Yes" } else { "No" },
            "{tz}"
        );
        assert_eq!(p.get("Daylight_Saving_Time_Rule"), rule.as_ref(), "{tz}");
    }
    for (code, name, locale) in [
        ("en", "English", "en-US"),
        ("fr", "French", "fr-FR"),
        ("nb", "Norwegian", "nn-NO"),
        ("zh", "Chinese", "zh-CN"),
    ] {
        patch_tenant(&app, json!({"language": code})).await;
        let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
        let p = flat_profile(&body);
        assert_eq!(val(&p, "Language_Selection"), name, "{code}");
        assert_eq!(val(&p, "Locale"), locale, "{code}");
    }
}

/// An 8861: ten line keys and up to three key expansion modules of 28 keys.
const M8861: Phone = Phone {
    vendor: "cisco_mpp",
    mac: "00562b0a8861",
    model: "8861",
    ua: "Cisco-CP-8861-3PCC/12.0.4 (00562b0a8861)",
};

/// A function string (`fnc=blf+sd;sub=102@$PROXY;…`) as a key, in deskprov's words: its kind,
/// its target (an extension, or the `sip:` URI of an external one) and its label.
fn shown_function(text: &str) -> (String, String, String) {
    let fields: BTreeMap<&str, &str> = text
        .split(';')
        .map(|f| {
            f.split_once('=')
                .unwrap_or_else(|| panic!("field {f:?} in {text}"))
        })
        .collect();
    let field = |name: &str| {
        *fields
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let (kind, target) = match field("fnc") {
        "blf+sd" => ("blf", field("sub")),
        "blf+cp" => ("pickup", field("sub")),
        "sd" => ("speed_dial", field("ext")),
        "prk" => ("park", field("sub")),
        other => panic!("unexpected function {other} in {text}"),
    };
    if let Some(ext) = fields.get("ext") {
        assert_eq!(*ext, target, "sub and ext aim at one target: {text}");
    }
    let value = match target.strip_suffix("@$PROXY") {
        Some(extension) => extension.to_owned(),
        None => format!("sip:{target}"),
    };
    (kind.to_owned(), value, field("nme").to_owned())
}

/// One key as a Cisco profile shows it: an extension on the key, else its function, else
/// nothing (a blank key).
fn shown_key(
    (module, position): (u32, u32),
    extension: &str,
    label: &str,
    function: &str,
) -> Option<ShownKey> {
    let (kind, value, label) = if extension != "Disabled" {
        assert_eq!(function, "", "a key that shows an account has no function");
        ("line".to_owned(), extension.to_owned(), label.to_owned())
    } else if !function.is_empty() {
        let (kind, value, name) = shown_function(function);
        // A function's fields cannot hold `;`: the name has `,` instead.
        assert_eq!(
            name,
            label.replace(';', ","),
            "the short name is the function's name"
        );
        (kind, value, label.to_owned())
    } else {
        assert_eq!(label, "", "a blank key has no name");
        return None;
    };
    Some(ShownKey {
        module,
        position,
        kind,
        value,
        label,
    })
}

/// The keys of a Cisco profile: line keys 1…`line_keys` (every one written), then the keys of
/// each module the profile names, whose tags end in `unit_suffix` (`_` on MPP, none on SPA);
/// `unit_extensions`: module keys carry `Unit_n_Extension_m_` (MPP).
pub fn cisco_keys(
    p: &BTreeMap<String, String>,
    line_keys: u32,
    unit_suffix: &str,
    unit_extensions: bool,
) -> Vec<ShownKey> {
    let mut shown: Vec<ShownKey> = (1..=line_keys)
        .filter_map(|n| {
            shown_key(
                (0, n),
                val(p, &format!("Extension_{n}_")),
                val(p, &format!("Short_Name_{n}_")),
                val(p, &format!("Extended_Function_{n}_")),
            )
        })
        .collect();
    for (tag, function) in p {
        let Some(rest) = tag
            .strip_prefix("Unit_")
            .and_then(|r| r.strip_suffix(unit_suffix))
        else {
            continue;
        };
        let Some((unit, key)) = rest.split_once("_Key_") else {
            continue;
        };
        let (unit, key): (u32, u32) = (unit.parse().unwrap(), key.parse().unwrap());
        let (extension, label) = if unit_extensions {
            (
                val(p, &format!("Unit_{unit}_Extension_{key}_")),
                val(p, &format!("Unit_{unit}_Short_Name_{key}_")),
            )
        } else {
            let name = function
                .split(';')
                .find_map(|f| f.strip_prefix("nme="))
                .unwrap_or("");
            ("Disabled", name)
        };
        shown.extend(shown_key((unit, key), extension, label, function));
    }
    shown
}

/// Every account and the standard keys on a 7861 (16 line keys, no modules): the plan's three
/// accounts first, then the user's keys and the device's speed dial, read back from the file.
#[tokio::test]
async fn keys_of_a_phone_without_modules_are_laid_out() {
    let app = TestApp::spawn().await;
    provision(&app, M7861, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, M7861, false).await;
    let (body, _) = fetch(&app, M7861, "00562b0a7861.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "Extension_3_"), "3", "the third account on key 3");
    assert_eq!(
        val(&p, "Extended_Function_4_"),
        "fnc=blf+sd;sub=102@$PROXY;ext=102@$PROXY;nme=Mary Jones"
    );
    assert_eq!(
        val(&p, "Extended_Function_5_"),
        "fnc=sd;ext=+4930123456@$PROXY;vid=1;nme=Office"
    );
    assert_eq!(
        val(&p, "Extended_Function_6_"),
        "fnc=prk;sub=701@$PROXY;nme=701"
    );
    assert_eq!(
        val(&p, "Extended_Function_7_"),
        "fnc=blf+cp;sub=102@$PROXY;ext=102@$PROXY;nme=Pick Mary"
    );
    assert_eq!(
        val(&p, "Extended_Function_8_"),
        "fnc=blf+sd;sub=desk@pbx.example.net;ext=desk@pbx.example.net;nme=desk",
        "an external target without its scheme, at its own host"
    );
    assert_eq!(
        val(&p, "Extension_16_"),
        "Disabled",
        "the last key is blank"
    );
    assert!(!p.keys().any(|k| k.starts_with("Unit_")), "no module keys");
    assert_keys_as_laid_out(&app, M7861.mac, cisco_keys(&p, 16, "_", true)).await;
}

/// The standard keys with one on the first module of an 8861, as a golden file.
#[tokio::test]
async fn keys_on_an_expansion_module() {
    let app = TestApp::spawn().await;
    provision(&app, M8861, "John Smith", &["John Support"]).await;
    provision_keys(&app, M8861, true).await;
    let (body, _) = fetch(&app, M8861, "00562b0a8861.xml").await;
    golden("cisco_mpp", "8861-keys", "00562b0a8861.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(
        val(&p, "Unit_1_Key_2_"),
        "fnc=blf+sd;sub=102@$PROXY;ext=102@$PROXY;nme=Mary EXP"
    );
    assert_eq!(val(&p, "Unit_1_Extension_2_"), "Disabled");
    // The module's other keys are written blank, and so is every key of the modules without
    // keys (the phone keeps a value the file leaves out): 28 keys on each of three modules.
    assert_eq!(val(&p, "Unit_1_Key_28_"), "");
    assert!(!p.contains_key("Unit_1_Key_29_"));
    assert_eq!(val(&p, "Unit_3_Key_28_"), "");
    assert!(!p.keys().any(|k| k.starts_with("Unit_4_")));
    assert_keys_as_laid_out(&app, M8861.mac, cisco_keys(&p, 10, "_", true)).await;
}

/// A key taken off the user's list is written blank, so the phone drops it; a label's `;`
/// cannot break the function string.
#[tokio::test]
async fn a_removed_key_is_written_blank() {
    let app = TestApp::spawn().await;
    provision(&app, M7821, "John Smith", &[]).await;
    provision_keys(&app, M7821, false).await;
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    let p = flat_profile(&body);
    assert_eq!(
        val(&p, "Extended_Function_2_"),
        "fnc=blf+sd;sub=102@$PROXY;ext=102@$PROXY;nme=Mary Jones"
    );
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "park", "value": "702", "label": "Park; left", "position": 2}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .api(
            Method::PUT,
            "/devices/00562b0a7821/keys",
            Some(json!({"keys": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    let p = flat_profile(&body);
    assert_eq!(
        val(&p, "Extended_Function_2_"),
        "fnc=prk;sub=702@$PROXY;nme=Park, left"
    );
    assert_keys_as_laid_out(&app, M7821.mac, cisco_keys(&p, 2, "_", true)).await;
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, M7821, "00562b0a7821.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "Extension_2_"), "Disabled");
    assert_eq!(val(&p, "Short_Name_2_"), "");
    assert_eq!(val(&p, "Extended_Function_2_"), "");
    assert_eq!(
        p.keys().cloned().collect::<BTreeSet<_>>(),
        mpp_device_keys(1, 2)
    );
}
