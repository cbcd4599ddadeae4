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
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskprov::domain::audit::Actor;
use deskprov::domain::tenant::TenantDraft;
use deskprov::profile::Vendors;
use deskprov::service::Services;
use deskprov::service::bulk::{self, ImportRequest};
use deskprov::service::tenants::create_tenant;
use deskprov::store::Store;

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
    let timings = measure(&dir.path().join("p6.db"), &csv, users);
    let reference = plain_rows(&dir.path().join("reference.db"), 4 * users);
    print_results(&timings, reference, users);
}

/// How long the dry run, the apply and the export took.
struct Timings {
    dry_run: Duration,
    apply: Duration,
    export: Duration,
}

/// Runs the dry run, the apply and the export of `csv` on a new database at `db`, checking
/// what each did.
fn measure(db: &std::path::Path, csv: &str, users: usize) -> Timings {
    let runtime = tokio::runtime::Runtime::new().expect("async runtime");
    let store = Store::open(db).expect("database opens");
    let vendors = Vendors::builtin().expect("vendor profiles");
    let services = Services::new(store, Arc::new(vendors), None);
    let actor = Actor::new("bench");
    let tenant = TenantDraft {
        name: Some(TENANT.into()),
        sip_server: Some("pbx.bench.example".into()),
        ..Default::default()
    };
    runtime
        .block_on(create_tenant(&services, &actor, tenant))
        .expect("tenant");
    let timed_import = |apply| {
        let request = ImportRequest {
            tenant: TENANT.into(),
            csv: csv.as_bytes().to_vec(),
            apply,
            source: None,
        };
        let start = Instant::now();
        let report = runtime.block_on(bulk::import(&services, &actor, request, |_, _| {}));
        (report, start.elapsed())
    };

    let (dry, dry_run) = timed_import(false);
    let dry = dry.expect("dry run");
    assert!(
        dry.ok() && !dry.applied,
        "dry run: {:?}",
        dry.problems.first()
    );

    let (done, apply) = timed_import(true);
    let done = done.expect("apply");
    assert!(done.applied, "apply: {:?}", done.problems.first());
    assert_eq!(
        (done.users, done.aliases, done.devices),
        (users, 2 * users, users)
    );

    let start = Instant::now();
    let exported = runtime
        .block_on(bulk::export(&services, &actor, TENANT.into(), true))
        .expect("export");
    let export = start.elapsed();
    assert_eq!(exported.lines().count(), 1 + 4 * users);
    Timings {
        dry_run,
        apply,
        export,
    }
}

/// Prints each timing against the reference, and whether the P6 target is met.
fn print_results(timings: &Timings, reference: Duration, users: usize) {
    let ratio = |t: Duration| t.as_secs_f64() / reference.as_secs_f64();
    println!(
        "reference: {} plain rows in one transaction  {:>8.3} s",
        4 * users,
        reference.as_secs_f64()
    );
    for (what, t) in [
        ("dry run (check every row, roll back)", timings.dry_run),
        ("apply (check and write every row)", timings.apply),
        ("export with secrets", timings.export),
    ] {
        println!(
            "{what:<40} {:>8.3} s  = {:>6.1} x reference",
            t.as_secs_f64(),
            ratio(t)
        );
    }
    let scaled = timings.apply.as_secs_f64() * 10_000.0 / users as f64;
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
