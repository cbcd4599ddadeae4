//! The phone path's cache never serves a stale file: a change made through the API is in the
//! very next fetch, and an unchanged file is served byte-identical, cached or not.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, YEALINK_MAC, YEALINK_UA, kv, parse_kv};

const FILE: &str = "001565aabbcc.cfg";

/// The device file as the phone gets it; asserts 200.
async fn fetch(app: &TestApp) -> String {
    fetch_as(app, Some(YEALINK_UA)).await
}

async fn fetch_as(app: &TestApp, ua: Option<&str>) -> String {
    let resp = app.phone_get(FILE, ua).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// Fetches twice, so the next fetch would come from the cache if it were allowed to.
async fn warm(app: &TestApp) -> String {
    let first = fetch(app).await;
    assert_eq!(fetch(app).await, first);
    first
}

/// The file as rendered afresh for the API preview (passwords shown), which never uses the
/// phone path's cache.
async fn preview(app: &TestApp) -> String {
    let resp = app
        .client
        .get(format!(
            "http://{}/api/v1/devices/{YEALINK_MAC}/files/{FILE}?reveal=true",
            app.admin
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

async fn ok(app: &TestApp, method: Method, path: &str, body: serde_json::Value) {
    let (status, answer) = app.api(method, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
}

fn labels(body: &str) -> Vec<String> {
    let pairs = parse_kv(body);
    (1..=16)
        .filter_map(|i| kv(&pairs, &format!("account.{i}.label")).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_kind_of_change_is_in_the_very_next_fetch() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    assert_eq!(
        labels(&warm(&app).await),
        ["John Smith", "John Support", "John Sales"]
    );

    // The owner's name.
    warm(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com/users/101",
        json!({"name": "John A. Smith"}),
    )
    .await;
    assert_eq!(labels(&fetch(&app).await)[0], "John A. Smith");

    // The order of the aliases.
    let (_, user) = app.get("/tenants/testsite.com/users/101").await;
    let ids: Vec<i64> = user["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    warm(&app).await;
    ok(
        &app,
        Method::PUT,
        "/tenants/testsite.com/users/101/aliases/order",
        json!({"order": [ids[1], ids[0]]}),
    )
    .await;
    assert_eq!(
        labels(&fetch(&app).await),
        ["John A. Smith", "John Sales", "John Support"]
    );

    // A new alias, then deleting one.
    warm(&app).await;
    app.alias("101", "John Night").await;
    assert_eq!(labels(&fetch(&app).await).len(), 4);
    warm(&app).await;
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/tenants/testsite.com/users/101/aliases/{}", ids[1]),
            None,
        )
        .await;
    assert!(status.is_success());
    assert_eq!(
        labels(&fetch(&app).await),
        ["John A. Smith", "John Support", "John Night"]
    );

    // Tenant settings.
    warm(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com",
        json!({"sip_server": "pbx2.testsite.com", "ntp_server": "ntp.changed.example"}),
    )
    .await;
    let body = fetch(&app).await;
    let pairs = parse_kv(&body);
    assert_eq!(
        kv(&pairs, "account.1.sip_server.1.address"),
        Some("pbx2.testsite.com")
    );
    assert_eq!(
        kv(&pairs, "local_time.ntp_server1"),
        Some("ntp.changed.example")
    );

    // A site for the device.
    ok(
        &app,
        Method::POST,
        "/tenants/testsite.com/sites",
        json!({"name": "HQ", "ntp_server": "ntp.hq.example"}),
    )
    .await;
    warm(&app).await;
    ok(
        &app,
        Method::PATCH,
        &format!("/devices/{YEALINK_MAC}"),
        json!({"site": "HQ"}),
    )
    .await;
    assert_eq!(
        kv(&parse_kv(&fetch(&app).await), "local_time.ntp_server1"),
        Some("ntp.hq.example")
    );

    // Re-assigning the device to another user.
    app.user("102", "Jane Doe").await;
    warm(&app).await;
    ok(
        &app,
        Method::PATCH,
        &format!("/devices/{YEALINK_MAC}"),
        json!({"extension": "102"}),
    )
    .await;
    assert_eq!(labels(&fetch(&app).await), ["Jane Doe"]);

    // Tenant phone policy: an allow-list without loopback refuses the very next fetch…
    warm(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com",
        json!({"phone_auth": {"mode": "none", "allow_cidrs": ["10.0.0.0/8"]}}),
    )
    .await;
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::NOT_FOUND
    );
    // …and opening it again serves the very next one.
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com",
        json!({"phone_auth": {"mode": "none", "allow_cidrs": ["127.0.0.0/8"]}}),
    )
    .await;
    assert_eq!(labels(&fetch(&app).await), ["Jane Doe"]);

    // Deleting the device.
    warm(&app).await;
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
            None,
        )
        .await;
    assert!(status.is_success());
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_expired_window_reopened_serves_the_very_next_fetch() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.device(YEALINK_MAC, "101").await;
    app.store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE devices SET enroll_deadline = '2000-01-01T00:00:00.000Z'",
                [],
            )?)
        })
        .await
        .unwrap();
    // Refused twice: the device is now in the cache, with its window closed.
    for _ in 0..2 {
        assert_eq!(
            app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    ok(
        &app,
        Method::PATCH,
        &format!("/devices/{YEALINK_MAC}"),
        json!({"reopen_enrollment": true}),
    )
    .await;
    fetch(&app).await;
}

#[tokio::test]
async fn unchanged_files_are_byte_identical_cached_or_not() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let first = app.phone_get(FILE, Some(YEALINK_UA)).await;
    let etag = first.headers()["etag"].clone();
    let first = first.text().await.unwrap();
    // The preview renders for the model the phone reported (written before the answer).
    assert_eq!(first, preview(&app).await);
    for _ in 0..5 {
        let again = app.phone_get(FILE, Some(YEALINK_UA)).await;
        assert_eq!(again.headers()["etag"], etag);
        assert_eq!(again.text().await.unwrap(), first);
    }
    // A change elsewhere (another user) leaves this phone's file in memory; byte-identical.
    app.user("105", "Somebody Else").await;
    assert_eq!(fetch(&app).await, first);
    // A common file too.
    let common = "y000000000108.cfg";
    let a = app.phone_get(common, Some(YEALINK_UA)).await;
    assert_eq!(a.status(), StatusCode::OK);
    let a = a.text().await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            app.phone_get(common, Some(YEALINK_UA))
                .await
                .text()
                .await
                .unwrap(),
            a
        );
    }
}

