//! `deskprov backup` and `deskprov restore`, run as the real binary, and durability across
//! `kill -9`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use rusqlite::{Connection, OpenFlags};
use serde_json::json;

use crate::binary::{self, ServerProcess, run, stderr, stdout};
use crate::helpers::TestApp;

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `PRAGMA integrity_check` of the file at `path`, read-only.
fn integrity(path: &Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Extensions of the users of `testsite.com` in the database file at `path`.
fn extensions_in(path: &Path) -> BTreeSet<String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT extension FROM users").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Creates users 1000, 1001, … in `testsite.com` until `stop` is set; returns the extensions
/// acknowledged with 201.
async fn create_users_until(app: &TestApp, next: &AtomicU32, stop: &AtomicBool) -> Vec<String> {
    let mut acknowledged = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let extension = next.fetch_add(1, Ordering::Relaxed).to_string();
        let (status, body) = app
            .post(
                "/tenants/testsite.com/users",
                json!({"name": format!("User {extension}"), "extension": extension}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        acknowledged.push(extension);
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_writes_is_consistent_and_checked() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let next = AtomicU32::new(1000);
    let stop = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("nightly.db");
    let db = app.db.clone();
    let dest_arg = dest.clone();
    let backup = async {
        // Let 30 writes land first (the 31st has started), then back up mid-stream.
        while next.load(Ordering::Relaxed) < 1031 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let out = tokio::task::spawn_blocking(move || {
            run(
                Path::new("."),
                &["backup", path_str(&dest_arg), "--db", path_str(&db)],
                &[],
            )
        })
        .await
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        out
    };
    let (acknowledged, out) = tokio::join!(create_users_until(&app, &next, &stop), backup);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("integrity_check on the copy: ok"),
        "{}",
        stdout(&out)
    );
    assert_eq!(integrity(&dest), "ok");
    let copied = extensions_in(&dest);
    assert!(copied.len() >= 30, "writes before the backup are in it");
    // A snapshot: every user in the copy was acknowledged, in creation order without gaps.
    assert!(copied.iter().all(|e| acknowledged.contains(e)));
    let first_missing = acknowledged.iter().position(|e| !copied.contains(e));
    if let Some(i) = first_missing {
        assert!(acknowledged[i..].iter().all(|e| !copied.contains(e)));
    }
    assert!(
        !dest.with_extension("db-wal").exists(),
        "the backup is one self-contained file"
    );

    let again = run(
        Path::new("."),
        &["backup", path_str(&dest), "--db", path_str(&app.db)],
        &[],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists; give --force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(extensions_in(&dest), copied, "the old backup is untouched");
    let forced = run(
        Path::new("."),
        &[
            "backup",
            path_str(&dest),
            "--force",
            "--db",
            path_str(&app.db),
        ],
        &[],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(extensions_in(&dest).len(), acknowledged.len());
}

#[tokio::test]
async fn a_backup_of_a_missing_database_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["backup", "copy.db", "--db", "nothing-here.db"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nothing-here.db does not exist"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A database with users 101 and 102 (copied from a server), and a backup of it.
async fn database_and_backup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let mut app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "Ann").await;
    app.user("102", "Bob").await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let backup = dir.path().join("backup.db");
    for copy in [&db, &backup] {
        let out = run(
            dir.path(),
            &["backup", path_str(copy), "--db", path_str(&app.db)],
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    app.stop().await;
    (dir, db, backup)
}

/// The files in `dir`, but the lock file (it stays, empty, once a restore or server made it).
fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect()
}

#[tokio::test]
async fn restore_puts_a_backup_back_and_keeps_the_replaced_database() {
    let (dir, db, _) = database_and_backup().await;
    {
        // A change after the backup, left in the WAL as a crash would leave it.
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute(
            "UPDATE users SET name = 'Ann After' WHERE extension = '101'",
            [],
        )
        .unwrap();
        std::mem::forget(conn);
    }
    let out = run(
        dir.path(),
        &["restore", "backup.db", "--db", "deskprov.db"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("deskprov.db.before-restore"),
        "{}",
        stdout(&out)
    );
    assert_eq!(integrity(&db), "ok");
    let name = |path: &Path| -> String {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT name FROM users WHERE extension = '101'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(name(&db), "Ann", "the backup's data is in place");
    let previous = dir.path().join("deskprov.db.before-restore");
    assert_eq!(
        name(&previous),
        "Ann After",
        "the replaced data is kept whole"
    );
    assert!(
        !dir.path().join("deskprov.db-wal").exists(),
        "no old WAL is left beside the restored database"
    );

    let mut server = ServerProcess::on_db(dir.path(), &db);
    let token = binary::admin_token(dir.path(), &db);
    let users = server.users(&token).await;
    let names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ann", "Bob"]);
    server.stop();
}

#[tokio::test]
async fn restore_refuses_corrupt_and_foreign_files_and_changes_nothing() {
    let (dir, db, backup) = database_and_backup().await;
    let good = std::fs::read(&backup).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        name.to_owned()
    };
    let text = write(
        "notes.db",
        b"this is not a database at all\n".repeat(200).as_slice(),
    );
    let truncated = write("truncated.db", &good[..good.len() / 2]);
    let mut scrambled = good.clone();
    for page in 1..good.len() / 4096 {
        // Garbage over every b-tree page header but the first page's.
        scrambled[page * 4096..page * 4096 + 12].fill(0xA5);
    }
    let scrambled = write("scrambled.db", &scrambled);
    let foreign = "foreign.db".to_owned();
    Connection::open(dir.path().join(&foreign))
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let files = listing(dir.path());

    for (file, expected) in [
        (
            &text,
            "is not a deskprov database: it is not an SQLite database",
        ),
        (&truncated, "is corrupt"),
        (&scrambled, "is corrupt"),
        (
            &foreign,
            "is not a deskprov database: it has no deskprov schema",
        ),
        (&"missing.db".to_owned(), "missing.db does not exist"),
    ] {
        let out = run(dir.path(), &["restore", file, "--db", "deskprov.db"], &[]);
        assert!(!out.status.success(), "{file} was restored");
        let err = stderr(&out);
        assert!(
            err.contains(file.as_str()) && err.contains(expected),
            "{file}: {err}"
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{file} changed the database"
        );
        assert_eq!(listing(dir.path()), files, "{file} left files behind");
    }
}

#[tokio::test]
async fn restore_refuses_while_a_server_holds_the_database() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let out = run(
        dir.path(),
        &["backup", path_str(&backup), "--db", path_str(&app.db)],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    app.user("101", "Ann").await;
    let counts = app.counts().await;

    let out = run(
        dir.path(),
        &["restore", path_str(&backup), "--db", path_str(&app.db)],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by a running deskprov server")
            && stderr(&out).contains("stop the server first"),
        "{}",
        stderr(&out)
    );
    assert_eq!(app.counts().await, counts);
    let (status, _) = app.get("/tenants/testsite.com/users/101").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the server goes on serving its data"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused() {
    let app = TestApp::spawn().await;
    let out = run(
        Path::new("."),
        &[
            "serve",
            "--db",
            path_str(&app.db),
            "--phone-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by a running deskprov server"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deskprov.db");
    let token = binary::admin_token(dir.path(), &db);
    let mut server = ServerProcess::on_db(dir.path(), &db);
    let client = reqwest::Client::new();
    let api = format!("http://{}/api/v1", server.admin);
    let status = client
        .post(format!("{api}/tenants"))
        .bearer_auth(&token)
        .json(&json!({"name": "testsite.com", "sip_server": "pbx.testsite.com"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CREATED);

    let next = Arc::new(AtomicU32::new(1000));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (client, api, token, next, acknowledged) = (
                client.clone(),
                api.clone(),
                token.clone(),
                next.clone(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let extension = next.fetch_add(1, Ordering::Relaxed).to_string();
                    let sent = client
                        .post(format!("{api}/tenants/testsite.com/users"))
                        .bearer_auth(&token)
                        .json(&json!({"name": format!("User {extension}"), "extension": extension}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            acknowledged.lock().unwrap().push(extension)
                        }
                        Ok(r) => panic!("{extension}: {}", r.status()),
                        // The server is gone.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 60 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill();
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let sent = next.load(Ordering::Relaxed) - 1000;
    assert!(
        sent as usize > acknowledged.len(),
        "the kill came in the middle of the burst"
    );
    eprintln!(
        "kill -9 with {} writes acknowledged of {sent} sent",
        acknowledged.len()
    );

    let mut server = ServerProcess::on_db(dir.path(), &db);
    let users = server.users(&token).await;
    let stored: BTreeSet<&str> = users
        .iter()
        .map(|u| u["extension"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|e| !stored.contains(e.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    server.stop();
    assert_eq!(integrity(&db), "ok");
}
