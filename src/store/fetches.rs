//! Fetch records: every phone request, written in batches off the hot path.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StoreResult, time_text};
use crate::domain::fetch::{FetchRecord, FetchScope, FetchView, MAX_STORED_UA};

/// Writes a batch of records and updates the devices they served. Returns whether it changed
/// anything a phone's file or its checks depend on: a device bound by its first fetch (address,
/// client certificate), or a model that differs from the one seen before (it picks the
/// template's model when a request carries no User-Agent).
///
/// Every record is inserted; the device rows are touched once per device and the per-file rows
/// once per file, with what the batch's records would have left there one by one: the first
/// successful fetch binds, the latest sets the latest fields, a model or firmware or UA given by
/// any record replaces the stored one (the last given wins). A per-file row changes only when
/// the phone got different bytes (its `fetched_at` is when it first got these): re-fetches of
/// an unchanged file do not rewrite it, which saves a random page write per fetch.
pub fn record_batch(tx: &Transaction<'_>, batch: &[FetchRecord]) -> StoreResult<bool> {
    let effects = insert_records(tx, batch)?;
    let (changed, gone) = touch_devices(tx, &effects.touches)?;
    write_file_hashes(tx, effects.files, &gone)?;
    Ok(changed)
}

/// A device's file as a fetch left it: device id, file name, body hash, server URL, time.
type FileRow<'a> = (i64, &'a str, &'a str, &'a str, String);

/// What a batch leaves on the device rows (one [`Touch`] per device) and the per-file rows (the
/// last fetch of each file), in the order first seen.
#[derive(Default)]
struct BatchEffects<'a> {
    touches: Vec<Touch>,
    touch_of: HashMap<i64, usize>,
    files: Vec<FileRow<'a>>,
    file_of: HashMap<(i64, &'a str), usize>,
}

impl<'a> BatchEffects<'a> {
    /// Folds in the record `r` of device `device_id`, made at `at` with the stored `ua`.
    fn add(&mut self, device_id: i64, r: &'a FetchRecord, at: String, ua: Option<String>) {
        match self.touch_of.get(&device_id) {
            Some(&i) => self.touches[i].add(r, &at, ua),
            None => {
                self.touch_of.insert(device_id, self.touches.len());
                self.touches.push(Touch::new(device_id, r, &at, ua));
            }
        }
        if let Some(hash) = &r.body_hash {
            match self.file_of.get(&(device_id, r.file.as_str())) {
                Some(&i) => self.files[i] = (device_id, &r.file, hash, &r.server_url, at),
                None => {
                    self.file_of.insert((device_id, &r.file), self.files.len());
                    self.files
                        .push((device_id, &r.file, hash, &r.server_url, at));
                }
            }
        }
    }
}

/// Inserts every record of the batch, and works out what they leave on the devices they served.
fn insert_records<'a>(
    tx: &Transaction<'_>,
    batch: &'a [FetchRecord],
) -> StoreResult<BatchEffects<'a>> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO fetches (at, ip, ua, mac, vendor, model, firmware, file, status, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut effects = BatchEffects::default();
    for r in batch {
        let at = time_text(r.at);
        let ua =
            r.ua.as_deref()
                .map(|ua| ua.chars().take(MAX_STORED_UA).collect::<String>());
        insert.execute(params![
            at, r.ip, ua, r.mac, r.vendor, r.model, r.firmware, r.file, r.status, r.result
        ])?;
        if let Some(device_id) = r.device_id {
            effects.add(device_id, r, at, ua);
        }
    }
    Ok(effects)
}

/// Updates each touched device's row. Returns whether any change matters to a phone's file or
/// its checks (see [`record_batch`]), and the devices deleted since their fetch, which have no
/// row to update and are skipped.
fn touch_devices(tx: &Transaction<'_>, touches: &[Touch]) -> StoreResult<(bool, Vec<i64>)> {
    let mut changed = false;
    let mut before = tx.prepare_cached(
        "SELECT first_fetch_at IS NULL OR (?2 IS NOT NULL AND seen_model IS NOT ?2) FROM devices WHERE id = ?1",
    )?;
    let mut touch = tx.prepare_cached(
        "UPDATE devices SET
            bound_ip = CASE WHEN first_fetch_at IS NULL THEN ?3 ELSE bound_ip END,
            bound_cert = CASE WHEN first_fetch_at IS NULL THEN ?7 ELSE bound_cert END,
            first_fetch_at = COALESCE(first_fetch_at, ?2), last_fetch_at = ?8, last_ip = ?9,
            seen_model = COALESCE(?4, seen_model), seen_firmware = COALESCE(?5, seen_firmware), seen_ua = COALESCE(?6, seen_ua)
         WHERE id = ?1",
    )?;
    let mut gone = Vec::new();
    for t in touches {
        // Devices deleted since the fetch have no row to update or point at; skip those.
        match before
            .query_row(params![t.device_id, t.model], |r| r.get::<_, bool>(0))
            .optional()?
        {
            None => {
                gone.push(t.device_id);
                continue;
            }
            Some(relevant) => changed |= relevant,
        }
        touch.execute(params![
            t.device_id,
            t.first_at,
            t.first_ip,
            t.model,
            t.firmware,
            t.ua,
            t.first_cert,
            t.last_at,
            t.last_ip,
        ])?;
    }
    Ok((changed, gone))
}

