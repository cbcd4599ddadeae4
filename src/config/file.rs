//! The settings file, `--config deskprov.toml`: the same settings as the flags, layered
//! flags > environment > file > built-in defaults.
//!
//! clap knows flags, environment and defaults; the file is laid over what clap parsed, on every
//! setting whose value came from a default (`ArgMatches::value_source`). Keys are the flag names
//! with `_` for `-` (`phone_listen`); an unknown key is an error that names it and the file.
//! Relative paths in the file are read from the file's directory, so a file in `/etc/deskprov`
//! means the same whatever directory deskprov starts in. The command line picks the settings
//! each command uses (`cli::layer`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use ipnet::IpNet;

use super::{DbArgs, LogFormat, Retention, ServeConfig};
use crate::tls::ClientCa;

/// One setting: its key in the file, flag, environment variable and clap argument id.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Key in the file.
    pub key: &'static str,
    /// The flag.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    id: &'static str,
}

const fn setting(
    key: &'static str,
    flag: &'static str,
    env: &'static str,
    id: &'static str,
) -> Setting {
    Setting { key, flag, env, id }
}

/// Every setting, in the order `config check` prints them.
pub const SETTINGS: [Setting; 22] = [
    setting("db", "--db", "DESKPROV_DB", "path"),
    setting(
        "phone_listen",
        "--phone-listen",
        "DESKPROV_PHONE_LISTEN",
        "phone_listen",
    ),
    setting(
        "admin_listen",
        "--admin-listen",
        "DESKPROV_ADMIN_LISTEN",
        "admin_listen",
    ),
    setting("tls_cert", "--tls-cert", "DESKPROV_TLS_CERT", "tls_cert"),
    setting("tls_key", "--tls-key", "DESKPROV_TLS_KEY", "tls_key"),
    setting(
        "phone_tls_listen",
        "--phone-tls-listen",
        "DESKPROV_PHONE_TLS_LISTEN",
        "phone_tls_listen",
    ),
    setting(
        "client_ca",
        "--client-ca",
        "DESKPROV_CLIENT_CA",
        "client_cas",
    ),
    setting(
        "trusted_proxy",
        "--trusted-proxy",
        "DESKPROV_TRUSTED_PROXY",
        "trusted_proxies",
    ),
    setting(
        "public_url",
        "--public-url",
        "DESKPROV_PUBLIC_URL",
        "public_url",
    ),
    setting(
        "ban_misses",
        "--ban-misses",
        "DESKPROV_BAN_MISSES",
        "ban_misses",
    ),
    setting(
        "ban_window",
        "--ban-window",
        "DESKPROV_BAN_WINDOW",
        "ban_window",
    ),
    setting("ban_for", "--ban-for", "DESKPROV_BAN_FOR", "ban_for"),
    setting(
        "nonce_lifetime",
        "--nonce-lifetime",
        "DESKPROV_NONCE_LIFETIME",
        "nonce_lifetime",
    ),
    setting(
        "keepalive_timeout",
        "--keepalive-timeout",
        "DESKPROV_KEEPALIVE_TIMEOUT",
        "keepalive_timeout",
    ),
    setting(
        "max_connections",
        "--max-connections",
        "DESKPROV_MAX_CONNECTIONS",
        "max_connections",
    ),
    setting(
        "max_connections_per_source",
        "--max-connections-per-source",
        "DESKPROV_MAX_CONNECTIONS_PER_SOURCE",
        "max_connections_per_source",
    ),
    setting(
        "fetch_retention",
        "--fetch-retention",
        "DESKPROV_FETCH_RETENTION",
        "fetch_retention",
    ),
    setting(
        "state_flush_interval",
        "--state-flush-interval",
        "DESKPROV_STATE_FLUSH_INTERVAL",
        "state_flush_interval",
    ),
    setting(
        "access_log",
        "--access-log",
        "DESKPROV_ACCESS_LOG",
        "access_log",
    ),
    setting(
        "render_ahead",
        "--render-ahead",
        "DESKPROV_RENDER_AHEAD",
        "render_ahead",
    ),
    setting("demo", "--demo", "DESKPROV_DEMO", "demo"),
    setting(
        "log_format",
        "--log-format",
        "DESKPROV_LOG_FORMAT",
        "log_format",
    ),
];

fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// A `DESKPROV_*` environment variable.
    Env,
    /// The settings file.
    File,
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Flag => "flag",
            Origin::Env => "env",
            Origin::File => "file",
            Origin::Default => "default",
        })
    }
}

