//! `deskprov config check`: the settings `serve` would use, where each comes from, and whether
//! they work (TLS files load and match, CA bundles parse, the database is deskprov's, listeners
//! do not collide), without starting anything.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use clap::ValueEnum;

use super::ServeConfig;
use super::file::{Origins, SETTINGS};
use crate::domain::phone_auth::format_duration;
use crate::profile::Vendors;
use crate::service::ops;
use crate::tls;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Ok(String),
    /// Fine, but worth knowing.
    Note(String),
    /// `serve` would fail or misbehave.
    Problem(String),
}

/// What `config check` found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Each setting: file key, value as text, where it came from.
    pub settings: Vec<(&'static str, String, String)>,
    /// The checks, in order.
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// How many problems were found.
    pub fn problems(&self) -> usize {
        self.verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Problem(_)))
            .count()
    }

    /// The report as printed.
    pub fn render(&self, origins: &Origins) -> String {
        let mut out = String::new();
        match &origins.file {
            Some(file) => writeln!(out, "Settings (file {}):", file.display()),
            None => writeln!(out, "Settings (no settings file):"),
        }
        .ok();
        for (key, value, origin) in &self.settings {
            writeln!(out, "  {key:<17} {value:<40} {origin}").ok();
        }
        writeln!(out, "Checks:").ok();
        for verdict in &self.verdicts {
            let (tag, text) = match verdict {
                Verdict::Ok(t) => ("ok     ", t),
                Verdict::Note(t) => ("note   ", t),
                Verdict::Problem(t) => ("PROBLEM", t),
            };
            writeln!(out, "  {tag} {text}").ok();
        }
        out
    }
}

/// Checks `config`, whose settings came from `origins`.
pub fn check(config: &ServeConfig, origins: &Origins) -> Report {
    let settings = SETTINGS
        .iter()
        .map(|s| {
            let origin = origins.of(s.key);
            let from = match origin {
                super::file::Origin::Env => format!("{origin} {}", s.env),
                super::file::Origin::Flag => format!("{origin} {}", s.flag),
                _ => origin.to_string(),
            };
            (s.key, value_text(config, s.key), from)
        })
        .collect();
    let mut verdicts = Vec::new();
    if let Err(e) = config.validate() {
        verdicts.push(Verdict::Problem(format!("{e:#}")));
    }
    verdicts.extend(listeners(config));
    verdicts.extend(tls_files(config));
    verdicts.push(database(&config.db.path));
    Report { settings, verdicts }
}

fn value_text(c: &ServeConfig, key: &str) -> String {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.display().to_string())
    };
    let joined = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(",")
        }
    };
    match key {
        "db" => c.db.path.display().to_string(),
        "phone_listen" => c.phone_listen.to_string(),
        "admin_listen" => c.admin_listen.to_string(),
        "tls_cert" => path(&c.tls_cert),
        "tls_key" => path(&c.tls_key),
        "phone_tls_listen" => c.phone_tls_listen.to_string(),
        "client_ca" => joined(
            c.client_cas
                .iter()
                .map(|ca| match &ca.vendor {
                    Some(v) => format!("{v}={}", ca.path.display()),
                    None => ca.path.display().to_string(),
                })
                .collect(),
        ),
        "trusted_proxy" => joined(c.trusted_proxies.iter().map(ToString::to_string).collect()),
        "public_url" => c.public_url.clone().unwrap_or_else(|| "-".into()),
        "ban_misses" => c.ban_misses.to_string(),
        "ban_window" => format_duration(c.ban_window),
        "ban_for" => format_duration(c.ban_for),
        "nonce_lifetime" => format_duration(c.nonce_lifetime),
        "keepalive_timeout" => format_duration(c.keepalive_timeout),
        "max_connections" => c.max_connections.to_string(),
        "max_connections_per_source" => c.max_connections_per_source.to_string(),
        "fetch_retention" => c.fetch_retention.to_string(),
        "access_log" => c.access_log.to_string(),
        "state_flush_interval" => format_duration(c.state_flush_interval),
        "render_ahead" => if c.render_ahead { "on" } else { "off" }.to_owned(),
        "demo" => c.demo.to_string(),
        "log_format" => c
            .log_format
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_owned()),
        _ => String::new(),
    }
}

fn listeners(c: &ServeConfig) -> Vec<Verdict> {
    let mut named: Vec<(&str, SocketAddr)> = vec![
        ("phone_listen", c.phone_listen),
        ("admin_listen", c.admin_listen),
    ];
    if c.tls_cert.is_some() {
        named.push(("phone_tls_listen", c.phone_tls_listen));
    }
    let mut out = Vec::new();
    for (i, (a, addr_a)) in named.iter().enumerate() {
        for (b, addr_b) in &named[i + 1..] {
            if addr_a.port() != 0 && addr_a.port() == addr_b.port() && overlaps(*addr_a, *addr_b) {
                out.push(Verdict::Problem(format!(
                    "{a} and {b} both use {addr_a} / {addr_b}: each listener needs its own address"
                )));
            }
        }
    }
    if out.is_empty() {
        out.push(Verdict::Ok("listener addresses are distinct".into()));
    }
    if !c.admin_listen.ip().is_loopback() {
        out.push(Verdict::Note(format!(
            "the admin listener {} is reachable from other hosts: the API needs tokens, but /healthz and /metrics do not",
            c.admin_listen
        )));
    }
    out
}

/// Whether two addresses with one port would collide (same IP, or either is a wildcard).
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified()
}

fn tls_files(c: &ServeConfig) -> Vec<Verdict> {
    let (Some(cert), Some(key)) = (&c.tls_cert, &c.tls_key) else {
        return vec![Verdict::Ok(
            "HTTPS for phones is off (no tls_cert/tls_key)".into(),
        )];
    };
    let mut out = vec![match tls::check_files(cert, key, &c.client_cas) {
        Ok(()) => Verdict::Ok(format!(
            "TLS certificate {} and key {} load and belong together{}",
            cert.display(),
            key.display(),
            if c.client_cas.is_empty() {
                String::new()
            } else {
                format!("; {} client CA bundle(s) parse", c.client_cas.len())
            }
        )),
        Err(e) => Verdict::Problem(format!("TLS: {e:#}")),
    }];
    if let Ok(vendors) = Vendors::builtin() {
        for ca in &c.client_cas {
            if let Some(v) = &ca.vendor
                && vendors.get(v).is_none()
            {
                let known: Vec<&str> = vendors.all().iter().map(|v| v.id()).collect();
                out.push(Verdict::Problem(format!(
                    "client_ca {}: `{v}` is not a vendor; vendors are {}",
                    ca.path.display(),
                    known.join(", ")
                )));
            }
        }
    }
    out
}

fn database(db: &Path) -> Verdict {
    if !db.exists() {
        let dir = db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return if dir.is_dir() {
            Verdict::Ok(format!(
                "database {} does not exist yet; serve will create it",
                db.display()
            ))
        } else {
            Verdict::Problem(format!(
                "database {}: directory {} does not exist",
                db.display(),
                dir.display()
            ))
        };
    }
    match ops::schema_version(db) {
        Ok(version) => Verdict::Ok(format!(
            "database {} is a deskprov database (schema {version})",
            db.display()
        )),
        Err(e) => Verdict::Problem(format!("database: {e}")),
    }
}
