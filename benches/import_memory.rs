//! Peak memory of the largest import deskprov accepts: 200 000 rows (the row limit), every name
//! and email at its longest, so the file is as near the 32 MiB size limit as valid rows get.
//!
//! Resident memory is read from the kernel (`VmHWM` of `/proc/self/status`, reset before each
//! import through `/proc/self/clear_refs`), for the dry run and the apply, through the library
//! entry point the API and the CLI use. The reference, taken in the same run, is the file's own
//! size: the importer holds the file while it reads it, so peak ÷ file size says what the rows
//! cost beyond it. Target (docs/security.md): peak under 100 MB.
//!
//! Run: `cargo bench --bench import_memory` (Linux only).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use deskprov::domain::audit::Actor;
use deskprov::domain::tenant::TenantDraft;
use deskprov::profile::Vendors;
use deskprov::service::Services;
use deskprov::service::bulk::{self, ImportRequest, MAX_IMPORT_ROWS};
use deskprov::service::tenants::create_tenant;
use deskprov::store::Store;

const TENANT: &str = "bench.example";
/// The peak the issue sets for the largest accepted file, in bytes.
const TARGET_BYTES: u64 = 100_000_000;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = longest_sheet(MAX_IMPORT_ROWS / 4);
    let rows = csv.lines().count() - 1;
    println!(
        "largest import: {rows} rows, {:.1} MiB of CSV",
        csv.len() as f64 / 1024.0 / 1024.0
    );
    let runtime = tokio::runtime::Runtime::new().expect("async runtime");
    let store = Store::open(&dir.path().join("memory.db")).expect("database opens");
    let services = Services::new(store, Arc::new(Vendors::builtin().expect("profiles")), None);
    let actor = Actor::new("bench");
    let tenant = TenantDraft {
        name: Some(TENANT.into()),
        sip_server: Some("pbx.bench.example".into()),
        ..Default::default()
    };
    runtime
        .block_on(create_tenant(&services, &actor, tenant))
        .expect("tenant");
    let file = csv.len() as u64;
    println!(
        "reference: the file itself                 {:>8.1} MB",
        mb(file)
    );
    let mut csv = Some(csv);
    for apply in [false, true] {
        // The file is held once, by the import, as an API request or the CLI holds it.
        let text = csv
            .take()
            .unwrap_or_else(|| longest_sheet(MAX_IMPORT_ROWS / 4));
        let request = ImportRequest {
            tenant: TENANT.into(),
            csv: text.into_bytes(),
            apply,
            source: None,
        };
        reset_peak();
        let start = Instant::now();
        let report = runtime
            .block_on(bulk::import(&services, &actor, request, |_, _| {}))
            .expect("import");
        let peak = peak_resident();
        assert!(report.ok(), "{:?}", report.problems.first());
        assert_eq!(report.applied, apply);
        let what = if apply { "apply" } else { "dry run" };
        println!(
            "{what:<8} peak resident memory          {:>8.1} MB = {:>4.2} x file; {:.1} s; target < {} MB: {}",
            mb(peak),
            peak as f64 / file as f64,
            start.elapsed().as_secs_f64(),
            TARGET_BYTES / 1_000_000,
            if peak < TARGET_BYTES { "met" } else { "MISSED" }
        );
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// Resets the peak resident size the kernel keeps for this process.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs (Linux)");
}

/// The peak resident size since the last reset, in bytes.
fn peak_resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

/// `users` users, each with two aliases and a phone, every name, email and label as long as
/// the rules allow (64 characters; emails 254).
fn longest_sheet(users: usize) -> String {
    let mut csv = String::from("type,extension,name,email,mac,model,label\n");
    let pad = |text: String, len: usize| format!("{text}{}", "x".repeat(len - text.len()));
    let domain = format!(
        "{}.{}.{}.example",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(53)
    );
    for i in 0..users {
        let ext = 100_000 + i;
        let name = pad(format!("User {i} "), 64);
        let local = pad(format!("user{i}."), 254 - domain.len() - 1);
        let _ = writeln!(csv, "user,{ext},{name},{local}@{domain},,,");
        for role in ["Support", "Sales"] {
            let _ = writeln!(csv, "alias,{ext},{},,,,", pad(format!("{role} {i} "), 64));
        }
        let label = pad(format!("Desk {i} "), 64);
        let _ = writeln!(csv, "device,{ext},,,001565{i:06x},T46U,{label}");
    }
    csv
}
