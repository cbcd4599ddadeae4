//! The audit log: who changed what with before and after, and restores of deleted users,
//! aliases and devices that check every rule again.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The newest audit entry matching `action` and `entity`.
async fn newest(app: &TestApp, action: &str, entity: &str) -> Value {
    let (_, body) = app.get("/audit?limit=500").await;
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action && e["entity"] == entity)
        .unwrap_or_else(|| panic!("no {action} of a {entity} in {body}"))
        .clone()
}

async fn restore(app: &TestApp, entry: &Value) -> (StatusCode, Value) {
    let id = entry["id"].as_i64().unwrap();
    app.api(Method::POST, &format!("/audit/{id}/restore"), None)
        .await
}

async fn delete(app: &TestApp, path: &str) {
    let (status, body) = app.api(Method::DELETE, path, None).await;
    // A user's delete answers with what went with it; other deletes answer nothing.
    let expected = if path.contains("/users/") && !path.contains("/aliases/") {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    assert_eq!(status, expected, "{path}: {body}");
}

#[tokio::test]
async fn every_change_records_who_what_before_and_after() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/users/101",
            Some(json!({"name": "John Smyth", "sip_password": "Another-Secret-99"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let entry = newest(&app, "update", "user").await;
    assert_eq!(entry["actor"], "token:test-admin");
    assert_eq!(entry["key"], "101");
    assert_eq!(entry["tenant"], "testsite.com");
    assert_eq!(entry["before"]["name"], "John Smith");
    assert_eq!(entry["after"]["name"], "John Smyth");
    assert_eq!(entry["after"]["sip_password_changed"], true);
    assert!(
        !entry.to_string().contains("Another-Secret-99"),
        "the log never shows secrets: {entry}"
    );
}

#[tokio::test]
async fn a_deleted_user_comes_back_with_its_aliases_passwords_and_order() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (status, _) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": "John Smith", "extension": "101", "email": "john@testsite.com",
                   "sip_password": "Correct-Horse-42!", "voicemail_pin": "4321",
                   "portal_password": "Portal-Secret-123", "phone_numbers": ["+4930123456"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let support = app.alias("101", "John Support").await;
    let sales = app.alias("101", "John Sales").await;
    app.api(
        Method::PUT,
        "/tenants/testsite.com/users/101/aliases/order",
        Some(json!({"order": [sales, support]})),
    )
    .await;
    let (_, before) = app.get("/tenants/testsite.com/users/101?reveal=true").await;
    delete(&app, "/tenants/testsite.com/users/101?confirm=101").await;
    let counts_after_delete = app.counts().await;

    let deleted = newest(&app, "delete", "user").await;
    assert!(
        !deleted.to_string().contains("Correct-Horse-42!"),
        "the listing never shows the snapshot: {deleted}"
    );
    let (status, body) = restore(&app, &deleted).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["entity"], &body["key"]),
        (&json!("user"), &json!("101"))
    );

    let (_, after) = app.get("/tenants/testsite.com/users/101?reveal=true").await;
    for field in [
        "name",
        "email",
        "sip_username",
        "sip_password",
        "phone_numbers",
        "voicemail_pin_set",
        "portal_password_set",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["portal_password_set"], true);
    let strip = |aliases: &Value| -> Vec<(Value, Value, Value)> {
        aliases
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].clone(),
                    a["sip_username"].clone(),
                    a["sip_password"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&after["aliases"]), strip(&before["aliases"]));
    assert_eq!(after["aliases"][0]["name"], "John Sales", "order kept");

    let restore_entry = newest(&app, "restore", "user").await;
    assert_eq!(restore_entry["actor"], "token:test-admin");
    assert_eq!(restore_entry["id"], body["audit_id"]);
    let deleted_now = newest(&app, "delete", "user").await;
    assert_eq!(deleted_now["restored_by"], body["audit_id"]);
    let counts = app.counts().await;
    let n = |c: &[(String, i64)], t: &str| c.iter().find(|(n, _)| n == t).unwrap().1;
    assert_eq!(n(&counts, "users"), n(&counts_after_delete, "users") + 1);
    assert_eq!(n(&counts, "aliases"), 2);
}

#[tokio::test]
async fn a_deleted_alias_and_a_deleted_device_come_back() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.post("/tenants/testsite.com/sites", json!({"name": "Berlin"}))
        .await;
    app.user("101", "John Smith").await;
    let support = app.alias("101", "John Support").await;
    app.alias("101", "John Sales").await;
    let (status, _) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101",
                   "model": "T46U", "site": "Berlin", "label": "Front desk",
                   "settings": {"language": "de"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    delete(
        &app,
        &format!("/tenants/testsite.com/users/101/aliases/{support}"),
    )
    .await;
    let (status, body) = restore(&app, &newest(&app, "delete", "alias").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["name"], "John Support");
    assert_eq!(body["record"]["sip_username"], "testsitecom_101_2");
    assert_eq!(
        body["record"]["position"], 2,
        "back at the end of the order"
    );

    let (_, before) = app.get(&format!("/devices/{YEALINK_MAC}")).await;
    delete(
        &app,
        &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
    )
    .await;
    let (status, body) = restore(&app, &newest(&app, "delete", "device").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["key"], YEALINK_MAC);
    let (_, after) = app.get(&format!("/devices/{YEALINK_MAC}")).await;
    for field in ["vendor", "model", "label", "settings", "site", "extension"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["site"], "Berlin");
    assert_eq!(after["status"], "awaiting_first_fetch");
    let resp = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::OK, "the phone is served again");
}

