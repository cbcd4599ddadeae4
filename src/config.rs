//! Settings of `deskprov serve`: each one a flag, a `DESKPROV_*` environment variable and a key
//! of the settings file ([`file`]).

pub mod check;
pub mod file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

use crate::tls::ClientCa;

/// Default database file.
pub const DEFAULT_DB: &str = "./deskprov.db";

/// The database location shared by every command.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// SQLite database file (created if missing).
    #[arg(long = "db", env = "DESKPROV_DB", default_value = DEFAULT_DB, value_name = "PATH")]
    pub path: PathBuf,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything `deskprov serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    /// Database.
    pub db: DbArgs,

    /// Address of the phone-facing plain HTTP listener.
    #[arg(
        long,
        env = "DESKPROV_PHONE_LISTEN",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub phone_listen: SocketAddr,

    /// Address of the admin listener (API, pages, health). Local only unless you open it.
    #[arg(
        long,
        env = "DESKPROV_ADMIN_LISTEN",
        default_value = "127.0.0.1:8081",
        value_name = "ADDR"
    )]
    pub admin_listen: SocketAddr,

    /// PEM certificate chain for the phone HTTPS listener.
    #[arg(long, env = "DESKPROV_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for the phone HTTPS listener.
    #[arg(long, env = "DESKPROV_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Address of the phone HTTPS listener (used when a certificate is given).
    #[arg(
        long,
        env = "DESKPROV_PHONE_TLS_LISTEN",
        default_value = "0.0.0.0:8443",
        value_name = "ADDR"
    )]
    pub phone_tls_listen: SocketAddr,

    /// A CA bundle (PEM) that phones' factory client certificates chain to; `VENDOR=FILE` ties
    /// it to one vendor (repeatable). Turns on client-certificate verification on HTTPS.
    #[arg(
        long = "client-ca",
        env = "DESKPROV_CLIENT_CA",
        value_delimiter = ',',
        value_name = "[VENDOR=]FILE"
    )]
    pub client_cas: Vec<ClientCa>,

    /// A proxy whose X-Forwarded-For is believed (CIDR; repeatable, or comma-separated in env).
    #[arg(
        long = "trusted-proxy",
        env = "DESKPROV_TRUSTED_PROXY",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// The URL phones reach deskprov at (`https://prov.example.com`), written into files that
    /// point phones at further files. Default: taken from each request's Host header.
    #[arg(long, env = "DESKPROV_PUBLIC_URL", value_parser = parse_public_url, value_name = "URL")]
    pub public_url: Option<String>,

    /// Misses (unknown MAC, wrong key or credentials, …) from one source that trigger a ban.
    #[arg(long, env = "DESKPROV_BAN_MISSES", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub ban_misses: u32,

    /// Window the misses are counted in (`60s`, `5m`).
    #[arg(long, env = "DESKPROV_BAN_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub ban_window: Duration,

    /// How long a ban lasts (`15m`, `24h`).
    #[arg(long, env = "DESKPROV_BAN_FOR", default_value = "15m", value_parser = parse_duration)]
    pub ban_for: Duration,

    /// How long a Digest nonce issued to a phone stays valid (`5m`; any value from `1s` up).
    /// A phone that answers with an expired nonce and the right password is told `stale=true`
    /// and retries without new credentials.
    #[arg(long, env = "DESKPROV_NONCE_LIFETIME", default_value = "5m", value_parser = parse_duration)]
    pub nonce_lifetime: Duration,

    /// How long a connection may stay idle between requests (no request in flight, no byte
    /// moving) before it is closed (`30s`). A request in flight is never cut.
    #[arg(long, env = "DESKPROV_KEEPALIVE_TIMEOUT", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub keepalive_timeout: Duration,

    /// Most open connections per listener; beyond it, the connection idle the longest is
    /// closed to make room (or the new one, when none is idle).
    #[arg(long, env = "DESKPROV_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub max_connections: u32,

    /// Most open connections per listener from one source address (an IPv6 address counts on
    /// its own); beyond it, that source's connection idle the longest is closed first.
    #[arg(long, env = "DESKPROV_MAX_CONNECTIONS_PER_SOURCE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub max_connections_per_source: u32,

    /// How long devices' history (their events: first fetches, changes, refusals, bans) is
    /// kept (`90d`), or `forever`; older events are deleted in the background.
    #[arg(
        long,
        env = "DESKPROV_FETCH_RETENTION",
        default_value = "90d",
        value_parser = parse_retention,
        value_name = "DURATION"
    )]
    pub fetch_retention: Retention,

    /// How often device states are written when only what may wait changed (last fetch time,
    /// counts): at most once per device per interval (`1m`), and at graceful shutdown. First
    /// fetches, new addresses or firmware, refusals and new versions are written at once.
    #[arg(long, env = "DESKPROV_STATE_FLUSH_INTERVAL", default_value = "1m", value_parser = parse_duration, value_name = "DURATION")]
    pub state_flush_interval: Duration,

    /// Write every phone request to this file, one line each in a format close to nginx's
    /// `combined` (docs/operations.md), or `off`. The file is reopened on SIGHUP (logrotate).
    #[arg(
        long,
        env = "DESKPROV_ACCESS_LOG",
        default_value = "off",
        value_parser = parse_access_log,
        value_name = "PATH|off"
    )]
    pub access_log: AccessLogTarget,

    /// Render every device's own files in the background after the start (and after a
    /// restore), so that phones are answered from files kept on disk rather than rendered as
    /// they ask (`on`), or `off`. Needs `--public-url`: files name the URL phones use.
    #[arg(
        long,
        env = "DESKPROV_RENDER_AHEAD",
        default_value = "on",
        value_parser = parse_on_off,
        action = clap::ArgAction::Set,
        value_name = "on|off"
    )]
    pub render_ahead: bool,

    /// Fill an empty database with a demo tenant, users, aliases and devices, and print what to try.
    #[arg(long, env = "DESKPROV_DEMO")]
    pub demo: bool,

    /// Log format.
    #[arg(long, env = "DESKPROV_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// Checks the settings that only make sense together (they may come from different
    /// layers: flags, environment, file).
    pub fn validate(&self) -> anyhow::Result<()> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key (tls_key) too"),
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert (tls_cert) too"),
            _ => {}
        }
        if !self.client_cas.is_empty() && self.tls_cert.is_none() {
            anyhow::bail!(
                "--client-ca needs the HTTPS listener: give --tls-cert and --tls-key too"
            );
        }
        Ok(())
    }
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(r)
            if !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]/_".contains(&b)) =>
        {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(
            "a public URL is http:// or https:// followed by a host, optional port and path".into(),
        ),
    }
}

/// How long something is kept: a duration, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => f.write_str(&crate::domain::phone_auth::format_duration(d)),
            None => f.write_str("forever"),
        }
    }
}

/// Where the access log goes: a file, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogTarget(pub Option<PathBuf>);

impl std::fmt::Display for AccessLogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(path) => write!(f, "{}", path.display()),
            None => f.write_str("off"),
        }
    }
}

/// `on` or `off`.
pub(crate) fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected on or off, not {other:?}")),
    }
}

fn parse_access_log(text: &str) -> Result<AccessLogTarget, String> {
    match text {
        "off" => Ok(AccessLogTarget(None)),
        "" => Err("a file path, or off".into()),
        path => Ok(AccessLogTarget(Some(PathBuf::from(path)))),
    }
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    if text == "forever" {
        return Ok(Retention(None));
    }
    parse_duration(text)
        .map(|d| Retention(Some(d)))
        .map_err(|e| format!("{e}, or forever"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::domain::phone_auth::parse_duration(text, "duration").map_err(|e| e.message)
}
