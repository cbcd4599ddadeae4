//! Where a request's time goes: the phone path's parts timed one by one in this process, over
//! random devices of the benchmark database (`--micro`).

use std::time::Instant;

use deskprov::domain::device_state::DeviceState;
use deskprov::domain::{DeviceBundle, Mac};
use deskprov::profile::Vendors;
use deskprov::profile::provision::render_device_file;
use deskprov::store::device_state::{self, Batch, Binding, StateWrite, Version};
use deskprov::store::{Store, devices};

use crate::corpus::{Corpus, PUBLIC_URL, Phone};

/// Times the phone path's parts over 20,000 random devices of `corpus` and prints them.
pub fn run(corpus: &Corpus, vendors: &Vendors) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("micro.db");
    std::fs::copy(corpus.pristine_db(), &db)?;
    let store = Store::open(&db)?;
    let n = 20_000;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut pick = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        &corpus.phones[(x as usize) % corpus.phones.len()]
    };
    let picked: Vec<_> = (0..n).map(|_| pick().clone()).collect();
    let macs: Vec<Mac> = picked.iter().map(|p| Mac::parse(&p.mac).unwrap()).collect();

    let t = Instant::now();
    let mut bundles = Vec::with_capacity(n);
    for mac in &macs {
        let mac = *mac;
        bundles.push(
            store
                .read_blocking(move |c| devices::bundle(c, &mac))?
                .unwrap(),
        );
    }
    report("devices::bundle (5 queries, cold-ish pages)", t, n);

    time_reads(&store, &macs, &bundles)?;

    let t = Instant::now();
    let writes: Vec<_> = picked
        .iter()
        .zip(&bundles)
        .map(|(p, b)| first_fetch(p, b.device.id))
        .collect();
    for chunk in writes.chunks(1000) {
        let batch = Batch {
            states: chunk.to_vec(),
            events: Vec::new(),
        };
        store.write_blocking(|tx| device_state::write(tx, &batch))?;
    }
    report("device states with their binding, batches of 1000", t, n);

    let t = Instant::now();
    for p in &picked {
        std::hint::black_box(vendors.parse_ua(&p.ua));
    }
    report("Vendors::parse_ua", t, n);

    let t = Instant::now();
    for p in &picked {
        std::hint::black_box(vendors.match_file(&p.main_file().name));
    }
    report("Vendors::match_file", t, n);

    let t = Instant::now();
    let mut bytes = 0;
    for (p, b) in picked.iter().zip(&bundles) {
        let m = vendors.match_file(&p.main_file().name);
        let m = m.iter().find(|m| m.vendor.id() == p.vendor).unwrap();
        let (r, _) = render_device_file(b, m.vendor, m.file, PUBLIC_URL, false)?;
        bytes += r.body.len();
    }
    report(
        &format!("render_device_file (avg {} bytes)", bytes / n),
        t,
        n,
    );
    Ok(())
}

/// The reads a request may make, one by one.
fn time_reads(store: &Store, macs: &[Mac], bundles: &[DeviceBundle]) -> anyhow::Result<()> {
    let n = macs.len();
    let t = Instant::now();
    for mac in macs {
        let mac = *mac;
        store.read_blocking(move |c| devices::by_mac(c, &mac))?;
    }
    report("devices::by_mac", t, n);

    let t = Instant::now();
    for b in bundles {
        let id = b.device.user_id;
        store.read_blocking(move |c| deskprov::store::users::by_id(c, id))?;
    }
    report("users::by_id", t, n);

    let t = Instant::now();
    for b in bundles {
        let id = b.device.user_id;
        store.read_blocking(move |c| deskprov::store::aliases::for_user(c, id))?;
    }
    report("aliases::for_user", t, n);

    let t = Instant::now();
    for b in bundles {
        let id = b.device.tenant_id;
        store.read_blocking(move |c| deskprov::store::tenants::by_id(c, id))?;
    }
    report("tenants::by_id", t, n);
    Ok(())
}

fn report(what: &str, since: Instant, n: usize) {
    println!(
        "{what}: {:.1} µs",
        since.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

/// What a phone's first fetch of its main file writes.
fn first_fetch(p: &Phone, device_id: i64) -> StateWrite {
    let now = chrono::Utc::now();
    StateWrite {
        device_id,
        state: DeviceState {
            first_fetch_at: Some(now),
            last_fetch_at: Some(now),
            last_ip: Some([127, 0, 0, 1].into()),
            user_agent: Some(p.ua.as_str().into()),
            model: Some(p.model.as_str().into()),
            firmware: Some("1.2.3".into()),
            last_file: Some(p.main_file().name.as_str().into()),
            files: Vec::new(),
        },
        binding: Some(Binding {
            at: now,
            ip: "127.0.0.1".into(),
            cert: None,
        }),
        versions: vec![Version {
            file: p.main_file().name.clone(),
            body_hash: "\"0123456789abcdef0123456789abcdef\"".into(),
            server_url: PUBLIC_URL.into(),
            at: now,
        }],
    }
}
