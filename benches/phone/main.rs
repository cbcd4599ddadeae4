//! deskprov against nginx on the phone path, and deskprov alone at scale and under admin work:
//! P1–P9 of docs/performance.md.
//!
//! ```sh
//! cargo bench --bench phone                 # every figure, defaults below
//! cargo bench --bench phone -- --only p7    # one figure
//! cargo bench --bench phone -- --help       # options
//! ```
//!
//! It fills a database with N devices over every vendor through the library's store functions
//! (each owner with two aliases; every phone recorded as having booted once before, unless
//! `--first-boot`), renders the very files deskprov serves into a folder, starts the deskprov
//! release binary and nginx (on those files, same certificate) as child processes, checks that
//! both answer byte-identical bodies, and then drives both with the same load, alternating the
//! servers, for several rounds: keep-alive random-MAC fetches (P1), the same with both servers
//! writing an access log (P1-log), a boot storm with a new connection per file (P2), the storm
//! over TLS with a full handshake per connection (P3). It also measures memory (P4), start-up
//! (P5), a bulk insert (P6), deskprov with a million devices (P7, `scale.rs`), admin reads (P8)
//! and a user's change in the middle of P1 (P9, both `change.rs`), and prints medians, each
//! with its reference from the same run and the ratio. P1 also runs the stack's ceiling
//! (`floor.rs`): axum and hyper answering with the same bytes from memory and doing nothing else.
//!
//! The load generator runs on one thread pinned to its own CPU, the servers on the others; it
//! reports its own CPU use next to the servers', so a reader can see which side was the limit.

mod admin;
mod change;
mod checks;
mod corpus;
mod figures;
mod floor;
mod load;
mod logged;
mod micro;
mod nginx;
mod rendering;
mod report;
mod scale;
mod servers;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use deskprov::profile::Vendors;

use corpus::{Corpus, Files, Want};
use load::Transport;
use report::Report;
use servers::{Pinning, Server, Setup};

/// Every figure, in the order `--only` accepts them.
const FIGURES: [&str; 10] = [
    "p1", "p1-log", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9",
];

