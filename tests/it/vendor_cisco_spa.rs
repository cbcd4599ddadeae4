//! Cisco SPA30x/50x/51x/525G: golden files, parse-back, capacities, the factory
//! `spa$PSN.cfg` file pointing at `$MA.xml`, secrets only where they belong, and the per-MAC
//! `{mac}.xml` name shared with Cisco MPP going to the registered device's profile.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::vendor_cisco_mpp::{
    app_with_public_url, assert_berlin_german, cisco_keys, common_keys, device_keys, flat_profile,
    mpp_device_keys, patch_tenant, set_url_key, val,
};
use crate::vendor_kit::*;

const SPA303: Phone = Phone {
    vendor: "cisco_spa",
    mac: "0002fd303a01",
    model: "SPA303",
    ua: "Cisco/SPA303-7.5.5 (0002FD303A01)(CBT150100AB)",
};
const SPA502G: Phone = Phone {
    vendor: "cisco_spa",
    mac: "8843e1502b01",
    model: "SPA502G",
    ua: "Cisco/SPA502G-7.5.5 (8843E1502B01)(CBT150200CD)",
};
/// The User-Agent from the reference, with its own MAC.
const SPA508G: Phone = Phone {
    vendor: "cisco_spa",
    mac: "0002fdff2103",
    model: "SPA508G",
    ua: "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)",
};
/// A SPA509G: twelve line keys, SPA500S sidecars.
const SPA509G: Phone = Phone {
    vendor: "cisco_spa",
    mac: "0002fd509d01",
    model: "SPA509G",
    ua: "Cisco/SPA509G-7.5.5 (0002FD509D01)(CBT150900GH)",
};
/// The reference's User-Agent without a MAC.
const SPA525G: Phone = Phone {
    vendor: "cisco_spa",
    mac: "0002fd525c01",
    model: "SPA525G",
    ua: "Cisco/SPA525G-7.4.7 (CBT141900G7)",
};

/// Every model the profile lists: model, `$PSN`, line capacity.
const MODELS: [(&str, &str, usize); 11] = [
    ("SPA301", "301", 1),
    ("SPA303", "303", 3),
    ("SPA501G", "501G", 8),
    ("SPA502G", "502G", 1),
    ("SPA504G", "504G", 4),
    ("SPA508G", "508G", 8),
    ("SPA509G", "509G", 12),
    ("SPA512G", "512G", 1),
    ("SPA514G", "514G", 4),
    ("SPA525G", "525G", 5),
    ("SPA525G2", "525G2", 5),
];

/// Keys on one SPA500S sidecar.
const SIDECAR_KEYS: usize = 32;

/// The exact key set of an SPA per-device file: the lines, the line keys, every key of each
/// sidecar the model takes (blank ones too, so removed keys go), the admin password, voicemail.
fn spa_device_keys(
    lines: usize,
    capacity: usize,
    line_keys: usize,
    sidecars: usize,
) -> BTreeSet<String> {
    let sidecar_keys: Vec<String> = (1..=sidecars)
        .flat_map(|m| (1..=SIDECAR_KEYS).map(move |k| format!("Unit_{m}_Key_{k}")))
        .collect();
    let mut extra: Vec<&str> = vec!["Admin_Passwd", "Voice_Mail_Number"];
    extra.extend(sidecar_keys.iter().map(String::as_str));
    device_keys(lines, capacity, line_keys, &extra)
}

fn keys_of(p: &std::collections::BTreeMap<String, String>) -> BTreeSet<String> {
    p.keys().cloned().collect()
}

