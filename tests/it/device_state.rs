//! Each device's fetch state: what must be kept is written before the phone is answered (a
//! kill -9 right after loses none of it); the rest is written at most once per flush interval
//! and at shutdown, and admins see it at once all the same.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{self, ServerProcess};
use crate::helpers::*;

const MAC: &str = "001565aabbcc";
const FILE: &str = "001565aabbcc.cfg";

/// A phone request to the server process `server`, with `ua`.
async fn phone(server: &ServerProcess, file: &str, ua: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://{}/{file}", server.phone))
        .header("user-agent", ua)
        .send()
        .await
        .unwrap()
}

/// An admin API call to the server process `server`.
async fn api(
    server: &ServerProcess,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}/api/v1{path}", server.admin))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The `(kind, result)` of every event in the database file `db`, oldest first.
fn events_in(db: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, result FROM device_events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_keeps_bindings_refusals_and_first_fetches_of_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let token = binary::admin_token(dir.path(), &db);
    let mut server = ServerProcess::on_db(dir.path(), &db);
    use reqwest::Method;
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
            json!({"mac": MAC, "tenant": "testsite.com", "extension": "101"}),
        ),
    ] {
        let (status, body) = api(&server, &token, Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
    }
    // The first fetch binds the device; the same file again is only "last seen".
    let first = phone(&server, FILE, YEALINK_UA).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_etag = first.headers()["etag"].clone();
    for _ in 0..3 {
        assert_eq!(
            phone(&server, FILE, YEALINK_UA).await.status(),
            StatusCode::OK
        );
    }
    // A change, and the phone's first fetch of the new version.
    let (status, _) = api(
        &server,
        &token,
        Method::PATCH,
        "/tenants/testsite.com/users/101",
        Some(json!({"name": "John A. Smith"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let changed = phone(&server, FILE, YEALINK_UA).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"], first_etag);
    // Two refusals: a User-Agent naming another MAC, and a MAC nobody registered.
    let other_mac = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cd";
    assert_eq!(
        phone(&server, FILE, other_mac).await.status(),
        StatusCode::NOT_FOUND
    );
    let unknown = phone(&server, "001565000001.cfg", YEALINK_UA).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // Killed right after the last answer: no shutdown code runs.
    server.kill();

    assert_eq!(
        events_in(&db),
        [
            ("first_fetch".to_owned(), "served".to_owned()),
            ("new_version".to_owned(), "served".to_owned()),
            ("new_version".to_owned(), "served".to_owned()),
            ("refused".to_owned(), "ua_mac_mismatch".to_owned()),
            ("refused".to_owned(), "unknown_device".to_owned()),
        ]
    );
    let server = ServerProcess::on_db(dir.path(), &db);
    let (_, device) = api(
        &server,
        &token,
        Method::GET,
        &format!("/devices/{MAC}"),
        None,
    )
    .await;
    assert_eq!(device["bound_ip"], "127.0.0.1", "{device}");
    assert!(device["first_fetch_at"].is_string(), "{device}");
    assert_eq!(
        device["status"], "provisioned",
        "the phone's fetch of the new version was kept: {device}"
    );
    // Bound to its address: the phone is still served, and another first fetch is not made.
    assert_eq!(
        phone(&server, FILE, YEALINK_UA).await.status(),
        StatusCode::OK
    );
    assert_eq!(events_in(&db).len(), 5);
}

#[tokio::test]
async fn last_seen_is_written_late_but_shown_at_once_and_written_at_shutdown() {
    let mut app = TestApp::spawn().await;
    app.john_with_phone().await;
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::OK
    );
    let stored = |app: &TestApp| {
        let conn = rusqlite::Connection::open(&app.db).unwrap();
        conn.query_row(
            "SELECT last_fetch_at, fetch_counts FROM devices WHERE mac = ?1",
            [MAC],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .unwrap()
    };
    let (first_seen, _) = stored(&app);
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..2 {
        assert_eq!(
            app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
            StatusCode::OK
        );
    }
    // Within the flush interval (a minute here) the store still has the first fetch…
    assert_eq!(
        stored(&app).0,
        first_seen,
        "written at most once per interval"
    );
    // …but admins see the latest.
    let (_, device) = app.get(&format!("/devices/{MAC}")).await;
    let shown = device["last_fetch_at"].as_str().unwrap().to_owned();
    assert!(shown > first_seen, "{shown} after {first_seen}");
    // A graceful stop writes what waited.
    let db = app.db.clone();
    app.stop().await;
    let conn = rusqlite::Connection::open(db).unwrap();
    let (last, counts): (String, String) = conn
        .query_row(
            "SELECT last_fetch_at, fetch_counts FROM devices WHERE mac = ?1",
            [MAC],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(last, shown);
    let counts: Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts[FILE]["served"], 3, "{counts}");
}

#[tokio::test]
async fn a_short_flush_interval_writes_last_seen_without_a_shutdown() {
    let app = TestApp::spawn_with(|c| c.state_flush_interval = Duration::from_millis(100)).await;
    app.john_with_phone().await;
    for _ in 0..2 {
        assert_eq!(
            app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
            StatusCode::OK
        );
    }
    let (_, device) = app.get(&format!("/devices/{MAC}")).await;
    let shown = device["last_fetch_at"].as_str().unwrap().to_owned();
    let stored = || -> String {
        rusqlite::Connection::open(&app.db)
            .unwrap()
            .query_row(
                "SELECT last_fetch_at FROM devices WHERE mac = ?1",
                [MAC],
                |r| r.get(0),
            )
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stored() != shown {
        assert!(
            std::time::Instant::now() < deadline,
            "never written: {} vs {shown}",
            stored()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_history_api_lists_a_phones_events_newest_first() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::OK
    );
    let other_mac = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cd";
    assert_eq!(
        app.phone_get(FILE, Some(other_mac)).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, body) = app.get(&format!("/devices/{MAC}/history")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refused", "new_version", "first_fetch"], "{body}");
    let refused = &body["events"][0];
    assert_eq!(refused["result"], "ua_mac_mismatch");
    assert_eq!(refused["user_agent"], other_mac);
    assert_eq!(body["events"][2]["ip"], "127.0.0.1");
    let (status, body) = app.get(&format!("/devices/{MAC}/history?limit=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    let (status, body) = app.get(&format!("/devices/{MAC}/history?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "limit", "limit_out_of_range");
}

/// After a start every stored state is read into memory in the background, so a phone's first
/// fetch does not read its own.
#[tokio::test]
async fn every_stored_state_is_in_memory_soon_after_a_start() {
    let mut app = TestApp::spawn().await;
    app.john_with_phone().await;
    let response = app.phone_get(FILE, Some(YEALINK_UA)).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.restart_with(|_| {}).await;
    let mac = deskprov::domain::Mac::parse(MAC).unwrap();
    let id = app
        .store()
        .read(move |c| deskprov::store::devices::by_mac(c, &mac))
        .await
        .unwrap()
        .id;
    let states = app
        .services()
        .states
        .clone()
        .expect("the server keeps states");
    let mut kept = None;
    for _ in 0..200 {
        kept = states.get(id);
        if kept.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let kept = kept.expect("the stored state is read without a fetch");
    assert_eq!(
        kept.file(FILE)
            .map(|f| f.counts.get(deskprov::domain::device_state::Answer::Served)),
        Some(1)
    );
    assert!(kept.first_fetch_at.is_some());
}

/// A phone's User-Agent is read once and remembered: one that changes (a firmware upgrade, a
/// MAC that is not the phone's) is read anew, on the very fetch that sends it.
#[tokio::test]
async fn a_changed_user_agent_is_read_anew_on_the_fetch_that_sends_it() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let old = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc";
    let new = "Yealink SIP-T46U 108.86.0.50 00:15:65:aa:bb:cc";
    let other_mac = "Yealink SIP-T46U 108.86.0.50 00:15:65:aa:bb:cd";
    for (ua, status) in [
        (old, StatusCode::OK),
        (old, StatusCode::OK),
        (new, StatusCode::OK),
        (new, StatusCode::OK),
        (other_mac, StatusCode::NOT_FOUND),
        (new, StatusCode::OK),
    ] {
        assert_eq!(app.phone_get(FILE, Some(ua)).await.status(), status, "{ua}");
    }
    let (status, body) = app.get(&format!("/devices/{MAC}/history")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events: Vec<(&str, Option<&str>)> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["detail"].as_str()))
        .collect();
    assert_eq!(
        events[..2],
        [("refused", None), ("firmware", Some("108.86.0.45"))],
        "{body}"
    );
    let (_, device) = app.get(&format!("/devices/{MAC}")).await;
    assert_eq!(device["seen_firmware"], "108.86.0.50", "{device}");
}