/// deskprov vs nginx on the phone path, and deskprov at scale and under admin work
/// (docs/performance.md).
#[derive(Debug, Parser)]
pub struct Args {
    /// Devices in the database (one user with two aliases each).
    #[arg(long, default_value_t = 100_000)]
    pub devices: usize,
    /// Tenants the users are spread over.
    #[arg(long, default_value_t = 10)]
    pub tenants: usize,
    /// Rounds per figure; each round runs both servers, alternating which goes first.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// P1, P1-log, P7, P9: measured seconds per run (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// P1, P1-log, P7, P9: warm-up seconds per run.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// P1, P1-log, P7, P9: keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// P2/P3 (and P7's storm): phones in the storm.
    #[arg(long, default_value_t = 10_000)]
    pub storm_phones: usize,
    /// P2/P3: phones booting at the same time.
    #[arg(long, default_value_t = 128)]
    pub storm_concurrency: usize,
    /// P7: devices of the large database (built once and kept in the work folder).
    #[arg(long, default_value_t = 1_000_000)]
    pub p7_devices: usize,
    /// P8: sequential reads of each admin view.
    #[arg(long, default_value_t = 100)]
    pub admin_requests: usize,
    /// P8: seconds the reads of one view may take in all; once spent, no further read starts
    /// (a view that takes seconds per read gets fewer than `--admin-requests`).
    #[arg(long, default_value_t = 60)]
    pub admin_budget: u64,
    /// Figures to run (comma-separated: p1,p1-log,p2,p3,p4,p5,p6,p7,p8,p9).
    #[arg(
        long,
        default_value = "p1,p1-log,p2,p3,p4,p5,p6,p7,p8,p9",
        value_delimiter = ','
    )]
    pub only: Vec<String>,
    /// Figures to leave out of `--only` (comma-separated), e.g. `--skip p7`.
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
    /// CPUs of the load generator (taskset list); "none" to not pin anything.
    #[arg(long, default_value = "0")]
    pub client_cpus: String,
    /// CPUs of the servers (taskset list).
    #[arg(long, default_value = "1")]
    pub server_cpus: String,
    /// Work folder (databases, files, logs). Default: the target directory's bench folder.
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Start from phones that never fetched (first boot after install) instead of phones that
    /// booted once before (the default: a site after a power cut).
    #[arg(long)]
    pub first_boot: bool,
    /// Rebuild the databases and the files even when a matching set exists.
    #[arg(long)]
    pub fresh: bool,
    /// The deskprov binary. Default: the one cargo built with this bench.
    #[arg(long)]
    pub deskprov: Option<PathBuf>,
    /// The nginx binary (installed from Debian packages when missing and run as root).
    #[arg(long, default_value = "nginx")]
    pub nginx: String,
    /// Also run wrk against nginx for P1, to compare the load generator with it.
    #[arg(long)]
    pub wrk: bool,
    /// Keep the servers running after P3 until Enter is pressed (for `perf record -p`).
    #[arg(long)]
    pub hold: bool,
    /// Instead of the servers: time the phone path's parts in this process (reads, rendering,
    /// User-Agent parsing) over random devices, to see where a request's time goes.
    #[arg(long)]
    pub micro: bool,
    /// P1: leave out the stack's ceiling (axum and hyper serving the bytes from memory).
    #[arg(long)]
    pub no_floor: bool,
    /// Internal: be the ceiling server on this address (started by the bench itself).
    #[arg(long, hide = true)]
    pub serve_floor: Option<std::net::SocketAddr>,
    /// Internal: the files the ceiling server serves.
    #[arg(long, hide = true)]
    pub floor_www: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Args {
    /// Whether `figure` (`p1`, `p1-log`, …) is to be measured.
    pub fn wants(&self, figure: &str) -> bool {
        let named = |list: &[String]| list.iter().any(|f| f.eq_ignore_ascii_case(figure));
        named(&self.only) && !named(&self.skip)
    }

    fn wants_any(&self, figures: &[&str]) -> bool {
        figures.iter().any(|f| self.wants(f))
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = args.serve_floor {
        let www = args.floor_www.as_deref().context("--floor-www")?;
        return floor::serve(www, addr);
    }
    let known = |f: &&String| FIGURES.contains(&f.to_lowercase().as_str());
    if let Some(unknown) = args.only.iter().chain(&args.skip).find(|f| !known(f)) {
        bail!("no figure {unknown:?} (known: {})", FIGURES.join(","));
    }
    let pin = pinning(&args);
    pin.pin_self()?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("phone-bench"));
    fs::create_dir_all(&work)?;
    let vendors = Vendors::builtin()?;
    let machine = machine();
    eprintln!("machine: {machine}; load average {}", load_average());
    eprintln!(
        "pinning: client CPUs {:?}, server CPUs {:?}",
        pin.client, pin.server
    );
    let mut report = Report::default();
    if args.wants("p6") {
        report.p6 = Some(p6(&args, &work, &vendors)?);
    }
    let want = Want {
        devices: args.devices,
        tenants: args.tenants,
        booted: !args.first_boot,
        fresh: args.fresh,
        files: Files::OnDisk,
    };
    let corpus = corpus::ensure(&work, want, &vendors)?;
    if args.micro {
        return micro::run(&corpus, &vendors);
    }
    let setup = prepare(&args, &work, pin.clone())?;
    if args.wants_any(&["p1", "p1-log", "p2", "p3", "p4", "p5", "p8", "p9"]) {
        serve_and_measure(&args, &setup, &corpus, &mut report)?;
    }
    if args.wants("p7") {
        report.p7 = Some(scale::p7(&args, &work, &setup, &corpus, &vendors)?);
        report.notes.extend(error_note(&setup.dir, "p7-large"));
    }
    report.print(&args, &machine, &pin, &load_average());
    Ok(())
}

fn pinning(args: &Args) -> Pinning {
    if args.client_cpus == "none" {
        Pinning {
            client: None,
            server: None,
        }
    } else {
        Pinning {
            client: Some(args.client_cpus.clone()),
            server: Some(args.server_cpus.clone()),
        }
    }
}

/// A fresh run folder under `work` (logs, working databases, nginx prefixes) and a certificate.
fn prepare(args: &Args, work: &Path, pin: Pinning) -> anyhow::Result<Setup> {
    let dir = work.join("run");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    make_traversable(work)?;
    let (cert, key, _) = servers::certificate(&dir)?;
    let binary = args
        .deskprov
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_deskprov")));
    Ok(Setup {
        binary,
        dir,
        cert,
        key,
        pin,
    })
}