/// The origin of each setting a command uses, keyed by file key.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// The settings file in use, if any.
    pub file: Option<PathBuf>,
    entries: Vec<(&'static str, Origin)>,
}

impl Origins {
    /// No origin noted yet; `file` is the settings file in use, if any.
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            entries: Vec::new(),
        }
    }

    /// Where `key` came from (`Default` when the command does not use it).
    pub fn of(&self, key: &str) -> Origin {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Origin::Default, |(_, o)| *o)
    }
}

/// The values a settings file sets, parsed with the same rules as the flags.
#[derive(Debug, Clone, Default)]
pub struct FileSettings {
    db: Option<PathBuf>,
    phone_listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    phone_tls_listen: Option<SocketAddr>,
    client_cas: Option<Vec<ClientCa>>,
    trusted_proxies: Option<Vec<IpNet>>,
    public_url: Option<String>,
    ban_misses: Option<u32>,
    ban_window: Option<Duration>,
    ban_for: Option<Duration>,
    nonce_lifetime: Option<Duration>,
    keepalive_timeout: Option<Duration>,
    max_connections: Option<u32>,
    max_connections_per_source: Option<u32>,
    fetch_retention: Option<Retention>,
    access_log: Option<super::AccessLogTarget>,
    state_flush_interval: Option<Duration>,
    render_ahead: Option<bool>,
    demo: Option<bool>,
    log_format: Option<LogFormat>,
}

impl FileSettings {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the settings file {}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new("")))
            .with_context(|| format!("in the settings file {}", path.display()))
    }

    /// Parses settings text; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let table: toml::Table = text.parse().context("not valid TOML")?;
        let mut out = Self::default();
        for (key, value) in &table {
            let Some(setting) = find(key) else {
                let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
                bail!(
                    "unknown setting `{key}`; the settings are {}",
                    known.join(", ")
                );
            };
            out.set(setting.key, value, base)
                .with_context(|| format!("setting `{key}` (same rules as {})", setting.flag))?;
        }
        Ok(out)
    }

    fn set(&mut self, key: &str, value: &toml::Value, base: &Path) -> anyhow::Result<()> {
        let path = |v: &toml::Value| text(v).map(|t| base.join(t));
        match key {
            "db" => self.db = Some(path(value)?),
            "phone_listen" => self.phone_listen = Some(parsed(value)?),
            "admin_listen" => self.admin_listen = Some(parsed(value)?),
            "tls_cert" => self.tls_cert = Some(path(value)?),
            "tls_key" => self.tls_key = Some(path(value)?),
            "phone_tls_listen" => self.phone_tls_listen = Some(parsed(value)?),
            "client_ca" => {
                let cas = list(value)?
                    .into_iter()
                    .map(|v| {
                        let mut ca: ClientCa = parsed(v)?;
                        ca.path = base.join(&ca.path);
                        Ok(ca)
                    })
                    .collect::<anyhow::Result<_>>()?;
                self.client_cas = Some(cas);
            }
            "trusted_proxy" => {
                self.trusted_proxies = Some(
                    list(value)?
                        .into_iter()
                        .map(parsed)
                        .collect::<anyhow::Result<_>>()?,
                );
            }
            "public_url" => {
                self.public_url =
                    Some(super::parse_public_url(text(value)?).map_err(anyhow::Error::msg)?);
            }
            "ban_misses" => self.ban_misses = Some(count(value, key)?),
            "keepalive_timeout" => self.keepalive_timeout = Some(duration(value)?),
            "max_connections" => self.max_connections = Some(count(value, key)?),
            "max_connections_per_source" => {
                self.max_connections_per_source = Some(count(value, key)?);
            }
            "ban_window" => self.ban_window = Some(duration(value)?),
            "ban_for" => self.ban_for = Some(duration(value)?),
            "nonce_lifetime" => self.nonce_lifetime = Some(duration(value)?),
            "state_flush_interval" => self.state_flush_interval = Some(duration(value)?),
            "access_log" => {
                self.access_log =
                    Some(super::parse_access_log(text(value)?).map_err(anyhow::Error::msg)?);
            }
            "fetch_retention" => {
                self.fetch_retention =
                    Some(super::parse_retention(text(value)?).map_err(anyhow::Error::msg)?);
            }
            "render_ahead" => {
                self.render_ahead =
                    Some(super::parse_on_off(text(value)?).map_err(anyhow::Error::msg)?);
            }
            "demo" => self.demo = Some(value.as_bool().context("expected true or false")?),
            "log_format" => {
                self.log_format = Some(match text(value)? {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    other => bail!("expected \"text\" or \"json\", not {other:?}"),
                });
            }
            _ => unreachable!("every key in SETTINGS is handled"),
        }
        Ok(())
    }
}

