//! What every phone is told beyond its accounts, across the vendor families: its admin password
//! (generated per device, or set on the tenant, a site or the device; never in a common file,
//! an API answer after the one that generated it, the audit log or the CSV export), the
//! voicemail number, and the languages each family can show.

use std::collections::BTreeSet;

use deskprov::domain::AdminPassword;
use regex::Regex;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// One phone of a family: where its admin password is written.
struct Family {
    vendor: &'static str,
    mac: &'static str,
    model: &'static str,
    /// The per-device file that carries the admin password.
    file: &'static str,
    /// Captures the password in that file.
    pattern: &'static str,
}

const FAMILIES: [Family; 8] = [
    Family {
        vendor: "yealink",
        mac: "001565aabbcc",
        model: "T46U",
        file: "001565aabbcc.cfg",
        pattern: r"(?m)^static\.security\.user_password = admin:(\S+)$",
    },
    Family {
        vendor: "polycom",
        mac: "0004f2a1b2c3",
        model: "VVX_101",
        file: "0004f2a1b2c3-user.cfg",
        pattern: r#"device\.auth\.localAdminPassword="([^"]+)""#,
    },
    Family {
        vendor: "cisco_mpp",
        mac: "00562b0a7821",
        model: "7821",
        file: "00562b0a7821.xml",
        pattern: r"<Admin_Password>([^<]+)</Admin_Password>",
    },
    Family {
        vendor: "cisco_spa",
        mac: "0002fd303a01",
        model: "SPA303",
        file: "0002fd303a01.xml",
        pattern: r"<Admin_Passwd>([^<]+)</Admin_Passwd>",
    },
    Family {
        vendor: "snom",
        mac: "000413a11fa7",
        model: "D305",
        file: "snom-000413A11FA7.xml",
        pattern: r#"<http_pass perm="R">([^<]+)</http_pass>"#,
    },
    Family {
        vendor: "grandstream",
        mac: "c074ad0b63ee",
        model: "GRP2614",
        file: "cfgc074ad0b63ee.xml",
        pattern: r#"<item name="users\.admin\.password">([^<]+)</item>"#,
    },
    Family {
        vendor: "grandstream",
        mac: "000b821a2b3c",
        model: "GXP1625",
        file: "cfg000b821a2b3c.xml",
        pattern: r"<P2>([^<]+)</P2>",
    },
    Family {
        vendor: "fanvil",
        mac: "0c383e3a5b01",
        model: "X3S",
        file: "0c383e3a5b01.cfg",
        pattern: r"<MenuPassword>([^<]+)</MenuPassword>",
    },
];