#[tokio::test]
async fn few_lines_model() {
    let app = TestApp::spawn().await;
    provision(&app, SPA303, "John Smith", &["John Support"]).await;
    let (body, content_type) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    golden("cisco_spa", "spa303-one-alias", "0002fd303a01.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(keys_of(&p), spa_device_keys(2, 3, 3, 2));
    assert_eq!(val(&p, "Line_Enable_1_"), "Yes");
    assert_eq!(val(&p, "Display_Name_1_"), "John Smith");
    assert_eq!(val(&p, "User_ID_1_"), "testsitecom_101");
    assert_eq!(val(&p, "Auth_ID_1_"), "testsitecom_101");
    assert_eq!(val(&p, "Use_Auth_ID_1_"), "Yes");
    assert_eq!(val(&p, "Password_1_"), OWNER_PASSWORD);
    assert_eq!(val(&p, "Display_Name_2_"), "John Support");
    assert_eq!(val(&p, "Short_Name_2_"), "John Support");
    assert_eq!(val(&p, "Password_2_"), alias_password(1));
    for n in 1..=2 {
        assert_eq!(val(&p, &format!("Proxy_{n}_")), "pbx.testsite.com:5062");
        assert_eq!(val(&p, &format!("SIP_Transport_{n}_")), "TCP");
        assert_eq!(val(&p, &format!("Use_DNS_SRV_{n}_")), "No");
        assert_eq!(val(&p, &format!("Register_Expires_{n}_")), "3600");
        assert_eq!(val(&p, &format!("Use_Outbound_Proxy_{n}_")), "No");
    }
    assert_eq!(val(&p, "Line_Enable_3_"), "No", "the unused line is off");
    assert_eq!(val(&p, "Extension_3_"), "Disabled");
    assert_berlin_german(&p);
    assert_eq!(val(&p, "Admin_Passwd"), ADMIN_PASSWORD);
    assert_eq!(val(&p, "Voice_Mail_Number"), VOICEMAIL);
    assert_eq!(val(&p, "Mailbox_ID_2_"), "testsitecom_101_2");

    let (common, content_type) = fetch(&app, SPA303, "spa303.cfg").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    assert_no_secrets("spa303.cfg", &common);
    assert_eq!(keys_of(&flat_profile(&common)), common_keys(false));
}

#[tokio::test]
async fn many_lines_model_with_tricky_names() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        SPA508G,
        TRICKY_NAME,
        &["John Support", "Zoë Ångström", "李小龍"],
    )
    .await;
    let (body, _) = fetch(&app, SPA508G, "0002fdff2103.xml").await;
    golden(
        "cisco_spa",
        "spa508g-tricky-names",
        "0002fdff2103.xml",
        &body,
    );
    assert!(
        body.contains("A &#38; B &#60;x&#62;") && !body.contains("<x>"),
        "names are XML-escaped"
    );
    let p = flat_profile(&body);
    assert_eq!(keys_of(&p), spa_device_keys(4, 8, 8, 2));
    assert_eq!(
        val(&p, "Display_Name_1_"),
        TRICKY_NAME,
        "intact after parsing"
    );
    assert_eq!(val(&p, "Short_Name_1_"), TRICKY_NAME);
    assert_eq!(val(&p, "Short_Name_3_"), "Zoë Ångström");
    assert_eq!(val(&p, "Display_Name_4_"), "李小龍");
    assert_eq!(val(&p, "Password_4_"), alias_password(3));
    for n in 5..=8 {
        assert_eq!(val(&p, &format!("Line_Enable_{n}_")), "No");
    }
}

