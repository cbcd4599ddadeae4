//! The two servers under test as child processes: deskprov (the release binary) and nginx on
//! the same files; their CPU time and memory read from /proc.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::corpus::PUBLIC_URL;

/// Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// A running server: its processes and where it listens.
pub struct Server {
    /// `deskprov`, `nginx`, `floor`, with what sets it apart (`deskprov+log`, `deskprov p7-large`).
    pub name: String,
    /// The process started (nginx: the master).
    pub child: Child,
    /// The plain HTTP phone listener.
    pub http: SocketAddr,
    /// The HTTPS phone listener.
    pub https: SocketAddr,
    /// deskprov's admin listener (API, pages, `/metrics`).
    pub admin: Option<SocketAddr>,
}

impl Server {
    /// CPU seconds (user + system) used so far by the server and its worker processes.
    pub fn cpu_seconds(&self) -> f64 {
        family(self.child.id())
            .into_iter()
            .map(|pid| proc_cpu_ticks(pid).unwrap_or(0))
            .sum::<u64>() as f64
            / TICKS
    }

    /// Resident memory, kB, summed over the server's processes: now and at its peak.
    pub fn rss_kb(&self) -> (u64, u64) {
        family(self.child.id())
            .into_iter()
            .map(|pid| (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:")))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    }

    /// Waits until the server has used (almost) no CPU for 300 ms: deferred work such as
    /// deskprov's fetch-record writes belongs to the run that caused it.
    pub fn settle(&self) {
        let start = Instant::now();
        let mut last = self.cpu_seconds();
        while start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.cpu_seconds();
            if now - last < 0.02 {
                return;
            }
            last = now;
        }
    }

    /// Waits until deskprov has rendered every device's files ahead (its `/metrics` counts a
    /// finished pass), at most `limit`; how long it waited. Phones are answered meanwhile, by
    /// rendering; the figures are of the server as it runs once that is done.
    pub fn wait_rendered_ahead(&self, limit: Duration) -> anyhow::Result<Duration> {
        let admin = self.admin.context("deskprov's admin listener")?;
        let start = Instant::now();
        while start.elapsed() < limit {
            // A server busy rendering may answer slowly: try again.
            let Ok((_, body)) = get(admin, "metrics", "bench") else {
                continue;
            };
            let passes = String::from_utf8_lossy(&body)
                .lines()
                .find_map(|l| l.strip_prefix("deskprov_phone_render_ahead_passes_total "))
                .and_then(|v| v.trim().parse::<u64>().ok());
            match passes {
                Some(n) if n > 0 => return Ok(start.elapsed()),
                Some(_) => std::thread::sleep(Duration::from_millis(100)),
                None => {
                    bail!("deskprov's /metrics has no deskprov_phone_render_ahead_passes_total")
                }
            }
        }
        bail!("deskprov did not render every device's files within {limit:?}")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(self) {
        // Dropping does it.
    }
}

impl Drop for Server {
    /// Also on an early return or a panic: no server outlives the benchmark.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pid` and its child processes (nginx workers).
fn family(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    if let Ok(children) = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        out.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    out
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU seconds this process (the load generator) has used.
pub fn own_cpu_seconds() -> f64 {
    proc_cpu_ticks(std::process::id()).unwrap_or(0) as f64 / TICKS
}

fn status_kb(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A free loopback port (bound and released; fine on a quiet test machine).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// CPU placement: `taskset -c <cpus>` in front of a command, when pinning.
#[derive(Debug, Clone)]
pub struct Pinning {
    /// CPUs of the load generator.
    pub client: Option<String>,
    /// CPUs of the servers.
    pub server: Option<String>,
}

impl Pinning {
    /// `program`, behind `taskset` when the servers are pinned.
    pub fn command(&self, program: &str) -> Command {
        match &self.server {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus, program]);
                c
            }
            None => Command::new(program),
        }
    }

    /// Pins this process (all its threads, and those it starts later) to the client CPUs.
    pub fn pin_self(&self) -> anyhow::Result<()> {
        if let Some(cpus) = &self.client {
            let ok = Command::new("taskset")
                .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
                .stdout(Stdio::null())
                .status()
                .context("running taskset (util-linux)")?
                .success();
            if !ok {
                bail!("taskset -c {cpus} failed");
            }
        }
        Ok(())
    }

    /// How many CPUs the servers may use.
    pub fn server_cpu_count(&self) -> usize {
        match &self.server {
            Some(list) => list
                .split(',')
                .map(|part| match part.split_once('-') {
                    Some((a, b)) => {
                        b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0)
                    }
                    None => 1,
                })
                .sum(),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// A self-signed ECDSA P-256 certificate for `prov.bench.test` (the key type rustls and
/// OpenSSL both serve here), written as PEM.
pub fn certificate(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, Vec<u8>)> {
    let made = rcgen::generate_simple_self_signed(vec!["prov.bench.test".to_owned()])?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    fs::write(&cert, made.cert.pem())?;
    fs::write(&key, made.signing_key.serialize_pem())?;
    Ok((cert, key, made.cert.der().to_vec()))
}

/// What every server of a run shares: the deskprov binary, the run folder (logs, nginx
/// prefixes), the certificate and the CPU placement.
pub struct Setup {
    /// The deskprov binary.
    pub binary: PathBuf,
    /// The run folder.
    pub dir: PathBuf,
    /// The certificate both servers present (PEM).
    pub cert: PathBuf,
    /// Its key (PEM).
    pub key: PathBuf,
    /// Where the servers and the load generator run.
    pub pin: Pinning,
}

impl Setup {
    /// Starts the deskprov release binary on `db`, with HTTPS, its stderr in
    /// `deskprov-<label>.log`; with `access_log`, it writes its access log there (else it runs
    /// with its default, `--access-log off`). Does not wait for it.
    pub fn start_deskprov(
        &self,
        db: &Path,
        label: &str,
        access_log: Option<&Path>,
    ) -> anyhow::Result<Server> {
        let (http, https, admin) = (free_port()?, free_port()?, free_port()?);
        let log = fs::File::create(self.dir.join(format!("deskprov-{label}.log")))?;
        let mut cmd = self
            .pin
            .command(self.binary.to_str().context("binary path")?);
        cmd.args(["serve", "--db"])
            .arg(db)
            .args(["--phone-listen", &http.to_string()])
            .args(["--admin-listen", &admin.to_string()])
            .args(["--phone-tls-listen", &https.to_string()])
            .arg("--tls-cert")
            .arg(&self.cert)
            .arg("--tls-key")
            .arg(&self.key)
            .args(["--public-url", PUBLIC_URL]);
        if let Some(path) = access_log {
            cmd.arg("--access-log").arg(path);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let name = match (access_log, label) {
            (Some(_), _) => "deskprov+log".to_owned(),
            (None, "main") => "deskprov".to_owned(),
            (None, label) => format!("deskprov {label}"),
        };
        Ok(Server {
            name,
            child,
            http,
            https,
            admin: Some(admin),
        })
    }

    /// Creates an admin API token in `db` with `deskprov token create` (before the server runs).
    pub fn admin_token(&self, db: &Path) -> anyhow::Result<String> {
        let out = Command::new(&self.binary)
            .args([
                "token", "create", "--role", "admin", "--name", "bench", "--db",
            ])
            .arg(db)
            .stderr(Stdio::inherit())
            .output()
            .context("deskprov token create")?;
        ensure!(out.status.success(), "deskprov token create failed");
        let text = String::from_utf8(out.stdout)?;
        let token = text.lines().last().unwrap_or_default().trim().to_owned();
        ensure!(token.starts_with("dp_"), "no token in {text:?}");
        Ok(token)
    }
}

/// Starts the stack's ceiling (`floor.rs`): this bench binary again with `--serve-floor`,
/// serving the files under `www` from memory. Its stderr goes to `log`.
pub fn start_floor(www: &Path, log: &Path, pin: &Pinning) -> anyhow::Result<Server> {
    let http = free_port()?;
    let exe = std::env::current_exe()?;
    let child = pin
        .command(exe.to_str().context("bench binary path")?)
        .args(["--serve-floor", &http.to_string()])
        .arg("--floor-www")
        .arg(www)
        .stdout(Stdio::null())
        .stderr(fs::File::create(log)?)
        .spawn()
        .context("starting the floor server")?;
    Ok(Server {
        name: "floor".to_owned(),
        child,
        http,
        https: http,
        admin: None,
    })
}

/// Polls `path` on `addr` (a new connection each time) until it answers 200; the time from
/// `since`. Gives up after `limit`.
pub fn wait_for_200(
    addr: SocketAddr,
    path: &str,
    ua: &str,
    since: Instant,
    limit: Duration,
) -> anyhow::Result<Duration> {
    while since.elapsed() < limit {
        if let Ok(200) = get_status(addr, path, ua) {
            return Ok(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!("no 200 for {path} from {addr} within {limit:?}")
}

/// One blocking GET; the status code and body.
pub fn get(addr: SocketAddr, path: &str, ua: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: prov.bench.test\r\nUser-Agent: {ua}\r\nConnection: close\r\n\r\n"
    )?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)?;
    let head_end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of head")?;
    let status = std::str::from_utf8(&all[9..12])?.parse()?;
    Ok((status, all[head_end + 4..].to_vec()))
}

fn get_status(addr: SocketAddr, path: &str, ua: &str) -> anyhow::Result<u16> {
    Ok(get(addr, path, ua)?.0)
}

/// Whether the bench runs as root.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
