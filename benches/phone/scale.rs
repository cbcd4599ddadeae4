//! P7: deskprov with `--p7-devices` devices (1M by default; deskprov only, no nginx and no
//! files on disk). Start-up to the first 200, P1 against deskprov on the `--devices` corpus
//! (alternating, in this invocation), a boot storm, then resident memory; and the database size.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Args;
use crate::corpus::{self, Corpus, Files, Want};
use crate::figures::{self, Measured, sample};
use crate::load::Transport;
use crate::servers::{self, Server, Setup};

/// What P7 measured.
#[derive(Debug, Clone)]
pub struct Scaled {
    /// Devices of the large corpus and of the reference.
    pub devices: usize,
    /// See `devices`.
    pub reference_devices: usize,
    /// The large database's size, bytes.
    pub db_bytes: u64,
    /// Start-up to the first 200, ms, one per round.
    pub starts: Vec<f64>,
    /// P1 rounds: `[reference, large]`.
    pub p1: Vec<[Measured; 2]>,
    /// The boot storms on the large corpus.
    pub storms: Vec<Measured>,
    /// Resident memory of deskprov on the large corpus after P1 and the storms, kB (now, peak).
    pub rss_kb: (u64, u64),
    /// From the first 200 until every device's files were rendered ahead, s.
    pub ahead: f64,
}

/// Runs P7; `reference` is the `--devices` corpus, whose deskprov P1 is the reference.
pub fn p7(
    args: &Args,
    work: &Path,
    setup: &Setup,
    reference: &Corpus,
    vendors: &deskprov::profile::Vendors,
) -> anyhow::Result<Scaled> {
    let want = Want {
        devices: args.p7_devices,
        tenants: args.tenants,
        booted: !args.first_boot,
        fresh: args.fresh,
        files: Files::LengthsOnly,
    };
    let large = corpus::ensure(work, want, vendors)?;
    let db_bytes = large.db_bytes();
    let big_db = copy_db(&large, &setup.dir, "p7-large.db")?;
    let ref_db = copy_db(reference, &setup.dir, "p7-reference.db")?;
    let mut starts = Vec::new();
    let mut big = None;
    for round in 0..args.rounds.max(1) {
        if let Some(previous) = big.take() {
            Server::stop(previous);
        }
        let t0 = Instant::now();
        let server = setup.start_deskprov(&big_db, "p7-large", None)?;
        let took = first_200(&server, &large, t0, Duration::from_secs(120))?;
        eprintln!("P7 round {}: first 200 after {:.0} ms", round + 1, ms(took));
        starts.push(ms(took));
        big = Some(server);
    }
    let big = big.context("deskprov on the large corpus")?;
    let reference_server = setup.start_deskprov(&ref_db, "p7-reference", None)?;
    first_200(
        &reference_server,
        reference,
        Instant::now(),
        Duration::from_secs(60),
    )?;
    let ahead = big.wait_rendered_ahead(Duration::from_secs(1800))?;
    eprintln!(
        "P7: deskprov rendered every device's files ahead {:.1} s after its first 200",
        ahead.as_secs_f64()
    );
    reference_server.wait_rendered_ahead(Duration::from_secs(600))?;
    reference_server.settle();
    big.settle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ref_phones = Arc::new(reference.phones.clone());
    let big_phones = Arc::new(large.phones);
    let p1 = figures::p1_rounds(
        args,
        &runtime,
        "P7 P1",
        [&reference_server, &big],
        [&ref_phones, &big_phones],
    );
    reference_server.stop();
    let mut storms = Vec::new();
    for round in 0..args.rounds {
        let sampled = Arc::new(sample(&big_phones, args.storm_phones, round as u64 + 1));
        let m = figures::storm_once(
            &runtime,
            &big,
            &Transport::Plain,
            sampled,
            args.storm_concurrency,
        );
        figures::log_storm("P7 P2", round, &big, &m);
        storms.push(m);
    }
    let rss_kb = big.rss_kb();
    eprintln!(
        "P7: resident memory after P1–P2 {:.1} MB",
        rss_kb.0 as f64 / 1024.0
    );
    big.stop();
    for db in [&big_db, &ref_db] {
        remove_db(db);
    }
    Ok(Scaled {
        devices: args.p7_devices,
        reference_devices: reference.phones.len(),
        db_bytes,
        starts,
        p1,
        storms,
        rss_kb,
        ahead: ahead.as_secs_f64(),
    })
}

/// Polls a per-MAC file of `corpus` on `server` until it answers 200.
fn first_200(
    server: &Server,
    corpus: &Corpus,
    since: Instant,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let probe = &corpus.phones[0];
    servers::wait_for_200(
        server.http,
        &probe.main_file().name,
        &probe.ua,
        since,
        limit,
    )
}

/// A working copy of a corpus's database in the run folder.
fn copy_db(corpus: &Corpus, run_dir: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let db = run_dir.join(name);
    remove_db(&db);
    fs::copy(corpus.pristine_db(), &db)
        .with_context(|| format!("copying the database to {}", db.display()))?;
    Ok(db)
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
