//! `PUT /{file}`: a phone uploading one of its own files (logs, local overrides).

use axum::body::Body;

use super::{Fetch, Miss, Outcome, gated_device, split_path};
use crate::http::AppState;

/// Stores the upload when the name is one the device's vendor uploads, for that device's own
/// MAC, within the size limit; otherwise the usual miss.
pub(super) async fn receive(
    state: &AppState,
    path: &str,
    fetch: &mut Fetch,
    body: Body,
) -> Outcome {
    let Some((key, name)) = split_path(path) else {
        return Outcome::Missed(Miss::BadPath);
    };
    fetch.file = name.to_owned();
    let matches = state.vendors.match_upload(name);
    let Some(mac) = matches.first().map(|m| m.mac) else {
        return Outcome::Missed(Miss::NoSuchFile);
    };
    let (bundle, matched) = match gated_device(state, key, mac, &matches, fetch).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let bytes = match axum::body::to_bytes(body, matched.upload.max_bytes).await {
        Ok(b) => b,
        Err(_) => return Outcome::Missed(Miss::UploadTooLarge),
    };
    match state
        .phone
        .save_upload(bundle.device.id, name, bytes.to_vec())
        .await
    {
        Ok(()) => Outcome::Stored,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
