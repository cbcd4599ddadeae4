use super::*;
use crate::store::{Store, migrations};

/// Tables whose rows a phone's answer or its checks read: each has journal triggers.
const JOURNALED: [&str; 8] = [
    "tenants",
    "sites",
    "users",
    "aliases",
    "user_keys",
    "devices",
    "device_keys",
    "device_uploads",
];

/// Tables no phone's answer reads, and the journal itself.
const NOT_JOURNALED: [&str; 7] = [
    "audit",
    "tokens",
    "ui_sessions",
    "device_events",
    "device_files",
    "changes",
    "sqlite_sequence",
];

/// Columns of `devices` written by a phone's fetch bookkeeping: no file or check reads them,
/// so changing them journals nothing. Every other column is journaled.
const BOOKKEEPING: [&str; 7] = [
    "last_fetch_at",
    "last_ip",
    "seen_firmware",
    "seen_ua",
    "updated_at",
    "last_file",
    "fetch_counts",
];

fn db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    migrations::run(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO tenants (id, name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, updated_at)
             VALUES (1, 'a.example', 'a_', '{}', '{}', '{}', 3600, 2, 'x', 'x'),
                    (2, 'b.example', 'b_', '{}', '{}', '{}', 3600, 2, 'x', 'x');
         INSERT INTO sites (id, tenant_id, name, settings, created_at) VALUES (1, 1, 'HQ', '{}', 'x');
         INSERT INTO users (id, tenant_id, extension, name, role, sip_username, sip_password, site_id, created_at, updated_at)
             VALUES (1, 1, '101', 'Ann', 'user', 'a_101', 'pw', 1, 'x', 'x'),
                    (2, 1, '102', 'Bob', 'user', 'a_102', 'pw', NULL, 'x', 'x'),
                    (3, 1, '103', 'Cyd', 'user', 'a_103', 'pw', NULL, 'x', 'x'),
                    (4, 2, '102', 'Other Bob', 'user', 'b_102', 'pw', NULL, 'x', 'x'),
                    (5, 2, '105', 'Eve', 'user', 'b_105', 'pw', NULL, 'x', 'x');
         INSERT INTO devices (id, mac, tenant_id, user_id, vendor, site_id, enroll_deadline, created_at, updated_at, generated_admin_password)
             VALUES (1, '001565000001', 1, 1, 'yealink', NULL, 'x', 'x', 'x', 'pw'),
                    (2, '001565000002', 1, 3, 'yealink', 1, 'x', 'x', 'x', 'pw'),
                    (3, '001565000003', 2, 5, 'yealink', NULL, 'x', 'x', 'x', 'pw');
         -- Ann's keys watch Bob; Cyd's phone has a key of its own on Bob; Eve (another tenant)
         -- watches her own tenant's 102; an external number 102 is no user.
         INSERT INTO user_keys (user_id, ord, type, value) VALUES (1, 0, 'blf', '102'), (5, 0, 'blf', '102');
         INSERT INTO user_keys (user_id, ord, type, value, external) VALUES (3, 0, 'speed_dial', '102', 1);
         INSERT INTO device_keys (device_id, ord, type, value) VALUES (2, 0, 'blf', '102');",
    )
    .unwrap();
    conn
}

