//! Open connections are bounded: a silent connection is closed after the head timeout, an idle
//! keep-alive connection after the keep-alive timeout, and idle connections beyond the caps give
//! way to new ones, so a flood of idle sockets never takes every file descriptor.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::binary::{ServerProcess, admin_token};
use crate::helpers::*;

/// A connection to `addr` from the loopback address `from` (127.0.0.2, 127.0.0.3, …).
async fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes `stream` (end of stream or reset), or `limit` passes; returns
/// how long that took, `None` when it stayed open.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|()| started.elapsed())
}

/// Sends a `GET /healthz` on `stream` and reads its (small) answer.
async fn healthz_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_head_timeout() {
    let app = TestApp::spawn().await;
    let mut phone = TcpStream::connect(app.phone).await.unwrap();
    let mut admin = TcpStream::connect(app.admin).await.unwrap();
    // Not a single byte: hyper's own head timeout never starts.
    let (phone, admin) = tokio::join!(
        closed_within(&mut phone, Duration::from_secs(14)),
        closed_within(&mut admin, Duration::from_secs(14)),
    );
    for (name, closed) in [("phone", phone), ("admin", admin)] {
        let after = closed.unwrap_or_else(|| panic!("the silent {name} connection stayed open"));
        assert!(
            after >= Duration::from_secs(9),
            "{name}: closed early, {after:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_keepalive_connection_is_closed_and_a_busy_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let server =
        ServerProcess::on_db_with(dir.path(), &db, &[("DESKPROV_KEEPALIVE_TIMEOUT", "2s")]);
    let mut idle = TcpStream::connect(server.admin).await.unwrap();
    let mut busy = TcpStream::connect(server.admin).await.unwrap();
    assert!(healthz_on(&mut idle).await.starts_with("HTTP/1.1 200"));
    // A request every second keeps a connection open well past the idle timeout.
    for _ in 0..4 {
        assert!(healthz_on(&mut busy).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let closed = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "the idle keep-alive connection stayed open"
    );
    assert!(healthz_on(&mut busy).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn beyond_the_per_source_cap_the_oldest_idle_connection_gives_way() {
    let app = TestApp::spawn_with(|c| c.max_connections_per_source = 3).await;
    let from: IpAddr = "127.0.0.2".parse().unwrap();
    let mut oldest = connect_from(from, app.admin).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(connect_from(from, app.admin).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        closed_within(&mut oldest, Duration::from_secs(3))
            .await
            .is_some(),
        "the oldest idle connection of the source was kept"
    );
    // The newest connection of that source is served, and so is another source.
    assert!(
        healthz_on(others.last_mut().unwrap())
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut elsewhere = connect_from("127.0.0.3".parse().unwrap(), app.admin).await;
    assert!(healthz_on(&mut elsewhere).await.starts_with("HTTP/1.1 200"));
}

/// Opens `per_source` idle connections to `addr` from each of `sources` loopback addresses.
async fn flood(addr: SocketAddr, sources: u8, per_source: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for i in 0..per_source {
        for s in 0..sources {
            let from = IpAddr::from([127, 0, 0, 2 + s]);
            held.push(connect_from(from, addr).await);
        }
        if i % 10 == 0 {
            // Let the server accept as it would under a real flood.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    held
}

#[tokio::test]
async fn idle_connections_beyond_the_file_limit_do_not_starve_phones_or_admins() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let token = admin_token(dir.path(), &db);
    let server = ServerProcess::on_db_limited(
        dir.path(),
        &db,
        &[
            ("DESKPROV_DEMO", "true"),
            ("DESKPROV_MAX_CONNECTIONS", "64"),
            ("DESKPROV_MAX_CONNECTIONS_PER_SOURCE", "16"),
        ],
        256,
    );
    // 300 idle sockets from six sources against a server allowed 256 open files.
    let mut held = flood(server.phone, 6, 25).await;
    held.extend(flood(server.admin, 6, 25).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap();
    let phone = &deskprov::demo::PHONES[0];
    let fetched = client
        .get(format!("http://{}/{}", server.phone, phone.file))
        .header("User-Agent", phone.user_agent)
        .send()
        .await
        .expect("the phone is served despite the idle flood");
    assert_eq!(fetched.status(), StatusCode::OK);
    let health = client
        .get(format!("http://{}/healthz", server.admin))
        .send()
        .await
        .expect("/healthz answers despite the idle flood");
    assert_eq!(health.status(), StatusCode::OK);
    let tenants = client
        .get(format!("http://{}/api/v1/tenants", server.admin))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the API answers despite the idle flood");
    assert_eq!(tenants.status(), StatusCode::OK);
    drop(held);
}
