//! Embedded, numbered schema migrations (state kept in `PRAGMA user_version`).

use std::sync::LazyLock;

use rusqlite::{Connection, Transaction};
use rusqlite_migration::{HookResult, M, Migrations};

use crate::domain::AdminPassword;

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_initial.sql")),
        M::up(include_str!("migrations/0002_ui_sessions.sql")),
        M::up(include_str!("migrations/0003_audit_restore.sql")),
        M::up(include_str!("migrations/0004_admin_read_indexes.sql")),
        M::up_with_hook(
            include_str!("migrations/0005_phone_admin_password.sql"),
            generate_admin_passwords,
        ),
        M::up(include_str!("migrations/0006_phone_keys.sql")),
        M::up(include_str!("migrations/0007_device_state.sql")),
        M::up(include_str!("migrations/0008_change_journal.sql")),
    ])
});

/// Gives every device without one a generated admin password (devices registered before
/// migration 0005).
fn generate_admin_passwords(tx: &Transaction<'_>) -> HookResult {
    let ids = tx
        .prepare("SELECT id FROM devices WHERE generated_admin_password = ''")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut rng = rand::rng();
    for id in ids {
        tx.execute(
            "UPDATE devices SET generated_admin_password = ?2 WHERE id = ?1",
            rusqlite::params![id, AdminPassword::generate(&mut rng).expose()],
        )?;
    }
    Ok(())
}

/// Brings `conn` to the latest schema.
pub fn run(conn: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    MIGRATIONS.to_latest(conn)
}

