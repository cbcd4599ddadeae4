//! Grandstream: golden files, parse-back of both XML forms (P-values and alias items),
//! capacities, the binary requests that must stay 404, secrets only where they belong.

use std::collections::BTreeSet;

use deskprov::profile::Vendors;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_kit::*;

/// A real GRP2614 User-Agent with its own MAC (wazo-provd-plugins `wazo_grandstream`).
const GRP2614: Phone = Phone {
    vendor: "grandstream",
    mac: "c074ad0b63ee",
    model: "GRP2614",
    ua: "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ee",
};
/// A P-value model with two accounts. The UA follows the reference's format with this model,
/// a GXP16xx firmware number and this MAC (no GXP1625 UA is quoted in the reference).
const GXP1625: Phone = Phone {
    vendor: "grandstream",
    mac: "000b821a2b3c",
    model: "GXP1625",
    ua: "Grandstream Model HW GXP1625 SW 1.0.7.81 DevId 000b821a2b3c",
};
/// An alias-form model with six accounts, twelve line keys and expansion modules, in the third
/// OUI. UA in the reference's format.
const GXP2170: Phone = Phone {
    vendor: "grandstream",
    mac: "ec74d7002170",
    model: "GXP2170",
    ua: "Grandstream Model HW GXP2170 V1.0A SW 1.0.11.79 DevId ec74d7002170",
};

const CET: &str = "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00";

/// A Grandstream file read back through an XML parser.
#[derive(Debug)]
struct GsFile {
    /// The `<mac>` element, if any.
    mac: Option<String>,
    /// `<config version="…">`: "1" for P-values, "2" for alias items.
    version: String,
    /// (key, value) in document order: `P47` or `account.1.sip.userid`.
    values: Vec<(String, String)>,
}

impl GsFile {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn value(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{key} missing in {:?}", self.values))
    }

    fn keys(&self) -> BTreeSet<String> {
        let keys: BTreeSet<String> = self.values.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys.len(), self.values.len(), "a key is written twice");
        keys
    }
}

/// Parses `<gs_provision version="1">[<mac>]<config version="1|2">…</config></gs_provision>`.
fn parse_gs(body: &str) -> GsFile {
    let doc = parse_xml(body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "gs_provision");
    assert_eq!(root.attribute("version"), Some("1"));
    let elements: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    let (mac, config) = match elements.as_slice() {
        [config] => (None, *config),
        [mac, config] => {
            assert_eq!(mac.tag_name().name(), "mac");
            (Some(mac.text().unwrap_or_default().to_owned()), *config)
        }
        other => panic!("unexpected children of gs_provision: {other:?}"),
    };
    assert_eq!(config.tag_name().name(), "config");
    let version = config
        .attribute("version")
        .expect("config version")
        .to_owned();
    let values = config
        .children()
        .filter(|n| n.is_element())
        .map(|n| {
            let key = match version.as_str() {
                "1" => {
                    let tag = n.tag_name().name();
                    assert!(
                        tag.starts_with('P') && tag[1..].bytes().all(|b| b.is_ascii_digit()),
                        "not a P-value: {tag}"
                    );
                    tag.to_owned()
                }
                "2" => {
                    assert_eq!(n.tag_name().name(), "item");
                    n.attribute("name").expect("item name").to_owned()
                }
                v => panic!("unknown config version {v}"),
            };
            (key, n.text().unwrap_or_default().to_owned())
        })
        .collect();
    GsFile {
        mac,
        version,
        values,
    }
}

/// P-value keys: (account 1, account 2) numbers of each account field.
const P_ACCOUNT: [(&str, &str); 13] = [
    ("P271", "P401"), // enable
    ("P270", "P417"), // label
    ("P3", "P407"),   // display name
    ("P35", "P404"),  // user
    ("P36", "P405"),  // auth user
    ("P34", "P406"),  // password
    ("P47", "P402"),  // server:port
    ("P103", "P408"), // DNS mode
    ("P130", "P448"), // transport
    ("P32", "P412"),  // expiry, minutes
    ("P48", "P403"),  // outbound proxy
    ("P33", "P426"),  // voicemail number
    ("P99", "P415"),  // subscribe for message waiting
];
const P_SETTINGS: [&str; 4] = ["P30", "P64", "P246", "P1362"];
const ALIAS_SETTINGS: [&str; 4] = [
    "dateTime.ntp.server.1",
    "dateTime.timezone",
    "dateTime.timezone.custom",
    "language.gui",
];

/// The P-values of line key `n` (from 0): mode, account, name, value ([GS-T21old]).
fn pvalue_line_key(n: usize) -> [String; 4] {
    [1363 + 2 * n, 1364 + 2 * n, 1465 + 2 * n, 1466 + 2 * n].map(|p| format!("P{p}"))
}

