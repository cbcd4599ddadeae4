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
}
