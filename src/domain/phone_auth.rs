//! How a tenant's phones prove who they are: the per-tenant phone-side policy.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::RuleError;

/// How phones authenticate over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhoneAuthMode {
    /// No HTTP credentials; the allow-list, URL key and client certificates still apply.
    #[default]
    None,
    /// HTTP Digest (RFC 7616).
    Digest,
    /// HTTP Basic (only sensible over HTTPS).
    Basic,
}

/// The ranges a fresh tenant accepts phones from: loopback and private networks only.
pub const DEFAULT_ALLOW_CIDRS: [&str; 6] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

/// Given as `url_key`, asks for a fresh random key (the store replaces it before writing; it is
/// too short to be a key itself).
pub const GENERATE_URL_KEY: &str = "generate";

/// Length of generated URL keys.
pub const GENERATED_URL_KEY_CHARS: usize = 24;

/// Shortest URL key accepted.
pub const MIN_URL_KEY_CHARS: usize = 16;

/// A tenant's phone-side policy, checked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneAuth {
    /// HTTP authentication mode.
    pub mode: PhoneAuthMode,
    /// Username for digest/basic.
    pub username: Option<String>,
    /// Passwords accepted (two during a rotation).
    pub passwords: Vec<String>,
    /// Source ranges phones may fetch from.
    pub allow_cidrs: Vec<IpNet>,
    /// Secret first path segment, if the tenant uses one.
    pub url_key: Option<String>,
    /// Whether phones must present a factory client certificate.
    pub require_client_cert: bool,
    /// Whether per-device files (they carry passwords) are refused over plain HTTP.
    #[serde(default)]
    pub require_https: bool,
}

impl std::fmt::Debug for PhoneAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneAuth")
            .field("mode", &self.mode)
            .field("username", &self.username)
            .field(
                "passwords",
                &format_args!("[{} redacted]", self.passwords.len()),
            )
            .field("allow_cidrs", &self.allow_cidrs)
            .field("url_key", &self.url_key.as_ref().map(|_| "***"))
            .field("require_client_cert", &self.require_client_cert)
            .field("require_https", &self.require_https)
            .finish()
    }
}

impl Default for PhoneAuth {
    fn default() -> Self {
        Self {
            mode: PhoneAuthMode::None,
            username: None,
            passwords: Vec::new(),
            allow_cidrs: DEFAULT_ALLOW_CIDRS
                .iter()
                .map(|c| c.parse().expect("built-in CIDRs parse"))
                .collect(),
            url_key: None,
            require_client_cert: false,
            require_https: false,
        }
    }
}

/// The policy as written in API bodies; missing fields keep their current (or default) value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneAuthInput {
    /// `none`, `digest` or `basic`.
    pub mode: Option<PhoneAuthMode>,
    /// Username for digest/basic.
    pub username: Option<String>,
    /// One or two passwords.
    #[schema(max_items = 2)]
    pub passwords: Option<Vec<String>>,
    /// Allowed source ranges.
    pub allow_cidrs: Option<Vec<String>>,
    /// URL key; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub url_key: Option<Option<String>>,
    /// Require client certificates.
    pub require_client_cert: Option<bool>,
    /// Refuse per-device files over plain HTTP.
    pub require_https: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl PhoneAuth {
    /// Applies `input` on top of `self` and checks the result. Returns the new policy and
    /// whether a password must be generated (a password mode with none given).
    pub fn apply(&self, input: &PhoneAuthInput) -> Result<(PhoneAuth, bool), RuleError> {
        let mut next = self.clone();
        if let Some(mode) = input.mode {
            next.mode = mode;
        }
        if let Some(username) = &input.username {
            let ok = !username.is_empty()
                && username.len() <= 64
                && username
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(RuleError::new(
                    "phone_auth.username",
                    "username_invalid",
                    "1 to 64 characters of letters, digits, '.', '_' and '-'",
                ));
            }
            next.username = Some(username.clone());
        }
        if let Some(passwords) = &input.passwords {
            if passwords.len() > 2 {
                return Err(RuleError::new(
                    "phone_auth.passwords",
                    "too_many_passwords",
                    "at most two passwords are valid at once (the current and the next, for rotation)",
                ));
            }
            for (i, pw) in passwords.iter().enumerate() {
                super::SipPassword::parse(pw, &format!("phone_auth.passwords[{i}]"))?;
            }
            next.passwords = passwords.clone();
        }
        if let Some(cidrs) = &input.allow_cidrs {
            next.allow_cidrs = parse_cidrs(cidrs, "phone_auth.allow_cidrs")?;
        }
        if let Some(key) = &input.url_key {
            if let Some(k) = key
                && k != GENERATE_URL_KEY
            {
                check_url_key(k)?;
            }
            next.url_key = key.clone();
        }
        if let Some(require) = input.require_https {
            next.require_https = require;
        }
        if let Some(require) = input.require_client_cert {
            next.require_client_cert = require;
        }
        if next.mode == PhoneAuthMode::None {
            next.username = None;
            next.passwords.clear();
            return Ok((next, false));
        }
        if next.username.is_none() {
            return Err(RuleError::new(
                "phone_auth.username",
                "username_required",
                "digest and basic authentication need a username",
            ));
        }
        let generate = next.passwords.is_empty();
        Ok((next, generate))
    }

    /// Whether `ip` may fetch under this policy.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        ip_in(&self.allow_cidrs, ip)
    }
}