#[tokio::test]
async fn the_model_a_phone_reports_is_used_at_once_when_a_request_names_none() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    // Registered without a model: a request without a User-Agent renders for the default.
    let default = fetch_as(&app, None).await;
    assert_eq!(default, fetch_as(&app, None).await);
    // The phone says it is a T19P_E2 (one line); its state keeps that model.
    let ua = "Yealink SIP-T19P_E2 53.84.0.15 00:15:65:aa:bb:cc";
    let one_line = fetch_as(&app, Some(ua)).await;
    assert_eq!(labels(&one_line), ["John Smith"]);
    // Now a request without a User-Agent gets the T19P_E2 file, not the cached default one.
    let after = fetch_as(&app, None).await;
    assert_eq!(after, one_line);
    assert_eq!(after, preview(&app).await);
}

#[tokio::test]
async fn fetches_move_the_generation_only_when_they_bind_or_change_the_model() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    fetch(&app).await;
    // The first fetch bound the device: that changed what the gates read.
    let (_, device) = app.get("/devices/001565aabbcc").await;
    assert_eq!(device["status"], "provisioned");
    let before = app.store().generation();
    for _ in 2..=4 {
        fetch(&app).await;
    }
    assert_eq!(
        app.store().generation(),
        before,
        "fetches that change nothing a file depends on keep the cache"
    );
    // A different model does move it.
    fetch_as(&app, Some("Yealink SIP-T41P 66.84.0.15 00:15:65:aa:bb:cc")).await;
    assert!(app.store().generation() > before);
}

#[tokio::test]
async fn a_change_by_another_process_is_in_the_very_next_fetch() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    assert_eq!(labels(&warm(&app).await)[0], "John Smith");
    // Once the first fetch bound the device nothing moves the generation…
    warm(&app).await;
    let before = app.store().generation();
    // …until another connection (as a second process would) renames the user behind the
    // server's back: the very next fetch has it, with no wait.
    let other = rusqlite::Connection::open(&app.db).unwrap();
    other
        .execute(
            "UPDATE users SET name = 'Renamed Elsewhere' WHERE extension = '101'",
            [],
        )
        .unwrap();
    assert_eq!(labels(&fetch(&app).await)[0], "Renamed Elsewhere");
    assert!(app.store().generation() > before);
}
