//! Memory kept per device by the phone path's fetch states (`DeviceStates`) and by the status
//! index (`StatusIndex`), measured (issue 14; targets P4 and P7 in docs/performance.md).
//!
//! N devices (default 100,000) are registered in a SQLite store in a temp dir (the filled
//! database is kept in `target/tmp/device-memory/` for the next run), then every device fetches
//! as a phone does when it boots: two or three files (its per-MAC file, its model's common
//! file, for some a boot file), each served with a version hash, with its vendor's real
//! User-Agent (which carries the MAC for most vendors), from an IPv4 address; then each fetches
//! its per-MAC file again (a `304`), as the phone path's states see between two flushes. Then
//! the status index is warmed over them.
//!
//! Resident memory (`VmRSS` of `/proc/self/status`, after `malloc_trim(0)` on glibc) is read
//! before and after each structure, and the live heap bytes (a counting allocator) alongside.
//! The reference, taken in the same run: a bare `HashMap<u64, u64>` of N entries, so the
//! figures are also ratios.
//!
//! Run: `cargo bench --bench device_memory [-- --devices N] [-- --arenas]` (Linux). With
//! `--arenas` the run is repeated in child processes with `MALLOC_ARENA_MAX` unset, `1` and
//! `2`, and one line per setting is printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use deskprov::domain::Device;
use deskprov::domain::audit::Actor;
use deskprov::domain::device::{DeviceDraft, PhoneDevice};
use deskprov::domain::device_state::Answer;
use deskprov::domain::tenant::TenantDraft;
use deskprov::domain::user::{TenantRules, UserDraft};
use deskprov::profile::Vendors;
use deskprov::service::Services;
use deskprov::service::phone::{DeviceStates, Seen};
use deskprov::store::{Store, devices, tenants, users};
use serde_json::json;

/// Counts the heap bytes in use (as asked for: the allocator's own overhead is not in it).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The same in glibc malloc chunks: 8 bytes of header, rounded up to 16, at least 32.
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    (size + 8).next_multiple_of(16).max(32) as isize
}

// SAFETY: every call is passed on to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: as the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: as the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: as the caller's contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        CHUNKS.fetch_add(chunk(new_size) - chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: as the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const TENANTS: usize = 10;

/// The phones: vendor, model, the User-Agent (`{colon}`, `{lower}`, `{upper}` for the MAC), and
/// the files a boot fetches (`{mac}` lower-case, `{MAC}` upper-case); the last is its own file.
const PHONES: [(&str, &str, &str, &[&str]); 6] = [
    (
        "yealink",
        "T46U",
        "Yealink SIP-T46U 108.86.0.45 {colon}",
        &["{mac}.boot", "y000000000044.cfg", "{mac}.cfg"],
    ),
    (
        "yealink",
        "T54W",
        "Yealink SIP-T54W 96.86.0.100 {colon}",
        &["y000000000096.cfg", "{mac}.cfg"],
    ),
    (
        "polycom",
        "VVX450",
        "FileTransport PolycomVVX-VVX_450-UA/6.4.6.2317 Type/Application",
        &["{mac}.cfg", "polycom-common.cfg", "{mac}-user.cfg"],
    ),
    (
        "cisco_mpp",
        "CP-8841",
        "Cisco-CP-8841-3PCC/12.0.1 ({lower})",
        &["CP-8841-3PCC.xml", "{mac}.xml"],
    ),
    (
        "snom",
        "D785",
        "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {upper} SXM:0 UXM:0)",
        &["snomD785.htm", "snomD785-{MAC}.htm", "snom-{MAC}.xml"],
    ),
    (
        "yealink",
        "T33G",
        "Yealink SIP-T33G 124.86.0.40 {colon}",
        &["y000000000124.cfg", "{mac}.cfg"],
    ),
];

struct Args {
    devices: usize,
    arenas: bool,
}

