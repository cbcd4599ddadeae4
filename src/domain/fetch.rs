//! Phone requests as recorded: what was asked, by whom, and how it was answered.

use serde::Serialize;

/// Longest User-Agent kept; longer ones are cut (they are shown to admins, escaped).
pub const MAX_STORED_UA: usize = 256;

/// One phone request and how it was answered.
#[derive(Debug, Clone)]
pub struct FetchRecord {
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Source address.
    pub ip: String,
    /// User-Agent as sent (cut to [`MAX_STORED_UA`]).
    pub ua: Option<String>,
    /// MAC from the path, normalised.
    pub mac: Option<String>,
    /// Vendor profile matched.
    pub vendor: Option<String>,
    /// Model from the UA.
    pub model: Option<String>,
    /// Firmware from the UA.
    pub firmware: Option<String>,
    /// File requested (path without the URL key).
    pub file: String,
    /// HTTP status answered.
    pub status: u16,
    /// Short result (`served`, `not_modified`, `unknown_device`, …).
    pub result: &'static str,
    /// The device served, for successful per-device fetches.
    pub device_id: Option<i64>,
    /// Hash of the body served.
    pub body_hash: Option<String>,
    /// Base URL the phone reached deskprov at (rendered into some files).
    pub server_url: String,
    /// SHA-256 of the client certificate, when one was presented.
    pub cert_fingerprint: Option<String>,
}

/// A fetch as shown to admins.
#[derive(Debug, Clone, Serialize)]
pub struct FetchView {
    /// When.
    pub at: String,
    /// Source address.
    pub ip: String,
    /// User-Agent.
    pub ua: Option<String>,
    /// MAC.
    pub mac: Option<String>,
    /// File.
    pub file: String,
    /// Status.
    pub status: u16,
    /// Result.
    pub result: String,
}

/// Results that mean the phone got what it asked for (or stored what it sent).
pub const GRANTED_RESULTS: [&str; 3] = ["served", "not_modified", "uploaded"];

/// Which fetches [`recent`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchScope {
    /// Only fetches of this tenant's devices (by MAC); `None` for every fetch.
    pub tenant_id: Option<i64>,
    /// Only refused requests and bans (results other than [`GRANTED_RESULTS`]).
    pub refused_only: bool,
}