/// The figures on the `--devices` corpus: P5, then the pairs with nginx (P1–P4), then the
/// admin's (P8, P9) on the same deskprov, then P1-log with both servers restarted to log.
fn serve_and_measure(
    args: &Args,
    setup: &Setup,
    corpus: &Corpus,
    report: &mut Report,
) -> anyhow::Result<()> {
    let wants_nginx = args.wants_any(&["p1", "p1-log", "p2", "p3", "p4"]);
    let nginx_bin = if wants_nginx {
        nginx::ensure(&args.nginx)?
    } else {
        String::new()
    };
    let db = setup.dir.join("deskprov.db");
    fs::copy(corpus.pristine_db(), &db).context("copying the database")?;
    let token = if args.wants_any(&["p8", "p9"]) {
        Some(setup.admin_token(&db)?)
    } else {
        None
    };
    let deskprov = start_p5(args, setup, &db, corpus, report)?;
    let ahead = deskprov.wait_rendered_ahead(Duration::from_secs(600))?;
    eprintln!(
        "deskprov rendered every device's files ahead {:.1} s after its first 200",
        ahead.as_secs_f64()
    );
    report.ahead = Some(ahead.as_secs_f64());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.wants_any(&["p1", "p2", "p3", "p4"]) {
        let nginx = start_nginx(setup, &nginx_bin, corpus, None)?;
        checks::verify_same_bytes(corpus, &deskprov, &nginx)?;
        deskprov.settle();
        pairs(args, setup, &runtime, corpus, [&deskprov, &nginx], report)?;
        nginx.stop();
    }
    let mut targets = Vec::new();
    if let Some(token) = token {
        let admin_addr = deskprov.admin.context("deskprov's admin listener")?;
        let admin = runtime.block_on(admin::Admin::sign_in(admin_addr, &token))?;
        if args.wants("p8") {
            report.p8 = change::p8(args, &runtime, &admin, corpus)?;
        }
        if args.wants("p9") {
            targets = change::targets(corpus, &deskprov, args.rounds)?;
            report.p9 = change::p9(args, &runtime, &deskprov, &admin, corpus, &targets)?;
        }
    }
    deskprov.stop();
    report.notes.extend(error_note(&setup.dir, "main"));
    if args.wants("p1-log") {
        let others = Arc::new(change::others(&corpus.phones, &targets));
        let (rounds, lines) =
            logged::p1_log(args, setup, &runtime, corpus, &nginx_bin, &db, &others)?;
        report.p1_log = rounds;
        report.p1_log_lines = Some(lines);
        report.notes.extend(error_note(&setup.dir, "log"));
    }
    Ok(())
}

/// P5: start-up to the first 200 of a per-MAC file, once per round; the last start serves on.
fn start_p5(
    args: &Args,
    setup: &Setup,
    db: &Path,
    corpus: &Corpus,
    report: &mut Report,
) -> anyhow::Result<Server> {
    let probe = &corpus.phones[0];
    let mut starts = Vec::new();
    let mut deskprov: Option<Server> = None;
    for round in 0..args.rounds.max(1) {
        if let Some(previous) = deskprov.take() {
            previous.stop();
        }
        let t0 = Instant::now();
        let server = setup.start_deskprov(db, "main", None)?;
        let took = servers::wait_for_200(
            server.http,
            &probe.main_file().name,
            &probe.ua,
            t0,
            Duration::from_secs(30),
        )?;
        eprintln!("P5 round {}: first 200 after {:.0} ms", round + 1, ms(took));
        starts.push(ms(took));
        deskprov = Some(server);
    }
    if args.wants("p5") {
        report.p5 = Some(starts);
    }
    deskprov.context("deskprov")
}

/// Starts nginx on the corpus files (logging to `access_log`, if given) and waits for a 200.
pub fn start_nginx(
    setup: &Setup,
    binary: &str,
    corpus: &Corpus,
    access_log: Option<&Path>,
) -> anyhow::Result<Server> {
    let label = if access_log.is_some() { "log" } else { "main" };
    let nginx = setup.start_nginx(binary, &corpus.www(), label, access_log)?;
    let probe = &corpus.phones[0];
    servers::wait_for_200(
        nginx.http,
        &probe.main_file().name,
        &probe.ua,
        Instant::now(),
        Duration::from_secs(10),
    )
    .with_context(|| format!("nginx did not serve the files (see run/nginx-{label}/error.log)"))?;
    Ok(nginx)
}