/// The key set of a per-device file in P-values: the settings, the admin password (P2), the
/// accounts, every line key.
fn pvalue_keys(lines: usize, capacity: usize, line_keys: usize) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = P_SETTINGS.iter().map(|k| k.to_string()).collect();
    keys.insert("P2".to_owned());
    for (one, two) in P_ACCOUNT {
        keys.insert(one.to_owned());
        if lines >= 2 {
            keys.insert(two.to_owned());
        }
    }
    if lines < 2 && capacity >= 2 {
        keys.insert("P401".to_owned());
    }
    keys.extend((0..line_keys).flat_map(pvalue_line_key));
    keys
}

/// The module key numbers of a GXP2170: up to four GXP2200EXT of 40 keys, all written.
const GXP2170_EXT_KEYS: std::ops::RangeInclusive<u32> = 1..=160;

/// The items of key `n` of `section` (`vpk` for the phone's line keys, `ext` on modules).
fn alias_key(section: &str, n: u32) -> [String; 4] {
    ["keyMode", "account", "description", "value"].map(|f| format!("pks.{section}.{n}.{f}"))
}

/// The key set of a per-device file in alias items: the settings, the admin password, the
/// accounts, every line key.
fn alias_keys(lines: usize, capacity: usize, line_keys: u32) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = ALIAS_SETTINGS.iter().map(|k| k.to_string()).collect();
    keys.insert("users.admin.password".to_owned());
    for n in 1..=lines {
        for field in [
            "enable",
            "name",
            "sip.subscriber.name",
            "sip.userid",
            "sip.subscriber.userid",
            "sip.subscriber.password",
            "sip.server.1.address",
            "sip.transport",
            "sip.registerExpiration",
            "sip.outboundProxy.1.address",
            "sip.voicemail.number",
            "sip.subscribe.forMwi",
        ] {
            keys.insert(format!("account.{n}.{field}"));
        }
    }
    keys.extend((lines + 1..=capacity).map(|n| format!("account.{n}.enable")));
    keys.extend((1..=line_keys).flat_map(|n| alias_key("vpk", n)));
    keys
}

/// Reads a file's keys back in deskprov's words: `pks.vpk.N` is the phone's key N, `pks.ext.N`
/// key N of the modules of `module_size` keys in turn; a line key shows its account (from 0 in
/// the file), the others their value. Blank keys (None) are left out. Pickup keys come back as
/// `blf`: Grandstream has no pickup mode and writes them as BLF keys.
fn shown_keys(f: &GsFile, module_size: u32) -> Vec<ShownKey> {
    f.values
        .iter()
        .filter_map(|(name, mode)| {
            let rest = name.strip_prefix("pks.")?.strip_suffix(".keyMode")?;
            let (section, n) = rest.split_once('.').unwrap();
            let n: u32 = n.parse().unwrap();
            let (module, position) = match section {
                "vpk" => (0, n),
                "ext" => ((n - 1) / module_size + 1, (n - 1) % module_size + 1),
                other => panic!("unexpected key section {other}"),
            };
            let item = |field: &str| f.value(&format!("pks.{section}.{n}.{field}")).to_owned();
            let account: usize = item("account").parse().unwrap();
            let kind = match mode.as_str() {
                "-1" => return None,
                "31" => "line",
                "1" => "blf",
                "0" => "speed_dial",
                "9" => "park",
                other => panic!("unexpected key mode {other}"),
            };
            let value = if kind == "line" {
                assert_eq!(item("value"), "", "a line key's account says it all");
                (account + 1).to_string()
            } else {
                assert_eq!(account, 0, "keys other than lines use the owner's account");
                item("value")
            };
            Some(ShownKey {
                module,
                position,
                kind: kind.to_owned(),
                value,
                label: item("description"),
            })
        })
        .collect()
}

/// Grandstream has no pickup mode: a pickup key is a BLF key (pressing a ringing BLF key picks
/// the call up), so the files show the layout's pickup keys as BLF keys.
const PICKUP_AS_BLF: &[(&str, &str)] = &[("pickup", "blf")];