/// Tenant `testsite.com` (room for every family's phone), user 101, one phone per family.
async fn every_family(app: &TestApp) {
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "testsite.com", "sip_server": "pbx.testsite.com", "max_devices_per_user": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.user("101", "John Smith").await;
    for f in &FAMILIES {
        let (status, body) = app
            .post(
                "/devices",
                json!({"mac": f.mac, "tenant": "testsite.com", "extension": "101",
                       "vendor": f.vendor, "model": f.model}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(!body.to_string().contains("admin_password\":\""), "{body}");
    }
}

/// The admin password the phone of `f` gets, read from the file it fetches.
async fn admin_password(app: &TestApp, f: &Family) -> String {
    let resp = app.phone_get(f.file, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", f.file);
    let body = resp.text().await.unwrap();
    let re = Regex::new(f.pattern).unwrap();
    let found: Vec<&str> = re
        .captures_iter(&body)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(
        !found.is_empty(),
        "{} has no admin password:\n{body}",
        f.file
    );
    assert!(found.iter().all(|pw| *pw == found[0]), "{}", f.file);
    found[0].to_owned()
}

/// The phone files of `mac` by kind (`device`, `common`), as the API lists them.
async fn files_of(app: &TestApp, mac: &str) -> Vec<(String, String)> {
    let (status, files) = app.get(&format!("/devices/{mac}/files")).await;
    assert_eq!(status, StatusCode::OK, "{files}");
    files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A file preview as text (`reveal` shows passwords).
async fn preview(app: &TestApp, mac: &str, file: &str, reveal: bool) -> String {
    let (status, body) = app
        .get(&format!("/devices/{mac}/files/{file}?reveal={reveal}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{file}: {body}");
    body.as_str().expect("a text file").to_owned()
}

#[tokio::test]
async fn every_family_gets_a_strong_admin_password_of_its_own_only_in_its_own_file() {
    let app = TestApp::spawn().await;
    every_family(&app).await;
    let mut seen = BTreeSet::new();
    for f in &FAMILIES {
        let pw = admin_password(&app, f).await;
        assert!(
            AdminPassword::parse(&pw, "x").is_ok(),
            "{}: {pw} fails the policy",
            f.vendor
        );
        // Cisco MPP: 8 to 127 characters from 3 of 4 classes; Yealink: at most 32.
        assert!((8..=32).contains(&pw.len()), "{pw}");
        for factory in ["admin", "1234", "0000", "22222", "456", "123"] {
            assert_ne!(pw, factory);
        }
        assert!(
            seen.insert(pw.clone()),
            "{}: the same password twice",
            f.vendor
        );

        // Masked in the preview, shown when revealed.
        let masked = preview(&app, f.mac, f.file, false).await;
        assert!(!masked.contains(&pw), "{}: preview shows it", f.vendor);
        assert!(masked.contains("********"), "{}", f.vendor);
        assert!(preview(&app, f.mac, f.file, true).await.contains(&pw));

        // Never in a common file.
        for (name, kind) in files_of(&app, f.mac).await {
            if kind == "common" {
                let body = preview(&app, f.mac, &name, true).await;
                assert!(!body.contains(&pw), "{name} carries the admin password");
                assert!(!body.to_lowercase().contains("password"), "{name}:\n{body}");
            }
        }

        // Never in the API's answers: only whether the device has one of its own.
        let (_, device) = app.get(&format!("/devices/{}", f.mac)).await;
        assert!(!device.to_string().contains(&pw), "{device}");
        assert_eq!(device["phone_admin_password_set"], false);
        assert_eq!(device["phone_admin_password_from"], "generated");
        assert!(device.get("generated_phone_admin_password").is_none());
    }
    let (_, audit) = app.get("/audit?limit=200").await;
    let (_, export) = app.get("/tenants/testsite.com/export?secrets=true").await;
    for pw in &seen {
        assert!(!audit.to_string().contains(pw.as_str()), "audit log");
        assert!(!export.to_string().contains(pw.as_str()), "CSV export");
    }
}

/// The device's own password wins, then the site's, then the tenant's, then the generated one;
/// `"generate"` rotates it and shows the new one once; `null` removes a level.
#[tokio::test]
async fn admin_passwords_merge_by_level_and_rotate() {
    let app = TestApp::spawn().await;
    every_family(&app).await;
    let yealink = &FAMILIES[0];
    let fanvil = &FAMILIES[7];
    let generated = admin_password(&app, yealink).await;
    let patch = |path: String, body: Value| {
        let app = &app;
        async move {
            let (status, answer) = app.api(Method::PATCH, &path, Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {answer}");
            answer
        }
    };
    let from = |path: String| {
        let app = &app;
        async move { app.get(&path).await.1["phone_admin_password_from"].clone() }
    };
    let device = format!("/devices/{}", yealink.mac);

    let tenant = patch(
        "/tenants/testsite.com".into(),
        json!({"phone_admin_password": "Tenant-Admin-42x"}),
    )
    .await;
    assert_eq!(tenant["phone_admin_password_set"], true);
    assert!(!tenant.to_string().contains("Tenant-Admin-42x"), "{tenant}");
    assert_eq!(admin_password(&app, yealink).await, "Tenant-Admin-42x");
    assert_eq!(admin_password(&app, fanvil).await, "Tenant-Admin-42x");
    assert_eq!(from(device.clone()).await, "tenant");

    let (status, site) = app
        .post(
            "/tenants/testsite.com/sites",
            json!({"name": "Berlin", "phone_admin_password": "Site-Admin-42xy", "voicemail_number": "*98"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert_eq!(site["phone_admin_password_set"], true);
    assert!(!site.to_string().contains("Site-Admin-42xy"), "{site}");
    patch(device.clone(), json!({"site": "Berlin"})).await;
    assert_eq!(admin_password(&app, yealink).await, "Site-Admin-42xy");
    assert_eq!(from(device.clone()).await, "site");
    assert_eq!(admin_password(&app, fanvil).await, "Tenant-Admin-42x");

    // Rotation: a new random password for this device alone, shown once.
    let rotated = patch(device.clone(), json!({"phone_admin_password": "generate"})).await;
    let new = rotated["generated_phone_admin_password"]
        .as_str()
        .expect("shown once")
        .to_owned();
    assert!(AdminPassword::parse(&new, "x").is_ok(), "{new}");
    assert_ne!(new, generated);
    assert_eq!(rotated["phone_admin_password_set"], true);
    assert_eq!(rotated["phone_admin_password_from"], "device");
    assert_eq!(admin_password(&app, yealink).await, new);
    let (_, again) = app.get(&device).await;
    assert!(again.get("generated_phone_admin_password").is_none());
    assert!(!again.to_string().contains(&new), "{again}");
    let rotated_twice = patch(device.clone(), json!({"phone_admin_password": "generate"})).await;
    assert_ne!(
        rotated_twice["generated_phone_admin_password"],
        new.as_str()
    );

    patch(
        device.clone(),
        json!({"phone_admin_password": "Device-Admin-42z"}),
    )
    .await;
    assert_eq!(admin_password(&app, yealink).await, "Device-Admin-42z");
    // Other changes keep it.
    patch(device.clone(), json!({"settings": {"language": "fr"}})).await;
    assert_eq!(admin_password(&app, yealink).await, "Device-Admin-42z");

    // Removing levels falls back, down to the password generated at registration.
    patch(device.clone(), json!({"phone_admin_password": null})).await;
    assert_eq!(admin_password(&app, yealink).await, "Site-Admin-42xy");
    patch(
        "/tenants/testsite.com/sites/Berlin".into(),
        json!({"phone_admin_password": null}),
    )
    .await;
    assert_eq!(admin_password(&app, yealink).await, "Tenant-Admin-42x");
    patch(
        "/tenants/testsite.com".into(),
        json!({"phone_admin_password": null}),
    )
    .await;
    assert_eq!(admin_password(&app, yealink).await, generated);
    assert_eq!(from(device.clone()).await, "generated");

    // A tenant may have one generated too: shown once, then on every phone without its own.
    let tenant = patch(
        "/tenants/testsite.com".into(),
        json!({"phone_admin_password": "generate"}),
    )
    .await;
    let shared = tenant["generated_phone_admin_password"].as_str().unwrap();
    assert_eq!(admin_password(&app, fanvil).await, shared);
    let (_, shown_again) = app.get("/tenants/testsite.com").await;
    assert!(!shown_again.to_string().contains(shared), "{shown_again}");

    // None of them reached the audit log.
    let (_, audit) = app.get("/audit?limit=200").await;
    let audit = audit.to_string();
    for secret in [
        "Tenant-Admin-42x",
        "Site-Admin-42xy",
        "Device-Admin-42z",
        new.as_str(),
        shared,
        generated.as_str(),
    ] {
        assert!(!audit.contains(secret), "the audit log shows {secret}");
    }
    assert!(audit.contains("phone_admin_password_set"));
}

#[tokio::test]
async fn bad_admin_passwords_and_voicemail_numbers_are_refused() {
    let app = TestApp::spawn().await;
    every_family(&app).await;
    let (status, body) = app
        .post("/tenants/testsite.com/sites", json!({"name": "Berlin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cases = [
        (
            "/tenants/testsite.com",
            json!({"phone_admin_password": "short-1A"}),
            "phone_admin_password",
            "password_too_weak",
        ),
        (
            "/tenants/testsite.com",
            json!({"phone_admin_password": format!("Aa1-{}", "x".repeat(29))}),
            "phone_admin_password",
            "password_too_long",
        ),
        (
            "/devices/001565aabbcc",
            json!({"phone_admin_password": "Zoë-Passwort-1234"}),
            "phone_admin_password",
            "password_forbidden_char",
        ),
        (
            "/tenants/testsite.com/sites/Berlin",
            json!({"phone_admin_password": "no digits or CAPS"}),
            "phone_admin_password",
            "password_too_weak",
        ),
        (
            "/tenants/testsite.com",
            json!({"voicemail_number": "*97\nlang.gui = x"}),
            "voicemail_number",
            "voicemail_number_invalid",
        ),
        (
            "/tenants/testsite.com/sites/Berlin",
            json!({"voicemail_number": "sip:vm@pbx"}),
            "voicemail_number",
            "voicemail_number_invalid",
        ),
        (
            "/devices/001565aabbcc",
            json!({"settings": {"voicemail_number": "9".repeat(33)}}),
            "settings.voicemail_number",
            "voicemail_number_invalid",
        ),
    ];
    for (path, body, field, code) in cases {
        let before = app.counts().await;
        let (status, answer) = app.api(Method::PATCH, path, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {answer}"
        );
        assert_error(&answer, field, code);
        assert_eq!(app.counts().await, before, "{path} {body}");
    }
}

/// A site's voicemail number wins over the tenant's for the phones at the site.
#[tokio::test]
async fn voicemail_numbers_merge_by_level() {
    let app = TestApp::spawn().await;
    every_family(&app).await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"voicemail_number": "*97"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["voicemail_number"], "*97");
    let (status, body) = app
        .post(
            "/tenants/testsite.com/sites",
            json!({"name": "Berlin", "voicemail_number": "+4930555"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["voicemail_number"], "+4930555");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0c383e3a5b01",
            Some(json!({"site": "Berlin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let yealink = app
        .phone_get("001565aabbcc.cfg", None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(kv(&parse_kv(&yealink), "voice_mail.number.1"), Some("*97"));
    let fanvil = app
        .phone_get("0c383e3a5b01.cfg", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(fanvil.contains("<MWINum>+4930555</MWINum>"), "{fanvil}");
}

/// A language a registered phone's family lacks is refused wherever it would reach the phone:
/// the tenant, a site, the device, moving the device or its user to a site that has it.
#[tokio::test]
async fn languages_a_phone_cannot_show_are_refused_at_every_level() {
    let app = TestApp::spawn().await;
    every_family(&app).await;
    for (name, language) in [("Stockholm", "sv"), ("Helsinki", "fi")] {
        let (status, body) = app
            .post(
                "/tenants/testsite.com/sites",
                json!({"name": name, "language": language}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.user("102", "Jane Doe").await;
    let refused = [
        // Fanvil, Grandstream and Poly have no Finnish; Fanvil no Swedish.
        (
            "/tenants/testsite.com",
            json!({"language": "fi"}),
            "language",
        ),
        (
            "/devices/0c383e3a5b01",
            json!({"settings": {"language": "sv"}}),
            "settings.language",
        ),
        (
            "/devices/0c383e3a5b01",
            json!({"site": "Stockholm"}),
            "language",
        ),
        (
            "/devices/c074ad0b63ee",
            json!({"site": "Helsinki"}),
            "language",
        ),
        (
            "/tenants/testsite.com/users/101",
            json!({"site": "Helsinki"}),
            "site",
        ),
    ];
    for (path, body, field) in refused {
        let before = app.counts().await;
        let (status, answer) = app.api(Method::PATCH, path, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {answer}"
        );
        assert_error(&answer, field, "language_unsupported");
        assert_eq!(app.counts().await, before, "{path} {body}");
    }
    // A site whose language a phone there lacks cannot take it on either.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/001565aabbcc",
            Some(json!({"site": "Stockholm"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "Yealink shows Swedish: {body}");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/sites/Stockholm",
            Some(json!({"language": "zh"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "Yealink shows Chinese: {body}");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/devices/0004f2a1b2c3",
            Some(json!({"site": "Stockholm"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "Poly shows Chinese: {body}");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/sites/Stockholm",
            Some(json!({"language": "cs"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Poly has no Czech: {body}"
    );
    assert_error(&body, "language", "language_unsupported");
    assert!(body["error"]["message"].as_str().unwrap().contains("Poly"));
    // A user without phones moves anywhere.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/users/102",
            Some(json!({"site": "Helsinki"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
