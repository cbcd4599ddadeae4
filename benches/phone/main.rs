//! deskprov against nginx on the phone path: P1–P6 of docs/performance.md.
//!
//! ```sh
//! cargo bench --bench phone                 # everything, defaults below
//! cargo bench --bench phone -- --help       # options
//! ```
//!
//! It fills a database with N devices over every vendor through the library's store functions
//! (each owner with two aliases; every phone recorded as having booted once before, unless
//! `--first-boot`), renders the very files deskprov serves into a folder, starts
//! the deskprov release binary and nginx (on those files, same certificate) as child processes,
//! checks that both answer byte-identical bodies, and then drives both with the same load,
//! alternating the servers, for several rounds: keep-alive random-MAC fetches (P1), a boot
//! storm with a new connection per file (P2), the storm over TLS with a full handshake per
//! connection (P3). It also measures memory (P4), start-up (P5) and a bulk insert (P6), and
//! prints medians with the ratio deskprov / nginx. P1 also runs the stack's ceiling (`floor.rs`):
//! axum and hyper answering with the same bytes from memory and doing nothing else.
//!
//! The load generator runs on one thread pinned to its own CPU, the servers on the others; it
//! reports its own CPU use next to the servers', so a reader can see which side was the limit.

mod corpus;
mod floor;
mod load;
mod micro;
mod servers;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use deskprov::profile::Vendors;

use corpus::{Corpus, Phone};
use load::{Run, Transport};
use servers::{Pinning, Server};

/// deskprov vs nginx on the phone path (docs/performance.md).
#[derive(Debug, Parser)]
struct Args {
    /// Devices in the database (one user with two aliases each).
    #[arg(long, default_value_t = 100_000)]
    devices: usize,
    /// Tenants the users are spread over.
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Rounds per figure; each round runs both servers, alternating which goes first.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// P1: measured seconds per run (after the warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// P1: warm-up seconds per run.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// P1: keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// P2/P3: phones in the storm.
    #[arg(long, default_value_t = 10_000)]
    storm_phones: usize,
    /// P2/P3: phones booting at the same time.
    #[arg(long, default_value_t = 128)]
    storm_concurrency: usize,
    /// Figures to run (comma-separated: p1,p2,p3,p4,p5,p6).
    #[arg(long, default_value = "p1,p2,p3,p4,p5,p6", value_delimiter = ',')]
    only: Vec<String>,
    /// CPUs of the load generator (taskset list); "none" to not pin anything.
    #[arg(long, default_value = "0")]
    client_cpus: String,
    /// CPUs of the servers (taskset list).
    #[arg(long, default_value = "1")]
    server_cpus: String,
    /// Work folder (database, files, logs). Default: the target directory's bench folder.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Start from phones that never fetched (first boot after install) instead of phones that
    /// booted once before (the default: a site after a power cut).
    #[arg(long)]
    first_boot: bool,
    /// Rebuild the database and the files even when a matching set exists.
    #[arg(long)]
    fresh: bool,
    /// The deskprov binary. Default: the one cargo built with this bench.
    #[arg(long)]
    deskprov: Option<PathBuf>,
    /// The nginx binary (installed from Debian packages when missing and run as root).
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// Also run wrk against nginx for P1, to compare the load generator with it.
    #[arg(long)]
    wrk: bool,
    /// Keep the servers running at the end until Enter is pressed (for `perf record -p`).
    #[arg(long)]
    hold: bool,
    /// Instead of the servers: time the phone path's parts in this process (reads, rendering,
    /// User-Agent parsing) over random devices, to see where a request's time goes.
    #[arg(long)]
    micro: bool,
    /// P1: leave out the stack's ceiling (axum and hyper serving the bytes from memory).
    #[arg(long)]
    no_floor: bool,
    /// Internal: be the ceiling server on this address (started by the bench itself).
    #[arg(long, hide = true)]
    serve_floor: Option<std::net::SocketAddr>,
    /// Internal: the files the ceiling server serves.
    #[arg(long, hide = true)]
    floor_www: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn wants(&self, figure: &str) -> bool {
        self.only.iter().any(|f| f.eq_ignore_ascii_case(figure))
    }
}

