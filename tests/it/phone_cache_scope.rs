//! The phone path's cache drops exactly what a change touches: a change to one user re-renders
//! that user's phones (and the phones whose keys show the user's name), a tenant or site setting
//! that tenant's or site's phones, and every other phone keeps being served from memory; the same
//! for a change another process makes on the database file, seen in the very next fetch. A
//! database put back underneath the server drops everything. Which phone was rendered and which
//! was served from memory is read from `/metrics` after each fetch.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, YEALINK_MAC, YEALINK_UA, metric_values};

/// Ann (101 of testsite.com), Bob (102 of testsite.com, his phone at site HQ) and Cyd (101 of
/// other.example): one Yealink each, with the User-Agent it sends.
const PHONES: [(&str, &str); 3] = [
    (YEALINK_MAC, YEALINK_UA),
    (
        "001565aabbdd",
        "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:dd",
    ),
    (
        "001565aabbee",
        "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:ee",
    ),
];
const ANN: usize = 0;
const BOB: usize = 1;
const CYD: usize = 2;

/// How a phone's file was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Cache,
    Render,
}
use Answer::{Cache, Render};

async fn ok(app: &TestApp, method: Method, path: &str, body: serde_json::Value) {
    let (status, answer) = app.api(method, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
}

/// The office above, plus Dan (103 of testsite.com, no phone), whom Bob's keys watch.
async fn office(app: &TestApp) {
    app.tenant().await;
    ok(
        app,
        Method::POST,
        "/tenants",
        json!({"name": "other.example", "sip_server": "pbx.other.example"}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/tenants/testsite.com/sites",
        json!({"name": "HQ"}),
    )
    .await;
    app.user("101", "Ann Example").await;
    app.user("102", "Bob Example").await;
    app.user("103", "Dan Example").await;
    ok(
        app,
        Method::POST,
        "/tenants/other.example/users",
        json!({"name": "Cyd Other", "extension": "101"}),
    )
    .await;
    app.device(PHONES[ANN].0, "101").await;
    ok(
        app,
        Method::POST,
        "/devices",
        json!({"mac": PHONES[BOB].0, "tenant": "testsite.com", "extension": "102", "site": "HQ"}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/devices",
        json!({"mac": PHONES[CYD].0, "tenant": "other.example", "extension": "101"}),
    )
    .await;
    ok(
        app,
        Method::PUT,
        "/tenants/testsite.com/users/102/keys",
        json!({"keys": [{"type": "blf", "value": "103"}]}),
    )
    .await;
    settle(app).await;
}

/// Files served from memory and files rendered so far, from `/metrics`.
async fn counters(app: &TestApp) -> (u64, u64) {
    let [hits, renders] = metric_values(
        app,
        [
            "deskprov_phone_cache_hits_total",
            "deskprov_phone_renders_total",
        ],
    )
    .await;
    (hits, renders)
}

/// Fetches `phone`'s file (asserting 200) and tells whether it came from memory.
async fn fetch(app: &TestApp, phone: usize) -> (String, Answer) {
    let (mac, ua) = PHONES[phone];
    let (hits, renders) = counters(app).await;
    let resp = app.phone_get(&format!("{mac}.cfg"), Some(ua)).await;
    assert_eq!(resp.status(), StatusCode::OK, "{mac}");
    let body = resp.text().await.unwrap();
    let from = match counters(app).await {
        (h, r) if (h, r) == (hits + 1, renders) => Cache,
        (h, r) if (h, r) == (hits, renders + 1) => Render,
        other => panic!("{mac}: {other:?} after {:?}", (hits, renders)),
    };
    (body, from)
}

/// How each phone's next file is answered, in [`PHONES`] order.
async fn next_fetches(app: &TestApp) -> Vec<Answer> {
    let mut from = Vec::new();
    for phone in 0..PHONES.len() {
        from.push(fetch(app, phone).await.1);
    }
    from
}

/// Fetches until every phone is bound (its first fetch changes what the checks read, which drops
/// it once) and a whole round comes from memory.
async fn settle(app: &TestApp) {
    for _ in 0..5 {
        let from = next_fetches(app).await;
        if from == [Cache; 3] {
            return;
        }
    }
    panic!("the phones' files never came from memory");
}

#[tokio::test]
async fn a_change_to_one_user_rerenders_that_users_phone_only() {
    let app = TestApp::spawn().await;
    office(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com/users/101",
        json!({"name": "Ann Changed"}),
    )
    .await;
    let (ann, from) = fetch(&app, ANN).await;
    assert_eq!(from, Render);
    assert!(ann.contains("Ann Changed"), "{ann}");
    assert_eq!(fetch(&app, BOB).await.1, Cache);
    assert_eq!(fetch(&app, CYD).await.1, Cache);
    // Kept again at once.
    assert_eq!(next_fetches(&app).await, [Cache; 3]);

    // An alias is the user's too.
    ok(
        &app,
        Method::POST,
        "/tenants/testsite.com/users/102/aliases",
        json!({"name": "Bob Night"}),
    )
    .await;
    let (bob, from) = fetch(&app, BOB).await;
    assert_eq!(from, Render);
    assert!(bob.contains("Bob Night"), "{bob}");
    assert_eq!(fetch(&app, ANN).await.1, Cache);
    assert_eq!(fetch(&app, CYD).await.1, Cache);
}

#[tokio::test]
async fn renaming_a_user_rerenders_the_phones_whose_keys_show_the_name() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let (bob, _) = fetch(&app, BOB).await;
    assert!(bob.contains("Dan Example"), "Bob's key shows Dan: {bob}");
    // Dan has no phone; Bob's key shows his name.
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com/users/103",
        json!({"name": "Daniel Example"}),
    )
    .await;
    assert_eq!(next_fetches(&app).await, [Cache, Render, Cache]);
    let (bob, _) = fetch(&app, BOB).await;
    assert!(
        bob.contains("Daniel Example") && !bob.contains("Dan Example"),
        "{bob}"
    );
}

#[tokio::test]
async fn a_tenant_setting_rerenders_that_tenants_phones_only() {
    let app = TestApp::spawn().await;
    office(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/other.example",
        json!({"ntp_server": "ntp.other.example"}),
    )
    .await;
    let (cyd, from) = fetch(&app, CYD).await;
    assert_eq!(from, Render);
    assert!(cyd.contains("ntp.other.example"), "{cyd}");
    assert_eq!(fetch(&app, ANN).await.1, Cache);
    assert_eq!(fetch(&app, BOB).await.1, Cache);

    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com",
        json!({"ntp_server": "ntp.testsite.com"}),
    )
    .await;
    assert_eq!(next_fetches(&app).await, [Render, Render, Cache]);
    assert!(fetch(&app, ANN).await.0.contains("ntp.testsite.com"));
}

