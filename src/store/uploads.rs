//! Files phones upload: the latest of each name per device.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StoreResult, execute_cached, now, time_text};
use crate::domain::device::UploadInfo;

/// Keeps `body` as the latest `file` of `device_id`, replacing the previous one.
pub fn save(tx: &Transaction<'_>, device_id: i64, file: &str, body: &[u8]) -> StoreResult<()> {
    execute_cached(tx,
        "INSERT INTO device_uploads (device_id, file, body, received_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id, file) DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
        params![device_id, file, body, time_text(now())],
    )?;
    Ok(())
}

/// A device's uploads by name.
pub fn list(conn: &Connection, device_id: i64) -> StoreResult<Vec<UploadInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT file, length(body), received_at FROM device_uploads WHERE device_id = ?1 ORDER BY file",
    )?;
    let rows = stmt.query_map([device_id], |r| {
        Ok(UploadInfo {
            file: r.get(0)?,
            size: r.get(1)?,
            received_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest body of `file` from `device_id`.
pub fn get(conn: &Connection, device_id: i64, file: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT body FROM device_uploads WHERE device_id = ?1 AND file = ?2")?
        .query_row(params![device_id, file], |r| r.get(0))
        .optional()?)
}

/// The latest body of each upload of `device_id` whose name the device also fetched: the local
/// overrides a profile may serve back (what device status compares against), by name.
pub fn overrides(conn: &Connection, device_id: i64) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.file, u.body FROM device_uploads u
         JOIN device_files f ON f.device_id = u.device_id AND f.file = u.file
         WHERE u.device_id = ?1 ORDER BY u.file",
    )?;
    let rows = stmt.query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
