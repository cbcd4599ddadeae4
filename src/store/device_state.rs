//! Devices' fetch state as stored: the fetch columns of `devices`, the versions each got
//! (`device_files`) and the counts per file and answer (`devices.fetch_counts`, JSON). Written in
//! batches by the phone path's state writer, read back when a device's state is first needed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StoreResult, history, optional_time_column, time_text};
use crate::domain::Mac;
use crate::domain::device_state::{Answer, Counts, DeviceState, FileState, version_fingerprint};
use crate::domain::history::{Event, stored_user_agent};

/// The binding a device's first successful fetch makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// When.
    pub at: DateTime<Utc>,
    /// The address it came from.
    pub ip: String,
    /// The SHA-256 of the client certificate it presented, if any.
    pub cert: Option<String>,
}

/// A configuration version a device got for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The file.
    pub file: String,
    /// Its body's hash (the ETag).
    pub body_hash: String,
    /// The base URL it was rendered with.
    pub server_url: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// One device's state to write.
#[derive(Debug, Clone)]
pub struct StateWrite {
    /// The device.
    pub device_id: i64,
    /// Its state as the writes leave it.
    pub state: DeviceState,
    /// Its binding, when this write carries its first fetch.
    pub binding: Option<Binding>,
    /// The versions it got for the first time.
    pub versions: Vec<Version>,
}

/// What one transaction writes: device states and events.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Device states, each device at most once or in the order they were taken.
    pub states: Vec<StateWrite>,
    /// Events, in order.
    pub events: Vec<Event>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty() && self.events.is_empty()
    }
}

/// Writes `batch`: states of devices deleted since are skipped.
pub fn write(tx: &Transaction<'_>, batch: &Batch) -> StoreResult<()> {
    let mut update = tx.prepare_cached(
        "UPDATE devices SET
            first_fetch_at = CASE WHEN ?2 IS NOT NULL THEN ?2 ELSE first_fetch_at END,
            bound_ip = CASE WHEN ?2 IS NOT NULL THEN ?3 ELSE bound_ip END,
            bound_cert = CASE WHEN ?2 IS NOT NULL THEN ?4 ELSE bound_cert END,
            last_fetch_at = COALESCE(?5, last_fetch_at), last_ip = COALESCE(?6, last_ip),
            seen_ua = COALESCE(?7, seen_ua), seen_model = COALESCE(?8, seen_model),
            seen_firmware = COALESCE(?9, seen_firmware), last_file = COALESCE(?10, last_file),
            fetch_counts = ?11
         WHERE id = ?1",
    )?;
    let mut version = tx.prepare_cached(
        "INSERT INTO device_files (device_id, file, body_hash, server_url, fetched_at)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1)
         ON CONFLICT (device_id, file) DO UPDATE SET body_hash = excluded.body_hash,
            server_url = excluded.server_url, fetched_at = excluded.fetched_at
         WHERE body_hash IS NOT excluded.body_hash OR server_url IS NOT excluded.server_url",
    )?;
    for w in &batch.states {
        let s = &w.state;
        let binding = w.binding.as_ref();
        update.execute(params![
            w.device_id,
            binding.map(|b| time_text(b.at)),
            binding.map(|b| &b.ip),
            binding.and_then(|b| b.cert.as_ref()),
            s.last_fetch_at.map(time_text),
            s.last_ip.map(|ip| ip.to_string()),
            s.user_agent.as_deref().map(stored_user_agent),
            s.model.as_deref(),
            s.firmware.as_deref(),
            s.last_file.as_deref(),
            counts_json(s),
        ])?;
        for v in &w.versions {
            version.execute(params![
                w.device_id,
                v.file,
                v.body_hash,
                v.server_url,
                time_text(v.at)
            ])?;
        }
    }
    history::append(tx, &batch.events)
}

