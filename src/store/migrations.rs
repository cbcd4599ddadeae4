//! Embedded, numbered schema migrations (state kept in `PRAGMA user_version`).

use std::sync::LazyLock;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_initial.sql")),
        M::up(include_str!("migrations/0002_ui_sessions.sql")),
        M::up(include_str!("migrations/0003_audit_restore.sql")),
        M::up(include_str!("migrations/0004_admin_read_indexes.sql")),
        M::up(include_str!("migrations/0005_phone_keys.sql")),
    ])
});

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
    #[test]
    fn migrations_are_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