/// One run of one server: what the client saw and what both sides spent.
#[derive(Debug, Clone)]
struct Measured {
    run: Run,
    /// Server CPU seconds over the measured part (storms: until the server went idle).
    server_cpu: f64,
    /// Load generator CPU seconds over the measured part.
    client_cpu: f64,
}

impl Measured {
    fn server_us_per_req(&self) -> f64 {
        self.server_cpu * 1e6 / self.run.ok.max(1) as f64
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = args.serve_floor {
        let www = args.floor_www.as_deref().context("--floor-www")?;
        return floor::serve(www, addr);
    }
    let pin = if args.client_cpus == "none" {
        Pinning {
            client: None,
            server: None,
        }
    } else {
        Pinning {
            client: Some(args.client_cpus.clone()),
            server: Some(args.server_cpus.clone()),
        }
    };
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
    let corpus = corpus::ensure(
        &work,
        args.devices,
        args.tenants,
        !args.first_boot,
        args.fresh,
        &vendors,
    )?;
    if args.micro {
        return micro::run(&corpus, &vendors);
    }
    let needs_servers = ["p1", "p2", "p3", "p4", "p5"].iter().any(|f| args.wants(f));
    if needs_servers {
        serve_and_measure(&args, &work, &corpus, &pin, &mut report)?;
    }
    report.print(&args, &machine, &pin);
    Ok(())
}

fn serve_and_measure(
    args: &Args,
    work: &std::path::Path,
    corpus: &Corpus,
    pin: &Pinning,
    report: &mut Report,
) -> anyhow::Result<()> {
    let nginx_bin = servers::ensure_nginx(&args.nginx)?;
    let run_dir = work.join("run");
    let _ = fs::remove_dir_all(&run_dir);
    fs::create_dir_all(&run_dir)?;
    make_traversable(work)?;
    let db = run_dir.join("deskprov.db");
    fs::copy(corpus.pristine_db(), &db).context("copying the database")?;
    let (cert, key, _) = servers::certificate(&run_dir)?;
    let binary = args
        .deskprov
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_deskprov")));
    let probe = &corpus.phones[0];

    // P5: start-up to the first 200 of a per-MAC file; the last start serves the rest.
    let mut starts = Vec::new();
    let mut deskprov = None;
    for round in 0..args.rounds.max(1) {
        let t0 = Instant::now();
        let (server, _) = servers::start_deskprov(&binary, &db, &run_dir, &cert, &key, pin)?;
        let took = servers::wait_for_200(
            server.http,
            &probe.main_file().name,
            &probe.ua,
            t0,
            Duration::from_secs(30),
        )?;
        eprintln!("P5 round {}: first 200 after {:.0} ms", round + 1, ms(took));
        starts.push(ms(took));
        if round + 1 < args.rounds.max(1) {
            server.stop();
        } else {
            deskprov = Some(server);
        }
    }
    if args.wants("p5") {
        report.p5 = Some(starts);
    }
    let deskprov = deskprov.context("deskprov")?;
    let workers = pin.server_cpu_count();
    let nginx = servers::start_nginx(
        &nginx_bin,
        &corpus.www(),
        &run_dir,
        &cert,
        &key,
        workers,
        pin,
    )?;
    servers::wait_for_200(
        nginx.http,
        &probe.main_file().name,
        &probe.ua,
        Instant::now(),
        Duration::from_secs(10),
    )
    .context("nginx did not serve the files (see run/nginx/error.log)")?;
    verify_same_bytes(corpus, &deskprov, &nginx)?;
    deskprov.settle();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let phones = Arc::new(corpus.phones.clone());
    let servers = [&deskprov, &nginx];

    if args.wants("p1") {
        let mut floors = Vec::new();
        if !args.no_floor {
            floors.push(start_floor(corpus, &run_dir, pin)?);
        }
        report.p1_floors = vec![Vec::new(); floors.len()];
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let mut pair = [None, None];
            for &i in order(round) {
                let m = runtime.block_on(p1_once(args, servers[i], phones.clone()));
                log_p1(round, servers[i], &m);
                pair[i] = Some(m);
                servers[i].settle();
            }
            rounds.push(pair.map(Option::unwrap));
            for (floor, measured) in floors.iter().zip(&mut report.p1_floors) {
                let m = runtime.block_on(p1_once(args, floor, phones.clone()));
                log_p1(round, floor, &m);
                measured.push(m);
                floor.settle();
            }
        }
        report.p1 = rounds;
        if args.wrk {
            report.wrk = Some(wrk_check(
                args, &run_dir, corpus, &nginx, pin, &runtime, &phones,
            )?);
        }
    }
    if args.wants("p2") {
        report.p2 = storm_rounds(args, &runtime, &servers, corpus, Transport::Plain, "P2")?;
    }
    if args.wants("p4") {
        report.p4_after_p2 = Some(deskprov.rss_kb());
        report.p4_nginx = Some(nginx.rss_kb());
    }
    if args.wants("p3") {
        let tls = Transport::Tls(load::tls_connector());
        report.p3 = storm_rounds(args, &runtime, &servers, corpus, tls, "P3")?;
    }
    if args.wants("p4") {
        report.p4_end = Some(deskprov.rss_kb());
    }
    report.dropped_note = dropped_records(&run_dir);
    if args.hold {
        eprintln!(
            "holding: deskprov pid {} on {}, nginx pid {} on {}; press Enter to stop",
            deskprov.child.id(),
            deskprov.http,
            nginx.child.id(),
            nginx.http
        );
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    deskprov.stop();
    nginx.stop();
    Ok(())
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

fn log_p1(round: usize, server: &Server, m: &Measured) {
    eprintln!(
        "P1 round {} {}: {:.0} req/s, {} errors, server {:.1} µs/req, client CPU {:.0} %, p99 {:.2} ms",
        round + 1,
        server.name,
        m.run.rate(),
        m.run.errors,
        m.server_us_per_req(),
        100.0 * m.client_cpu / m.run.seconds,
        m.run.clone().quantile_ms(0.99),
    );
    for e in &m.run.error_samples {
        eprintln!("    error: {e}");
    }
}

/// deskprov first in odd rounds, nginx first in even ones.
fn order(round: usize) -> &'static [usize] {
    if round.is_multiple_of(2) {
        &[0, 1]
    } else {
        &[1, 0]
    }
}

async fn p1_once(args: &Args, server: &Server, phones: Arc<Vec<Phone>>) -> Measured {
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);
    let pid_cpu = || (server.cpu_seconds(), servers::own_cpu_seconds());
    let load = load::keepalive(server.http, phones, args.connections, warmup, duration);
    // CPU is read at the edges of the measured window, from a task beside the load.
    let sampler = async {
        tokio::time::sleep(warmup).await;
        let a = pid_cpu();
        tokio::time::sleep(duration).await;
        let b = pid_cpu();
        (b.0 - a.0, b.1 - a.1)
    };
    let (run, (server_cpu, client_cpu)) = tokio::join!(load, sampler);
    Measured {
        run,
        server_cpu,
        client_cpu,
    }
}