#[tokio::test]
async fn more_aliases_than_lines_overflow_visibly() {
    let app = TestApp::spawn().await;
    provision(
        &app,
        SPA502G,
        "John Smith",
        &["Alias One", "Alias Two", "Alias Three"],
    )
    .await;
    let (body, _) = fetch(&app, SPA502G, "8843e1502b01.xml").await;
    golden("cisco_spa", "spa502g-overflow", "8843e1502b01.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(keys_of(&p), spa_device_keys(1, 1, 0, 2));
    assert!(!body.contains("Alias "));
    let (lines, overflow) = line_map(&app, SPA502G.mac).await;
    assert_eq!(lines, ["John Smith"]);
    assert_eq!(overflow, ["Alias One", "Alias Two", "Alias Three"]);
}

#[tokio::test]
async fn registered_gets_200_and_unregistered_404() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // No "vendor": the 00:02:FD block names the profile.
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": SPA508G.mac, "tenant": "testsite.com", "extension": "101", "model": "SPA508G"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        status_of(&app, SPA508G, "0002fdff2103.xml").await,
        StatusCode::OK
    );
    let stranger = Phone {
        mac: "0002fdff2104",
        ua: "Cisco/SPA508G-7.4.4 (0002FDFF2104)(CBT141400UL)",
        ..SPA508G
    };
    assert_eq!(
        status_of(&app, stranger, "0002fdff2104.xml").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, stranger, "0002fdff2103.xml").await,
        StatusCode::NOT_FOUND,
        "a UA naming another MAC is refused"
    );
    let (_, device) = app.get("/devices/0002fdff2103").await;
    assert_eq!(device["vendor"], "cisco_spa");
    assert_eq!(device["capacity"], 8);

    // The reference's UA without a MAC: the path's MAC decides.
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": SPA525G.mac, "tenant": "testsite.com", "extension": "101", "model": "SPA525G"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        status_of(&app, SPA525G, "0002fd525c01.xml").await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, SPA525G, "0002fd525c02.xml").await,
        StatusCode::NOT_FOUND
    );
    let (_, device) = app.get("/devices/0002fd525c01").await;
    assert_eq!(device["capacity"], 5);

    // The reference's Linksys UA: its lone parenthesised value is a serial, not a MAC, so it
    // does not clash with the path's MAC.
    let linksys = Phone {
        ua: "Linksys/SPA-942-6.1.5(a) (88019FA42805)",
        ..SPA508G
    };
    assert_eq!(
        status_of(&app, linksys, "0002fdff2103.xml").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_model_common_file_points_at_the_device_file_and_holds_no_secret() {
    let app = app_with_public_url().await;
    provision(&app, SPA508G, "John Smith", &["John Support", "John Sales"]).await;
    let (common, _) = fetch(&app, SPA508G, "spa508G.cfg").await;
    golden("cisco_spa", "common", "spa508G.cfg", &common);
    let p = flat_profile(&common);
    assert_eq!(keys_of(&p), common_keys(false));
    assert_eq!(
        val(&p, "Profile_Rule"),
        "https://prov.testsite.com/spa$PSN.cfg"
    );
    assert_eq!(
        val(&p, "Profile_Rule_B"),
        "https://prov.testsite.com/$MA.xml"
    );
    assert_eq!(val(&p, "Profile_Rule_C"), "");
    assert_eq!(val(&p, "Time_Zone"), "GMT+00:00");
    assert_eq!(val(&p, "Language_Selection"), "English");

    for (model, psn, _) in MODELS {
        let name = format!("spa{psn}.cfg");
        let ua = format!("Cisco/{model}-7.5.5 (0002FDFF2103)(CBT141400UK)");
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
        // The model from the file name alone, as a phone without a User-Agent would get it.
        let body = app.phone_get(&name, None).await.text().await.unwrap();
        assert!(
            body.contains(&format!("common file for {model}.")),
            "{name}"
        );
    }
    assert_eq!(
        status_of(&app, SPA508G, "spa999G.cfg").await,
        StatusCode::NOT_FOUND
    );

    let key = "k3y-0123456789abcdef";
    set_url_key(&app, key).await;
    let (common, _) = fetch(&app, SPA508G, &format!("{key}/spa508G.cfg")).await;
    golden("cisco_spa", "common-url-key", "spa508G.cfg", &common);
    assert_no_secrets("spa508G.cfg", &common);
    let p = flat_profile(&common);
    assert_eq!(keys_of(&p), common_keys(true));
    assert_eq!(
        val(&p, "Profile_Rule_B"),
        format!("https://prov.testsite.com/{key}/$MA.xml")
    );
    assert_berlin_german(&p);
    let (device, _) = fetch(&app, SPA508G, &format!("{key}/0002fdff2103.xml")).await;
    assert_eq!(val(&flat_profile(&device), "Password_1_"), OWNER_PASSWORD);
}

#[tokio::test]
async fn dns_srv_is_udp_with_srv_lookups() {
    let app = TestApp::spawn().await;
    provision(&app, SPA303, "John Smith", &[]).await;
    patch_tenant(
        &app,
        json!({"transport": "dns_srv", "outbound_proxy": "sbc.testsite.com", "outbound_proxy_port": 5070}),
    )
    .await;
    let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "SIP_Transport_1_"), "UDP");
    assert_eq!(val(&p, "Use_DNS_SRV_1_"), "Yes");
    assert_eq!(val(&p, "Proxy_1_"), "pbx.testsite.com");
    assert_eq!(val(&p, "Use_Outbound_Proxy_1_"), "Yes");
    assert_eq!(val(&p, "Outbound_Proxy_1_"), "sbc.testsite.com");
    patch_tenant(&app, json!({"transport": "tls"})).await;
    let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "SIP_Transport_1_"), "TLS");
    assert_eq!(val(&p, "Use_DNS_SRV_1_"), "No");
    assert_eq!(val(&p, "Outbound_Proxy_1_"), "sbc.testsite.com:5070");
}

