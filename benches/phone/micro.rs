//! Where a request's time goes: the phone path's parts timed one by one in this process, over
//! random devices of the benchmark database (`--micro`).

use std::time::Instant;

use deskprov::domain::Mac;
use deskprov::profile::Vendors;
use deskprov::profile::provision::render_device_file;
use deskprov::store::{Store, devices};

use crate::corpus::{Corpus, PUBLIC_URL};

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

    let t = Instant::now();
    for mac in &macs {
        let mac = *mac;
        store.read_blocking(move |c| devices::by_mac(c, &mac))?;
    }
    report("devices::by_mac", t, n);

    let t = Instant::now();
    for b in &bundles {
        let id = b.device.user_id;
        store.read_blocking(move |c| deskprov::store::users::by_id(c, id))?;
    }
    report("users::by_id", t, n);

    let t = Instant::now();
    for b in &bundles {
        let id = b.device.user_id;
        store.read_blocking(move |c| deskprov::store::aliases::for_user(c, id))?;
    }
    report("aliases::for_user", t, n);

    let t = Instant::now();
    for b in &bundles {
        let id = b.device.tenant_id;
        store.read_blocking(move |c| deskprov::store::tenants::by_id(c, id))?;
    }
    report("tenants::by_id", t, n);

    let t = Instant::now();
    let records: Vec<_> = picked
        .iter()
        .zip(&bundles)
        .map(|(p, b)| deskprov::domain::fetch::FetchRecord {
            at: chrono::Utc::now(),
            ip: "127.0.0.1".into(),
            ua: Some(p.ua.clone()),
            mac: Some(p.mac.clone()),
            vendor: Some(p.vendor.clone()),
            model: Some(p.model.clone()),
            firmware: Some("1.2.3".into()),
            file: p.main_file().name.clone(),
            status: 200,
            result: "served",
            device_id: Some(b.device.id),
            body_hash: Some("\"0123456789abcdef0123456789abcdef\"".into()),
            server_url: PUBLIC_URL.into(),
            cert_fingerprint: None,
        })
        .collect();
    for chunk in records.chunks(1000) {
        store.write_blocking(|tx| deskprov::store::fetches::record_batch(tx, chunk))?;
    }
    report("fetch records, batches of 1000, first fetch of each", t, n);
    for size in [1_000, 5_000, 10_000] {
        let t = Instant::now();
        for chunk in records.chunks(size) {
            store.write_blocking(|tx| deskprov::store::fetches::record_batch(tx, chunk))?;
        }
        report(&format!("fetch records, batches of {size}, again"), t, n);
    }

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

fn report(what: &str, since: Instant, n: usize) {
    println!(
        "{what}: {:.1} µs",
        since.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