#[tokio::test]
async fn few_lines_model_in_p_values() {
    let app = TestApp::spawn().await;
    provision(&app, GXP1625, "John Smith", &["John Support"]).await;
    let (body, content_type) = fetch(&app, GXP1625, "cfg000b821a2b3c.xml").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden(
        "grandstream",
        "gxp1625-one-alias",
        "cfg000b821a2b3c.xml",
        &body,
    );
    let f = parse_gs(&body);
    assert_eq!(f.mac.as_deref(), Some("000b821a2b3c"));
    assert_eq!(f.version, "1", "GXP16xx use P-values");
    assert_eq!(f.keys(), pvalue_keys(2, 2, 2));
    for (key, value) in [
        ("P271", "1"),
        ("P270", "John Smith"),
        ("P3", "John Smith"),
        ("P35", "testsitecom_101"),
        ("P36", "testsitecom_101"),
        ("P34", OWNER_PASSWORD),
        ("P47", "pbx.testsite.com:5062"),
        ("P103", "0"),
        ("P130", "1"),
        ("P32", "60"),
        ("P48", ""),
        ("P401", "1"),
        ("P417", "John Support"),
        ("P407", "John Support"),
        ("P404", "testsitecom_101_2"),
        ("P405", "testsitecom_101_2"),
        ("P406", &alias_password(1)),
        ("P402", "pbx.testsite.com:5062"),
        ("P408", "0"),
        ("P448", "1"),
        ("P412", "60"),
        ("P403", ""),
        ("P33", VOICEMAIL),
        ("P99", "1"),
        ("P426", VOICEMAIL),
        ("P415", "1"),
        // Line keys: Line mode (0) on accounts 1 and 2 (from 0), named after them.
        ("P1363", "0"),
        ("P1364", "0"),
        ("P1465", "John Smith"),
        ("P1466", ""),
        ("P1365", "0"),
        ("P1366", "1"),
        ("P1467", "John Support"),
        ("P1468", ""),
        ("P2", ADMIN_PASSWORD),
        ("P30", "ntp.testsite.com"),
        ("P64", CET),
        ("P246", CET),
        ("P1362", "de"),
    ] {
        assert_eq!(f.value(key), value, "{key}");
    }

    for name in ["cfggxp1625.xml", "cfg.xml"] {
        let (common, content_type) = fetch(&app, GXP1625, name).await;
        assert_eq!(content_type, "text/xml; charset=utf-8");
        golden("grandstream", "gxp1625-one-alias", name, &common);
        assert_no_secrets(name, &common);
        let c = parse_gs(&common);
        assert_eq!(
            (c.mac.as_deref(), c.version.as_str()),
            (None, "1"),
            "{name}"
        );
        assert_eq!(c.keys(), P_SETTINGS.iter().map(|k| k.to_string()).collect());
    }
}