#[tokio::test]
async fn a_restore_is_refused_when_the_extension_was_reused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    delete(&app, "/tenants/testsite.com/users/101?confirm=101").await;
    let deleted = newest(&app, "delete", "user").await;
    app.user("101", "Jane Doe").await;
    let before = app.counts().await;
    let (status, body) = restore(&app, &deleted).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "extension", "extension_taken");
    assert_eq!(app.counts().await, before);
    let (_, entry) = app.get("/audit?limit=500").await;
    let same = entry["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == deleted["id"])
        .unwrap()
        .clone();
    assert_eq!(same["restored_by"], Value::Null, "still restorable later");
}

#[tokio::test]
async fn restoring_twice_is_refused() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    delete(
        &app,
        &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
    )
    .await;
    let deleted = newest(&app, "delete", "device").await;
    let (status, _) = restore(&app, &deleted).await;
    assert_eq!(status, StatusCode::CREATED);
    delete(
        &app,
        &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
    )
    .await;
    let before = app.counts().await;
    let (status, body) = restore(&app, &deleted).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "id", "already_restored");
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_restore_is_refused_when_a_rule_broke_since() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;

    // The MAC was registered again.
    delete(
        &app,
        &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
    )
    .await;
    let device_deleted = newest(&app, "delete", "device").await;
    app.device(YEALINK_MAC, "101").await;
    let before = app.counts().await;
    let (status, body) = restore(&app, &device_deleted).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "mac", "mac_registered");
    assert_eq!(app.counts().await, before);

    // The alias's SIP username was taken by another user.
    let (_, aliases) = app.get("/tenants/testsite.com/users/101/aliases").await;
    let id = aliases["aliases"][0]["id"].as_i64().unwrap();
    let username = aliases["aliases"][0]["sip_username"]
        .as_str()
        .unwrap()
        .to_owned();
    delete(
        &app,
        &format!("/tenants/testsite.com/users/101/aliases/{id}"),
    )
    .await;
    let alias_deleted = newest(&app, "delete", "alias").await;
    let (status, _) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": "Ann", "extension": "102", "sip_username": username}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = app.counts().await;
    let (status, body) = restore(&app, &alias_deleted).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "sip_username", "sip_username_taken");
    assert_eq!(app.counts().await, before);

    // The device's user is gone.
    delete(
        &app,
        &format!("/devices/{YEALINK_MAC}?confirm={YEALINK_MAC}"),
    )
    .await;
    let device_deleted = newest(&app, "delete", "device").await;
    delete(&app, "/tenants/testsite.com/users/101?confirm=101").await;
    let before = app.counts().await;
    let (status, body) = restore(&app, &device_deleted).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "extension", "user_unknown");
    assert_eq!(app.counts().await, before);

    // Its user is back, but already at the device limit.
    let (status, body) = restore(&app, &newest(&app, "delete", "user").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.device("001565000001", "101").await;
    app.device("001565000002", "101").await;
    let before = app.counts().await;
    let (status, body) = restore(&app, &device_deleted).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "extension", "device_limit");
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn only_deletes_can_be_restored_and_only_by_admins() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let created = newest(&app, "create", "user").await;
    let (status, body) = restore(&app, &created).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "id", "not_restorable");
    let (status, _) = app.api(Method::POST, "/audit/999999/restore", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    delete(&app, "/tenants/testsite.com/users/101?confirm=101").await;
    let deleted = newest(&app, "delete", "user").await;
    let installer = create_token(
        app.store(),
        deskprov::domain::token::TokenRole::Installer,
        Some(1),
        "installer",
    )
    .await;
    let id = deleted["id"].as_i64().unwrap();
    let (status, _) = app
        .api_as(
            &installer,
            Method::POST,
            &format!("/audit/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin bound to another tenant does not even see the entry.
    let (status, _) = app
        .post(
            "/tenants",
            json!({"name": "other.com", "sip_server": "pbx.other.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let other_admin = create_token(
        app.store(),
        deskprov::domain::token::TokenRole::Admin,
        Some(2),
        "other-admin",
    )
    .await;
    let (status, _) = app
        .api_as(
            &other_admin,
            Method::POST,
            &format!("/audit/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
