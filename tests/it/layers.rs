//! The layers around every listener's router: a panicking handler is a logged bare 500 and the
//! server goes on serving; the admin listener's body limit.

use std::time::Duration;

use deskprov::http::{ADMIN_BODY_LIMIT, PANIC_PATH};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{self, ServerProcess};
use crate::helpers::{TestApp, YEALINK_MAC, YEALINK_UA, assert_error};

/// The message the deliberate panic carries.
const PANIC_MESSAGE: &str = "deliberate panic at /__test/panic";

#[tokio::test]
async fn a_panicking_handler_is_a_logged_bare_500_and_both_listeners_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let token = binary::admin_token(dir.path(), &db);
    let mut server = ServerProcess::on_db(dir.path(), &db);
    let client = reqwest::Client::new();
    for addr in [server.admin, server.phone] {
        let resp = client
            .get(format!("http://{addr}{PANIC_PATH}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{addr}");
        assert_eq!(resp.text().await.unwrap(), "", "no details in the body");
    }

    // The same server still answers on both listeners.
    let resp = client
        .get(format!("http://{}/healthz", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    let api = format!("http://{}/api/v1", server.admin);
    for (path, body) in [
        (
            "/tenants",
            json!({"name": "testsite.com", "sip_server": "pbx.testsite.com"}),
        ),
        (
            "/tenants/testsite.com/users",
            json!({"name": "John Smith", "extension": "101"}),
        ),
        (
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101"}),
        ),
    ] {
        let resp = client
            .post(format!("{api}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{path}");
    }
    let resp = client
        .get(format!("http://{}/{YEALINK_MAC}.cfg", server.phone))
        .header("user-agent", YEALINK_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("pbx.testsite.com"));

    // One error line per panic, with the panic's message; the admin one inside its request span.
    let mut panics = Vec::new();
    for _ in 0..100 {
        panics = panic_lines(&server);
        if panics.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(panics.len(), 2, "{:#?}", server.lines());
    for line in &panics {
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(line["panic"], PANIC_MESSAGE, "{line}");
    }
    assert!(
        panics
            .iter()
            .any(|l| l["span"]["name"] == "admin" && l["span"]["path"] == PANIC_PATH),
        "{panics:#?}"
    );
    server.stop();
}

/// The JSON log lines of caught panics (the default panic hook's own lines are not JSON).
fn panic_lines(server: &ServerProcess) -> Vec<Value> {
    server
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request handler panicked; answered 500")
        .collect()
}

/// A CSV import body of exactly `len` bytes: the header row, then empty rows (skipped).
fn padded_sheet(len: usize) -> Vec<u8> {
    let mut body = b"extension,name\n".to_vec();
    body.resize(len, b'\n');
    body
}

#[tokio::test]
async fn an_import_of_the_largest_size_gets_through_the_admin_body_limit() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let url = format!("http://{}/api/v1/tenants/testsite.com/import", app.admin);
    let post = |body: Vec<u8>| {
        app.client
            .post(&url)
            .bearer_auth(&app.admin_token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    // 32 MiB, the import's own limit: a dry run that reads the whole file.
    let resp = post(padded_sheet(32 * 1024 * 1024)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["problems"], json!([]), "{report}");
    // One byte more is the import's own refusal (413), not the listener's.
    let resp = post(padded_sheet(32 * 1024 * 1024 + 1)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&resp.json().await.unwrap(), "body", "body_too_large");
}

#[tokio::test]
async fn a_declared_body_over_the_admin_limit_is_refused_unread() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    app.tenant().await;
    let before = app.counts().await;
    let mut stream = tokio::net::TcpStream::connect(app.admin).await.unwrap();
    let head = format!(
        "POST /api/v1/tenants/testsite.com/import?apply=true HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        app.admin_token,
        ADMIN_BODY_LIMIT + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No body byte is sent: the answer comes from the declared length alone.
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(app.counts().await, before);
}