#[tokio::test]
async fn many_lines_model_with_tricky_names_in_alias_form() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        GXP2170,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, GXP2170, "cfgec74d7002170.xml").await;
    golden(
        "grandstream",
        "gxp2170-tricky-names",
        "cfgec74d7002170.xml",
        &body,
    );
    assert!(
        !body.contains("<x>") && !body.contains(" & "),
        "names are escaped:\n{body}"
    );
    let f = parse_gs(&body);
    assert_eq!(f.mac.as_deref(), Some("ec74d7002170"));
    assert_eq!(f.version, "2", "GXP21xx with many accounts use alias items");
    let mut expected = alias_keys(4, 6, 12);
    expected.extend(GXP2170_EXT_KEYS.flat_map(|n| alias_key("ext", n)));
    assert_eq!(
        f.keys(),
        expected,
        "every key of the four modules it takes, blank"
    );
    assert_eq!(
        f.value("account.1.name"),
        TRICKY_NAME,
        "names come back intact"
    );
    assert_eq!(f.value("account.1.sip.subscriber.name"), TRICKY_NAME);
    assert_eq!(f.value("account.1.sip.subscriber.password"), OWNER_PASSWORD);
    assert_eq!(f.value("account.3.name"), "Zoë Ångström");
    assert_eq!(f.value("account.4.sip.subscriber.name"), "李小龍");
    assert_eq!(f.value("account.4.sip.userid"), "testsitecom_101_4");
    assert_eq!(
        f.value("account.4.sip.subscriber.userid"),
        "testsitecom_101_4"
    );
    assert_eq!(
        f.value("account.4.sip.subscriber.password"),
        alias_password(3)
    );
    for n in 1..=4 {
        assert_eq!(f.value(&format!("account.{n}.enable")), "Yes");
        assert_eq!(
            f.value(&format!("account.{n}.sip.server.1.address")),
            "pbx.testsite.com:5062"
        );
        assert_eq!(f.value(&format!("account.{n}.sip.transport")), "TCP");
        assert_eq!(
            f.value(&format!("account.{n}.sip.registerExpiration")),
            "60"
        );
        assert_eq!(
            f.value(&format!("account.{n}.sip.outboundProxy.1.address")),
            ""
        );
    }
    for n in 5..=6 {
        assert_eq!(f.value(&format!("account.{n}.enable")), "No", "line {n}");
    }
    // Each account on its line key (Line mode, account from 0), the other line keys blank.
    for n in 1..=12 {
        let item = |f2: &str| f.value(&format!("pks.vpk.{n}.{f2}"));
        if n <= 4 {
            assert_eq!(item("keyMode"), "31", "key {n}");
            assert_eq!(item("account"), (n - 1).to_string(), "key {n}");
        } else {
            assert_eq!(
                (item("keyMode"), item("description")),
                ("-1", ""),
                "key {n}"
            );
        }
    }
    assert_eq!(f.value("pks.vpk.4.description"), "李小龍");
    assert_eq!(f.value("dateTime.timezone"), CET);
    assert_eq!(f.value("dateTime.timezone.custom"), CET);
    assert_eq!(f.value("dateTime.ntp.server.1"), "ntp.testsite.com");
    assert_eq!(f.value("language.gui"), "de");
    assert_eq!(f.value("users.admin.password"), ADMIN_PASSWORD);
    assert_eq!(f.value("account.4.sip.voicemail.number"), VOICEMAIL);
    assert_eq!(f.value("account.4.sip.subscribe.forMwi"), "Yes");
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        GXP1625,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let (body, _) = fetch(&app, GXP1625, "cfg000b821a2b3c.xml").await;
    golden(
        "grandstream",
        "gxp1625-overflow",
        "cfg000b821a2b3c.xml",
        &body,
    );
    let f = parse_gs(&body);
    assert_eq!(f.keys(), pvalue_keys(2, 2, 2));
    assert_eq!(f.value("P407"), "Alias One");
    assert_eq!(f.value("P1467"), "Alias One", "on line key 2");
    assert!(!body.contains("Alias Two") && !body.contains("Alias Three"));
    assert!(!body.contains(&alias_password(2)));
    let (lines, overflow) = line_map(&app, GXP1625.mac).await;
    assert_eq!(lines, ["John Smith", "Alias One"]);
    assert_eq!(overflow, ["Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    provision(&app, GRP2614, "John Smith", &[]).await;
    assert_eq!(
        status_of(&app, GRP2614, "cfgc074ad0b63ee.xml").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "c074ad0b63ef",
        ua: "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ef",
        ..GRP2614
    };
    assert_eq!(
        status_of(&app, stranger, "cfgc074ad0b63ef.xml").await,
        StatusCode::NOT_FOUND
    );
    // The UA is a hint, never a credential: a DevId other than the file's MAC is refused.
    let liar = Phone {
        ua: "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ef",
        ..GRP2614
    };
    assert_eq!(
        status_of(&app, liar, "cfgc074ad0b63ee.xml").await,
        StatusCode::NOT_FOUND
    );
    let (_, device) = app.get("/devices/c074ad0b63ee").await;
    assert_eq!(device["vendor"], "grandstream");
    assert_eq!(device["capacity"], 4);
}

#[tokio::test]
async fn binary_config_requests_are_404_even_for_a_registered_phone() {
    let app = TestApp::spawn().await;
    provision(&app, GRP2614, "John Smith", &[]).await;
    for name in ["cfgc074ad0b63ee", "cfgc074ad0b63ee.bin"] {
        assert_eq!(
            status_of(&app, GRP2614, name).await,
            StatusCode::NOT_FOUND,
            "{name}: deskprov writes no binary config"
        );
        assert_eq!(
            app.phone_get(name, None).await.status(),
            StatusCode::NOT_FOUND,
            "{name} without a UA"
        );
    }
    let vendors = Vendors::builtin().unwrap();
    for name in ["cfgc074ad0b63ee", "cfgc074ad0b63ee.bin"] {
        assert!(
            vendors.match_file(name).is_empty(),
            "{name} matches no vendor's file pattern"
        );
    }
    // The same phone's XML file is served: the 404s are about the names, not the device.
    assert_eq!(
        status_of(&app, GRP2614, "cfgc074ad0b63ee.xml").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_file_the_phone_requests() {
    let app = TestApp::spawn().await;
    provision(&app, GRP2614, "John Smith", &["John Support"]).await;

    // What the API says this phone is served, in the phone's own spelling.
    let (status, files) = app.get("/devices/c074ad0b63ee/files").await;
    assert_eq!(status, StatusCode::OK, "{files}");
    let names: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cfgc074ad0b63ee.xml", "cfggrp2614.xml", "cfg.xml"]);

    let (body, content_type) = fetch(&app, GRP2614, "cfgc074ad0b63ee.xml").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("grandstream", "grp2614-files", "cfgc074ad0b63ee.xml", &body);
    let f = parse_gs(&body);
    assert_eq!(f.version, "2", "GRP26xx use alias items");
    assert_eq!(f.keys(), alias_keys(2, 4, 4));
    assert_eq!(f.value("account.2.name"), "John Support");
    assert_eq!(f.value("account.3.enable"), "No");
    assert_eq!(f.value("account.4.enable"), "No");

    // Model and vendor common files: alias form for a GRP2614, settings only.
    for name in ["cfggrp2614.xml", "cfg.xml"] {
        let (common, content_type) = fetch(&app, GRP2614, name).await;
        assert_eq!(content_type, "text/xml; charset=utf-8");
        golden("grandstream", "grp2614-files", name, &common);
        assert_no_secrets(name, &common);
        let c = parse_gs(&common);
        assert_eq!(
            (c.mac.as_deref(), c.version.as_str()),
            (None, "2"),
            "{name}"
        );
        assert_eq!(
            c.keys(),
            ALIAS_SETTINGS.iter().map(|k| k.to_string()).collect()
        );
    }
    // cfg.xml from a phone that does not say what it is: P-values, which every firmware reads.
    let resp = app.phone_get("cfg.xml", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let anonymous = resp.text().await.unwrap();
    assert_no_secrets("cfg.xml", &anonymous);
    assert_eq!(parse_gs(&anonymous).version, "1");

    // Names the phone may try that deskprov does not serve.
    for name in [
        "cfgc074ad0b63ee",
        "cfgc074ad0b63ee.bin",
        "cfggxp9999.xml",
        "cfgGRP2614.xml",
    ] {
        assert_eq!(
            status_of(&app, GRP2614, name).await,
            StatusCode::NOT_FOUND,
            "{name}"
        );
    }
}

#[tokio::test]
async fn common_files_hold_no_secrets_for_any_model() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        GRP2614,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    // The password as the API reveals it, to search the files for.
    let password = owner_password(&app).await;
    assert_eq!(password, OWNER_PASSWORD);
    let vendors = Vendors::builtin().unwrap();
    let gs = vendors.get("grandstream").unwrap();
    for (model, spec) in &gs.profile.models {
        let name = format!("cfg{}.xml", spec.attrs["file_model"]);
        let ua = format!("Grandstream Model HW {model} SW 1.0.0.1 DevId c074ad0b63ee");
        for ua in [Some(ua.as_str()), None] {
            for file in [name.as_str(), "cfg.xml"] {
                let resp = app.phone_get(file, ua).await;
                assert_eq!(resp.status(), StatusCode::OK, "{file} {ua:?}");
                let body = resp.text().await.unwrap();
                assert_no_secrets(file, &body);
                assert!(!body.contains(&password), "{file}");
                let c = parse_gs(&body);
                assert!(c.mac.is_none());
                assert_eq!(c.values.len(), 4, "{file}: settings only");
            }
        }
        // The model file is in the model's own form, whoever asks.
        let body = app.phone_get(&name, None).await.text().await.unwrap();
        let expected = if spec.attrs["form"] == "alias" {
            "2"
        } else {
            "1"
        };
        assert_eq!(parse_gs(&body).version, expected, "{name}");
    }
}

#[test]
fn user_agents_from_the_reference() {
    let v = Vendors::builtin().unwrap();
    for (ua, model, firmware, mac) in [
        (
            "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ee",
            "GRP2614",
            "1.0.5.15",
            "c074ad0b63ee",
        ),
        (
            "Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId 000b82462d97",
            "GXP2200",
            "1.0.1.33",
            "000b82462d97",
        ),
        (
            "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8",
            "GXP2000",
            "1.2.5.3",
            "000b822726c8",
        ),
        (
            "Grandstream Model HW GXP2170 V1.0A SW 1.0.11.79 DevId ec74d7002170",
            "GXP2170",
            "1.0.11.79",
            "ec74d7002170",
        ),
    ] {
        let info = v.parse_ua(ua).unwrap_or_else(|| panic!("{ua}"));
        assert_eq!(info.vendor, "grandstream", "{ua}");
        assert_eq!(info.model.as_deref(), Some(model), "{ua}");
        assert_eq!(info.firmware.as_deref(), Some(firmware), "{ua}");
        assert_eq!(info.mac.map(|m| m.lower12()).as_deref(), Some(mac), "{ua}");
        assert!(!info.bad_mac);
    }
    let bad = v
        .parse_ua("Grandstream Model HW GRP2614 SW 1.0.5.15 DevId nonsense")
        .unwrap();
    assert!(bad.bad_mac, "a malformed DevId is noticed, not ignored");
    for oui in [
        "00:0b:82:01:02:03",
        "c0:74:ad:01:02:03",
        "ec:74:d7:01:02:03",
    ] {
        let mac = deskprov::domain::Mac::parse(oui).unwrap();
        assert_eq!(v.for_mac(&mac).unwrap().id(), "grandstream", "{oui}");
    }
}

/// A GXP2135 (no module modelled) with two aliases and the standard keys: every account on its
/// line key, the user's keys after them, the device's key overflowing the eight line keys.
#[tokio::test]
async fn keys_as_laid_out_on_a_phone_without_modules() {
    let app = TestApp::spawn().await;
    let gxp2135 = Phone {
        mac: "000b82002135",
        model: "GXP2135",
        ua: "Grandstream Model HW GXP2135 SW 1.0.11.79 DevId 000b82002135",
        ..GXP2170
    };
    provision(&app, gxp2135, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, gxp2135, false).await;
    let (body, _) = fetch(&app, gxp2135, "cfg000b82002135.xml").await;
    let f = parse_gs(&body);
    assert_eq!(
        f.keys(),
        alias_keys(3, 6, 8),
        "the eight line keys, no more"
    );
    let key = |n: u32| alias_key("vpk", n).map(|item| f.value(&item).to_owned());
    assert_eq!(key(1), ["31", "0", "John Smith", ""]);
    assert_eq!(key(3), ["31", "2", "John Sales", ""]);
    assert_eq!(key(4), ["1", "0", "Mary Jones", "102"]);
    assert_eq!(key(5), ["0", "0", "Office", "+4930123456"]);
    assert_eq!(key(6), ["9", "0", "701", "701"]);
    assert_eq!(key(7), ["1", "0", "Pick Mary", "102"], "pickup: a BLF key");
    assert_eq!(key(8)[0], "1");
    assert_eq!(key(8)[3], "sip:desk@pbx.example.net");
    assert!(!body.contains("*98"), "no free key for the device's own");
    assert_keys_shown_as(&app, gxp2135.mac, shown_keys(&f, 0), PICKUP_AS_BLF).await;
}

/// A GXP2170 with a key on its first GXP2200EXT: EXT keys count from 1 across the modules.
#[tokio::test]
async fn keys_on_an_expansion_module() {
    let app = TestApp::spawn().await;
    provision(&app, GXP2170, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, GXP2170, true).await;
    let (body, _) = fetch(&app, GXP2170, "cfgec74d7002170.xml").await;
    golden(
        "grandstream",
        "gxp2170-keys-module",
        "cfgec74d7002170.xml",
        &body,
    );
    let f = parse_gs(&body);
    let mut expected = alias_keys(3, 6, 12);
    expected.extend(GXP2170_EXT_KEYS.flat_map(|n| alias_key("ext", n)));
    assert_eq!(
        f.keys(),
        expected,
        "line keys and every key of the four modules it takes (blank ones too)"
    );
    let ext = |n: u32| alias_key("ext", n).map(|item| f.value(&item).to_owned());
    assert_eq!(ext(2), ["1", "0", "Mary EXP", "102"]);
    assert_eq!(ext(1), ["-1", "0", "", ""]);
    assert_eq!(f.value("pks.vpk.9.value"), "*98", "the device's key");
    assert_keys_shown_as(&app, GXP2170.mac, shown_keys(&f, 40), PICKUP_AS_BLF).await;
}

/// A key taken off the user's list goes blank (mode None), and the keys after it move up.
#[tokio::test]
async fn a_removed_key_is_written_blank() {
    let app = TestApp::spawn().await;
    provision(&app, GXP2170, "John Smith", &[]).await;
    provision_keys(&app, GXP2170, false).await;
    let (body, _) = fetch(&app, GXP2170, "cfgec74d7002170.xml").await;
    let before = parse_gs(&body);
    assert_eq!(before.value("pks.vpk.2.value"), "102");
    assert_eq!(before.value("pks.vpk.7.value"), "*98", "the device's key");

    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "speed_dial", "value": "+4930123456", "label": "Office"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, GXP2170, "cfgec74d7002170.xml").await;
    let after = parse_gs(&body);
    assert_eq!(after.value("pks.vpk.2.value"), "+4930123456");
    assert_eq!(after.value("pks.vpk.3.value"), "*98");
    for n in 4..=12 {
        let items = alias_key("vpk", n).map(|item| after.value(&item).to_owned());
        assert_eq!(items, ["-1", "0", "", ""], "key {n}");
    }
    assert!(
        !after
            .values
            .iter()
            .any(|(_, v)| v == "102" || v.contains("Mary")),
        "no key watches 102 any more"
    );
    assert_keys_shown_as(&app, GXP2170.mac, shown_keys(&after, 40), PICKUP_AS_BLF).await;
}

/// P-value line keys (GXP16xx): the account on key 1, and on key 2 the user's first key as the
/// speed dial a GXP16xx line key can do in place of a BLF.
#[tokio::test]
async fn p_value_line_keys() {
    let app = TestApp::spawn().await;
    let gxp1610 = Phone {
        mac: "000b82001610",
        model: "GXP1610",
        ua: "Grandstream Model HW GXP1610 SW 1.0.7.81 DevId 000b82001610",
        ..GXP1625
    };
    provision(&app, gxp1610, "John Smith", &[]).await;
    let (body, _) = fetch(&app, gxp1610, "cfg000b82001610.xml").await;
    let f = parse_gs(&body);
    assert_eq!(f.keys(), pvalue_keys(1, 1, 2));
    let key = |n: usize| pvalue_line_key(n).map(|p| f.value(&p).to_owned());
    assert_eq!(key(0), ["0", "0", "John Smith", ""]);
    assert_eq!(
        key(1),
        ["0", "0", "", ""],
        "blank: a nameless line key of account 1"
    );

    provision_keys(&app, gxp1610, false).await;
    let (body, _) = fetch(&app, gxp1610, "cfg000b82001610.xml").await;
    let f = parse_gs(&body);
    assert_eq!(f.keys(), pvalue_keys(1, 1, 2));
    let key = |n: usize| pvalue_line_key(n).map(|p| f.value(&p).to_owned());
    assert_eq!(key(0), ["0", "0", "John Smith", ""]);
    assert_eq!(
        key(1),
        ["10", "0", "Mary Jones", "102"],
        "the BLF as a speed dial"
    );
}

/// The profile keeps the promises the templates rely on.
#[test]
fn every_model_declares_its_form_and_file_name() {
    let v = Vendors::builtin().unwrap();
    let gs = v.get("grandstream").unwrap();
    assert!(
        gs.profile.default_accounts <= 2,
        "unknown models get P-values, written for accounts 1 and 2 only"
    );
    for (model, spec) in &gs.profile.models {
        assert_eq!(spec.attrs["file_model"], model.to_lowercase(), "{model}");
        match spec.attrs["form"].as_str() {
            "pvalue" => {
                assert!(spec.accounts <= 2, "{model}: P-values cover two accounts");
                assert!(spec.line_keys <= 6, "{model}: P-values cover line keys 1-6");
            }
            "alias" => {}
            other => panic!("{model}: unknown form {other}"),
        }
        // Line mode exists on the line keys only: every account needs one of its own.
        assert!(spec.accounts <= spec.line_keys, "{model}");
    }
    let lines = |m: &str| gs.capacity(Some(m));
    assert_eq!(
        [
            "GXP1610", "GXP1625", "GXP1630", "GXP2130", "GXP2135", "GXP2140", "GXP2160", "GXP2170",
            "GRP2612", "GRP2613", "GRP2614", "GRP2615", "GRP2616"
        ]
        .map(lines),
        [1, 2, 3, 3, 6, 4, 6, 6, 2, 3, 4, 5, 6]
    );
}

/// Device settings: DNS SRV, an outbound proxy, a short expiry, other time zones.
#[tokio::test]
async fn transports_proxy_expiry_and_time_zones() {
    let app = TestApp::spawn().await;
    provision(&app, GXP1625, "John Smith", &["John Support"]).await;
    let phones = [GXP1625, GRP2614];
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": GRP2614.mac, "tenant": "testsite.com", "extension": "101", "model": "GRP2614"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let set = |settings: serde_json::Value| {
        let app = &app;
        async move {
            for phone in phones {
                let (status, body) = app
                    .api(
                        Method::PATCH,
                        &format!("/devices/{}", phone.mac),
                        Some(json!({ "settings": settings })),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        }
    };
    let files = || async {
        let (p, _) = fetch(&app, GXP1625, "cfg000b821a2b3c.xml").await;
        let (a, _) = fetch(&app, GRP2614, "cfgc074ad0b63ee.xml").await;
        (parse_gs(&p), parse_gs(&a))
    };

    set(
        json!({"transport": "dns_srv", "outbound_proxy": "sbc.testsite.com",
               "outbound_proxy_port": 5070, "registration_expires": 45}),
    )
    .await;
    let (p, a) = files().await;
    for (server, dns, transport, expiry, proxy) in [
        ("P47", "P103", "P130", "P32", "P48"),
        ("P402", "P408", "P448", "P412", "P403"),
    ] {
        assert_eq!(p.value(server), "pbx.testsite.com", "SRV: no port");
        assert_eq!(p.value(dns), "2", "DNS mode NAPTR/SRV");
        assert_eq!(p.value(transport), "0");
        assert_eq!(p.value(expiry), "1", "45 s round up to a minute");
        assert_eq!(p.value(proxy), "sbc.testsite.com:5070");
    }
    for n in 1..=2 {
        let key = |k: &str| format!("account.{n}.{k}");
        assert_eq!(a.value(&key("sip.server.1.address")), "pbx.testsite.com");
        assert_eq!(a.value(&key("sip.transport")), "UDP");
        assert_eq!(a.value(&key("sip.registerExpiration")), "1");
        assert_eq!(
            a.value(&key("sip.outboundProxy.1.address")),
            "sbc.testsite.com:5070"
        );
    }

    set(json!({"transport": "tls", "sip_server": "2001:db8::5"})).await;
    let (p, a) = files().await;
    assert_eq!(p.value("P130"), "2");
    assert_eq!(p.value("P47"), "[2001:db8::5]:5062");
    assert_eq!(a.value("account.1.sip.transport"), "TlsOrTcp");
    assert_eq!(
        a.value("account.1.sip.server.1.address"),
        "[2001:db8::5]:5062"
    );

    // An entry of Grandstream's list where the profile names one, else `customize`; the
    // self-defined zone always holds the zone's own rule in the list's spelled-out form, with
    // letters for names the database lacks.
    for (zone, entry, custom) in [
        ("Europe/Berlin", CET, CET),
        (
            "America/New_York",
            "EST5EDT",
            "EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00",
        ),
        ("Asia/Kolkata", "TZT-5:30", "IST-5:30"),
        // Southern hemisphere: summer time spans the new year.
        (
            "Australia/Sydney",
            "EST-10EDT-11,M10.1.0/02:00:00,M4.1.0/03:00:00",
            "AEST-10AEDT-11,M10.1.0/02:00:00,M4.1.0/03:00:00",
        ),
        // No summer time since 2019 (the list's Brazil entries still have it).
        ("America/Sao_Paulo", "customize", "STD3"),
        (
            "Europe/London",
            "customize",
            "GMT0BST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
        ),
        (
            "Pacific/Auckland",
            "customize",
            "NZST-12NZDT-13,M9.5.0/02:00:00,M4.1.0/03:00:00",
        ),
        (
            "America/St_Johns",
            "customize",
            "NST3:30NDT2:30,M3.2.0/02:00:00,M11.1.0/02:00:00",
        ),
        // Rules no table held: Chile at midnight, Israel on a Friday.
        (
            "America/Santiago",
            "customize",
            "STD4DST3,M9.1.0/00:00:00,M4.1.0/00:00:00",
        ),
        (
            "Asia/Jerusalem",
            "customize",
            "IST-2IDT-3,M3.5.5/02:00:00,M10.5.0/02:00:00",
        ),
        ("UTC", "customize", "UTC0"),
    ] {
        set(json!({ "timezone": zone, "language": "fr" })).await;
        let (p, a) = files().await;
        assert_eq!(p.value("P64"), entry, "{zone}");
        assert_eq!(a.value("dateTime.timezone"), entry, "{zone}");
        assert_eq!(p.value("P246"), custom, "{zone}");
        assert_eq!(a.value("dateTime.timezone.custom"), custom, "{zone}");
        assert!(
            custom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-,./:".contains(&b)),
            "{zone}: letters, digits and +-,./: only"
        );
        assert_eq!(p.value("P1362"), "fr");
        assert_eq!(a.value("language.gui"), "fr");
    }
    // Grandstream's own codes: Czech is cz, Swedish se.
    for (code, gs) in [("cs", "cz"), ("sv", "se"), ("zh", "zh")] {
        set(json!({ "language": code })).await;
        let (p, a) = files().await;
        assert_eq!((p.value("P1362"), a.value("language.gui")), (gs, gs));
    }
    // A language Grandstream lacks is refused, naming the family.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/c074ad0b63ee",
            Some(json!({"settings": {"language": "fi"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "settings.language", "language_unsupported");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Grandstream"),
        "{body}"
    );
}

/// Every entry of the profile's time-zone list that spells out a rule gives the zone its own
/// offset and rule (the names may differ: the phone does not read them).
#[test]
fn listed_time_zones_carry_their_zone_rule() {
    let v = Vendors::builtin().unwrap();
    let gs = v.get("grandstream").unwrap();
    let shape = |posix: &str| -> String {
        // Names out, offsets and dates kept: "CET-1CEST-2,M3..." -> "-1-2,M3...".
        let mut out = String::new();
        let mut in_name = false;
        for c in posix.chars() {
            match c {
                '<' => in_name = true,
                '>' => in_name = false,
                c if in_name || c.is_ascii_alphabetic() && !out.contains(',') => {}
                c => out.push(c),
            }
        }
        out.replace("+", "")
    };
    let mut with_rule = 0;
    for (zone, entry) in &gs.profile.timezones {
        let rules = deskprov::domain::zone::ZoneRules::of(zone.parse().unwrap());
        if entry.contains(',') {
            with_rule += 1;
            assert_eq!(shape(entry), shape(&rules.posix_tz_explicit()), "{zone}");
        }
    }
    assert!(
        with_rule > 30,
        "the European and Australian entries are checked"
    );
}