fn storm_rounds(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    servers: &[&Server; 2],
    corpus: &Corpus,
    transport: Transport,
    figure: &str,
) -> anyhow::Result<Vec<[Measured; 2]>> {
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        let phones = Arc::new(sample(&corpus.phones, args.storm_phones, round as u64 + 1));
        let mut pair = [None, None];
        for &i in order(round) {
            let server = servers[i];
            let addr = match transport {
                Transport::Plain => server.http,
                Transport::Tls(_) => server.https,
            };
            let (s0, c0) = (server.cpu_seconds(), servers::own_cpu_seconds());
            let run = runtime.block_on(load::storm(
                addr,
                transport.clone(),
                phones.clone(),
                args.storm_concurrency,
            ));
            let c1 = servers::own_cpu_seconds();
            server.settle();
            let m = Measured {
                server_cpu: server.cpu_seconds() - s0,
                client_cpu: c1 - c0,
                run,
            };
            eprintln!(
                "{figure} round {} {}: {} files in {:.2} s ({:.0}/s), {} errors, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, server {:.1} µs/file, client CPU {:.0} %",
                round + 1,
                server.name,
                m.run.ok,
                m.run.seconds,
                m.run.rate(),
                m.run.errors,
                m.run.clone().quantile_ms(0.5),
                m.run.clone().quantile_ms(0.99),
                m.run.clone().quantile_ms(1.0),
                m.server_us_per_req(),
                100.0 * m.client_cpu / m.run.seconds,
            );
            for e in &m.run.error_samples {
                eprintln!("    error: {e}");
            }
            pair[i] = Some(m);
        }
        rounds.push(pair.map(Option::unwrap));
    }
    Ok(rounds)
}

