//! The value rules of each key type, and what a full SIP URI is.

use super::{KeyRules, KeyType, MAX_VALUE_LEN};
use crate::domain::RuleError;

/// Checks an in-tenant value for `kind` (never `none`).
pub(super) fn check_value(kind: KeyType, value: &str, rules: &KeyRules) -> Result<(), RuleError> {
    let digits = |max: usize| value.len() <= max && value.bytes().all(|b| b.is_ascii_digit());
    let (ok, code, message) = match kind {
        KeyType::Line => (
            value
                .parse::<usize>()
                .is_ok_and(|n| (1..=rules.accounts).contains(&n))
                && digits(4),
            "key_line_unknown",
            format!(
                "a line key names an account of the plan by its line number: 1 to {}",
                rules.accounts
            ),
        ),
        KeyType::Blf | KeyType::Pickup => (
            digits(15),
            "key_extension_invalid",
            format!(
                "a {kind} key watches an extension (digits); for a target outside the tenant, give a SIP URI (sip:user@host) and \"external\": true"
            ),
        ),
        KeyType::SpeedDial => (
            value.len() <= 32
                && value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"*#+".contains(&b)),
            "key_speed_dial_invalid",
            "a speed dial is up to 32 digits, *, # and +, or a SIP URI with \"external\": true"
                .to_owned(),
        ),
        KeyType::Park | KeyType::None => (
            digits(15),
            "key_park_invalid",
            "a park key names its orbit: digits only".to_owned(),
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(RuleError::new("value", code, message))
    }
}

/// A full SIP URI: `sip:` (or `sips:`), a user part, `@`, a host name or address, an optional
/// port.
pub(super) fn check_sip_uri(value: &str) -> Result<String, RuleError> {
    let rest = value
        .strip_prefix("sip:")
        .or_else(|| value.strip_prefix("sips:"));
    let ok = rest
        .and_then(|r| r.split_once('@'))
        .is_some_and(|(user, host)| {
            let user_ok = !user.is_empty()
                && user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/%".contains(&b));
            user_ok && host_ok(host)
        });
    if ok && value.len() <= MAX_VALUE_LEN {
        Ok(value.to_owned())
    } else {
        Err(RuleError::new(
            "value",
            "key_sip_uri_invalid",
            format!(
                "an external target is a full SIP URI of at most {MAX_VALUE_LEN} characters: sip:user@host"
            ),
        ))
    }
}

/// A host name (`pbx.example.com`), IPv4 address or `[IPv6]`, with an optional `:port`.
fn host_ok(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let name_ok = if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && name_ok
}