fn text(value: &toml::Value) -> anyhow::Result<&str> {
    value.as_str().context("expected a string in quotes")
}

fn parsed<T: std::str::FromStr>(value: &toml::Value) -> anyhow::Result<T>
where
    T::Err: fmt::Display,
{
    let t = text(value)?;
    t.parse().map_err(|e| anyhow::anyhow!("{t:?}: {e}"))
}

/// A whole number from 1 up.
fn count(value: &toml::Value, key: &str) -> anyhow::Result<u32> {
    let n = value
        .as_integer()
        .with_context(|| format!("expected a whole number, like {key} = 10"))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .context("expected a number from 1 up")
}

fn duration(value: &toml::Value) -> anyhow::Result<Duration> {
    super::parse_duration(text(value)?).map_err(anyhow::Error::msg)
}

/// A list, or one value standing for a list of one.
fn list(value: &toml::Value) -> anyhow::Result<Vec<&toml::Value>> {
    Ok(match value {
        toml::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    })
}

/// Puts the file's value for `key` into `target` unless a flag or the environment set it, and
/// notes where the value came from.
fn lay<T>(
    origins: &mut Origins,
    m: &ArgMatches,
    key: &'static str,
    target: &mut T,
    file: Option<T>,
) {
    let id = find(key).map_or(key, |s| s.id);
    let origin = match (m.value_source(id), file) {
        (Some(ValueSource::CommandLine), _) => Origin::Flag,
        (Some(ValueSource::EnvVariable), _) => Origin::Env,
        (_, Some(value)) => {
            *target = value;
            Origin::File
        }
        (_, None) => Origin::Default,
    };
    origins.entries.push((key, origin));
}

impl FileSettings {
    /// Lays the file's database setting over `db`, whose flags and environment clap parsed
    /// into `m` (the matches of the command that has them).
    pub fn lay_db(&self, db: &mut DbArgs, m: &ArgMatches, o: &mut Origins) {
        lay(o, m, "db", &mut db.path, self.db.clone());
    }

    /// Lays every `serve` setting of the file over `c`, as [`FileSettings::lay_db`] does.
    pub fn lay_serve(&self, c: &mut ServeConfig, m: &ArgMatches, o: &mut Origins) {
        self.lay_db(&mut c.db, m, o);
        lay(o, m, "phone_listen", &mut c.phone_listen, self.phone_listen);
        lay(o, m, "admin_listen", &mut c.admin_listen, self.admin_listen);
        lay(
            o,
            m,
            "tls_cert",
            &mut c.tls_cert,
            self.tls_cert.clone().map(Some),
        );
        lay(
            o,
            m,
            "tls_key",
            &mut c.tls_key,
            self.tls_key.clone().map(Some),
        );
        lay(
            o,
            m,
            "phone_tls_listen",
            &mut c.phone_tls_listen,
            self.phone_tls_listen,
        );
        lay(
            o,
            m,
            "client_ca",
            &mut c.client_cas,
            self.client_cas.clone(),
        );
        lay(
            o,
            m,
            "trusted_proxy",
            &mut c.trusted_proxies,
            self.trusted_proxies.clone(),
        );
        lay(
            o,
            m,
            "public_url",
            &mut c.public_url,
            self.public_url.clone().map(Some),
        );
        lay(o, m, "ban_misses", &mut c.ban_misses, self.ban_misses);
        lay(o, m, "ban_window", &mut c.ban_window, self.ban_window);
        lay(o, m, "ban_for", &mut c.ban_for, self.ban_for);
        lay(
            o,
            m,
            "nonce_lifetime",
            &mut c.nonce_lifetime,
            self.nonce_lifetime,
        );
        self.lay_connections(c, m, o);
        self.lay_records(c, m, o);
        lay(o, m, "demo", &mut c.demo, self.demo);
        lay(o, m, "log_format", &mut c.log_format, self.log_format);
    }