/// A language the SPA profile does not list is refused, for the tenant while it has an SPA
/// phone and for an SPA phone of its own; one it lists reaches the phone with its Locale.
#[tokio::test]
async fn languages_the_spa_lacks_are_refused() {
    let app = TestApp::spawn().await;
    provision(&app, SPA303, "John Smith", &[]).await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"language": "pl"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "language", "language_unsupported");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Cisco SPA"), "{message}");
    assert!(message.contains("0002fd303a01"), "{message}");
    let (_, tenant) = app.get("/tenants/testsite.com").await;
    assert_eq!(tenant["language"], "de", "nothing was written");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0002fd303a01",
            Some(json!({"settings": {"language": "zh"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "settings.language", "language_unsupported");
    patch_tenant(&app, json!({"language": "sv"})).await;
    let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "Language_Selection"), "Swedish");
    assert_eq!(val(&p, "Locale"), "sv-SE");
}

/// The SPA shares the MPP's regional keys: each zone's own summer-time rule, or none.
#[tokio::test]
async fn summer_time_follows_the_zone() {
    let app = TestApp::spawn().await;
    provision(&app, SPA303, "John Smith", &[]).await;
    for (tz, offset, rule) in [
        (
            "Europe/Berlin",
            "GMT+01:00",
            Some("start=3/-1/7/2;end=10/-1/7/3;save=1"),
        ),
        (
            "America/New_York",
            "GMT-05:00",
            Some("start=3/8/7/2;end=11/1/7/2;save=1"),
        ),
        ("Asia/Kolkata", "GMT+05:30", None),
        (
            "Australia/Sydney",
            "GMT+10:00",
            Some("start=10/1/7/2;end=4/1/7/3;save=1"),
        ),
        ("America/Sao_Paulo", "GMT-03:00", None),
        (
            "America/Santiago",
            "GMT-04:00",
            Some("start=9/1/7/0;end=4/1/7/0;save=1"),
        ),
    ] {
        patch_tenant(&app, json!({"timezone": tz})).await;
        let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
        let p = flat_profile(&body);
        assert_eq!(val(&p, "Time_Zone"), offset, "{tz}");
        assert_eq!(
            val(&p, "Daylight_Saving_Time_Enable"),
            if rule.is_some() { "Yes" } else { "No" },
            "{tz}"
        );
        assert_eq!(
            p.get("Daylight_Saving_Time_Rule").map(String::as_str),
            rule,
            "{tz}"
        );
    }
}

/// Both Cisco profiles serve `{mac}.xml`: the registered device's profile answers, whatever
/// its OUI, and a phone of the other family is refused.
#[tokio::test]
async fn shared_mac_file_goes_to_the_registered_profile() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // 6C:41:6A is a Cisco block neither profile claims: registrations name the vendor.
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "6c416a000001", "tenant": "testsite.com", "extension": "101", "model": "7841", "vendor": "cisco_mpp"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "6c416a000002", "tenant": "testsite.com", "extension": "101", "model": "SPA504G", "vendor": "cisco_spa"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    patch_tenant(&app, json!({"timezone": "Europe/Berlin"})).await;

    let mpp = Phone {
        vendor: "cisco_mpp",
        mac: "6c416a000001",
        model: "7841",
        ua: "Cisco-CP-7841-3PCC/12.0.1 (6c416a000001)",
    };
    let spa = Phone {
        vendor: "cisco_spa",
        mac: "6c416a000002",
        model: "SPA504G",
        ua: "Cisco/SPA504G-7.5.5 (6C416A000002)(CBT150400EF)",
    };
    let (body, _) = fetch(&app, mpp, "6c416a000001.xml").await;
    assert!(
        body.contains("deskprov: Cisco MPP 7841 6c416a000001."),
        "{body}"
    );
    assert_eq!(keys_of(&flat_profile(&body)), mpp_device_keys(1, 4));
    let (body, _) = fetch(&app, spa, "6c416a000002.xml").await;
    assert!(
        body.contains("deskprov: Cisco SPA SPA504G 6c416a000002."),
        "{body}"
    );
    assert_eq!(keys_of(&flat_profile(&body)), spa_device_keys(1, 4, 4, 2));

    // A UA of the other family for the same MAC is refused.
    let wrong = Phone {
        ua: "Cisco-CP-7841-3PCC/12.0.1 (6c416a000002)",
        ..spa
    };
    assert_eq!(
        status_of(&app, wrong, "6c416a000002.xml").await,
        StatusCode::NOT_FOUND
    );
}

