//! Phone-side defences over real sockets: bans, the fail2ban log format, hardening.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

/// A client whose requests come from `ip` (any 127.x address works on Linux loopback).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_mac_sweep_is_banned_on_every_path_and_other_sources_are_not() {
    let app = TestApp::spawn_with(|c| c.ban_misses = 5).await;
    app.john_with_phone().await;
    let prober = client_from("127.0.0.7");
    let get = |client: &reqwest::Client, file: &str| {
        let req = client
            .get(format!("http://{}/{file}", app.phone))
            .header("user-agent", "Yealink SIP-T46U 108.86.0.45");
        async move { req.send().await.unwrap().status() }
    };
    // A sequential sweep through the OUI: each unknown MAC is a miss.
    for i in 0..5 {
        assert_eq!(
            get(&prober, &format!("0015650000{i:02x}.cfg")).await,
            StatusCode::NOT_FOUND
        );
    }
    // Banned now: even the registered phone's file, common files and uploads are refused.
    assert_eq!(
        get(&prober, "001565aabbcc.cfg").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&prober, "y000000000108.cfg").await,
        StatusCode::NOT_FOUND
    );
    let put = prober
        .put(format!("http://{}/001565aabbcc-boot.log", app.phone))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NOT_FOUND);
    // The real phone on another address is unaffected.
    let phone = client_from("127.0.0.8");
    let resp = phone
        .get(format!("http://{}/001565aabbcc.cfg", app.phone))
        .header("user-agent", YEALINK_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn files_no_profile_serves_do_not_count_toward_a_ban() {
    let app = TestApp::spawn_with(|c| c.ban_misses = 3).await;
    app.john_with_phone().await;
    for _ in 0..10 {
        assert_eq!(
            app.phone_get("sip.ld", Some(YEALINK_UA)).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn range_headers_are_ignored_never_a_malformed_206() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let full = app
        .phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
        .await
        .bytes()
        .await
        .unwrap();
    for range in [
        "bytes=100-10",
        "bytes=-0",
        "bytes=0-10,20-30",
        "bytes=0-5",
        "garbage",
    ] {
        let resp = app
            .phone_request("001565aabbcc.cfg", Some(YEALINK_UA), &[("range", range)])
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{range}");
        assert_eq!(resp.bytes().await.unwrap(), full, "{range}");
    }
}

/// The fail2ban `failregex` shipped in the README, as a Rust regex (`<HOST>` → a capture).
fn readme_failregex() -> regex::Regex {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("README ships a failregex");
    regex::Regex::new(&line.replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")).unwrap()
}

/// Kills the child on drop, so a failing test leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_shipped_fail2ban_filter_matches_the_real_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (phone_port, admin_port) = (free_port(), free_port());
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_deskprov"))
            .args(["serve", "--ban-misses", "3"])
            .args(["--phone-listen", &format!("127.0.0.1:{phone_port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .arg("--db")
            .arg(dir.path().join("deskprov.db"))
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str| -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
            let done = line.contains(what);
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("no log line containing {what:?}; saw {seen:#?}");
    };
    wait_for("deskprov is serving");

    let prober = client_from("127.0.0.9");
    for mac in [
        "001565000001",
        "001565000002",
        "001565000003",
        "001565000004",
    ] {
        let status = prober
            .get(format!("http://127.0.0.1:{phone_port}/{mac}.cfg"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let lines = wait_for("phone ban ip=127.0.0.9");
    let failregex = readme_failregex();
    let hosts: Vec<&str> = lines
        .iter()
        .filter_map(|l| failregex.captures(l))
        .map(|c| c.name("host").unwrap().as_str())
        .collect();
    // Three misses, then the ban: the fourth request was refused without counting.
    assert_eq!(hosts, ["127.0.0.9"; 3], "{lines:#?}");
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "no colour codes when not on a terminal"
    );
    let ban = lines.iter().find(|l| l.contains("phone ban")).unwrap();
    assert!(ban.contains("misses=3 window=60s for=900s"), "{ban}");
}