fn check_url_key(key: &str) -> Result<(), RuleError> {
    let ok = key.len() >= MIN_URL_KEY_CHARS
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            "phone_auth.url_key",
            "url_key_invalid",
            format!(
                "a URL key is {MIN_URL_KEY_CHARS} to 128 characters of letters, digits, '-' and '_'"
            ),
        ))
    }
}

/// Parses CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`); errors name `field[i]`.
pub fn parse_cidrs(list: &[String], field: &str) -> Result<Vec<IpNet>, RuleError> {
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            c.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
                RuleError::new(
                    format!("{field}[{i}]"),
                    "cidr_invalid",
                    format!("'{c}' is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32"),
                )
            })
        })
        .collect()
}

/// Whether `ip` falls in any of `nets` (IPv4-mapped IPv6 addresses count as IPv4).
pub fn ip_in(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    nets.iter().any(|net| net.contains(&ip))
}

/// Parses a duration such as `90s`, `30m`, `72h` or `7d` for `field`.
pub fn parse_duration(input: &str, field: &str) -> Result<Duration, RuleError> {
    let invalid = || {
        RuleError::new(
            field,
            "duration_invalid",
            "a duration is a whole number followed by s, m, h or d (e.g. 72h)",
        )
    };
    let unit = input.chars().last().ok_or_else(invalid)?;
    let number: u64 = input[..input.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| invalid())?;
    let seconds = match unit {
        's' => Some(number),
        'm' => number.checked_mul(60),
        'h' => number.checked_mul(3600),
        'd' => number.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| *s > 0 && *s <= 10 * 365 * 86_400)
    .ok_or_else(invalid)?;
    Ok(Duration::from_secs(seconds))
}

/// Writes a duration the way [`parse_duration`] reads it, in the largest whole unit.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_admits_lans_and_refuses_the_internet() {
        let auth = PhoneAuth::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.9",
            "192.168.1.50",
            "::1",
            "fd00::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(auth.allows_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!auth.allows_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn password_modes_need_a_username_and_generate_a_password_when_none_is_given() {
        let input = PhoneAuthInput {
            mode: Some(PhoneAuthMode::Digest),
            ..Default::default()
        };
        assert_eq!(
            PhoneAuth::default().apply(&input).unwrap_err().code,
            "username_required"
        );
        let input = PhoneAuthInput {
            mode: Some(PhoneAuthMode::Digest),
            username: Some("phones".into()),
            ..Default::default()
        };
        let (auth, generate) = PhoneAuth::default().apply(&input).unwrap();
        assert!(generate);
        assert_eq!(auth.mode, PhoneAuthMode::Digest);
    }

    #[test]
    fn bad_cidrs_keys_and_passwords_name_their_field() {
        let input = PhoneAuthInput {
            allow_cidrs: Some(vec!["10.0.0.0/8".into(), "10.0.0.0/33".into()]),
            ..Default::default()
        };
        assert_eq!(
            PhoneAuth::default().apply(&input).unwrap_err().field,
            "phone_auth.allow_cidrs[1]"
        );
        let input = PhoneAuthInput {
            url_key: Some(Some("short".into())),
            ..Default::default()
        };
        assert_eq!(
            PhoneAuth::default().apply(&input).unwrap_err().code,
            "url_key_invalid"
        );
        let input = PhoneAuthInput {
            passwords: Some(vec!["weak".into()]),
            ..Default::default()
        };
        assert_eq!(
            PhoneAuth::default().apply(&input).unwrap_err().field,
            "phone_auth.passwords[0]"
        );
    }

    #[test]
    fn debug_redacts_passwords_and_keys() {
        let auth = PhoneAuth {
            passwords: vec!["Sup3r-Secret-Pass".into()],
            url_key: Some("k3y-that-is-secret-enough".into()),
            ..Default::default()
        };
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("Sup3r") && !shown.contains("k3y"),
            "{shown}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("72h", "enroll_window").unwrap(),
            Duration::from_secs(72 * 3600)
        );
        assert_eq!(
            parse_duration("30m", "x").unwrap(),
            Duration::from_secs(1800)
        );
        assert_eq!(
            parse_duration("2d", "x").unwrap(),
            Duration::from_secs(2 * 86_400)
        );
        for bad in ["", "h", "72", "-1h", "0s", "1.5h", "72H", "99999999999d"] {
            assert_eq!(
                parse_duration(bad, "enroll_window").unwrap_err().code,
                "duration_invalid",
                "{bad}"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(72 * 3600)), "3d");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }
}