/// The counts of `state` as stored: `{"file": {"served": 3, …}, …}`.
fn counts_json(state: &DeviceState) -> String {
    let files: BTreeMap<&str, BTreeMap<&str, u32>> = state
        .files
        .iter()
        .map(|f| {
            let counts = f.counts.nonzero().map(|(a, n)| (a.as_str(), n)).collect();
            (&*f.name, counts)
        })
        .collect();
    serde_json::to_string(&files).unwrap_or_else(|_| "{}".into())
}

/// The columns a device's state is read from, in [`StateRow`] order.
const STATE_COLUMNS: &str = "first_fetch_at, last_fetch_at, last_ip, seen_ua, seen_model,
    seen_firmware, last_file, fetch_counts";

/// A device's state as its row holds it.
type StateRow = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// The [`StateRow`] of `r` starting at column `at`.
fn state_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StateRow> {
    Ok((
        optional_time_column(r, at)?,
        optional_time_column(r, at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        r.get(at + 4)?,
        r.get(at + 5)?,
        r.get(at + 6)?,
        r.get(at + 7)?,
    ))
}

/// The stored state of device `device_id`, or `None` when there is no such device.
pub fn load(conn: &Connection, device_id: i64) -> StoreResult<Option<DeviceState>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM devices WHERE id = ?1"
        ))?
        .query_row([device_id], |r| state_row(r, 0))
        .optional()?;
    row.map(|row| state_of(conn, device_id, row)).transpose()
}

/// Up to `limit` devices' stored states with their MACs, by row id, after row id `after`: one
/// page of every device's (a start reads them all at once rather than one per first fetch).
pub fn page(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<(i64, Mac, DeviceState)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, mac, {STATE_COLUMNS} FROM devices WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(rusqlite::params![after, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                state_row(r, 2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut states = Vec::with_capacity(rows.len());
    for (id, mac, row) in rows {
        // A MAC the store wrote is one it parses; a row that does not is left to its first fetch.
        if let Ok(mac) = Mac::parse(&mac) {
            states.push((id, mac, state_of(conn, id, row)?));
        }
    }
    Ok(states)
}

/// The state of device `device_id` from its row, with the versions it fetched.
fn state_of(conn: &Connection, device_id: i64, row: StateRow) -> StoreResult<DeviceState> {
    let (first, last, ip, ua, model, firmware, last_file, counts) = row;
    let mut state = DeviceState {
        first_fetch_at: first,
        last_fetch_at: last,
        last_ip: ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()),
        user_agent: ua.map(Arc::from),
        model: model.map(Arc::from),
        firmware: firmware.map(Arc::from),
        last_file: last_file.map(Arc::from),
        files: stored_counts(&counts)?,
    };
    add_versions(conn, device_id, &mut state)?;
    Ok(state)
}

/// The per-file counts stored as JSON (answers this version does not know are left out).
fn stored_counts(json: &str) -> StoreResult<Vec<FileState>> {
    let files: BTreeMap<String, BTreeMap<String, u32>> = serde_json::from_str(json)?;
    Ok(files
        .into_iter()
        .map(|(name, answers)| {
            let mut counts = Counts::default();
            for (answer, n) in answers {
                if let Some(a) = Answer::parse(&answer) {
                    counts.add(a, n);
                }
            }
            FileState {
                name: Arc::from(name),
                version: None,
                counts,
            }
        })
        .collect())
}

/// Adds the versions the device got (`device_files`) to its state.
fn add_versions(conn: &Connection, device_id: i64, state: &mut DeviceState) -> StoreResult<()> {
    let mut stmt =
        conn.prepare_cached("SELECT file, body_hash FROM device_files WHERE device_id = ?1")?;
    let rows = stmt.query_map([device_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (file, hash) = row?;
        let fingerprint = Some(version_fingerprint(&hash));
        match state.files.iter_mut().find(|f| *f.name == *file) {
            Some(f) => f.version = fingerprint,
            None => state.files.push(FileState {
                name: Arc::from(file),
                version: fingerprint,
                counts: Counts::default(),
            }),
        }
    }
    Ok(())
}