/// The journal rows after position `after`, as `scope:id`, sorted, duplicates removed.
fn rows_after(conn: &Connection, after: u64) -> Vec<String> {
    let mut rows: Vec<String> = conn
        .prepare("SELECT scope || ':' || id FROM changes WHERE seq > ?1")
        .unwrap()
        .query_map([after as i64], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows.dedup();
    rows
}

/// What `sql` journals.
fn journals(conn: &Connection, sql: &str) -> Vec<String> {
    let before = head(conn).unwrap();
    conn.execute_batch(sql).unwrap();
    rows_after(conn, before)
}

#[test]
fn every_table_a_phone_reads_is_journaled_and_no_other() {
    let conn = db();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in &tables {
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1")
            .unwrap()
            .query_map([table], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if JOURNALED.contains(&table.as_str()) {
            for op in ["insert", "update", "delete"] {
                let name = format!("changes_{table}_{op}");
                assert!(triggers.contains(&name), "{table} lacks {name}");
            }
        } else {
            assert!(
                NOT_JOURNALED.contains(&table.as_str()),
                "table {table} is new: journal it (migration 0008) if a phone's answer or its \
                 checks read it, else list it in NOT_JOURNALED"
            );
            assert!(triggers.is_empty(), "{table}: {triggers:?}");
        }
    }
}

#[test]
fn every_devices_column_is_journaled_unless_it_is_fetch_bookkeeping() {
    let conn = db();
    let trigger: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'changes_devices_update'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('devices')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for column in &columns {
        let watched = trigger.contains(&format!("OLD.{column} IS NOT NEW.{column}"));
        let bookkeeping = BOOKKEEPING.contains(&column.as_str());
        assert!(
            watched != bookkeeping,
            "devices.{column}: list it in the WHEN clause of changes_devices_update (a phone's \
             answer or its checks read it) or in BOOKKEEPING (only the phone path's fetch state writes it)"
        );
    }
}

#[test]
fn each_row_is_journaled_at_the_narrowest_scope() {
    let conn = db();
    assert_eq!(
        journals(
            &conn,
            "UPDATE tenants SET settings = '{\"x\":1}' WHERE id = 2"
        ),
        ["tenant:2"]
    );
    assert_eq!(
        journals(&conn, "UPDATE sites SET name = 'Main' WHERE id = 1"),
        ["site:1"]
    );
    assert_eq!(
        journals(&conn, "UPDATE users SET sip_password = 'new' WHERE id = 3"),
        ["user:3"]
    );
    assert_eq!(
        journals(
            &conn,
            "INSERT INTO aliases (id, user_id, position, name, sip_username, sip_password, created_at)
                 VALUES (1, 3, 0, 'Sales', 'a_sales', 'pw', 'x')"
        ),
        ["user:3"]
    );
    assert_eq!(
        journals(&conn, "UPDATE aliases SET position = 1 WHERE id = 1"),
        ["user:3"]
    );
    assert_eq!(
        journals(&conn, "DELETE FROM aliases WHERE id = 1"),
        ["user:3"]
    );
    assert_eq!(
        journals(&conn, "UPDATE user_keys SET label = 'B' WHERE user_id = 1"),
        ["user:1"]
    );
    assert_eq!(
        journals(
            &conn,
            "UPDATE device_keys SET label = 'B' WHERE device_id = 2"
        ),
        ["device:2"]
    );
    assert_eq!(
        journals(
            &conn,
            "INSERT INTO device_uploads (device_id, file, body, received_at) VALUES (1, 'x.cfg', x'00', 'x')"
        ),
        ["device:1"]
    );
}

#[test]
fn a_device_is_journaled_with_its_owner_and_what_no_phone_reads_is_not() {
    let conn = db();
    assert_eq!(
        journals(
            &conn,
            "UPDATE devices SET settings = '{\"y\":2}' WHERE id = 1"
        ),
        ["device:1"]
    );
    // A device counts toward its owner: registering, moving and deleting one touches the users.
    assert_eq!(
        journals(&conn, "UPDATE devices SET user_id = 2 WHERE id = 1"),
        ["device:1", "user:1", "user:2"]
    );
    assert_eq!(
        journals(
            &conn,
            "INSERT INTO devices (id, mac, tenant_id, user_id, vendor, enroll_deadline, created_at, updated_at, generated_admin_password)
                 VALUES (9, '001565000009', 1, 2, 'yealink', 'x', 'x', 'x', 'pw')"
        ),
        ["device:9", "user:2"]
    );
    assert_eq!(
        journals(&conn, "DELETE FROM devices WHERE id = 9"),
        ["device:9", "user:2"]
    );
    // Nothing a phone reads: nothing journaled.
    assert!(
        journals(
            &conn,
            "INSERT INTO audit (at, actor, action, entity, entity_key) VALUES ('x', 'a', 'b', 'c', 'd');
             INSERT INTO tokens (name, role, token_hash, created_at) VALUES ('t', 'admin', 'h', 'x');
             INSERT INTO device_events (at, kind, ip, file, status, result) VALUES ('x', 'refused', 'ip', 'f', 404, 'unknown_device');
             INSERT INTO device_files (device_id, file, body_hash, server_url, fetched_at) VALUES (1, 'f', 'h', 'u', 'x');"
        )
        .is_empty()
    );
}

#[test]
fn fetch_bookkeeping_is_not_journaled_but_binding_and_a_new_model_are() {
    let conn = db();
    assert!(
        journals(
            &conn,
            "UPDATE devices SET last_fetch_at = 'y', last_ip = '192.0.2.9', seen_firmware = '1.2',
                 seen_ua = 'ua', updated_at = 'y' WHERE id = 1"
        )
        .is_empty()
    );
    for (column, value) in [
        ("first_fetch_at", "'y'"),
        ("bound_ip", "'192.0.2.1'"),
        ("bound_cert", "'ab'"),
        ("seen_model", "'T46U'"),
        ("credentials", "'{}'"),
        ("enroll_deadline", "'z'"),
    ] {
        assert_eq!(
            journals(
                &conn,
                &format!("UPDATE devices SET {column} = {value}, last_fetch_at = 'z' WHERE id = 1")
            ),
            ["device:1"],
            "{column}"
        );
    }
}

#[test]
fn a_user_whose_name_or_extension_changes_touches_the_keys_aimed_at_it() {
    let conn = db();
    // Bob (102 of tenant 1) is watched by Ann's keys (user 1) and by Cyd's phone's own key
    // (device 2); Eve watches 102 of her own tenant; Cyd's external 102 is a number, not Bob.
    assert_eq!(
        journals(&conn, "UPDATE users SET name = 'Robert' WHERE id = 2"),
        ["device:2", "user:1", "user:2"]
    );
    // A new extension: the keys on the old one lose their name, none aim at the new one yet.
    assert_eq!(
        journals(&conn, "UPDATE users SET extension = '104' WHERE id = 2"),
        ["device:2", "user:1", "user:2"]
    );
    // A user taking 102 gives those keys a name again.
    assert_eq!(
        journals(
            &conn,
            "INSERT INTO users (id, tenant_id, extension, name, role, sip_username, sip_password, created_at, updated_at)
                 VALUES (6, 1, '102', 'Newcomer', 'user', 'a_new', 'pw', 'x', 'x')"
        ),
        ["device:2", "user:1", "user:6"]
    );
    assert_eq!(
        journals(&conn, "DELETE FROM users WHERE id = 6"),
        ["device:2", "user:1", "user:6"]
    );
    // Other columns touch the user alone.
    assert_eq!(
        journals(&conn, "UPDATE users SET email = 'r@x' WHERE id = 2"),
        ["user:2"]
    );
    // The other tenant's 102 is watched by Eve only.
    assert_eq!(
        journals(&conn, "UPDATE users SET name = 'O. Bob' WHERE id = 4"),
        ["user:4", "user:5"]
    );
}

#[test]
fn cascades_are_journaled_like_the_rows_they_change() {
    let conn = db();
    // Deleting a site sets its users' and devices' site to none.
    assert_eq!(
        journals(&conn, "DELETE FROM sites WHERE id = 1"),
        ["device:2", "site:1", "user:1"]
    );
    // Deleting a tenant deletes its users, their keys and devices.
    let rows = journals(
        &conn,
        "DELETE FROM devices WHERE tenant_id = 2; DELETE FROM tenants WHERE id = 2",
    );
    for row in ["tenant:2", "user:4", "user:5", "device:3"] {
        assert!(rows.contains(&row.to_owned()), "{row} in {rows:?}");
    }
}

#[test]
fn changes_between_two_generations_are_the_rows_in_between() {
    let conn = db();
    let g = |seq| generation(3, seq);
    let start = head(&conn).unwrap();
    conn.execute_batch(
        "UPDATE users SET email = 'a@x' WHERE id = 1;
         UPDATE tenants SET updated_at = 'y' WHERE id = 2;
         UPDATE devices SET label = 'desk' WHERE id = 3;",
    )
    .unwrap();
    let end = head(&conn).unwrap();
    assert_eq!(end, start + 3);
    let change = |scope, id| Change { scope, id };
    assert_eq!(
        changes_between(&conn, g(start), g(end)).unwrap(),
        Changes::Some(vec![
            change(Scope::User, 1),
            change(Scope::Tenant, 2),
            change(Scope::Device, 3),
        ])
    );
    assert_eq!(
        changes_between(&conn, g(start + 1), g(end - 1)).unwrap(),
        Changes::Some(vec![change(Scope::Tenant, 2)])
    );
    assert_eq!(
        changes_between(&conn, g(end), g(end)).unwrap(),
        Changes::Some(vec![])
    );
    // Another epoch: anything may have changed.
    assert_eq!(
        changes_between(&conn, generation(2, end), g(end)).unwrap(),
        Changes::Everything
    );
    // Too many rows to pick from.
    assert_eq!(
        changes_between(&conn, g(0), g(MAX_CHANGES + 1)).unwrap(),
        Changes::Everything
    );
    // Pruned rows.
    assert_eq!(prune(&conn, start + 1, 100).unwrap() as u64, start + 1);
    assert_eq!(
        changes_between(&conn, g(start), g(end)).unwrap(),
        Changes::Everything
    );
    assert_eq!(
        changes_between(&conn, g(start + 1), g(end)).unwrap(),
        Changes::Some(vec![change(Scope::Tenant, 2), change(Scope::Device, 3)])
    );
    // An 'all' row.
    conn.execute("INSERT INTO changes (scope, id) VALUES ('all', 0)", [])
        .unwrap();
    assert_eq!(
        changes_between(&conn, g(end), g(end + 1)).unwrap(),
        Changes::Everything
    );
    // Pruning never moves the head back.
    prune(&conn, end + 1, 100).unwrap();
    assert_eq!(head(&conn).unwrap(), end + 1);
}

#[test]
fn pruning_goes_in_chunks_from_the_oldest() {
    let conn = db();
    let head = head(&conn).unwrap();
    assert!(head > 5);
    assert_eq!(prune(&conn, head, 2).unwrap(), 2);
    let oldest: i64 = conn
        .query_row("SELECT min(seq) FROM changes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(oldest, 3);
    assert_eq!(prune(&conn, 4, 100).unwrap(), 2);
    assert_eq!(prune(&conn, 4, 100).unwrap(), 0);
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
    store
        .write_blocking(|tx| {
            tx.execute_batch(
                "INSERT INTO tenants (id, name, sip_username_prefix, settings, extension_plan, phone_auth, enroll_window_secs, max_devices_per_user, created_at, updated_at)
                     VALUES (1, 'a.example', 'a_', '{}', '{}', '{}', 3600, 2, 'x', 'x')",
            )?;
            Ok(())
        })
        .unwrap();
    (dir, store)
}

#[test]
fn the_generation_is_the_journal_position_and_moves_only_with_it() {
    let (dir, store) = store();
    let g = store.generation();
    assert_eq!(epoch(g), 1);
    assert_eq!(seq(g), 1, "the tenant's row");
    // A write that journals nothing leaves it.
    store
        .write_blocking(|tx| {
            Ok(tx.execute(
                "INSERT INTO audit (at, actor, action, entity, entity_key) VALUES ('x', 'a', 'b', 'c', 'd')",
                [],
            )?)
        })
        .unwrap();
    assert_eq!(store.generation(), g);
    // A rolled-back one too.
    store
        .write_or_rollback_blocking(|tx| {
            tx.execute("UPDATE tenants SET updated_at = 'y'", [])?;
            Ok(((), false))
        })
        .unwrap();
    assert_eq!(store.generation(), g);
    // One that does moves it to its position.
    store
        .write_blocking(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'y'", [])?))
        .unwrap();
    assert_eq!(store.generation(), generation(1, 2));
    let store_changes = store
        .read_blocking(|c| changes_between(c, g, store.generation()))
        .unwrap();
    assert_eq!(
        store_changes,
        Changes::Some(vec![Change {
            scope: Scope::Tenant,
            id: 1
        }])
    );
    // A store opened later starts at the same position.
    drop(store);
    let again = Store::open(&dir.path().join("deskprov.db")).unwrap();
    assert_eq!(seq(again.generation()), 2);
}

#[test]
fn another_processs_commit_moves_the_generation_at_the_next_look() {
    let (dir, store) = store();
    let g = store.generation();
    let other = Connection::open(dir.path().join("deskprov.db")).unwrap();
    // Journaling nothing: no move.
    other
        .execute("INSERT INTO tokens (name, role, token_hash, created_at) VALUES ('t', 'admin', 'h', 'x')", [])
        .unwrap();
    assert_eq!(store.refresh_generation(), g);
    assert!(!store.notice_external_changes());
    other
        .execute("UPDATE tenants SET updated_at = 'z'", [])
        .unwrap();
    // A phone request's look sees it at once.
    assert_eq!(store.refresh_generation(), generation(1, seq(g) + 1));
    assert!(!store.notice_external_changes(), "already published");
    other
        .execute("UPDATE tenants SET updated_at = 'w'", [])
        .unwrap();
    assert!(store.notice_external_changes());
    assert_eq!(store.generation(), generation(1, seq(g) + 2));
}

#[test]
fn a_database_that_went_back_starts_a_new_epoch() {
    let (dir, store) = store();
    let path = dir.path().join("deskprov.db");
    let backup = dir.path().join("backup.db");
    {
        let live = Connection::open(&path).unwrap();
        let mut copy = Connection::open(&backup).unwrap();
        rusqlite::backup::Backup::new(&live, &mut copy)
            .unwrap()
            .run_to_completion(100, std::time::Duration::ZERO, None)
            .unwrap();
    }
    for _ in 0..3 {
        store
            .write_blocking(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'y'", [])?))
            .unwrap();
    }
    let before = store.generation();
    assert_eq!(epoch(before), 1);
    // Another process puts the backup back underneath the running store.
    {
        let copy = Connection::open(&backup).unwrap();
        let mut live = Connection::open(&path).unwrap();
        rusqlite::backup::Backup::new(&copy, &mut live)
            .unwrap()
            .run_to_completion(100, std::time::Duration::ZERO, None)
            .unwrap();
    }
    // The next look (a phone request's) starts a new epoch, past every generation handed out.
    let after = store.refresh_generation();
    assert!(after > before);
    assert_eq!(epoch(after), 2);
    assert_eq!(seq(after), 1);
    assert_eq!(
        store
            .read_blocking(|c| changes_between(c, before, after))
            .unwrap(),
        Changes::Everything
    );
    // The writer's own look agrees: nothing more to publish.
    assert!(!store.notice_external_changes());
    assert_eq!(store.generation(), after);
    // The next write moves on in the new epoch.
    store
        .write_blocking(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'v'", [])?))
        .unwrap();
    assert_eq!(store.generation(), generation(2, 2));
    assert_eq!(store.refresh_generation(), generation(2, 2));
}

#[test]
fn the_writer_notices_a_database_that_went_back_too() {
    let (dir, store) = store();
    let path = dir.path().join("deskprov.db");
    let backup = dir.path().join("backup.db");
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let from = Connection::open(from).unwrap();
        let mut to = Connection::open(to).unwrap();
        rusqlite::backup::Backup::new(&from, &mut to)
            .unwrap()
            .run_to_completion(100, std::time::Duration::ZERO, None)
            .unwrap();
    };
    copy(&path, &backup);
    store
        .write_blocking(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'y'", [])?))
        .unwrap();
    let before = store.generation();
    copy(&backup, &path);
    // The next write (which looks first) starts a new epoch and moves on in it.
    store
        .write_blocking(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'v'", [])?))
        .unwrap();
    assert_eq!(store.generation(), generation(2, 2));
    assert!(store.generation() > before);
}

#[tokio::test]
async fn the_pruner_keeps_the_newest_rows_and_those_younger_than_a_run() {
    let (_dir, store) = store();
    let mut pruner = crate::store::pruner::JournalPruner::default();
    // First run: nothing is known to be old yet.
    assert_eq!(pruner.run(&store).await, 0);
    store
        .write(|tx| Ok(tx.execute("UPDATE tenants SET updated_at = 'y'", [])?))
        .await
        .unwrap();
    // Second run: the row that was there at the first is old, but among the newest 100,000.
    assert_eq!(pruner.run(&store).await, 0);
    let rows = |store: &Store| {
        store
            .read_blocking(|c| {
                Ok(c.query_row("SELECT count(*) FROM changes", [], |r| r.get::<_, i64>(0))?)
            })
            .unwrap()
    };
    assert_eq!(rows(&store), 2);
    // Past the newest 100,000, rows go once they are older than a run.
    store
        .write(|tx| {
            tx.execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                 INSERT INTO changes (scope, id) SELECT 'user', i FROM n",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let last = store.read_blocking(head).unwrap();
    assert_eq!(
        pruner.run(&store).await,
        2,
        "the rows there at the previous run"
    );
    assert_eq!(rows(&store) as u64, 100_000);
    assert_eq!(pruner.run(&store).await, 0, "the newest 100,000 stay");
    assert_eq!(store.read_blocking(head).unwrap(), last);
}
