//! `PUT /{file}`: a phone uploading one of its own files (logs, local overrides).

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use http_body_util::LengthLimitError;

use super::{Fetch, Miss, Outcome, gated_device, split_path};
use crate::http::AppState;

/// Stores the upload when the name is one the device's vendor uploads, for that device's own
/// MAC, within the size limit; otherwise the usual miss.
pub(super) async fn receive(
    state: &AppState,
    path: &str,
    fetch: &mut Fetch,
    body: Body,
    declared_len: Option<u64>,
) -> Outcome {
    let Some((key, name)) = split_path(path) else {
        return Outcome::Missed(Miss::BadPath);
    };
    fetch.file = name.to_owned();
    let matches = state.vendors.match_upload(name);
    let Some(mac) = matches.first().map(|m| m.mac) else {
        return Outcome::Missed(Miss::NoSuchFile);
    };
    let subject = match gated_device(state, key, mac, fetch).await {
        Ok(subject) => subject,
        Err(refused) => return refused,
    };
    let Some(matched) = matches
        .iter()
        .find(|m| m.vendor.id() == &*subject.device.vendor)
    else {
        return Outcome::Missed(Miss::VendorMismatch);
    };
    let bytes = match read_body(body, declared_len, matched.upload.max_bytes).await {
        Ok(b) => b,
        Err(miss) => return Outcome::Missed(miss),
    };
    match state
        .phone
        .save_upload(subject.device.id, name, bytes.to_vec())
        .await
    {
        Ok(()) => Outcome::Stored,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Longest an upload's body may take to arrive once its head has: a body that trickles is cut.
const BODY_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads an upload's body of at most `max` bytes. A declared length over `max` is refused
/// before any byte is read; a body that grows past it, does not parse or trickles is refused
/// with its own reason.
async fn read_body(body: Body, declared_len: Option<u64>, max: usize) -> Result<Bytes, Miss> {
    if declared_len.is_some_and(|n| n > max as u64) {
        return Err(Miss::UploadTooLarge);
    }
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(Miss::UploadTimedOut),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Miss::UploadTooLarge),
        Ok(Err(_)) => Err(Miss::UploadMalformed),
    }
}