fn args() -> Args {
    let mut out = Args {
        devices: 100_000,
        arenas: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--devices" => out.devices = it.next().and_then(|n| n.parse().ok()).expect("N"),
            "--arenas" => out.arenas = true,
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    out
}

fn main() {
    let args = args();
    if args.arenas {
        return arenas(&args);
    }
    let n = args.devices;
    let arena = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "unset".into());
    println!("device memory: {n} devices, MALLOC_ARENA_MAX {arena}");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("deskprov.db");
    std::fs::copy(filled(n), &db).expect("copy of the filled database");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Store::open(&db).expect("store");
    let vendors = Arc::new(Vendors::builtin().expect("profiles"));
    let services = Services::new(store.clone(), vendors, None);
    let all = store
        .read_blocking(|c| devices::list(c, None, None))
        .expect("devices");
    assert_eq!(all.len(), n, "the filled database has {n} devices");
    let devices: Vec<Arc<Device>> = all.into_iter().map(Arc::new).collect();

    // The reference: a bare map of N entries.
    let base = Mem::now();
    let reference: HashMap<u64, u64> = (0..n as u64).map(|i| (i, i)).collect();
    let with_map = Mem::now();
    drop(reference);

    let _guard = runtime.enter();
    let (states, writer) = DeviceStates::start(
        store.clone(),
        Duration::from_secs(3600),
        services.statuses.clone(),
    );
    let before = Mem::now();
    let started = Instant::now();
    let fetches = runtime.block_on(boot(&states, &devices));
    let boot_time = started.elapsed();
    let started = Instant::now();
    let again = runtime.block_on(refetch(&states, &devices));
    let refetch_time = started.elapsed();
    let after_states = Mem::now();
    let started = Instant::now();
    runtime
        .block_on(services.statuses.warm(&services))
        .expect("status index");
    let warm_time = started.elapsed();
    let after_index = Mem::now();

    let per = |a: &Mem, b: &Mem| {
        [
            b.rss - a.rss,
            (b.rss - b.sqlite) - (a.rss - a.sqlite),
            b.chunks - a.chunks,
            b.heap - a.heap,
        ]
        .map(|d| d as f64 / n as f64)
    };
    let reference = per(&base, &with_map);
    let states_bytes = per(&before, &after_states);
    let index_bytes = per(&after_states, &after_index);
    let both = [0, 1, 2, 3].map(|i| states_bytes[i] + index_bytes[i]);
    println!(
        "resident: {:.1} MB before the states, {:.1} MB after, {:.1} MB after the status index \
         (SQLite's own: {:.1}, {:.1}, {:.1} MB)",
        mb(before.rss),
        mb(after_states.rss),
        mb(after_index.rss),
        mb(before.sqlite),
        mb(after_states.sqlite),
        mb(after_index.sqlite),
    );
    println!(
        "{:<30} {:>14} {:>16} {:>14} {:>14}",
        "bytes per device (x ref)", "resident", "less SQLite's", "malloc chunks", "heap asked"
    );
    for (what, bytes) in [
        ("reference: HashMap<u64, u64>", reference),
        ("device states", states_bytes),
        ("status index", index_bytes),
        ("both", both),
    ] {
        let cell = |i: usize| format!("{:.1} ({:.1})", bytes[i], bytes[i] / reference[i]);
        println!(
            "{what:<30} {:>14} {:>16} {:>14} {:>14}",
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        );
    }
    println!(
        "time: boot {fetches} fetches {:.2} s ({:.1} µs each, with their writes); {again} refetches {:.1} µs each; status index {:.2} s",
        boot_time.as_secs_f64(),
        boot_time.as_secs_f64() * 1e6 / fetches as f64,
        refetch_time.as_secs_f64() * 1e6 / again as f64,
        warm_time.as_secs_f64()
    );
    // The states hold the store; the writer ends once they are gone.
    drop(states);
    drop(services);
    runtime.block_on(writer).expect("writer");
}

