//! P6 (docs/performance.md): bulk import of 10 000 users + 20 000 aliases + 10 000 devices, target ≤ 10 s.
//!
//! Measured on a real SQLite file with the server's settings (WAL, `synchronous=FULL`), through
//! the library entry point the API and the CLI use: a dry run, the apply, and an export of the
//! result. The figure is reported against a reference taken in the same run on the same disk:
//! SQLite inserting as many plain rows (40 000, four text columns) in one transaction with one
//! prepared statement, which is the floor any import of that many records stands on.
//!
//! Run: `cargo bench --bench import` (`P6_USERS=1000` for a quick look).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use deskprov::bulk::{self, ImportRequest};
use deskprov::domain::tenant::TenantDraft;
use deskprov::profile::Vendors;
use deskprov::store::{Actor, Store, StoreError, tenants};

const TENANT: &str = "bench.example";
/// The P6 target for 10 000 users (docs/performance.md).
const TARGET: Duration = Duration::from_secs(10);

fn main() {
    let users: usize = std::env::var("P6_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = sheet(users);
    println!(
        "P6 import: {users} users, {} aliases, {users} devices ({} rows, {} KiB of CSV)",
        2 * users,
        4 * users,
        csv.len() / 1024
    );

    let store = Store::open(&dir.path().join("p6.db")).expect("database opens");
    let tenant = store
        .write_blocking(|tx| {
            let spec = TenantDraft {
                name: Some(TENANT.into()),
                sip_server: Some("pbx.bench.example".into()),
                ..Default::default()
            }
            .into_new()
            .map_err(StoreError::Invalid)?;
            Ok(tenants::insert(tx, &Actor::new("bench"), spec)?.0)
        })
        .expect("tenant");
    let vendors = Vendors::builtin().expect("vendor profiles");
    let request = |apply| ImportRequest {
        tenant: TENANT.into(),
        csv: csv.clone().into_bytes(),
        apply,
        actor: Actor::new("bench"),
        source: None,
    };

    let start = Instant::now();
    let dry = bulk::import(&store, &vendors, request(false), &mut |_, _| {}).expect("dry run");
    let dry_time = start.elapsed();
    assert!(
        dry.ok() && !dry.applied,
        "dry run: {:?}",
        dry.problems.first()
    );

    let start = Instant::now();
    let done = bulk::import(&store, &vendors, request(true), &mut |_, _| {}).expect("apply");
    let apply_time = start.elapsed();
    assert!(done.applied, "apply: {:?}", done.problems.first());
    assert_eq!(
        (done.users, done.aliases, done.devices),
        (users, 2 * users, users)
    );

    let start = Instant::now();
    let exported = store
        .read_blocking(|c| bulk::export::sheet(c, &tenant, true))
        .expect("export");
    let export_time = start.elapsed();
    assert_eq!(exported.lines().count(), 1 + 4 * users);

    let reference = plain_rows(&dir.path().join("reference.db"), 4 * users);

    let ratio = |t: Duration| t.as_secs_f64() / reference.as_secs_f64();
    println!(
        "reference: {} plain rows in one transaction  {:>8.3} s",
        4 * users,
        reference.as_secs_f64()
    );
    for (what, t) in [
        ("dry run (check every row, roll back)", dry_time),
        ("apply (check and write every row)", apply_time),
        ("export with secrets", export_time),
    ] {
        println!(
            "{what:<40} {:>8.3} s  = {:>6.1} x reference",
            t.as_secs_f64(),
            ratio(t)
        );
    }
    let scaled = apply_time.as_secs_f64() * 10_000.0 / users as f64;
    println!(
        "P6 target: apply <= {} s for 10 000 users; measured {:.3} s (scaled to 10 000 users) -> {}",
        TARGET.as_secs(),
        scaled,
        if scaled <= TARGET.as_secs_f64() {
            "met"
        } else {
            "MISSED"
        }
    );
}

/// The office's sheet: each user with two aliases (default SIP usernames, generated
/// passwords) and one Yealink phone.
fn sheet(users: usize) -> String {
    let mut csv = String::from("type,extension,name,email,mac,model,label\n");
    for i in 0..users {
        let ext = 10_000 + i;
        let _ = writeln!(csv, "user,{ext},User {i},user{i}@bench.example,,,");
        let _ = writeln!(csv, "alias,{ext},User {i} Support,,,,");
        let _ = writeln!(csv, "alias,{ext},User {i} Sales,,,,");
        let _ = writeln!(csv, "device,{ext},,,001565{i:06x},T46U,Desk {i}");
    }
    csv
}

/// Inserts `n` plain rows in one transaction with one prepared statement, same pragmas.
fn plain_rows(path: &std::path::Path, n: usize) -> Duration {
    let mut conn = rusqlite::Connection::open(path).expect("reference database");
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE plain (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, c TEXT NOT NULL, d TEXT NOT NULL)",
    )
    .unwrap();
    let start = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare("INSERT INTO plain (a, b, c, d) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for i in 0..n {
            stmt.execute((
                format!("{}", 10_000 + i),
                format!("Name {i}"),
                format!("bench_{i}"),
                format!("2026-01-01T00:00:00.000Z{i}"),
            ))
            .unwrap();
        }
    }
    tx.commit().unwrap();
    start.elapsed()
}
