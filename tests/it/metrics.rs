//! `/metrics` (Prometheus text) and the phone request span in JSON logs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{self, ServerProcess};
use crate::helpers::{TestApp, YEALINK_MAC, YEALINK_UA};

/// Samples of a scrape by series (`name{labels}`), after checking the exposition format: every
/// sample belongs to a family declared by `# HELP` and `# TYPE`, and its value is a number.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut typed = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
            typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "{name} has no # TYPE");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let resp = app
        .client
        .get(format!("http://{}/metrics", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "no token needed");
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse_exposition(&resp.text().await.unwrap())
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Waits until the API shows `mac` in `status` (fetch records are written in batches).
async fn wait_for_status(app: &TestApp, mac: &str, status: &str) {
    for _ in 0..100 {
        let (_, body) = app.get(&format!("/devices/{mac}")).await;
        if body["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{mac} never became {status}");
}

#[tokio::test]
async fn metrics_count_requests_misses_bans_and_devices_by_status() {
    let app = TestApp::spawn_with(|c| c.ban_misses = 3).await;
    app.john_with_phone().await;
    app.user("102", "Jane Doe").await;
    app.device("001565aabbcd", "102").await;
    app.device("001565aabbce", "102").await;
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "brief.example", "sip_server": "pbx.brief.example", "enroll_window": "1s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/tenants/brief.example/users",
            json!({"name": "Late", "extension": "201"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "001565000201", "tenant": "brief.example", "extension": "201"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // John's phone: served, then not modified; Jane's first phone: served.
    let first = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .phone_request(
            "001565aabbcc.cfg",
            Some(YEALINK_UA),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let jane = app.phone_get("001565aabbcd.cfg", None).await;
    assert_eq!(jane.status(), StatusCode::OK);
    wait_for_status(&app, YEALINK_MAC, "provisioned").await;
    wait_for_status(&app, "001565aabbcd", "provisioned").await;
    // John's configuration changes after his phone fetched it.
    let (status, _) = app
        .api(
            reqwest::Method::PATCH,
            "/tenants/testsite.com/users/101",
            Some(json!({"name": "John Smythe"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A sweep from one source: three misses ban it; the fourth request is refused as banned.
    let prober = client_from("127.0.0.7");
    for mac in [
        "001565000001",
        "001565000002",
        "001565000003",
        "001565000004",
    ] {
        let status = prober
            .get(format!("http://{}/{mac}.cfg", app.phone))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // brief.example's window closes

    let m = scrape(&app).await;
    let get = |series: &str| {
        m.get(series)
            .copied()
            .unwrap_or_else(|| panic!("no {series} in {m:#?}"))
    };
    assert_eq!(
        get(r#"deskprov_phone_requests_total{vendor="yealink",result="served"}"#),
        2.0
    );
    assert_eq!(
        get(r#"deskprov_phone_requests_total{vendor="yealink",result="not_modified"}"#),
        1.0
    );
    assert_eq!(
        get(r#"deskprov_phone_requests_total{vendor="none",result="unknown_device"}"#),
        3.0
    );
    assert_eq!(
        get(r#"deskprov_phone_requests_total{vendor="none",result="banned"}"#),
        1.0
    );
    assert_eq!(get("deskprov_phone_request_duration_seconds_count"), 7.0);
    assert_eq!(
        get(r#"deskprov_phone_request_duration_seconds_bucket{le="+Inf"}"#),
        7.0
    );
    assert!(get("deskprov_phone_request_duration_seconds_sum") > 0.0);
    let buckets: Vec<f64> = m
        .iter()
        .filter(|(k, _)| k.starts_with("deskprov_phone_request_duration_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 12);
    assert_eq!(get("deskprov_phone_misses_total"), 3.0);
    assert_eq!(get("deskprov_phone_bans_total"), 1.0);
    assert_eq!(get("deskprov_phone_banned_sources"), 1.0);
    assert_eq!(get(r#"deskprov_devices{status="provisioned"}"#), 1.0);
    assert_eq!(
        get(r#"deskprov_devices{status="config_changed_since_fetch"}"#),
        1.0
    );
    assert_eq!(
        get(r#"deskprov_devices{status="awaiting_first_fetch"}"#),
        1.0
    );
    assert_eq!(get(r#"deskprov_devices{status="enrollment_expired"}"#), 1.0);
    assert_eq!(get("deskprov_db_errors_total"), 0.0);
    assert_eq!(get("deskprov_device_state_write_failures_total"), 0.0);
    assert_eq!(get(r#"deskprov_build_info{version="0.1.0"}"#), 1.0);
    // The same statuses the API shows.
    for (mac, status) in [
        ("001565aabbcc", "config_changed_since_fetch"),
        ("001565aabbce", "awaiting_first_fetch"),
        ("001565000201", "enrollment_expired"),
    ] {
        let (_, body) = app.get(&format!("/devices/{mac}")).await;
        assert_eq!(body["status"], status, "{mac}");
    }
}

#[tokio::test]
async fn json_logs_carry_the_phone_request_span_with_the_mac() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let token = binary::admin_token(dir.path(), &db);
    let mut server = ServerProcess::on_db_with(
        dir.path(),
        &db,
        &[("RUST_LOG", "info,deskprov::access=debug")],
    );
    let client = reqwest::Client::new();
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
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    for file in ["001565aabbcc.cfg", "001565000001.cfg"] {
        client
            .get(format!("http://{}/{file}", server.phone))
            .header("user-agent", YEALINK_UA)
            .send()
            .await
            .unwrap();
    }
    let find = |lines: &[Value], target: &str, mac: &str| {
        lines
            .iter()
            .find(|l| l["target"] == target && l["span"]["mac"] == mac)
            .cloned()
    };
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = server.json_lines();
        if find(&lines, "deskprov::fail2ban", "001565000001").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = find(&lines, "deskprov::access", YEALINK_MAC)
        .unwrap_or_else(|| panic!("no access line for the phone in {lines:#?}"));
    let span = &served["span"];
    assert_eq!(span["name"], "phone");
    assert_eq!(span["ip"], "127.0.0.1");
    assert_eq!(span["method"], "GET");
    assert_eq!(span["file"], "001565aabbcc.cfg");
    assert_eq!(span["vendor"], "yealink");
    assert_eq!(span["result"], "served");
    assert_eq!(span["status"], 200);
    assert!(
        span["latency_us"].as_u64().is_some_and(|us| us > 0),
        "{span}"
    );
    let miss = find(&lines, "deskprov::fail2ban", "001565000001").unwrap();
    assert_eq!(miss["level"], "WARN");
    assert_eq!(miss["span"]["result"], "unknown_device");
    assert!(
        miss["message"]
            .as_str()
            .unwrap()
            .starts_with("phone miss ip=127.0.0.1 reason=unknown_device"),
        "{miss}"
    );
    server.stop();

    // At the default level the per-request line is off; misses are still logged.
    let mut server = ServerProcess::on_db(dir.path(), &db);
    client
        .get(format!("http://{}/001565000002.cfg", server.phone))
        .send()
        .await
        .unwrap();
    // The span is off too: the fail2ban line names the request in its own text.
    let miss = |lines: &[Value]| {
        lines
            .iter()
            .find(|l| {
                l["target"] == "deskprov::fail2ban"
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.ends_with("file=001565000002.cfg"))
            })
            .cloned()
    };
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = server.json_lines();
        if miss(&lines).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line = miss(&lines).unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(line.get("span").is_none(), "{line}");
    assert!(
        lines.iter().all(|l| l["target"] != "deskprov::access"),
        "{lines:#?}"
    );
    server.stop();
}
