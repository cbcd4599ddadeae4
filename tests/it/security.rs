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

/// The shipped fail2ban filter.
const FAIL2BAN_FILTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/fail2ban/filter.d/deskprov.conf"
);

/// Runs the real binary with `--log-format {format}`, has a prober on 127.0.0.9 miss three
/// times (a ban) and then try twice more while banned, and returns every line it logged.
async fn fail2ban_scenario(format: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (phone_port, admin_port) = (free_port(), free_port());
    let mut child = ChildGuard(Some(
        Command::new(env!("CARGO_BIN_EXE_deskprov"))
            .args(["serve", "--ban-misses", "3", "--log-format", format])
            .args(["--phone-listen", &format!("127.0.0.1:{phone_port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .arg("--db")
            .arg(dir.path().join("deskprov.db"))
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let stderr = child.child().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut wait_for = |what: &str| {
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
            let done = line.contains(what);
            lines.push(line);
            if done {
                return;
            }
        }
        panic!("no log line containing {what:?}; saw {lines:#?}");
    };
    wait_for("deskprov is serving");
    let prober = client_from("127.0.0.9");
    for mac in 1..=5 {
        let url = format!("http://127.0.0.1:{phone_port}/00156500000{mac}.cfg");
        let status = prober.get(url).send().await.unwrap().status();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // A file no profile serves is not a miss, and logs nothing fail2ban would count.
    let other = prober.get(format!("http://127.0.0.1:{phone_port}/firmware.rom"));
    other.send().await.unwrap();
    wait_for("phone banned ip=127.0.0.9");
    drop(child);
    lines.extend(rx.try_iter());
    lines
}

/// What the real `fail2ban-regex` makes of `lines` with the shipped filter: (matched, missed)
/// line counts and the hosts it found.
fn fail2ban_regex(lines: &[String]) -> (usize, usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deskprov.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = Command::new("fail2ban-regex")
        .arg("--print-all-matched")
        .arg(&log)
        .arg(FAIL2BAN_FILTER)
        .output()
        .expect("fail2ban-regex (Debian's fail2ban package; .ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("Lines: "))
        .unwrap_or_else(|| panic!("{text}"));
    let number_before = |word: &str| -> usize {
        let head = summary.split(word).next().unwrap();
        head.rsplit([' ', ','])
            .find(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    let hosts = text
        .lines()
        .filter(|l| !l.contains("<HOST>"))
        .filter_map(|l| l.split(" ip=").nth(1))
        .map(|rest| rest.split([' ', '"']).next().unwrap().to_owned())
        .collect();
    (number_before(" matched"), number_before(" missed"), hosts)
}

#[tokio::test]
async fn the_shipped_fail2ban_filter_matches_every_miss_and_ban_line_and_nothing_else() {
    for format in ["text", "json"] {
        let lines = fail2ban_scenario(format).await;
        let ours: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("deskprov::fail2ban"))
            .collect();
        // Three misses, the ban, and one line for the two requests made while banned.
        assert_eq!(ours.len(), 5, "{format}: {lines:#?}");
        assert_eq!(ours.iter().filter(|l| l.contains("phone miss")).count(), 3);
        assert_eq!(
            ours.iter().filter(|l| l.contains("phone banned")).count(),
            1
        );
        let (matched, missed, hosts) = fail2ban_regex(&lines);
        assert_eq!(matched, ours.len(), "{format}: {lines:#?}");
        assert_eq!(missed, lines.len() - ours.len(), "{format}: {lines:#?}");
        assert!(
            hosts.iter().all(|h| h == "127.0.0.9"),
            "{format}: {hosts:?}"
        );
        assert!(
            lines.iter().all(|l| !l.contains('\u{1b}')),
            "no colour codes when not on a terminal"
        );
    }
}

/// Sends raw bytes on a fresh connection and returns what the server answered until it closed
/// (or `limit` passed).
async fn raw_exchange(
    addr: std::net::SocketAddr,
    request: &[u8],
    limit: Duration,
) -> (String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (answer, _) = raw_exchange(
        app.phone,
        format!("GET /001565aabbcc.cfg HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "101 headers: {answer:?}"
    );
    let big = "a".repeat(64 * 1024);
    let (answer, _) = raw_exchange(
        app.phone,
        format!("GET /001565aabbcc.cfg HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "64 KiB header: {}",
        &answer[..answer.len().min(80)]
    );
    let long_uri = format!("/{}.cfg", "a".repeat(16 * 1024));
    let (answer, _) = raw_exchange(
        app.phone,
        format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 414") || answer.starts_with("HTTP/1.1 431"),
        "16 KiB URI: {}",
        &answer[..answer.len().min(80)]
    );
    // A head split across many small writes is still bounded and still served when small.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.phone).await.unwrap();
    let head = format!(
        "GET /001565aabbcc.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: {YEALINK_UA}\r\nConnection: close\r\n\r\n"
    );
    for chunk in head.as_bytes().chunks(7) {
        stream.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_slow_loris_is_cut_off() {
    let app = TestApp::spawn().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(app.phone).await.unwrap();
    stream
        .write_all(b"GET /001565aabbcc.cfg HTTP/1.1\r\n")
        .await
        .unwrap();
    // One header byte every second, never finishing the head.
    let mut closed = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if stream.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(10), stream.read(&mut buf)).await
        {
            // The server answered (408) or closed (0 bytes).
            closed = n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408");
            if closed {
                break;
            }
        }
    }
    assert!(
        closed,
        "the connection was still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (phone_port, admin_port) = (free_port(), free_port());
    let mut child = ChildGuard(Some(
        Command::new(env!("CARGO_BIN_EXE_deskprov"))
            .args(["serve", "--demo"])
            .args(["--phone-listen", &format!("127.0.0.1:{phone_port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .arg("--db")
            .arg(dir.path().join("deskprov.db"))
            .env("RUST_LOG", "debug")
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let stdout = child.child().stdout.take().unwrap();
    let stderr = child.child().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx.send((true, l))))
    });
    std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx2.send((false, l))))
    });
    let mut token = None;
    let mut log = Vec::new();
    while token.is_none() {
        let (is_stdout, line) = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the demo starts");
        if is_stdout {
            token = line
                .strip_prefix("Admin token (shown once): ")
                .map(str::to_owned);
        } else {
            log.push(line);
        }
    }
    let token = token.unwrap();
    let admin = format!("http://127.0.0.1:{admin_port}/api/v1");
    let http = reqwest::Client::new();
    // Turn on Basic for the demo tenant and make every kind of request that carries a secret.
    let body: serde_json::Value = http
        .patch(format!("{admin}/tenants/demo.example"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"phone_auth": {"mode": "basic", "username": "phones"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phone_password = body["phone_auth"]["generated_password"]
        .as_str()
        .unwrap()
        .to_owned();
    let user: serde_json::Value = http
        .get(format!(
            "{admin}/tenants/demo.example/users/101?reveal=true"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sip_password = user["sip_password"].as_str().unwrap().to_owned();
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("phones:{phone_password}"));
    for auth in [
        format!("Basic {basic}"),
        "Basic d3Jvbmc6d3Jvbmc=".to_owned(),
    ] {
        let _ = http
            .get(format!("http://127.0.0.1:{phone_port}/001565123456.cfg"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
    }
    let _ = http
        .get(format!("{admin}/tenants"))
        .bearer_auth("dp_not-a-real-token")
        .send()
        .await
        .unwrap();
    // Let the server log what it logs, then read everything it wrote.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok((is_stdout, line)) = rx.try_recv() {
        if !is_stdout {
            log.push(line);
        }
    }
    assert!(log.len() > 3, "debug logging produced lines: {log:#?}");
    for secret in [
        token.as_str(),
        &phone_password,
        &sip_password,
        &basic,
        "d3Jvbmc6d3Jvbmc=",
        "dp_not-a-real-token",
    ] {
        assert!(
            log.iter().all(|l| !l.contains(secret)),
            "a secret reached the log"
        );
    }
    assert!(
        log.iter()
            .all(|l| !l.to_lowercase().contains("authorization:")),
        "an Authorization header reached the log"
    );
}

#[tokio::test]
async fn a_banned_source_gets_the_answer_any_refused_request_gets() {
    let app = TestApp::spawn_with(|c| c.ban_misses = 3).await;
    app.john_with_phone().await;
    // Once a tenant asks phones for credentials, a refused request is a 401 challenge.
    let (status, body) = app
        .api(
            reqwest::Method::PATCH,
            "/tenants/testsite.com",
            Some(serde_json::json!({"phone_auth": {"mode": "digest", "username": "phones"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let prober = client_from("127.0.0.9");
    let get = |file: &str| {
        let req = prober
            .get(format!("http://{}/{file}", app.phone))
            .header("user-agent", "Yealink SIP-T46U 108.86.0.45");
        async move { req.send().await.unwrap() }
    };
    let refused = get("001565aabbcc.cfg").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    for i in 0..3 {
        get(&format!("0015650000{i:02x}.cfg")).await;
    }
    // Banned now, on a per-device path and on a path that names no MAC alike.
    for file in ["001565aabbcc.cfg", "y000000000108.cfg", "0015650000ff.cfg"] {
        let banned = get(file).await;
        assert_eq!(banned.status(), StatusCode::UNAUTHORIZED, "{file}");
        let offered: Vec<_> = banned
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().split(' ').next().unwrap().to_owned())
            .collect();
        assert_eq!(offered, ["Digest", "Digest", "Basic"], "{file}");
    }
}

/// What a listener at `addr` answers to the HTTP/2 prior-knowledge preface and an empty
/// SETTINGS frame (h2c), read until it closes or 2 s pass.
async fn answer_to_h2c(addr: std::net::SocketAddr) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&hello).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    answer
}

#[tokio::test]
async fn http2_without_tls_is_refused_on_every_listener() {
    let app = TestApp::spawn().await;
    for addr in [app.phone, app.admin] {
        let answer = answer_to_h2c(addr).await;
        // An HTTP/2 server answers with a SETTINGS frame (type 4 in the fourth byte); an
        // HTTP/1.1-only one with an HTTP/1.1 error or nothing at all.
        let speaks_h2 = answer.len() >= 9 && answer[3] == 4;
        assert!(!speaks_h2, "{addr}: {:?}", &answer[..answer.len().min(32)]);
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"),
            "{addr}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
}