/// `n` distinct phones, shuffled with `seed` (the same sample for both servers of a round).
fn sample(phones: &[Phone], n: usize, seed: u64) -> Vec<Phone> {
    let mut idx: Vec<usize> = (0..phones.len()).collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n = n.min(phones.len());
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = i + (x as usize) % (idx.len() - i);
        idx.swap(i, j);
    }
    idx[..n].iter().map(|&i| phones[i].clone()).collect()
}

/// Fetches every boot file of a sample of phones (and every common file) from both servers
/// and fails unless the bodies are byte-identical.
fn verify_same_bytes(corpus: &Corpus, deskprov: &Server, nginx: &Server) -> anyhow::Result<()> {
    let picked = sample(&corpus.phones, 350, 99);
    let mut checked = 0;
    for phone in &picked {
        for file in &phone.boot {
            let (a_status, a) = servers::get(deskprov.http, &file.name, &phone.ua)?;
            let (b_status, b) = servers::get(nginx.http, &file.name, &phone.ua)?;
            ensure!(
                a_status == 200 && b_status == 200,
                "{}: deskprov {a_status}, nginx {b_status}",
                file.name
            );
            ensure!(
                a == b && a.len() == file.len,
                "{} differs: deskprov {} bytes, nginx {} bytes",
                file.name,
                a.len(),
                b.len()
            );
            checked += 1;
        }
    }
    eprintln!("bodies: {checked} files byte-identical on both servers");
    Ok(())
}

/// P6: a bulk insert of 10k users, 20k aliases and 10k devices through the store functions
/// (one transaction per 1000 users), into a new database.
fn p6(args: &Args, work: &std::path::Path, vendors: &Vendors) -> anyhow::Result<Vec<f64>> {
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

/// wrk against nginx with random per-MAC paths, next to this load generator's figure.
fn wrk_check(
    args: &Args,
    dir: &std::path::Path,
    corpus: &Corpus,
    nginx: &Server,
    pin: &Pinning,
    runtime: &tokio::runtime::Runtime,
    phones: &Arc<Vec<Phone>>,
) -> anyhow::Result<(f64, f64)> {
    let paths = dir.join("paths.txt");
    let list: Vec<&str> = corpus
        .phones
        .iter()
        .map(|p| p.main_file().name.as_str())
        .collect();
    fs::write(&paths, list.join("\n"))?;
    let script = dir.join("random.lua");
    fs::write(
        &script,
        format!(
            "local paths = {{}}\nfor line in io.lines(\"{}\") do paths[#paths + 1] = \"/\" .. line end\n\
             math.randomseed(7)\nrequest = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n",
            paths.display()
        ),
    )?;
    let mut cmd = std::process::Command::new(if pin.client.is_some() {
        "taskset"
    } else {
        "wrk"
    });
    if let Some(cpus) = &pin.client {
        cmd.args(["-c", cpus, "wrk"]);
    }
    let out = cmd
        .args(["-t1", &format!("-c{}", args.connections)])
        .arg(format!("-d{}s", args.duration))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{}/", nginx.http))
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let wrk_rate: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("wrk output")?;
    nginx.settle();
    let ours = runtime.block_on(p1_once(args, nginx, phones.clone()));
    eprintln!(
        "wrk check (nginx, P1 paths): wrk {wrk_rate:.0} req/s, this client {:.0} req/s",
        ours.run.rate()
    );
    Ok((wrk_rate, ours.run.rate()))
}

fn dropped_records(dir: &std::path::Path) -> Option<String> {
    let log = fs::read_to_string(dir.join("deskprov.log")).ok()?;
    let errors = log.lines().filter(|l| l.contains("ERROR")).count();
    (errors > 0).then(|| format!("{errors} ERROR lines in run/deskprov.log"))
}

/// The work folder must be readable by nginx workers.
fn make_traversable(dir: &std::path::Path) -> anyhow::Result<()> {
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

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Default)]
struct Report {
    p1: Vec<[Measured; 2]>,
    /// P1 of the stack's ceiling, one per round.
    p1_floors: Vec<Vec<Measured>>,
    p2: Vec<[Measured; 2]>,
    p3: Vec<[Measured; 2]>,
    p4_after_p2: Option<(u64, u64)>,
    p4_end: Option<(u64, u64)>,
    p4_nginx: Option<(u64, u64)>,
    p5: Option<Vec<f64>>,
    p6: Option<Vec<f64>>,
    wrk: Option<(f64, f64)>,
    dropped_note: Option<String>,
}