/// The schema version (`user_version`) of a database with every migration applied.
pub fn latest() -> i64 {
    // Migrations do not expose their count; an empty database has them all pending.
    rusqlite::Connection::open_in_memory()
        .ok()
        .and_then(|c| MIGRATIONS.pending_migrations(&c).ok())
        .map_or(0, i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn devices_registered_before_admin_passwords_get_one_each() {
        let mut conn = Connection::open_in_memory().unwrap();
        MIGRATIONS.to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, updated_at)
                 VALUES (1, 't.example', 'texample_', '{}', '{}', '{}', 3600, 2, 'x', 'x');
             INSERT INTO users (id, tenant_id, extension, name, role, sip_username, sip_password, created_at, updated_at)
                 VALUES (1, 1, '101', 'A', 'user', 'texample_101', 'pw', 'x', 'x');
             INSERT INTO devices (mac, tenant_id, user_id, vendor, enroll_deadline, created_at, updated_at)
                 VALUES ('001565000001', 1, 1, 'yealink', 'x', 'x', 'x'),
                        ('001565000002', 1, 1, 'yealink', 'x', 'x', 'x');",
        )
        .unwrap();
        run(&mut conn).unwrap();
        let passwords: Vec<String> = conn
            .prepare("SELECT generated_admin_password FROM devices ORDER BY mac")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(passwords.len(), 2);
        assert_ne!(passwords[0], passwords[1]);
        for pw in &passwords {
            assert!(AdminPassword::parse(pw, "x").is_ok(), "{pw}");
        }
    }

    #[test]
    fn fetch_rows_become_device_state_and_history_keeping_last_fetches_and_bindings() {
        let mut conn = Connection::open_in_memory().unwrap();
        MIGRATIONS.to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, updated_at)
                 VALUES (1, 't.example', 'texample_', '{}', '{}', '{}', 3600, 2, 'x', 'x');
             INSERT INTO users (id, tenant_id, extension, name, role, sip_username, sip_password, created_at, updated_at)
                 VALUES (1, 1, '101', 'A', 'user', 'texample_101', 'pw', 'x', 'x');
             INSERT INTO devices (id, mac, tenant_id, user_id, vendor, enroll_deadline, created_at, updated_at,
                                  first_fetch_at, last_fetch_at, last_ip, seen_model, seen_firmware, seen_ua, bound_ip, bound_cert)
                 VALUES (1, '001565000001', 1, 1, 'yealink', 'x', 'x', 'x',
                         '2026-11-01T10:00:00.000000Z', '2026-11-02T10:00:00.000000Z', '10.0.0.6', 'T46U',
                         '108.86.0.45', 'Yealink SIP-T46U 108.86.0.45', '10.0.0.5', 'ab12');
             INSERT INTO devices (id, mac, tenant_id, user_id, vendor, enroll_deadline, created_at, updated_at)
                 VALUES (2, '001565000002', 1, 1, 'yealink', 'x', 'x', 'x');
             INSERT INTO device_files (device_id, file, body_hash, server_url, fetched_at)
                 VALUES (1, '001565000001.cfg', '\"h1\"', 'http://prov', '2026-11-01T10:00:00.000000Z');
             INSERT INTO fetches (at, ip, ua, mac, vendor, model, firmware, file, status, result) VALUES
                 ('2026-11-01T10:00:00.000000Z', '10.0.0.5', 'ua', '001565000001', 'yealink', 'T46U', 'f', '001565000001.cfg', 200, 'served'),
                 ('2026-11-01T10:00:01.000000Z', '10.0.0.5', 'ua', '001565000001', 'yealink', 'T46U', 'f', 'y000000000028.cfg', 200, 'served'),
                 ('2026-11-01T11:00:00.000000Z', '203.0.113.9', 'x', '001565000001', 'yealink', NULL, NULL, '001565000001.cfg', 401, 'credentials_wrong_password'),
                 ('2026-11-01T11:00:01.000000Z', '203.0.113.9', 'x', '001565000001', 'yealink', NULL, NULL, '001565000001.cfg', 401, 'credentials_required'),
                 ('2026-11-02T10:00:00.000000Z', '10.0.0.6', 'ua', '001565000001', 'yealink', 'T46U', 'f', '001565000001.cfg', 304, 'not_modified'),
                 ('2026-11-02T10:00:01.000000Z', '198.51.100.1', NULL, '0015650000ff', NULL, NULL, NULL, '0015650000ff.cfg', 404, 'unknown_device'),
                 ('2026-11-02T10:00:02.000000Z', '198.51.100.1', NULL, NULL, NULL, NULL, NULL, 'firmware.rom', 404, 'no_such_file');",
        )
        .unwrap();
        run(&mut conn).unwrap();
        let kept: (String, String, String, String, Option<String>, String) = conn
            .query_row(
                "SELECT first_fetch_at, last_fetch_at, last_ip, bound_ip, bound_cert, last_file FROM devices WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap();
        assert_eq!(
            kept,
            (
                "2026-11-01T10:00:00.000000Z".into(),
                "2026-11-02T10:00:00.000000Z".into(),
                "10.0.0.6".into(),
                "10.0.0.5".into(),
                Some("ab12".into()),
                "001565000001.cfg".into()
            )
        );
        let counts: String = conn
            .query_row("SELECT fetch_counts FROM devices WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
        assert_eq!(
            counts,
            serde_json::json!({
                "001565000001.cfg": {"served": 1, "not_modified": 1, "refused": 2},
                "y000000000028.cfg": {"served": 1}
            })
        );
        let never: String = conn
            .query_row("SELECT fetch_counts FROM devices WHERE id = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(never, "{}");
        let events: Vec<(String, Option<String>, String, String)> = conn
            .prepare("SELECT kind, mac, ip, result FROM device_events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let event = |k: &str, m: Option<&str>, ip: &str, r: &str| {
            (
                k.to_owned(),
                m.map(str::to_owned),
                ip.to_owned(),
                r.to_owned(),
            )
        };
        assert_eq!(
            events,
            [
                event("first_fetch", Some("001565000001"), "10.0.0.5", "served"),
                event(
                    "refused",
                    Some("001565000001"),
                    "203.0.113.9",
                    "credentials_wrong_password"
                ),
                event(
                    "refused",
                    Some("0015650000ff"),
                    "198.51.100.1",
                    "unknown_device"
                ),
            ]
        );
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'fetches'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the fetch rows are gone");
    }
}
