//! The phone listeners' access log (`--access-log`, docs/operations.md) with the real binary:
//! one line per request in the documented format, URL keys kept out, lines written on a
//! graceful stop, and the file reopened on SIGHUP as logrotate needs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use regex::Regex;
use reqwest::StatusCode;

use crate::binary::ServerProcess;

/// The documented line: address, `-`, `-`, time, request line, status, bytes, `"-"`,
/// User-Agent, microseconds.
const LINE: &str = r#"^(\S+) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "(\S+) (\S+) (HTTP/1\.[01])" (\d{3}) (\d+) "-" "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d+)$"#;

/// One parsed line: path, status, bytes, User-Agent.
#[derive(Debug, PartialEq, Eq)]
struct Logged {
    path: String,
    status: u16,
    bytes: u64,
    ua: String,
}

/// The lines of `file`, each matched against [`LINE`] (panics on one that does not match).
fn logged(file: &Path) -> Vec<Logged> {
    let line = Regex::new(LINE).unwrap();
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let c = line
                .captures(l)
                .unwrap_or_else(|| panic!("not in the documented format: {l}"));
            assert_eq!(&c[1], "127.0.0.1");
            assert_eq!(&c[3], "GET");
            Logged {
                path: c[4].to_owned(),
                status: c[6].parse().unwrap(),
                bytes: c[7].parse().unwrap(),
                ua: c[8].to_owned(),
            }
        })
        .collect()
}

/// Waits until `file` holds `n` lines (the writer flushes at least every second).
async fn wait_for_lines(file: &Path, n: usize) -> Vec<Logged> {
    for _ in 0..50 {
        let lines = logged(file);
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} has {:?}, not {n} lines", file.display(), logged(file));
}

async fn get(server: &ServerProcess, path: &str, ua: &str) -> (StatusCode, usize) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", server.phone))
        .header("user-agent", ua)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.bytes().await.unwrap().len())
}

#[tokio::test]
async fn every_phone_request_is_a_line_and_the_file_is_reopened_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let log = dir.path().join("access.log");
    let mut server = ServerProcess::on_db_with(
        dir.path(),
        &db,
        &[("DESKPROV_ACCESS_LOG", log.to_str().unwrap())],
    );
    let yealink = "Yealink SIP-T46U 108.86.0.45";
    // A common file (200), an unknown phone (404), and a path with a URL key, with a
    // User-Agent that tries to break the line.
    let (status, served) = get(&server, "/y000000000108.cfg", yealink).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&server, "/001565aabbcc.cfg", yealink).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&server, "/SecretKey123/001565aabbcc.cfg", "x\" 200 \"y").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let lines = wait_for_lines(&log, 3).await;
    assert_eq!(
        lines[0],
        Logged {
            path: "/y000000000108.cfg".into(),
            status: 200,
            bytes: served as u64,
            ua: yealink.into()
        }
    );
    assert_eq!(
        (lines[1].path.as_str(), lines[1].status),
        ("/001565aabbcc.cfg", 404)
    );
    assert_eq!(
        lines[2].path, "/-/001565aabbcc.cfg",
        "the URL key stays out"
    );
    assert_eq!(lines[2].ua, r"x\x22 200 \x22y");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("SecretKey123"));
    let metrics = reqwest::get(format!("http://{}/metrics", server.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\ndeskprov_access_log_dropped_total 0\n"),
        "{metrics}"
    );

    // logrotate: move the file away, SIGHUP, and the next lines go to a new file.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    // The reopen is handled in order with the lines: wait until a request lands in the new file.
    let mut reopened = false;
    for _ in 0..50 {
        get(&server, "/y000000000108.cfg", yealink).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if log.exists() {
            reopened = true;
            break;
        }
    }
    assert!(reopened, "SIGHUP reopened {}", log.display());
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP does not stop the server"
    );
    // A request, then a graceful stop: its line is written before the process ends.
    get(&server, "/001565aabbcd.cfg", yealink).await;
    server.stop();
    let after = logged(&log);
    assert_eq!(after.last().unwrap().path, "/001565aabbcd.cfg", "{after:?}");
    assert!(
        logged(&rotated).len() >= 3,
        "the old lines stay in the moved file"
    );
}

#[tokio::test]
async fn the_access_log_is_off_unless_asked_for_and_a_bad_path_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let out = crate::binary::run(
        dir.path(),
        &[
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--phone-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--access-log",
            dir.path().join("no/such/dir/access.log").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = crate::binary::stderr(&out);
    assert!(err.contains("opening the access log"), "{err}");
    let server = ServerProcess::on_db(dir.path(), &db);
    get(
        &server,
        "/y000000000108.cfg",
        "Yealink SIP-T46U 108.86.0.45",
    )
    .await;
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("access"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}