/// Every account and the standard keys on a SPA508G without sidecar keys, read back from the
/// file: the plan's three accounts, then the user's keys and the device's speed dial.
#[tokio::test]
async fn keys_of_a_phone_without_modules_are_laid_out() {
    let app = TestApp::spawn().await;
    provision(&app, SPA508G, "John Smith", &["John Support", "John Sales"]).await;
    provision_keys(&app, SPA508G, false).await;
    let (body, _) = fetch(&app, SPA508G, "0002fdff2103.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "Extension_2_"), "2");
    assert_eq!(
        val(&p, "Extended_Function_4_"),
        "fnc=blf+sd;sub=102@$PROXY;ext=102@$PROXY;nme=Mary Jones"
    );
    assert_eq!(
        val(&p, "Extended_Function_5_"),
        "fnc=sd;ext=+4930123456@$PROXY;nme=Office",
        "no vid on SPA"
    );
    assert_eq!(
        val(&p, "Extended_Function_7_"),
        "fnc=blf+cp;sub=102@$PROXY;ext=102@$PROXY;nme=Pick Mary"
    );
    assert_eq!(
        val(&p, "Extended_Function_8_"),
        "fnc=blf+sd;sub=desk@pbx.example.net;ext=desk@pbx.example.net;nme=desk"
    );
    // The device's speed dial found no free key: the eight keys are full.
    let mut sidecar = p.iter().filter(|(k, _)| k.starts_with("Unit_"));
    assert!(
        sidecar.clone().count() == 2 * SIDECAR_KEYS,
        "both sidecars written"
    );
    assert!(
        sidecar.all(|(_, v)| v.is_empty()),
        "and blank: no key is laid out there"
    );
    assert_keys_as_laid_out(&app, SPA508G.mac, cisco_keys(&p, 8, "", false)).await;
}

/// The standard keys with one on the first SPA500S of a SPA509G, as a golden file.
#[tokio::test]
async fn keys_on_a_sidecar() {
    let app = TestApp::spawn().await;
    provision(&app, SPA509G, "John Smith", &["John Support"]).await;
    provision_keys(&app, SPA509G, true).await;
    let (body, _) = fetch(&app, SPA509G, "0002fd509d01.xml").await;
    golden("cisco_spa", "spa509g-keys", "0002fd509d01.xml", &body);
    let p = flat_profile(&body);
    assert_eq!(
        val(&p, "Unit_1_Key_2"),
        "fnc=blf+sd;sub=102@$PROXY;ext=102@$PROXY;nme=Mary EXP"
    );
    assert_eq!(
        val(&p, "Unit_1_Key_32"),
        "",
        "the sidecar's other keys are blank"
    );
    assert!(!p.contains_key("Unit_1_Key_33") && !p.contains_key("Unit_1_Key_2_"));
    assert_keys_as_laid_out(&app, SPA509G.mac, cisco_keys(&p, 12, "", false)).await;
}

/// A key taken off the user's list is written blank, so the phone drops it.
#[tokio::test]
async fn a_removed_key_is_written_blank() {
    let app = TestApp::spawn().await;
    provision(&app, SPA303, "John Smith", &[]).await;
    provision_keys(&app, SPA303, false).await;
    let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    let p = flat_profile(&body);
    assert_eq!(
        val(&p, "Extended_Function_3_"),
        "fnc=sd;ext=+4930123456@$PROXY;nme=Office"
    );
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "blf", "value": "102"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .api(
            Method::PUT,
            "/devices/0002fd303a01/keys",
            Some(json!({"keys": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (body, _) = fetch(&app, SPA303, "0002fd303a01.xml").await;
    let p = flat_profile(&body);
    assert_eq!(val(&p, "Extension_3_"), "Disabled");
    assert_eq!(val(&p, "Short_Name_3_"), "");
    assert_eq!(val(&p, "Extended_Function_3_"), "");
    assert_eq!(keys_of(&p), spa_device_keys(1, 3, 3, 2));
    assert_keys_as_laid_out(&app, SPA303.mac, cisco_keys(&p, 3, "", false)).await;
}
