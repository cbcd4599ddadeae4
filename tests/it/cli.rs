//! The real `deskprov` binary: `token create` (output, roles, `--db` and `DESKPROV_DB`), and
//! `serve --demo` answering a phone and stopping cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_deskprov");

/// `deskprov` with no `DESKPROV_*` variables from the test's environment, run in `cwd` so a
/// default `./deskprov.db` can never land in the source tree.
fn deskprov(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKPROV_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `deskprov token create` with `args`, expecting success; returns the token.
fn create_token_cli(cmd: &mut Command) -> String {
    let out = cmd.output().expect("deskprov runs");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    token_from(&out)
}

/// The token on the last line of stdout, checked to be alone there.
fn token_from(out: &Output) -> String {
    let stdout = text(&out.stdout);
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output: {stdout:?}"));
    assert!(
        last.starts_with("dp_") && last.len() > 20,
        "the last line is not a token: {stdout:?}"
    );
    assert!(
        last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "the token is not alone on its line: {last:?}"
    );
    assert_eq!(
        stdout.matches(last).count(),
        1,
        "printed once, on the last line: {stdout:?}"
    );
    last.to_owned()
}

/// An API call against `admin` with `token`.
async fn call(
    admin: SocketAddr,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{admin}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("admin listener answers");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn token_create_prints_a_working_token_alone_on_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("prov.db");
    let out = deskprov(dir.path())
        .args([
            "token", "create", "--role", "admin", "--name", "ci-bot", "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = token_from(&out);
    assert!(
        text(&out.stdout).contains("admin token"),
        "a line says what was made: {}",
        text(&out.stdout)
    );
    // A second token is a different one.
    let other = create_token_cli(
        deskprov(dir.path())
            .args(["token", "create", "--role", "admin", "--db"])
            .arg(&db),
    );
    assert_ne!(token, other);

    // A server on the same database accepts both, and records the token's name.
    let running = deskprov::server::start(&loopback_config(db.clone()))
        .await
        .unwrap();
    let admin = running.admin_addr;
    let (status, body) = call(
        admin,
        &token,
        reqwest::Method::POST,
        "/tenants",
        Some(json!({"name": "testsite.com", "sip_server": "pbx.testsite.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = call(admin, &other, reqwest::Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, log) = call(admin, &token, reqwest::Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::OK);
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries[0]["actor"], "token:ci-bot");
    assert_eq!(entries[0]["action"], "create");
    assert_eq!(entries[0]["entity"], "tenant");
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "cli" && e["entity"] == "token" && e["key"] == "ci-bot"),
        "{log}"
    );
    // A made-up token in the same shape is not accepted.
    let (status, _) = call(
        admin,
        "dp_0000000000000000000000000000000000000000",
        reqwest::Method::GET,
        "/tenants",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    running.shutdown().await;
}

#[tokio::test]
async fn an_installer_token_needs_an_existing_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("prov.db");

    let out = deskprov(dir.path())
        .args(["token", "create", "--role", "installer", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--tenant is required"),
        "a clear message: {stderr}"
    );
    assert!(!text(&out.stdout).contains("dp_"), "{}", text(&out.stdout));
    assert!(!db.exists(), "nothing was written");

    let out = deskprov(dir.path())
        .args([
            "token",
            "create",
            "--role",
            "installer",
            "--tenant",
            "nosuch.example",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no tenant named nosuch.example"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("dp_"));

    let admin_token = create_token_cli(
        deskprov(dir.path())
            .args(["token", "create", "--role", "admin", "--db"])
            .arg(&db),
    );
    let running = deskprov::server::start(&loopback_config(db.clone()))
        .await
        .unwrap();
    let admin = running.admin_addr;
    let (status, body) = call(
        admin,
        &admin_token,
        reqwest::Method::POST,
        "/tenants",
        Some(json!({"name": "testsite.com", "sip_server": "pbx.testsite.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let out = deskprov(dir.path())
        .args([
            "token",
            "create",
            "--role",
            "installer",
            "--tenant",
            "testsite.com",
            "--name",
            "anna",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("testsite.com"));
    let installer = token_from(&out);
    let (status, body) = call(
        admin,
        &installer,
        reqwest::Method::GET,
        "/tenants/testsite.com/users",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        admin,
        &installer,
        reqwest::Method::POST,
        "/tenants/testsite.com/users",
        Some(json!({"name": "John Smith", "extension": "101"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an installer, not an admin");
    running.shutdown().await;
}

#[tokio::test]
async fn the_database_comes_from_db_then_deskprov_db_then_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let from_env = dir.path().join("from-env.db");
    let from_flag = dir.path().join("from-flag.db");

    // DESKPROV_DB alone.
    let token = create_token_cli(
        deskprov(&work)
            .args(["token", "create", "--role", "admin"])
            .env("DESKPROV_DB", &from_env),
    );
    assert!(from_env.exists());
    assert!(!work.join("deskprov.db").exists());
    let running = deskprov::server::start(&loopback_config(from_env.clone()))
        .await
        .unwrap();
    let (status, _) = call(
        running.admin_addr,
        &token,
        reqwest::Method::GET,
        "/tenants",
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the token is in the DESKPROV_DB database"
    );
    running.shutdown().await;

    // The flag wins over the variable.
    create_token_cli(
        deskprov(&work)
            .args(["token", "create", "--role", "admin", "--db"])
            .arg(&from_flag)
            .env("DESKPROV_DB", &from_env),
    );
    assert!(from_flag.exists());
    let tokens_in = |db: &Path| {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(tokens_in(&from_env), 1);
    assert_eq!(tokens_in(&from_flag), 1);

    // Neither: ./deskprov.db in the working directory.
    create_token_cli(deskprov(&work).args(["token", "create", "--role", "admin"]));
    assert_eq!(tokens_in(&work.join("deskprov.db")), 1);
    assert_eq!(tokens_in(&from_env), 1);
}

/// A `deskprov serve` child and the lines of its stdout.
struct Served {
    guard: ChildGuard,
    lines: mpsc::Receiver<String>,
    phone: SocketAddr,
    admin: SocketAddr,
    stderr: std::path::PathBuf,
}

impl Served {
    /// Starts `deskprov serve --demo` on `db` with free ports.
    fn start(dir: &Path, db: &Path, attempt: usize) -> Self {
        let phone: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let stderr = dir.join(format!("stderr-{attempt}.log"));
        let mut child = deskprov(dir)
            .arg("serve")
            .arg("--demo")
            .arg("--db")
            .arg(db)
            .arg("--phone-listen")
            .arg(phone.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("deskprov serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            guard: ChildGuard(Some(child)),
            lines,
            phone,
            admin,
            stderr,
        }
    }

    /// Lines of stdout up to and including the first one for which `last` holds; `None` if the
    /// process closed its stdout first.
    fn read_until(&self, last: &impl Fn(&str) -> bool) -> Option<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = last(&line);
                    seen.push(line);
                    if done {
                        return Some(seen);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no expected line within 60 s; got {seen:?}\n{}", self.log())
                }
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.guard.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        self.guard
            .wait_timeout(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("still running 30 s after SIGTERM\n{}", self.log()))
    }
}

/// Starts `deskprov serve --demo` and reads its stdout up to the line `last` picks, retrying
/// with other ports if the chosen ones were taken in the meantime.
fn start_serving(dir: &Path, db: &Path, last: impl Fn(&str) -> bool) -> (Served, Vec<String>) {
    let mut logs = Vec::new();
    for attempt in 0..3 {
        let served = Served::start(dir, db, attempt);
        if let Some(lines) = served.read_until(&last) {
            return (served, lines);
        }
        logs.push(served.log());
    }
    panic!(
        "deskprov serve --demo did not start:\n{}",
        logs.join("\n---\n")
    );
}

#[tokio::test]
async fn serve_demo_answers_the_printed_phone_request_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let (mut served, lines) = start_serving(dir.path(), &db, |l| l.contains("/api/v1/devices/"));
    let printed = lines.join("\n");

    let token = lines
        .iter()
        .find_map(|l| l.strip_prefix("Admin token (shown once): "))
        .unwrap_or_else(|| panic!("no admin token printed:\n{printed}"))
        .trim()
        .to_owned();
    assert!(token.starts_with("dp_"), "{printed}");

    // One `curl -A '<UA>' http://<phone>/<file>` line per demo phone.
    let fetches: Vec<(String, String)> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("curl -A '"))
        .map(|rest| {
            let (ua, url) = rest.split_once("' ").unwrap_or_else(|| panic!("{rest}"));
            (ua.to_owned(), url.trim().to_owned())
        })
        .collect();
    assert_eq!(fetches.len(), deskprov::demo::PHONES.len(), "{printed}");
    let demo = &deskprov::demo::PHONES[0];
    let (ua, url) = &fetches[0];
    assert_eq!(ua, demo.user_agent);
    assert_eq!(*url, format!("http://{}/{}", served.phone, demo.file));

    let client = reqwest::Client::new();
    let resp = client
        .get(url)
        .header("user-agent", ua)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", served.log());
    let body = resp.text().await.unwrap();
    let pairs = parse_kv(&body);
    assert_eq!(kv(&pairs, "account.1.display_name"), Some("John Smith"));
    assert_eq!(kv(&pairs, "account.2.display_name"), Some("John Support"));
    assert_eq!(kv(&pairs, "account.3.display_name"), Some("John Sales"));
    assert_eq!(kv(&pairs, "account.4.enable"), Some("0"), "{body}");
    assert_eq!(kv(&pairs, "account.1.user_name"), Some("demoexample_101"));
    assert_eq!(kv(&pairs, "account.2.user_name"), Some("demoexample_101_2"));
    assert_eq!(kv(&pairs, "account.3.user_name"), Some("demoexample_101_3"));

    // The printed token works on the admin listener, as the printed line-map command says.
    assert!(
        printed.contains(&format!(
            "http://{}/api/v1/devices/{}/lines",
            served.admin, demo.mac
        )),
        "{printed}"
    );
    let (status, map) = call(
        served.admin,
        &token,
        reqwest::Method::GET,
        &format!("/devices/{}/lines", demo.mac),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{map}");
    let on_lines: Vec<&str> = map["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(on_lines, ["John Smith", "John Support", "John Sales"]);

    let status = served.terminate();
    assert!(status.success(), "exit {status:?}\n{}", served.log());
    assert!(served.log().contains("shutting down"), "{}", served.log());

    // A second --demo on the same database adds nothing and says so.
    let (mut again, lines) = start_serving(dir.path(), &db, |l| l.contains("already has data"));
    assert!(!lines.join("\n").contains("Admin token"), "{lines:?}");
    let status = again.terminate();
    assert!(status.success(), "exit {status:?}\n{}", again.log());
    let tenants = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM tenants", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(tenants, 1);
}
