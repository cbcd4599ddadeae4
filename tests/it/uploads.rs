//! Phones uploading their own files (`PUT`): logs kept per device, overrides served back.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::vendor_kit::*;

const VVX: Phone = Phone {
    vendor: "polycom",
    mac: "0004f2a1b2c3",
    model: "VVX_411",
    ua: "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application",
};

async fn put(app: &TestApp, file: &str, body: impl Into<reqwest::Body>) -> StatusCode {
    app.client
        .put(format!("http://{}/{file}", app.phone))
        .header("user-agent", VVX.ua)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logs_are_kept_per_device_and_readable_by_admins() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    assert_eq!(
        put(&app, "0004f2a1b2c3-app.log", "first boot\n").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&app, "0004f2a1b2c3-app.log", "second boot\n").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&app, "0004f2a1b2c3-boot.log", "bootrom\n").await,
        StatusCode::NO_CONTENT
    );
    let (status, list) = app.get("/devices/0004f2a1b2c3/uploads").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["file"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["0004f2a1b2c3-app.log", "0004f2a1b2c3-boot.log"]);
    let resp = app
        .client
        .get(format!(
            "http://{}/api/v1/devices/0004f2a1b2c3/uploads/0004f2a1b2c3-app.log",
            app.admin
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        resp.text().await.unwrap(),
        "second boot\n",
        "the latest upload replaces the one before"
    );
}

#[tokio::test]
async fn only_registered_devices_own_names_within_the_limit_are_accepted() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    let before = app.counts().await;
    // An unregistered MAC, a name that is not an upload, a path with a slash.
    assert_eq!(
        put(&app, "0004f2000001-app.log", "x").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(&app, "0004f2a1b2c3.cfg", "x").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(&app, "a/0004f2a1b2c3-app.log", "x").await,
        StatusCode::NOT_FOUND
    );
    // Over the 1 MiB log limit.
    assert_eq!(
        put(&app, "0004f2a1b2c3-app.log", vec![b'x'; 1024 * 1024 + 1]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (_, list) = app.get("/devices/0004f2a1b2c3/uploads").await;
    assert!(list["uploads"].as_array().unwrap().is_empty(), "{list}");
    assert_eq!(app.counts().await, before);
    // A Yealink device has no uploads in its profile.
    provision_yealink(&app).await;
    assert_eq!(
        put(&app, "001565aabbcc-app.log", "x").await,
        StatusCode::NOT_FOUND
    );
}

async fn provision_yealink(app: &TestApp) {
    app.user("102", "Mary Jones").await;
    app.device(YEALINK_MAC, "102").await;
}

#[tokio::test]
async fn local_overrides_come_back_to_the_phone() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    let (empty, _) = fetch(&app, VVX, "0004f2a1b2c3-phone.cfg").await;
    parse_xml(&empty);
    let overrides = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity=\"1\"/></PHONE_CONFIG>\n";
    assert_eq!(
        put(&app, "0004f2a1b2c3-phone.cfg", overrides).await,
        StatusCode::NO_CONTENT
    );
    let (served, content_type) = fetch(&app, VVX, "0004f2a1b2c3-phone.cfg").await;
    assert_eq!(served, overrides);
    assert_eq!(content_type, "text/xml; charset=utf-8");
    // The web overrides are kept apart.
    let (web, _) = fetch(&app, VVX, "0004f2a1b2c3-web.cfg").await;
    assert!(!web.contains("idleIntensity"), "{web}");
    parse_xml(&web);
}

/// The device's status as the API reports it, once the fetch records are written (they are
/// written in batches, so the first fetch may take a moment to show).
async fn settled_status(app: &TestApp, mac: &str) -> String {
    let mut status = String::new();
    for _ in 0..100 {
        let (_, device) = app.get(&format!("/devices/{mac}")).await;
        status = device["status"].as_str().unwrap_or_default().to_owned();
        if status != "awaiting_first_fetch" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status
}

#[tokio::test]
async fn a_phone_served_its_own_upload_back_is_provisioned() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    let overrides = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity=\"1\"/></PHONE_CONFIG>\n";
    assert_eq!(
        put(&app, "0004f2a1b2c3-phone.cfg", overrides).await,
        StatusCode::NO_CONTENT
    );
    let (served, _) = fetch(&app, VVX, "0004f2a1b2c3-phone.cfg").await;
    assert_eq!(served, overrides);
    assert_eq!(
        settled_status(&app, "0004f2a1b2c3").await,
        "provisioned",
        "the phone has exactly what it would get now"
    );
    // A newer upload than the one the phone was served is a change it has not fetched yet.
    let newer = overrides.replace("\"1\"", "\"2\"");
    assert_eq!(
        put(&app, "0004f2a1b2c3-phone.cfg", newer.clone()).await,
        StatusCode::NO_CONTENT
    );
    let (_, device) = app.get("/devices/0004f2a1b2c3").await;
    assert_eq!(device["status"], "config_changed_since_fetch", "{device}");
    // The preview shows what the phone gets: its own upload.
    let (status, preview) = app
        .get("/devices/0004f2a1b2c3/files/0004f2a1b2c3-phone.cfg")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview, serde_json::Value::String(newer));
}

