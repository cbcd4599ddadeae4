//! Device events: the history of what phones' requests changed (see `domain::history`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};

use super::{StoreResult, time_text};
use crate::domain::history::{Event, EventView, HistoryScope};

/// Appends `events`, in order.
pub fn append(tx: &Transaction<'_>, events: &[Event]) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO device_events (at, kind, tenant_id, mac, ip, ua, file, status, result, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for e in events {
        insert.execute(params![
            time_text(e.at),
            e.kind,
            e.tenant_id,
            e.mac,
            e.ip,
            e.user_agent,
            e.file,
            e.status,
            e.result,
            e.detail,
        ])?;
    }
    Ok(())
}

/// Deletes events made before `before` among the `limit` oldest; how many it deleted. Events
/// are written in the order they were made, so the oldest have the lowest ids and a call reads
/// `limit` rows, not every event; fewer than `limit` deleted means none are left.
pub fn prune(tx: &Transaction<'_>, before: DateTime<Utc>, limit: u32) -> StoreResult<usize> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM device_events WHERE id IN (SELECT id FROM device_events ORDER BY id LIMIT ?2) AND at < ?1",
        )?
        .execute(params![time_text(before), limit])?)
}

/// The latest events of one device (its MAC while in its tenant), newest first: a walk down
/// the MAC index however many events other phones made since.
const LATEST_OF_DEVICE: &str =
    "SELECT at, kind, ip, ua, mac, file, status, result, detail FROM device_events
     WHERE mac = ?1 AND tenant_id = ?2 ORDER BY id DESC LIMIT ?3";

/// The latest events of the device with `mac` in `tenant_id`, newest first.
pub fn of_device(
    conn: &Connection,
    mac: &str,
    tenant_id: i64,
    limit: u32,
) -> StoreResult<Vec<EventView>> {
    let mut stmt = conn.prepare_cached(LATEST_OF_DEVICE)?;
    let rows = stmt.query_map(params![mac, tenant_id, limit], view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A `SELECT at, kind, ip, ua, mac, file, status, result, detail` row.
fn view(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventView> {
    Ok(EventView {
        at: r.get(0)?,
        kind: r.get(1)?,
        ip: r.get(2)?,
        ua: r.get(3)?,
        mac: r.get(4)?,
        file: r.get(5)?,
        status: r.get(6)?,
        result: r.get(7)?,
        detail: r.get(8)?,
    })
}

/// The latest events (of one tenant's devices when `?1` is set), newest first.
const RECENT: &str = "SELECT at, kind, ip, ua, mac, file, status, result, detail FROM device_events
     WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY id DESC LIMIT ?2";

/// The latest refusals and bans, newest first. The kinds are written out, not bound, so that
/// SQLite walks the partial index of refusals (migration 0007). Must list
/// [`REFUSAL_KINDS`](crate::domain::history::REFUSAL_KINDS) (a unit test checks).
const RECENT_REFUSED: &str =
    "SELECT at, kind, ip, ua, mac, file, status, result, detail FROM device_events
     WHERE kind IN ('refused', 'ban') AND (?1 IS NULL OR tenant_id = ?1)
     ORDER BY id DESC LIMIT ?2";

/// The latest events in `scope`, newest first.
pub fn recent(conn: &Connection, scope: HistoryScope, limit: u32) -> StoreResult<Vec<EventView>> {
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
    use crate::domain::history::REFUSAL_KINDS;
    use crate::store::Store;

    #[test]
    fn a_devices_history_walks_the_mac_index_instead_of_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let plan = store.query_plan(LATEST_OF_DEVICE, params!["001565000001", 1, 20]);
        assert!(plan.contains("USING INDEX device_events_by_mac"), "{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "no sort of the matches: {plan}"
        );
    }

    #[test]
    fn the_latest_refusals_walk_the_index_of_refusals_instead_of_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        for tenant in [None, Some(1)] {
            let plan = store.query_plan(RECENT_REFUSED, params![tenant, 10]);
            assert!(plan.contains("USING INDEX device_events_refused"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        let kinds: Vec<String> = REFUSAL_KINDS.iter().map(|k| format!("'{k}'")).collect();
        assert!(
            RECENT_REFUSED.contains(&format!("kind IN ({})", kinds.join(", "))),
            "RECENT_REFUSED lists exactly REFUSAL_KINDS"
        );
    }

    #[test]
    fn refusals_and_all_events_come_newest_first_and_by_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let event = |file: &str, kind: &'static str, tenant_id: Option<i64>| Event {
            at: Utc::now(),
            kind,
            tenant_id,
            mac: None,
            ip: "192.0.2.1".into(),
            user_agent: None,
            file: file.into(),
            status: if kind == "refused" { 404 } else { 200 },
            result: if kind == "refused" {
                "unknown_device"
            } else {
                "served"
            },
            detail: None,
        };
        let events = [
            event("a.cfg", "first_fetch", Some(1)),
            event("b.cfg", "refused", None),
            event("c.cfg", "new_version", Some(1)),
            event("d.cfg", "ban", None),
            event("e.cfg", "refused", Some(1)),
        ];
        store.write_blocking(|tx| append(tx, &events)).unwrap();
        let files = |scope: HistoryScope| -> Vec<String> {
            store
                .read_blocking(|c| recent(c, scope, 10))
                .unwrap()
                .into_iter()
                .map(|f| f.file)
                .collect()
        };
        let all = HistoryScope::default();
        let refused = HistoryScope {
            refused_only: true,
            ..all
        };
        assert_eq!(files(all), ["e.cfg", "d.cfg", "c.cfg", "b.cfg", "a.cfg"]);
        assert_eq!(files(refused), ["e.cfg", "d.cfg", "b.cfg"]);
        let tenant = |id, refused_only| HistoryScope {
            tenant_id: Some(id),
            refused_only,
        };
        assert_eq!(files(tenant(1, true)), ["e.cfg"]);
        assert_eq!(files(tenant(1, false)), ["e.cfg", "c.cfg", "a.cfg"]);
        assert!(files(tenant(2, false)).is_empty());
    }
}