impl Report {
    fn print(&self, args: &Args, machine: &str, pin: &Pinning) {
        let med = |rounds: &[[Measured; 2]], i: usize, f: &dyn Fn(&Measured) -> f64| {
            median(rounds.iter().map(|r| f(&r[i])).collect())
        };
        println!();
        println!(
            "deskprov phone benchmark: {} devices, {} tenants, {} rounds; machine: {machine}; client CPUs {}, server CPUs {}; load average now {}",
            args.devices,
            args.tenants,
            args.rounds,
            pin.client.as_deref().unwrap_or("any"),
            pin.server.as_deref().unwrap_or("any"),
            load_average()
        );
        println!();
        println!("| figure | deskprov | nginx | ratio | target |");
        println!("|---|---|---|---|---|");
        if !self.p1.is_empty() {
            let rate = |m: &Measured| m.run.rate();
            let (d, n) = (med(&self.p1, 0, &rate), med(&self.p1, 1, &rate));
            println!(
                "| P1 keep-alive per-MAC fetches, {} conns, req/s | {d:.0} | {n:.0} | {:.2} | ≥ 1.00 |",
                args.connections,
                d / n
            );
            let cpu = |m: &Measured| m.server_us_per_req();
            let (d, n) = (med(&self.p1, 0, &cpu), med(&self.p1, 1, &cpu));
            println!(
                "| P1 server CPU per request, µs (lower is better) | {d:.1} | {n:.1} | {:.2} | |",
                d / n
            );
            let p99 = |m: &Measured| m.run.clone().quantile_ms(0.99);
            let (d, n) = (med(&self.p1, 0, &p99), med(&self.p1, 1, &p99));
            println!("| P1 p99 latency, ms | {d:.2} | {n:.2} | | |");
            let client = |m: &Measured| 100.0 * m.client_cpu / m.run.seconds;
            let (d, n) = (med(&self.p1, 0, &client), med(&self.p1, 1, &client));
            println!("| P1 load generator CPU, % of its core | {d:.0} | {n:.0} | | < 100 |");
            let ceilings = [
                "axum/hyper answering the same bytes from memory, no other work",
                "the same, recording every fetch with deskprov's fetch recorder",
                "the same, writing only each fetch's `fetches` row",
            ];
            for (what, floor) in ceilings.iter().zip(&self.p1_floors) {
                let of_floor = |f: &dyn Fn(&Measured) -> f64| median(floor.iter().map(f).collect());
                let (f, n) = (of_floor(&rate), med(&self.p1, 1, &rate));
                println!(
                    "| P1 stack ceiling: {what}, req/s | {f:.0} | {n:.0} | {:.2} | |",
                    f / n
                );
                let (f, n) = (of_floor(&cpu), med(&self.p1, 1, &cpu));
                println!(
                    "| P1 stack ceiling: {what}, server CPU per request, µs | {f:.1} | {n:.1} | {:.2} | |",
                    f / n
                );
                println!(
                    "| P1 stack ceiling: {what}, load generator CPU, % of its core | {:.0} | | | < 100 |",
                    of_floor(&client)
                );
            }
        }
        for (name, rounds, what) in [
            (
                "P2 boot storm, new connection per file",
                &self.p2,
                "files/s",
            ),
            (
                "P3 TLS storm, full handshake per connection",
                &self.p3,
                "files/s",
            ),
        ] {
            if rounds.is_empty() {
                continue;
            }
            let rate = |m: &Measured| m.run.rate();
            let (d, n) = (med(rounds, 0, &rate), med(rounds, 1, &rate));
            let target = if name.starts_with("P3") {
                "≥ 0.80"
            } else {
                ""
            };
            println!(
                "| {name}, {} phones, {} at once, {what} | {d:.0} | {n:.0} | {:.2} | {target} |",
                args.storm_phones,
                args.storm_concurrency,
                d / n
            );
            let p99 = |m: &Measured| m.run.clone().quantile_ms(0.99);
            let (d, n) = (med(rounds, 0, &p99), med(rounds, 1, &p99));
            let p99_target = if name.starts_with("P2") { "≤ 50" } else { "" };
            println!(
                "| {} p99 latency, ms | {d:.2} | {n:.2} | | {p99_target} |",
                &name[..2]
            );
            let errors: u64 = rounds.iter().map(|r| r[0].run.errors).sum();
            let nginx_errors: u64 = rounds.iter().map(|r| r[1].run.errors).sum();
            let served: u64 = rounds.iter().map(|r| r[0].run.ok).sum();
            println!(
                "| {} served / errors (all rounds) | {served} / {errors} | {} / {nginx_errors} | | 0 errors |",
                &name[..2],
                rounds.iter().map(|r| r[1].run.ok).sum::<u64>()
            );
            let cpu = |m: &Measured| m.server_us_per_req();
            let (d, n) = (med(rounds, 0, &cpu), med(rounds, 1, &cpu));
            println!(
                "| {} server CPU per file, µs (lower is better) | {d:.1} | {n:.1} | {:.2} | |",
                &name[..2],
                d / n
            );
            let client = |m: &Measured| 100.0 * m.client_cpu / m.run.seconds;
            let (d, n) = (med(rounds, 0, &client), med(rounds, 1, &client));
            println!(
                "| {} load generator CPU, % of its core | {d:.0} | {n:.0} | | < 100 |",
                &name[..2]
            );
        }
        if let Some((rss, peak)) = self.p4_after_p2 {
            let nginx = self
                .p4_nginx
                .map_or(String::new(), |(r, _)| format!("{:.1}", r as f64 / 1024.0));
            println!(
                "| P4 RSS after P1–P2, MB (peak) | {:.1} ({:.1}) | {nginx} | | ≤ 64 |",
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        if let Some((rss, peak)) = self.p4_end {
            println!(
                "| P4 RSS after P1–P3, MB (peak) | {:.1} ({:.1}) | | | |",
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        if let Some(starts) = &self.p5 {
            println!(
                "| P5 start-up to first 200, ms | {:.0} | | | ≤ 1000 |",
                median(starts.clone())
            );
        }
        if let Some(times) = &self.p6 {
            println!(
                "| P6 insert 10k users + 20k aliases + 10k devices (store functions), s | {:.2} | | | ≤ 10 |",
                median(times.clone())
            );
        }
        if let Some((wrk, ours)) = self.wrk {
            println!(
                "| wrk vs this load generator on nginx, P1 paths, req/s | wrk {wrk:.0} | ours {ours:.0} | {:.2} | |",
                ours / wrk
            );
        }
        if let Some(note) = &self.dropped_note {
            println!();
            println!("note: {note}");
        }
    }
}
