//! The stack's ceiling for P1: axum and hyper on tokio, set up as deskprov's phone listener
//! (same runtime, same connection builder, `TCP_NODELAY`), answering every request with the
//! rendered bytes from memory and doing nothing else: no SQL, no rendering, no checks. What
//! deskprov could reach at best on this stack and machine. It can also record every fetch, as
//! deskprov does, waiting for the writer rather than dropping records: with deskprov's own
//! fetch recorder, or with only the `fetches` row itself in batches as large as the backlog
//! (the least any server keeping that rule in SQLite must write). The bench starts it as a
//! child process of its own binary (`--serve-floor`), pinned like the other servers.

use deskprov::domain::fetch::FetchRecord;
use deskprov::domain::time::time_text;
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
use rusqlite::params;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use deskprov::store::Store;
use deskprov::store::recorder::FetchRecorder;

use crate::corpus::PUBLIC_URL;

/// How the ceiling records fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Records {
    /// Not at all.
    None,
    /// With deskprov's fetch recorder: the row, the device's latest-fetch fields, the per-file
    /// row.
    Full,
    /// Only the `fetches` row.
    Row,
}

/// Most rows the row-only writer puts in one transaction.
const ROW_BATCH: usize = 10_000;

/// Serves the files under `www` on `addr` until killed, recording fetches in `db` as `records`
/// says.
pub fn serve(www: &Path, addr: SocketAddr, records: Records, db: &Path) -> anyhow::Result<()> {
    let files = Arc::new(load(www)?);
    let devices = Arc::new(device_ids(&Store::open(db)?)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let recorder = match records {
            Records::None => None,
            Records::Full => Some(Recorder::Full(FetchRecorder::start(Store::open(db)?).0)),
            Records::Row => {
                let (tx, rx) = mpsc::channel(65_536);
                tokio::spawn(write_rows(Store::open(db)?, rx));
                Some(Recorder::Row(tx))
            }
        };
        let recorder = Arc::new(recorder);
        let router = Router::new().fallback(routing::get(move |uri: Uri, headers: HeaderMap| {
            let (files, devices, recorder) = (files.clone(), devices.clone(), recorder.clone());
            async move {
                if let Some(recorder) = recorder.as_ref() {
                    let record = fetch_record(uri.path(), &headers, &files, &devices);
                    recorder.record(record).await;
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

enum Recorder {
    Full(FetchRecorder),
    Row(mpsc::Sender<FetchRecord>),
}

impl Recorder {
    /// Records a fetch, waiting while the writer is behind: a ceiling that dropped records
    /// would not keep the rule.
    async fn record(&self, record: FetchRecord) {
        match self {
            Recorder::Full(recorder) => recorder.record_waiting(record).await,
            Recorder::Row(tx) => {
                let _ = tx.send(record).await;
            }
        }
    }
}

/// The record deskprov makes of a served per-device file.
fn fetch_record(
    path: &str,
    headers: &HeaderMap,
    files: &Files,
    devices: &HashMap<String, i64>,
) -> FetchRecord {
    let mac = mac_in(path).filter(|mac| devices.contains_key(mac));
    FetchRecord {
        at: chrono::Utc::now(),
        ip: "127.0.0.1".into(),
        ua: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        device_id: mac.as_ref().map(|mac| devices[mac]),
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
    }
}

/// Inserts the `fetches` rows and nothing else, one transaction for whatever is queued.
async fn write_rows(store: Store, mut rx: mpsc::Receiver<FetchRecord>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < ROW_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let written = store
            .write(move |tx| {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO fetches (at, ip, ua, mac, vendor, model, firmware, file, status, result)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for r in &batch {
                    insert.execute(params![
                        time_text(r.at),
                        r.ip,
                        r.ua,
                        r.mac,
                        r.vendor,
                        r.model,
                        r.firmware,
                        r.file,
                        r.status,
                        r.result
                    ])?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = written {
            eprintln!("could not write fetch rows: {e}");
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
