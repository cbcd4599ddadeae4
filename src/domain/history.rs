//! A phone's history: the events its requests made (a first fetch, a new address, User-Agent,
//! model or firmware, a configuration version fetched for the first time, a refusal, a ban), not
//! every request. Every request can go to the access log instead.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest User-Agent kept; longer ones are cut (they are shown to admins, escaped).
pub const MAX_STORED_UA: usize = 256;

/// The kinds of events that are refusals (or a failure, or a ban): what "refused only" shows.
pub const REFUSAL_KINDS: [&str; 2] = ["refused", "ban"];

/// One event, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: DateTime<Utc>,
    /// What happened: a [`Change`](super::device_state::Change)'s kind, or `ban`.
    pub kind: &'static str,
    /// The device's tenant, when the request named a known device.
    pub tenant_id: Option<i64>,
    /// The MAC the request named, normalised.
    pub mac: Option<String>,
    /// Source address.
    pub ip: String,
    /// User-Agent as sent (cut to [`MAX_STORED_UA`] characters).
    pub user_agent: Option<String>,
    /// The file asked for.
    pub file: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The result: `served`, `not_modified`, `uploaded`, or why it was refused.
    pub result: &'static str,
    /// What it was before (address, User-Agent, model, firmware), or the new version's hash.
    pub detail: Option<String>,
}

/// Cuts a User-Agent to what is kept.
pub fn stored_user_agent(ua: &str) -> String {
    ua.chars().take(MAX_STORED_UA).collect()
}

/// An event as shown to admins.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// When.
    pub at: String,
    /// What happened.
    pub kind: String,
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
    /// What it was before, or the new version's hash.
    pub detail: Option<String>,
}

/// Which events [`recent`](crate::store::history::recent) returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryScope {
    /// Only events of this tenant's devices; `None` for every event.
    pub tenant_id: Option<i64>,
    /// Only refusals and bans ([`REFUSAL_KINDS`]).
    pub refused_only: bool,
}
