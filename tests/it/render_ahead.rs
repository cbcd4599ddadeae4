//! With a public URL, deskprov renders every device's own files in the background after it
//! starts, and again whenever its phone cache has to start over, so that phones are answered
//! from the files kept on disk: the first fetch after a restart renders nothing. What was
//! rendered and what was served as kept is read from `/metrics`.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, YEALINK_MAC, YEALINK_UA, metric_values};

const PUBLIC_URL: &str = "https://prov.testsite.com";

/// A second phone, of Jane (102).
const JANE_MAC: &str = "001565aabbdd";
const JANE_UA: &str = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:dd";

/// Per-device files of a Yealink: `<mac>.boot` and `<mac>.cfg`.
const YEALINK_OWN_FILES: u64 = 2;

const SERIES: [&str; 4] = [
    "deskprov_phone_render_ahead_passes_total",
    "deskprov_phone_files_rendered_ahead_total",
    "deskprov_phone_cache_hits_total",
    "deskprov_phone_renders_total",
];

/// John's and Jane's phones, each fetched once (so each knows its model), then a restart with
/// `render_ahead`.
async fn booted_office(render_ahead: bool) -> TestApp {
    let mut app = TestApp::spawn_with(|c| c.public_url = Some(PUBLIC_URL.into())).await;
    app.john_with_phone().await;
    app.user("102", "Jane Doe").await;
    app.device(JANE_MAC, "102").await;
    for (mac, ua) in [(YEALINK_MAC, YEALINK_UA), (JANE_MAC, JANE_UA)] {
        let response = app.phone_get(&format!("{mac}.cfg"), Some(ua)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    app.restart_with(|c| {
        c.public_url = Some(PUBLIC_URL.into());
        c.render_ahead = render_ahead;
    })
    .await;
    app
}

/// The metrics once `passes` passes have finished (waits up to 20 s).
async fn after_passes(app: &TestApp, passes: u64) -> [u64; 4] {
    for _ in 0..400 {
        let values = metric_values(app, SERIES).await;
        if values[0] >= passes {
            return values;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no {passes} finished passes: {:?}",
        metric_values(app, SERIES).await
    );
}

async fn fetch(app: &TestApp, mac: &str, ua: &str) -> String {
    let response = app.phone_get(&format!("{mac}.cfg"), Some(ua)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn after_a_restart_every_phone_is_answered_without_rendering() {
    let app = booted_office(true).await;
    let [_, ahead, hits, renders] = after_passes(&app, 1).await;
    assert_eq!(ahead, 2 * YEALINK_OWN_FILES, "both phones' own files");
    let john = fetch(&app, YEALINK_MAC, YEALINK_UA).await;
    let jane = fetch(&app, JANE_MAC, JANE_UA).await;
    assert!(john.contains("John Smith") && jane.contains("Jane Doe"));
    let [_, _, hits_now, renders_now] = metric_values(&app, SERIES).await;
    assert_eq!((hits_now - hits, renders_now - renders), (2, 0));
}

#[tokio::test]
async fn what_is_rendered_ahead_is_what_a_fetch_would_render() {
    let mut app = booted_office(true).await;
    after_passes(&app, 1).await;
    let ahead = fetch(&app, YEALINK_MAC, YEALINK_UA).await;
    app.restart_with(|c| {
        c.public_url = Some(PUBLIC_URL.into());
        c.render_ahead = false;
    })
    .await;
    let [passes, rendered_ahead, _, renders] = metric_values(&app, SERIES).await;
    assert_eq!(
        (passes, rendered_ahead),
        (0, 0),
        "nothing rendered ahead when off"
    );
    assert_eq!(fetch(&app, YEALINK_MAC, YEALINK_UA).await, ahead);
    let [_, _, _, renders_now] = metric_values(&app, SERIES).await;
    assert_eq!(renders_now - renders, 1, "rendered when asked for");
}

#[tokio::test]
async fn a_change_reaches_the_next_fetch_and_a_cache_that_starts_over_is_filled_again() {
    let app = booted_office(true).await;
    let [_, ahead, ..] = after_passes(&app, 1).await;
    let (status, _) = app
        .api(
            reqwest::Method::PATCH,
            "/tenants/testsite.com/users/102",
            Some(serde_json::json!({"name": "Jane Roe"})),
        )
        .await;
    assert!(status.is_success());
    assert!(fetch(&app, JANE_MAC, JANE_UA).await.contains("Jane Roe"));
    // Another process asks every cache to start over.
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute("INSERT INTO changes (scope, id) VALUES ('all', 0)", [])
            .unwrap();
    })
    .await
    .unwrap();
    // The next request notices it; the files are rendered again in the background.
    fetch(&app, YEALINK_MAC, YEALINK_UA).await;
    let [_, ahead_again, hits, renders] = after_passes(&app, 2).await;
    assert!(ahead_again > ahead, "{ahead_again} after {ahead}");
    assert!(fetch(&app, JANE_MAC, JANE_UA).await.contains("Jane Roe"));
    let [_, _, hits_now, renders_now] = metric_values(&app, SERIES).await;
    assert_eq!((hits_now - hits, renders_now - renders), (1, 0));
}