/// The run again in child processes, with `MALLOC_ARENA_MAX` unset, 1 and 2.
fn arenas(args: &Args) {
    let exe = std::env::current_exe().expect("this bench");
    for setting in [None, Some("1"), Some("2")] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--devices", &args.devices.to_string()]);
        match setting {
            Some(v) => cmd.env("MALLOC_ARENA_MAX", v),
            None => cmd.env_remove("MALLOC_ARENA_MAX"),
        };
        let status = cmd.status().expect("child run");
        assert!(
            status.success(),
            "the run with MALLOC_ARENA_MAX {setting:?} failed"
        );
    }
}

/// Every device's boot: each file of its sequence served once (a first fetch, new versions).
async fn boot(states: &Arc<DeviceStates>, devices: &[Arc<Device>]) -> usize {
    let mut fetches = 0;
    // Many phones at once, as in a boot storm: their first fetches share commits.
    for chunk in devices.chunks(512) {
        let mut tasks = Vec::with_capacity(chunk.len());
        for device in chunk {
            let (states, device) = (states.clone(), device.clone());
            let files = files_of(&device);
            fetches += files.len();
            tasks.push(tokio::spawn(async move {
                let ua = user_agent(&device);
                // The phone path reads the device per request: enrolled after its first fetch.
                let mut phone = PhoneDevice::new(&device, None);
                for file in &files {
                    let hash = version_hash(&device, file);
                    states
                        .observe(Some(&phone), &seen(&device, &ua, file, Some(&hash)))
                        .await;
                    phone.enroll_until = None;
                }
            }));
        }
        for task in tasks {
            task.await.expect("fetch task");
        }
    }
    fetches
}

/// Every device's own file fetched again: a `304`, nothing new (only "last seen" changes).
async fn refetch(states: &Arc<DeviceStates>, devices: &[Arc<Device>]) -> usize {
    for device in devices {
        let mut phone = PhoneDevice::new(device, None);
        phone.enroll_until = None;
        let ua = user_agent(device);
        let files = files_of(device);
        let own = files.last().expect("a file");
        states
            .observe(Some(&phone), &seen(device, &ua, own, None))
            .await;
    }
    devices.len()
}

fn seen<'a>(device: &'a Device, ua: &'a str, file: &'a str, hash: Option<&'a str>) -> Seen<'a> {
    let (_, model, _, _) = phone_of(device);
    let firmware = ua.split(' ').nth(2).filter(|f| f.contains('.'));
    let id = device.id as u32;
    Seen {
        at: Utc::now(),
        ip: std::net::Ipv4Addr::new(10, (id >> 16) as u8, (id >> 8) as u8, id as u8).into(),
        user_agent: Some(ua),
        model: Some(model),
        firmware,
        mac: None,
        file,
        status: if hash.is_some() { 200 } else { 304 },
        result: if hash.is_some() {
            "served"
        } else {
            "not_modified"
        },
        answer: if hash.is_some() {
            Answer::Served
        } else {
            Answer::NotModified
        },
        body_hash: hash,
        server_url: "http://prov.bench.test",
        cert: None,
        noteworthy: false,
    }
}

fn phone_of(
    device: &Device,
) -> &'static (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
) {
    &PHONES[device.id as usize % PHONES.len()]
}

fn user_agent(device: &Device) -> String {
    let (_, _, ua, _) = phone_of(device);
    ua.replace("{colon}", &device.mac.colon())
        .replace("{lower}", &device.mac.lower12())
        .replace("{upper}", &device.mac.upper12())
}

/// The files device fetches at boot: a boot file only for some (every third).
fn files_of(device: &Device) -> Vec<String> {
    let (_, _, _, files) = phone_of(device);
    files
        .iter()
        .filter(|f| !f.ends_with(".boot") || device.id % 3 == 0)
        .map(|f| {
            f.replace("{mac}", &device.mac.lower12())
                .replace("{MAC}", &device.mac.upper12())
        })
        .collect()
}

/// An ETag: the same for everyone on a common file, the device's own on its own files.
fn version_hash(device: &Device, file: &str) -> String {
    let own = file.to_ascii_lowercase().contains(&device.mac.lower12());
    let seed = if own { device.id as u64 } else { 0 };
    let mut h = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ file.len() as u64;
    h ^= h >> 29;
    format!("\"{h:016x}{:016x}\"", h.wrapping_mul(31))
}