#[tokio::test]
async fn an_upload_that_is_not_text_is_not_served_back() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    let (template, _) = fetch(&app, VVX, "0004f2a1b2c3-phone.cfg").await;
    assert_eq!(
        put(&app, "0004f2a1b2c3-phone.cfg", vec![0xff, 0xfe, 0x00]).await,
        StatusCode::NO_CONTENT
    );
    let (served, _) = fetch(&app, VVX, "0004f2a1b2c3-phone.cfg").await;
    assert_eq!(served, template, "the template, as if nothing was uploaded");
    assert_eq!(settled_status(&app, "0004f2a1b2c3").await, "provisioned");
}

#[tokio::test]
async fn refused_uploads_are_recorded_by_reason() {
    let mut app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    assert_eq!(
        put(&app, "0004f2a1b2c3-app.log", vec![b'x'; 1024 * 1024 + 1]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        put(&app, "0004f2000001-app.log", "x").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(&app, "0004f2a1b2c3-app.log", "boot\n").await,
        StatusCode::NO_CONTENT
    );
    let refused = |status, result: &str| ("refused".to_owned(), status, result.to_owned());
    let events = recorded_events(&app).await;
    assert_eq!(
        events[events.len() - 2..],
        [
            refused(413, "upload_too_large"),
            refused(404, "unknown_device")
        ],
        "{events:?}"
    );
    // The upload itself changed nothing worth an event (and binds nothing: only a fetch does);
    // it is counted, and the counts are written at shutdown at the latest.
    let db = app.db.clone();
    app.stop().await;
    let counts: String = rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT fetch_counts FROM devices WHERE mac = '0004f2a1b2c3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["0004f2a1b2c3-app.log"]["uploaded"], 1, "{counts}");
    assert_eq!(counts["0004f2a1b2c3-app.log"]["refused"], 1, "{counts}");
}

/// Sends `head` (and then `body`, a piece at a time every `pause`) on a raw connection to the
/// phone listener, and returns the status line the server answered with and when.
async fn raw_upload(
    app: &TestApp,
    head: String,
    body: &[&[u8]],
    pause: std::time::Duration,
) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(app.phone).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let pieces: Vec<Vec<u8>> = body.iter().map(|p| p.to_vec()).collect();
    tokio::spawn(async move {
        for piece in pieces {
            if write.write_all(&piece).await.is_err() {
                return;
            }
            tokio::time::sleep(pause).await;
        }
    });
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(40), read.read(&mut answer))
        .await
        .expect("the server answers")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]);
    (
        text.lines().next().unwrap_or("").to_owned(),
        started.elapsed(),
    )
}

fn upload_head(extra: &str) -> String {
    format!(
        "PUT /0004f2a1b2c3-app.log HTTP/1.1\r\nHost: prov\r\nUser-Agent: {}\r\n{extra}\r\n",
        VVX.ua
    )
}

#[tokio::test]
async fn upload_bodies_that_are_too_large_malformed_or_slow_are_refused() {
    let app = TestApp::spawn().await;
    provision(&app, VVX, "John Smith", &[]).await;
    // Too large by its declared length: refused before a single body byte is sent.
    let (status, took) = raw_upload(
        &app,
        upload_head("Content-Length: 1000000000\r\n"),
        &[],
        std::time::Duration::ZERO,
    )
    .await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    // Malformed chunked encoding is a bad request, not a size problem.
    let (status, _) = raw_upload(
        &app,
        upload_head("Transfer-Encoding: chunked\r\n"),
        &[b"zz\r\nnot hex\r\n0\r\n\r\n"],
        std::time::Duration::ZERO,
    )
    .await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    // A body that trickles is cut by the body timeout (20 s), not waited for.
    let drip: Vec<&[u8]> = vec![b"x"; 100];
    let (status, took) = raw_upload(
        &app,
        upload_head("Content-Length: 100\r\n"),
        &drip,
        std::time::Duration::from_secs(1),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    // Nothing of them was stored.
    let (_, list) = app.get("/devices/0004f2a1b2c3/uploads").await;
    assert_eq!(list["uploads"], serde_json::json!([]));
}