#[tokio::test]
async fn a_site_setting_rerenders_the_phones_at_that_site_only() {
    let app = TestApp::spawn().await;
    office(&app).await;
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com/sites/HQ",
        json!({"ntp_server": "ntp.hq.example"}),
    )
    .await;
    let (bob, from) = fetch(&app, BOB).await;
    assert_eq!(from, Render);
    assert!(bob.contains("ntp.hq.example"), "{bob}");
    assert_eq!(fetch(&app, ANN).await.1, Cache);
    assert_eq!(fetch(&app, CYD).await.1, Cache);
}

#[tokio::test]
async fn a_change_by_the_cli_is_in_the_very_next_fetch_and_touches_nothing_else() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("night.csv");
    std::fs::write(&sheet, "type,extension,name\nalias,101,Ann Night\n").unwrap();
    // The real binary, as another process on the same database file, while the server runs.
    let out = deskprov(dir.path())
        .args(["import", "--tenant", "testsite.com", "--apply", "--db"])
        .arg(&app.db)
        .arg(&sheet)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No waiting: the very next fetch has it.
    let (ann, from) = fetch(&app, ANN).await;
    assert_eq!(from, Render);
    assert!(ann.contains("Ann Night"), "{ann}");
    assert_eq!(fetch(&app, BOB).await.1, Cache);
    assert_eq!(fetch(&app, CYD).await.1, Cache);

    // A command that changes nothing a phone reads keeps everything.
    let out = deskprov(dir.path())
        .args(["token", "create", "--role", "admin", "--db"])
        .arg(&app.db)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(next_fetches(&app).await, [Cache; 3]);
}

#[tokio::test]
async fn a_database_put_back_underneath_drops_everything() {
    let app = TestApp::spawn().await;
    office(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let out = deskprov(dir.path())
        .args(["backup"])
        .arg(&backup)
        .arg("--db")
        .arg(&app.db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(
        &app,
        Method::PATCH,
        "/tenants/testsite.com/users/101",
        json!({"name": "Ann Changed"}),
    )
    .await;
    assert!(fetch(&app, ANN).await.0.contains("Ann Changed"));
    assert_eq!(next_fetches(&app).await, [Cache; 3]);
    // Another process copies the backup over the live database, as `sqlite3 .restore` would:
    // the journal's position goes back.
    {
        let from = rusqlite::Connection::open(&backup).unwrap();
        let mut live = rusqlite::Connection::open(&app.db).unwrap();
        rusqlite::backup::Backup::new(&from, &mut live)
            .unwrap()
            .run_to_completion(1000, Duration::from_millis(10), None)
            .unwrap();
    }
    // The very next fetches: nothing comes from memory, and Ann has her old name back.
    let (ann, from) = fetch(&app, ANN).await;
    assert_eq!(from, Render);
    assert!(
        ann.contains("Ann Example") && !ann.contains("Ann Changed"),
        "{ann}"
    );
    assert_eq!(fetch(&app, BOB).await.1, Render);
    assert_eq!(fetch(&app, CYD).await.1, Render);
}

/// The `deskprov` binary with no `DESKPROV_*` setting from the environment, in `cwd`.
fn deskprov(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskprov"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKPROV_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}
