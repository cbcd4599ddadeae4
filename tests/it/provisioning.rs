//! The phone side over real sockets: the installer flow, caching, refusals, errors.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn installer_flow_puts_owner_then_aliases_on_lines_in_order() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let support = app.alias("101", "John Support").await;
    let sales = app.alias("101", "John Sales").await;
    let token = create_token(
        app.store(),
        deskprov::domain::token::TokenRole::Installer,
        Some(1),
        "installer-anna",
    )
    .await;

    // The installer types the MAC with dashes and upper case.
    let (status, body) = app
        .api_as(
            &token,
            Method::POST,
            "/devices",
            Some(json!({"mac": "00-15-65-AA-BB-CC", "tenant": "testsite.com", "extension": "101"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["mac"], YEALINK_MAC);
    assert_eq!(body["vendor"], "yealink");
    assert_eq!(body["status"], "awaiting_first_fetch");

    // The phone boots and fetches with its real User-Agent.
    let resp = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("#!version:1.0.0.1\n"), "{body}");
    let pairs = parse_kv(&body);
    assert_eq!(kv(&pairs, "account.1.display_name"), Some("John Smith"));
    assert_eq!(kv(&pairs, "account.1.user_name"), Some("testsitecom_101"));
    assert_eq!(kv(&pairs, "account.2.display_name"), Some("John Support"));
    assert_eq!(kv(&pairs, "account.3.display_name"), Some("John Sales"));
    assert_eq!(kv(&pairs, "account.4.enable"), Some("0"));
    assert_eq!(
        kv(&pairs, "account.1.sip_server.1.address"),
        Some("pbx.testsite.com")
    );

    // The admin reorders; the very next fetch follows.
    let (status, _) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/aliases/order",
            Some(json!({"order": [sales, support]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = app
        .phone_get("001565AABBCC.cfg", Some(YEALINK_UA))
        .await
        .text()
        .await
        .unwrap();
    let pairs = parse_kv(&body);
    assert_eq!(kv(&pairs, "account.2.display_name"), Some("John Sales"));
    assert_eq!(kv(&pairs, "account.3.display_name"), Some("John Support"));
}

#[tokio::test]
async fn unchanged_config_is_byte_identical_and_if_none_match_gives_304() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let first = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "strong ETag: {etag}"
    );
    let first = first.bytes().await.unwrap();
    let second = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(second.headers()["etag"], etag.as_str());
    assert_eq!(second.bytes().await.unwrap(), first);

    let cached = app
        .phone_request(
            "001565aabbcc.cfg",
            Some(YEALINK_UA),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());

    let stale = app
        .phone_request(
            "001565aabbcc.cfg",
            Some(YEALINK_UA),
            &[("if-none-match", "\"0000\"")],
        )
        .await;
    assert_eq!(stale.status(), StatusCode::OK);
}

#[tokio::test]
async fn output_is_identical_after_a_restart() {
    let mut app = TestApp::spawn().await;
    app.john_with_phone().await;
    let before = app
        .phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
        .await
        .bytes()
        .await
        .unwrap();
    let db = app.db.clone();
    app.stop().await;
    let running = deskprov::server::start(&loopback_config(db)).await.unwrap();
    let after = reqwest::Client::new()
        .get(format!("http://{}/001565aabbcc.cfg", running.phone_addr))
        .header("user-agent", YEALINK_UA)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(before, after);
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_macs_and_ua_mismatches_get_the_same_404() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let unknown = app
        .phone_get(
            "001565000001.cfg",
            Some("Yealink SIP-T46U 108.86.0.45 00:15:65:00:00:01"),
        )
        .await;
    let mismatch = app
        .phone_get(
            "001565aabbcc.cfg",
            Some("Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cd"),
        )
        .await;
    let no_such_file = app.phone_get("nothing-here.txt", None).await;
    let traversal = app.phone_get("..%2f..%2fetc%2fpasswd", None).await;
    let mut answers = Vec::new();
    for resp in [unknown, mismatch, no_such_file, traversal] {
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        answers.push((headers, resp.text().await.unwrap()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert!(!answers[0].1.contains("password"));
}

#[tokio::test]
async fn a_ua_without_mac_or_an_unknown_ua_is_only_a_hint() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let no_mac = app
        .phone_get(
            "001565aabbcc.cfg",
            Some("Yealink-T46U 108.86.0.45 108.1.0.128.0.0.0"),
        )
        .await;
    assert_eq!(no_mac.status(), StatusCode::OK);
    let curl = app.phone_get("001565aabbcc.cfg", Some("curl/8.5.0")).await;
    assert_eq!(curl.status(), StatusCode::OK);
}

#[tokio::test]
async fn common_files_hold_no_secrets() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (_, user) = app
        .api(
            Method::GET,
            "/tenants/testsite.com/users/101?reveal=true",
            None,
        )
        .await;
    let password = user["sip_password"].as_str().unwrap().to_owned();
    let resp = app.phone_get("y000000000108.cfg", Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let body = resp.text().await.unwrap();
    assert!(!body.contains(&password));
    let pairs = parse_kv(&body);
    assert!(
        pairs
            .iter()
            .all(|(k, _)| !k.contains("password") && !k.starts_with("account.")),
        "{body}"
    );
    // The device file does carry it, so the check above can fail.
    let device = app
        .phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
        .await
        .text()
        .await
        .unwrap();
    assert!(device.contains(&password));
}

#[tokio::test]
async fn a_first_fetch_binds_the_device_and_starts_its_history() {
    let mut app = TestApp::spawn().await;
    app.john_with_phone().await;
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.phone_get("001565000001.cfg", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // Written before each answer: no waiting.
    let history = app
        .store()
        .read(|c| {
            let mut stmt = c.prepare("SELECT kind, file, status, result, ua, mac, tenant_id IS NOT NULL FROM device_events ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u16>(2)?, r.get::<_, String>(3)?, r.get::<_, Option<String>>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, bool>(6)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["first_fetch", "new_version", "refused"],
        "{history:?}"
    );
    assert_eq!(history[0].1, "001565aabbcc.cfg");
    assert_eq!((history[0].2, history[0].3.as_str()), (200, "served"));
    assert_eq!(history[0].4.as_deref(), Some(YEALINK_UA));
    assert!(history[0].6, "a known device's event names its tenant");
    assert_eq!(
        (
            history[2].2,
            history[2].3.as_str(),
            history[2].5.as_deref(),
            history[2].6
        ),
        (404, "unknown_device", Some("001565000001"), false)
    );
    // The same fetch again changes nothing worth an event.
    app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(crate::helpers::recorded_events(&app).await.len(), 3);

    let (_, device) = app.get("/devices/00:15:65:aa:bb:cc").await;
    assert_eq!(device["status"], "provisioned", "{device}");
    assert_eq!(device["seen_model"], "T46U");
    assert_eq!(device["seen_firmware"], "108.86.0.45");
    assert_eq!(device["last_ip"], "127.0.0.1");

    // A change the phone has not fetched yet shows as such.
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/users/101",
            Some(json!({"name": "John A. Smith"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, device) = app.get("/devices/001565aabbcc").await;
    assert_eq!(device["status"], "config_changed_since_fetch", "{device}");
    app.stop().await;
}

#[tokio::test]
async fn a_display_name_with_a_newline_never_reaches_the_file() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let before = app.counts().await;
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/users/101",
            Some(json!({"name": "Bob\naccount.1.sip_server.1.address = evil.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "name", "text_not_printable");
    let (status, body) = app
        .post(
            "/tenants/testsite.com/users/101/aliases",
            json!({"name": "Sales\r\nx = y"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "name", "text_not_printable");
    assert_eq!(app.counts().await, before);
    let body = app
        .phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("evil.example"));
    assert_eq!(
        parse_kv(&body)
            .iter()
            .filter(|(k, _)| k == "account.1.sip_server.1.address")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_internal_error_is_a_bare_500_never_a_file() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    // Break the store under the running server.
    let conn = rusqlite::Connection::open(&app.db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys=OFF; DROP TABLE aliases;")
        .unwrap();
    let resp = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers().get("etag").is_none());
    let body = resp.text().await.unwrap();
    assert!(!body.contains("account."), "{body}");
}

#[tokio::test]
async fn an_expired_enrollment_window_looks_unknown_until_reopened() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.device(YEALINK_MAC, "101").await;
    // Move the deadline into the past, as if the window had run out.
    app.store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE devices SET enroll_deadline = '2000-01-01T00:00:00.000Z'",
                [],
            )?)
        })
        .await
        .unwrap();
    let (_, device) = app.get("/devices/001565aabbcc").await;
    assert_eq!(device["status"], "enrollment_expired");
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (status, device) = app
        .api(
            Method::PATCH,
            "/devices/001565aabbcc",
            Some(json!({"reopen_enrollment": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(device["status"], "awaiting_first_fetch");
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn tenant_allow_list_and_url_key_gate_the_phone_path() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"allow_cidrs": ["10.0.0.0/8"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let key = "k3y-0123456789abcdef";
    let (status, tenant) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"allow_cidrs": ["127.0.0.0/8"], "url_key": key}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "key required"
    );
    assert_eq!(
        app.phone_get("wrong-key-0123456789/001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.phone_get(&format!("{key}/001565aabbcc.cfg"), Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.phone_get(&format!("{key}/y000000000108.cfg"), Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn passwords_with_format_characters_round_trip_in_text_and_xml() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let tricky = "Pa&ss%#;=wo rd'\"1X€😀";
    let (status, body) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": "John Smith", "extension": "101", "sip_password": tricky}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.device(YEALINK_MAC, "101").await;
    let (status, body) = app
        .post("/devices", json!({"mac": "0004f2a1b2c3", "tenant": "testsite.com", "extension": "101", "model": "VVX_411"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Text: the value after " = " is the password, to the end of the line.
    let yealink = app
        .phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(kv(&parse_kv(&yealink), "account.1.password"), Some(tricky));
    // XML: the attribute parses back to the password.
    let poly = app
        .phone_get(
            "0004f2a1b2c3-user.cfg",
            Some("FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application"),
        )
        .await
        .text()
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&poly).unwrap();
    let found = doc
        .descendants()
        .find_map(|n| n.attribute("reg.1.auth.password"));
    assert_eq!(found, Some(tricky), "{poly}");
}

#[tokio::test]
async fn user_agents_are_stored_cut_to_a_bounded_length() {
    let mut app = TestApp::spawn().await;
    app.john_with_phone().await;
    let junk = format!("<script>alert(1)</script>{}", "x".repeat(10 * 1024));
    let resp = app.phone_get("001565aabbcc.cfg", Some(&junk)).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "an unknown UA is only a hint"
    );
    app.stop().await;
    let conn = rusqlite::Connection::open(&app.db).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT ua FROM device_events WHERE kind = 'first_fetch'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        stored.chars().count(),
        deskprov::domain::history::MAX_STORED_UA
    );
    let seen: String = conn
        .query_row("SELECT seen_ua FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, stored, "the device keeps it cut the same way");
    assert!(
        stored.starts_with("<script>"),
        "stored as sent (escaped wherever shown)"
    );
}
