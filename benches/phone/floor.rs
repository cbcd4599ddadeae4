//! The stack's ceiling for P1: axum and hyper on tokio, set up as deskprov's phone listener
//! (same runtime, same connection builder, `TCP_NODELAY`), answering every request with the
//! rendered bytes from memory and doing nothing else: no SQL, no rendering, no checks. What
//! deskprov could reach at best on this stack and machine. With a database, it also records
//! every fetch through deskprov's own fetch recorder (DESIGN §4: every fetch is recorded): the
//! ceiling of a server that keeps that rule. The bench starts it as a child process of its own
//! binary (`--serve-floor`), pinned like the other servers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use sha2::{Digest, Sha256};

use deskprov::store::Store;
use deskprov::store::fetches::FetchRecord;
use deskprov::store::recorder::FetchRecorder;

use crate::corpus::PUBLIC_URL;

/// Serves the files under `www` on `addr` until killed; with `db`, records every fetch in it.
pub fn serve(www: &Path, addr: SocketAddr, db: Option<&Path>) -> anyhow::Result<()> {
    let files = Arc::new(load(www)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let devices = match db {
        Some(db) => Some(device_ids(&Store::open(db)?)?),
        None => None,
    };
    runtime.block_on(async move {
        let recording = match (db, devices) {
            (Some(db), Some(devices)) => Some(Arc::new(Recording {
                recorder: FetchRecorder::start(Store::open(db)?).0,
                devices,
            })),
            _ => None,
        };
        if let Some(recording) = &recording {
            tokio::spawn(report_dropped(recording.recorder.clone()));
        }
        let router = Router::new().fallback(routing::get(move |uri: Uri, headers: HeaderMap| {
            let (files, recording) = (files.clone(), recording.clone());
            async move {
                if let Some(recording) = &recording {
                    recording.record(uri.path(), &headers, &files).await;
                }
                answer(&files, uri.path())
            }
        }));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let (builder, service) = (builder.clone(), TowerToHyperService::new(router.clone()));
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Fetch records as deskprov writes them for a served per-device file.
struct Recording {
    recorder: FetchRecorder,
    /// Device ids by MAC (lower-case hex).
    devices: HashMap<String, i64>,
}

impl Recording {
    /// Records a fetch, waiting while the writer is behind: a ceiling that dropped records
    /// would not keep the rule.
    async fn record(&self, path: &str, headers: &HeaderMap, files: &Files) {
        let mac = mac_in(path).filter(|mac| self.devices.contains_key(mac));
        self.recorder
            .record_waiting(FetchRecord {
                at: chrono::Utc::now(),
                ip: "127.0.0.1".into(),
                ua: headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                device_id: mac.as_ref().map(|mac| self.devices[mac]),
                mac,
                vendor: None,
                model: None,
                firmware: None,
                file: path.trim_start_matches('/').to_owned(),
                status: 200,
                result: "served",
                body_hash: files.get(path).map(|(_, etag)| etag.clone()),
                server_url: PUBLIC_URL.into(),
                cert_fingerprint: None,
            })
            .await;
    }
}

/// Says on stderr how many records the recorder dropped because its writer fell behind (a
/// ceiling that drops records does not keep the rule), whenever the count grows.
async fn report_dropped(recorder: FetchRecorder) {
    let mut said = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let dropped = recorder.dropped();
        if dropped > said {
            eprintln!("dropped {dropped} fetch records");
            said = dropped;
        }
    }
}

/// The first run of twelve hex digits in `path`, lower-cased: the MAC of per-device files.
fn mac_in(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    (0..bytes.len().saturating_sub(11))
        .map(|i| &bytes[i..i + 12])
        .find(|w| w.iter().all(u8::is_ascii_hexdigit) && w.iter().any(|b| *b != b'0'))
        .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

fn device_ids(store: &Store) -> anyhow::Result<HashMap<String, i64>> {
    Ok(store.read_blocking(|c| {
        let mut stmt = c.prepare("SELECT mac, id FROM devices")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    })?)
}

fn answer(files: &Files, path: &str) -> Response {
    match files.get(path) {
        Some((body, _)) => ([(header::CONTENT_TYPE, "text/plain")], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Bodies and their strong ETags (as deskprov computes them), by URL path.
type Files = HashMap<String, (Bytes, String)>;

/// Every file under `www`, by its URL path.
fn load(www: &Path) -> anyhow::Result<Files> {
    let mut files = HashMap::new();
    let mut folders = vec![www.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let url = format!("/{}", path.strip_prefix(www)?.to_string_lossy());
            let body = std::fs::read(&path)?;
            let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
            files.insert(url, (Bytes::from(body), etag));
        }
    }
    Ok(files)
}