/// A database of `n` devices (10 tenants, a user each), filled once and kept.
fn filled(n: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/device-memory");
    std::fs::create_dir_all(&dir).expect("bench folder");
    let path = dir.join(format!("{n}.db"));
    if path.exists() {
        return path;
    }
    let started = Instant::now();
    let partial = dir.join(format!("{n}.db.partial"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let store = Store::open(&partial).expect("store");
    let actor = Actor::new("bench");
    let mut rng = rand::rng();
    let mut made = Vec::new();
    for t in 0..TENANTS {
        let draft: TenantDraft = serde_json::from_value(json!({
            "name": format!("bench{t}.example"),
            "sip_server": format!("pbx.bench{t}.example"),
        }))
        .expect("tenant draft");
        let spec = draft.into_new().expect("tenant");
        let (tenant, _) = store
            .write_blocking(|tx| tenants::insert(tx, &actor, spec))
            .expect("tenant insert");
        made.push(tenant);
    }
    let vendors = Vendors::builtin().expect("profiles");
    let oui: HashMap<&str, String> = ["yealink", "polycom", "cisco_mpp", "snom"]
        .into_iter()
        .map(|v| {
            let vendor = vendors.get(v).expect("vendor");
            let oui = vendor.profile.ouis.first().expect("an OUI");
            (v, oui.replace([':', '-'], "").to_ascii_lowercase())
        })
        .collect();
    for (chunk_no, chunk) in (0..n).collect::<Vec<_>>().chunks(2_000).enumerate() {
        let mut work = Vec::new();
        for &i in chunk {
            let tenant = &made[i % TENANTS];
            let rules = TenantRules {
                plan: &tenant.extension_plan,
                prefix: &tenant.sip_username_prefix,
            };
            let extension = format!("{}", 100_000 + i / TENANTS);
            let user: UserDraft = serde_json::from_value(json!({
                "name": format!("Bench User {i}"),
                "extension": extension,
            }))
            .expect("user draft");
            let user = user.into_new(rules, &mut rng).expect("user");
            // Row ids count from 1 in insertion order: device i is row i + 1.
            let (vendor, model, _, _) = PHONES[(i + 1) % PHONES.len()];
            let mac = format!("{}{:06x}", oui[vendor], i + 1);
            let device: DeviceDraft = serde_json::from_value(json!({
                "mac": mac,
                "tenant": tenant.name,
                "extension": extension,
                "model": model,
            }))
            .expect("device draft");
            let device = device.into_spec().expect("device");
            work.push((tenant.clone(), user, device, vendor));
        }
        store
            .write_blocking(|tx| {
                for (tenant, user, device, vendor) in &work {
                    users::insert(tx, &actor, tenant, user)?;
                    devices::insert(tx, &actor, tenant, device, vendor)?;
                }
                Ok(())
            })
            .expect("insert");
        if chunk_no % 50 == 49 {
            eprintln!("filled {} devices", (chunk_no + 1) * 2_000);
        }
    }
    drop(store);
    let conn = rusqlite::Connection::open(&partial).expect("checkpoint");
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    drop(conn);
    std::fs::rename(&partial, &path).expect("rename");
    eprintln!(
        "filled {n} devices in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    path
}

/// Resident memory and live heap bytes now, after returning what the allocator can.
struct Mem {
    rss: i64,
    heap: i64,
    chunks: i64,
    /// SQLite's own (its page caches fill as the states are written), outside the heap above.
    sqlite: i64,
}

impl Mem {
    fn now() -> Self {
        trim();
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let kib: i64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .expect("VmRSS in kB");
        Self {
            rss: kib * 1024,
            heap: LIVE.load(Ordering::Relaxed) as i64,
            chunks: CHUNKS.load(Ordering::Relaxed) as i64,
            // SAFETY: a plain read of SQLite's memory statistics.
            sqlite: unsafe { rusqlite::ffi::sqlite3_memory_used() },
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim takes any pad and only returns free memory to the kernel.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1_000_000.0
}