/// Writes the per-file rows of the devices that still exist; a row changes only when the phone
/// got different bytes or a different server URL.
fn write_file_hashes(
    tx: &Transaction<'_>,
    files: Vec<FileRow<'_>>,
    gone: &[i64],
) -> StoreResult<()> {
    let mut file = tx.prepare_cached(
        "INSERT INTO device_files (device_id, file, body_hash, server_url, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device_id, file) DO UPDATE SET body_hash = excluded.body_hash, server_url = excluded.server_url,
            fetched_at = excluded.fetched_at
         WHERE body_hash IS NOT excluded.body_hash OR server_url IS NOT excluded.server_url",
    )?;
    for (device_id, name, hash, server_url, at) in files {
        if !gone.contains(&device_id) {
            file.execute(params![device_id, name, hash, server_url, at])?;
        }
    }
    Ok(())
}

/// Deletes fetch records made before `before` among the `limit` oldest; how many it deleted.
/// Records are written in the order they were made, so the oldest have the lowest ids and a
/// call reads `limit` rows, not every record; fewer than `limit` deleted means none are left.
pub fn prune(tx: &Transaction<'_>, before: DateTime<Utc>, limit: u32) -> StoreResult<usize> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM fetches WHERE id IN (SELECT id FROM fetches ORDER BY id LIMIT ?2) AND at < ?1",
        )?
        .execute(params![time_text(before), limit])?)
}

/// What a batch's successful fetches of one device leave on its row.
struct Touch {
    device_id: i64,
    /// The first fetch: binds the device if it was not yet.
    first_at: String,
    first_ip: String,
    first_cert: Option<String>,
    /// The latest fetch.
    last_at: String,
    last_ip: String,
    /// The last model, firmware and User-Agent any of the fetches gave.
    model: Option<String>,
    firmware: Option<String>,
    ua: Option<String>,
}

impl Touch {
    fn new(device_id: i64, r: &FetchRecord, at: &str, ua: Option<String>) -> Self {
        Self {
            device_id,
            first_at: at.to_owned(),
            first_ip: r.ip.clone(),
            first_cert: r.cert_fingerprint.clone(),
            last_at: at.to_owned(),
            last_ip: r.ip.clone(),
            model: r.model.clone(),
            firmware: r.firmware.clone(),
            ua,
        }
    }

    fn add(&mut self, r: &FetchRecord, at: &str, ua: Option<String>) {
        self.last_at = at.to_owned();
        self.last_ip.clone_from(&r.ip);
        if r.model.is_some() {
            self.model.clone_from(&r.model);
        }
        if r.firmware.is_some() {
            self.firmware.clone_from(&r.firmware);
        }
        if ua.is_some() {
            self.ua = ua;
        }
    }
}

/// The latest fetches of one MAC, newest first: a walk down the MAC index however many fetches
/// other phones made since.
const LATEST_FOR_MAC: &str = "SELECT at, ip, ua, mac, file, status, result FROM fetches WHERE mac = ?1 ORDER BY id DESC LIMIT ?2";

/// The latest fetches of every phone, newest first.
const LATEST: &str =
    "SELECT at, ip, ua, mac, file, status, result FROM fetches ORDER BY id DESC LIMIT ?2";

