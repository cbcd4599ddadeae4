//! The stack's ceiling for P1: axum and hyper on tokio, set up as deskprov's phone listener
//! (same runtime, same connection builder, `TCP_NODELAY`), answering every request with the
//! rendered bytes from memory and doing nothing else: no SQL, no rendering, no checks. What
//! deskprov could reach at best on this stack and machine. The bench starts it as a child
//! process of its own binary (`--serve-floor`), pinned like the other servers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use sha2::{Digest, Sha256};

/// Serves the files under `www` on `addr` until killed.
pub fn serve(www: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    let files = Arc::new(load(www)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let router = Router::new().fallback(routing::get(move |uri: Uri| {
            let files = files.clone();
            async move { answer(&files, uri.path()) }
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