    /// Lays the file's settings of what is kept of phones' requests over `c`.
    fn lay_records(&self, c: &mut ServeConfig, m: &ArgMatches, o: &mut Origins) {
        lay(
            o,
            m,
            "fetch_retention",
            &mut c.fetch_retention,
            self.fetch_retention,
        );
        lay(
            o,
            m,
            "state_flush_interval",
            &mut c.state_flush_interval,
            self.state_flush_interval,
        );
        lay(
            o,
            m,
            "access_log",
            &mut c.access_log,
            self.access_log.clone(),
        );
        lay(o, m, "render_ahead", &mut c.render_ahead, self.render_ahead);
    }

    /// Lays the file's connection limits over `c`.
    fn lay_connections(&self, c: &mut ServeConfig, m: &ArgMatches, o: &mut Origins) {
        lay(
            o,
            m,
            "keepalive_timeout",
            &mut c.keepalive_timeout,
            self.keepalive_timeout,
        );
        lay(
            o,
            m,
            "max_connections",
            &mut c.max_connections,
            self.max_connections,
        );
        lay(
            o,
            m,
            "max_connections_per_source",
            &mut c.max_connections_per_source,
            self.max_connections_per_source,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<FileSettings> {
        FileSettings::parse(text, Path::new("/etc/deskprov"))
    }

    #[test]
    fn every_setting_parses_with_the_flag_rules() {
        let s = parse(
            r#"
            db = "deskprov.db"
            phone_listen = "0.0.0.0:80"
            admin_listen = "127.0.0.1:9081"
            tls_cert = "/etc/ssl/prov.pem"
            tls_key = "prov.key"
            phone_tls_listen = "[::]:443"
            client_ca = ["yealink=ca/yealink.pem", "/etc/ca/all.pem"]
            trusted_proxy = "10.0.0.0/8"
            public_url = "https://prov.example.com/"
            ban_misses = 5
            ban_window = "2m"
            ban_for = "1h"
            keepalive_timeout = "45s"
            max_connections = 1000
            max_connections_per_source = 50
            demo = false
            log_format = "json"
            "#,
        )
        .unwrap();
        assert_eq!(s.db.unwrap(), Path::new("/etc/deskprov/deskprov.db"));
        assert_eq!(s.tls_cert.unwrap(), Path::new("/etc/ssl/prov.pem"));
        assert_eq!(s.tls_key.unwrap(), Path::new("/etc/deskprov/prov.key"));
        let cas = s.client_cas.unwrap();
        assert_eq!(cas[0].vendor.as_deref(), Some("yealink"));
        assert_eq!(cas[0].path, Path::new("/etc/deskprov/ca/yealink.pem"));
        assert_eq!(cas[1].path, Path::new("/etc/ca/all.pem"));
        assert_eq!(
            s.trusted_proxies.unwrap(),
            ["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert_eq!(s.public_url.unwrap(), "https://prov.example.com");
        assert_eq!(s.ban_misses, Some(5));
        assert_eq!(s.ban_window, Some(Duration::from_secs(120)));
        assert_eq!(s.ban_for, Some(Duration::from_secs(3600)));
        assert_eq!(s.log_format, Some(LogFormat::Json));
        assert_eq!(s.keepalive_timeout, Some(Duration::from_secs(45)));
        assert_eq!(s.max_connections, Some(1000));
        assert_eq!(s.max_connections_per_source, Some(50));
    }

    #[test]
    fn bad_values_name_the_setting_and_the_rule() {
        for (text, words) in [
            (
                "phone_lisen = \"0.0.0.0:80\"",
                &["unknown setting `phone_lisen`", "phone_listen"][..],
            ),
            (
                "phone_listen = \"nowhere\"",
                &["`phone_listen`", "--phone-listen", "nowhere"],
            ),
            ("ban_misses = 0", &["`ban_misses`", "from 1 up"]),
            ("max_connections = 0", &["`max_connections`", "from 1 up"]),
            (
                "max_connections_per_source = \"many\"",
                &["`max_connections_per_source`", "whole number"],
            ),
            ("ban_misses = \"10\"", &["`ban_misses`", "whole number"]),
            ("ban_for = \"15 minutes\"", &["`ban_for`", "duration"]),
            ("log_format = \"xml\"", &["`log_format`", "\"xml\""]),
            (
                "public_url = \"prov.example.com\"",
                &["`public_url`", "http://"],
            ),
            ("trusted_proxy = [\"10.0.0.0/33\"]", &["`trusted_proxy`"]),
            ("demo = \"yes\"", &["`demo`", "true or false"]),
            ("db = ", &["TOML"]),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            for word in words {
                assert!(err.contains(word), "{text}: {err:?} lacks {word:?}");
            }
        }
    }
}
