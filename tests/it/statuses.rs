//! Device statuses are kept up to date, not worked out over every device per view: a change
//! works out again only the devices it touched, and the dashboard and `/metrics` read the counts.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// Three phones, one per user.
const PHONES: [(&str, &str, &str); 3] = [
    (
        "101",
        "001565000101",
        "Yealink SIP-T46U 108.86.0.45 00:15:65:00:01:01",
    ),
    (
        "102",
        "001565000102",
        "Yealink SIP-T46U 108.86.0.45 00:15:65:00:01:02",
    ),
    (
        "103",
        "001565000103",
        "Yealink SIP-T46U 108.86.0.45 00:15:65:00:01:03",
    ),
];

/// `deskprov_devices` by status and the statuses worked out so far, from `/metrics`.
async fn statuses(app: &TestApp) -> ([u64; 4], u64) {
    let [awaiting, provisioned, changed, expired, worked_out] = metric_values(
        app,
        [
            r#"deskprov_devices{status="awaiting_first_fetch"}"#,
            r#"deskprov_devices{status="provisioned"}"#,
            r#"deskprov_devices{status="config_changed_since_fetch"}"#,
            r#"deskprov_devices{status="enrollment_expired"}"#,
            "deskprov_device_statuses_worked_out_total",
        ],
    )
    .await;
    ([awaiting, provisioned, changed, expired], worked_out)
}

async fn fetch(app: &TestApp, (_, mac, ua): (&str, &str, &str)) {
    let resp = app.phone_get(&format!("{mac}.cfg"), Some(ua)).await;
    assert_eq!(resp.status(), StatusCode::OK, "{mac}");
}

#[tokio::test]
async fn a_change_works_out_again_only_the_statuses_it_touched() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for (ext, mac, _) in PHONES {
        app.user(ext, &format!("User {ext}")).await;
        app.device(mac, ext).await;
    }
    let (counts, _) = statuses(&app).await;
    assert_eq!(counts, [3, 0, 0, 0], "none fetched yet");
    for phone in PHONES {
        fetch(&app, phone).await;
    }
    let (counts, before) = statuses(&app).await;
    assert_eq!(counts, [0, 3, 0, 0]);
    // Scraping again works nothing out.
    assert_eq!(statuses(&app).await, (counts, before));

    // One user renamed: only that user's phone is worked out again, and it changed.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/users/102",
            Some(json!({"name": "Renamed User"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (counts, after_change) = statuses(&app).await;
    assert_eq!(counts, [0, 2, 1, 0]);
    assert_eq!(after_change, before + 1, "only the renamed user's phone");

    // The phone fetches the new version: worked out once more, provisioned again.
    fetch(&app, PHONES[1]).await;
    let (counts, after_fetch) = statuses(&app).await;
    assert_eq!(counts, [0, 3, 0, 0]);
    assert_eq!(after_fetch, after_change + 1);

    // A tenant setting touches every phone of the tenant.
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"ntp_server": "ntp.testsite.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (counts, after_tenant) = statuses(&app).await;
    assert_eq!(counts, [0, 0, 3, 0]);
    assert_eq!(after_tenant, after_fetch + 3);

    // The API tells the same status.
    let (_, device) = app.get(&format!("/devices/{}", PHONES[0].1)).await;
    assert_eq!(device["status"], "config_changed_since_fetch", "{device}");
}