/// The latest fetches, optionally for one MAC.
pub fn latest(conn: &Connection, mac: Option<&str>, limit: u32) -> StoreResult<Vec<FetchView>> {
    // Two statements: `?1 IS NULL OR mac = ?1` keeps SQLite off the MAC index, and a phone
    // that rarely fetches would cost a scan of every fetch.
    let mut stmt = conn.prepare_cached(if mac.is_some() {
        LATEST_FOR_MAC
    } else {
        LATEST
    })?;
    let rows = stmt.query_map(params![mac, limit], view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A `SELECT at, ip, ua, mac, file, status, result` row.
fn view(r: &rusqlite::Row<'_>) -> rusqlite::Result<FetchView> {
    Ok(FetchView {
        at: r.get(0)?,
        ip: r.get(1)?,
        ua: r.get(2)?,
        mac: r.get(3)?,
        file: r.get(4)?,
        status: r.get(5)?,
        result: r.get(6)?,
    })
}

/// The latest fetches (of one tenant's devices when `?1` is set), newest first.
const RECENT: &str = "SELECT at, ip, ua, mac, file, status, result FROM fetches
     WHERE (?1 IS NULL OR mac IN (SELECT mac FROM devices WHERE tenant_id = ?1))
     ORDER BY id DESC LIMIT ?2";

/// The latest refused requests, newest first. The results are written out, not bound, so
/// that SQLite walks the partial index of refused fetches (migration 0004) instead of every
/// fetch back to the last refusal: refusals are rare among fetches. Must list
/// [`GRANTED_RESULTS`] (a unit test checks).
const RECENT_REFUSED: &str = "SELECT at, ip, ua, mac, file, status, result FROM fetches
     WHERE result NOT IN ('served', 'not_modified', 'uploaded')
       AND (?1 IS NULL OR mac IN (SELECT mac FROM devices WHERE tenant_id = ?1))
     ORDER BY id DESC LIMIT ?2";

/// The latest fetches in `scope`, newest first.
pub fn recent(conn: &Connection, scope: FetchScope, limit: u32) -> StoreResult<Vec<FetchView>> {
    let sql = if scope.refused_only {
        RECENT_REFUSED
    } else {
        RECENT
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![scope.tenant_id, limit], view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fetch::GRANTED_RESULTS;
    use crate::store::Store;

    #[test]
    fn a_phones_fetch_history_walks_the_mac_index_instead_of_every_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let plan = store.query_plan(LATEST_FOR_MAC, params!["001565000001", 20]);
        assert!(plan.contains("USING INDEX fetches_by_mac"), "{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "no sort of the matches: {plan}"
        );
    }

    #[test]
    fn the_latest_refusals_walk_the_index_of_refusals_instead_of_every_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        for tenant in [None, Some(1)] {
            let plan = store.query_plan(RECENT_REFUSED, params![tenant, 10]);
            assert!(plan.contains("USING INDEX fetches_refused"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        let granted: Vec<String> = GRANTED_RESULTS.iter().map(|r| format!("'{r}'")).collect();
        assert!(
            RECENT_REFUSED.contains(&format!("NOT IN ({})", granted.join(", "))),
            "RECENT_REFUSED lists exactly GRANTED_RESULTS"
        );
    }

    #[test]
    fn refusals_and_all_fetches_come_newest_first_and_by_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let record = |file: &str, result: &'static str| FetchRecord {
            at: Utc::now(),
            ip: "192.0.2.1".into(),
            ua: None,
            mac: None,
            vendor: None,
            model: None,
            firmware: None,
            file: file.into(),
            status: if result == "served" { 200 } else { 404 },
            result,
            device_id: None,
            body_hash: None,
            server_url: "http://prov.test".into(),
            cert_fingerprint: None,
        };
        let records = [
            record("a.cfg", "served"),
            record("b.cfg", "unknown_device"),
            record("c.cfg", "not_modified"),
            record("d.cfg", "banned"),
            record("e.cfg", "uploaded"),
        ];
        store
            .write_blocking(|tx| record_batch(tx, &records))
            .unwrap();
        let files = |scope: FetchScope| -> Vec<String> {
            store
                .read_blocking(|c| recent(c, scope, 10))
                .unwrap()
                .into_iter()
                .map(|f| f.file)
                .collect()
        };
        let all = FetchScope::default();
        let refused = FetchScope {
            refused_only: true,
            ..all
        };
        assert_eq!(files(all), ["e.cfg", "d.cfg", "c.cfg", "b.cfg", "a.cfg"]);
        assert_eq!(files(refused), ["d.cfg", "b.cfg"]);
        let other_tenant = FetchScope {
            tenant_id: Some(1),
            refused_only: true,
        };
        assert!(files(other_tenant).is_empty(), "no device of tenant 1");
    }
}