/// P1 (with the ceiling, and wrk if asked), P2, P4, P3 against deskprov and nginx.
fn pairs(
    args: &Args,
    setup: &Setup,
    runtime: &tokio::runtime::Runtime,
    corpus: &Corpus,
    servers: [&Server; 2],
    report: &mut Report,
) -> anyhow::Result<()> {
    let [deskprov, nginx] = servers;
    let phones = Arc::new(corpus.phones.clone());
    if args.wants("p1") {
        let floor = match args.no_floor {
            true => None,
            false => Some(start_floor(corpus, &setup.dir, &setup.pin)?),
        };
        for round in 0..args.rounds {
            let pair = figures::p1_pair(args, runtime, "P1", round, servers, [&phones, &phones]);
            report.p1.push(pair);
            if let Some(floor) = &floor {
                let m = runtime.block_on(figures::p1_once(args, floor, phones.clone()));
                figures::log_p1("P1", round, floor, &m);
                report.p1_floor.push(m);
                floor.settle();
            }
        }
        if args.wrk {
            let wrk = checks::wrk_check(
                args, &setup.dir, corpus, nginx, &setup.pin, runtime, &phones,
            )?;
            report.wrk = Some(wrk);
        }
    }
    if args.wants("p2") {
        report.p2 = figures::storm_rounds(
            args,
            runtime,
            &servers,
            &corpus.phones,
            Transport::Plain,
            "P2",
        );
    }
    if args.wants("p4") {
        report.p4_after_p2 = Some(deskprov.rss_kb());
        report.p4_nginx = Some(nginx.rss_kb());
    }
    if args.wants("p3") {
        let tls = Transport::Tls(load::tls_connector());
        report.p3 = figures::storm_rounds(args, runtime, &servers, &corpus.phones, tls, "P3");
    }
    if args.wants("p4") {
        report.p4_end = Some(deskprov.rss_kb());
    }
    if args.hold {
        hold(&servers);
    }
    Ok(())
}

fn hold(servers: &[&Server]) {
    for s in servers {
        eprintln!("holding: {} pid {} on {}", s.name, s.child.id(), s.http);
    }
    eprintln!("press Enter to go on");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Starts the stack's ceiling on the corpus files and waits until it serves them.
fn start_floor(corpus: &Corpus, run_dir: &Path, pin: &Pinning) -> anyhow::Result<Server> {
    let log = run_dir.join("floor.log");
    let floor = servers::start_floor(&corpus.www(), &log, pin)?;
    let probe = &corpus.phones[0];
    servers::wait_for_200(
        floor.http,
        &probe.main_file().name,
        &probe.ua,
        Instant::now(),
        Duration::from_secs(120),
    )
    .context("the floor server did not serve the files")?;
    Ok(floor)
}

/// P6: a bulk insert of 10k users, 20k aliases and 10k devices through the store functions
/// (one transaction per 1000 users), into a new database.
fn p6(args: &Args, work: &Path, vendors: &Vendors) -> anyhow::Result<Vec<f64>> {
    let plan = corpus::plan(10_000, vendors)?;
    let mut times = Vec::new();
    for round in 0..args.rounds {
        let path = work.join("p6.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let took = corpus::fill(&path, 1, &plan, 1_000)?;
        eprintln!("P6 round {}: {:.2} s", round + 1, took.as_secs_f64());
        times.push(took.as_secs_f64());
    }
    Ok(times)
}

/// A note when deskprov's log `run/deskprov-<label>.log` has ERROR lines.
fn error_note(dir: &Path, label: &str) -> Option<String> {
    let name = format!("deskprov-{label}.log");
    let log = fs::read_to_string(dir.join(&name)).ok()?;
    let errors = log.lines().filter(|l| l.contains("ERROR")).count();
    (errors > 0).then(|| format!("{errors} ERROR lines in run/{name}"))
}

/// The work folder must be readable by nginx workers.
fn make_traversable(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut d = Some(dir);
    while let Some(p) = d {
        if let Ok(meta) = fs::metadata(p) {
            let mode = meta.permissions().mode();
            if mode & 0o005 != 0o005 {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(mode | 0o005));
            }
        }
        d = p.parent();
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let nproc = std::process::Command::new("nproc")
        .arg("--all")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| cpus.to_string());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    format!("{nproc} CPUs, {model}")
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
