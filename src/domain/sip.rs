//! SIP usernames and the tenant prefix they begin with.

use std::fmt;

use serde::Serialize;

use super::RuleError;

/// The prefix every SIP username of a tenant begins with: the tenant name with everything but
/// letters and digits removed, lower-cased, plus `_` (`testsite.com` → `testsitecom_`).
pub fn sip_username_prefix(tenant_name: &str) -> String {
    let mut prefix: String = tenant_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    prefix.push('_');
    prefix
}

/// A SIP username: the tenant prefix, then `[a-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SipUsername(String);

/// Longest SIP username, prefix included.
pub const MAX_SIP_USERNAME: usize = 64;

impl SipUsername {
    /// Builds a username for `field` from what the admin chose, or from `default_rest`.
    ///
    /// A chosen name may be given with or without the prefix; the prefix is always there after.
    pub fn build(
        prefix: &str,
        chosen: Option<&str>,
        default_rest: &str,
        field: &str,
    ) -> Result<Self, RuleError> {
        let rest = match chosen {
            Some(name) => name.strip_prefix(prefix).unwrap_or(name),
            None => default_rest,
        };
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        {
            return Err(RuleError::new(
                field,
                "sip_username_invalid",
                format!(
                    "after the tenant prefix '{prefix}', a SIP username uses only a-z, 0-9, '.', '_' and '-'"
                ),
            ));
        }
        let full = format!("{prefix}{rest}");
        if full.len() > MAX_SIP_USERNAME {
            return Err(RuleError::new(
                field,
                "sip_username_too_long",
                format!(
                    "a SIP username has at most {MAX_SIP_USERNAME} characters, prefix included"
                ),
            ));
        }
        Ok(Self(full))
    }

    /// A username read back from the store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SipUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_keeps_letters_and_digits_lower_cased() {
        assert_eq!(sip_username_prefix("testsite.com"), "testsitecom_");
        assert_eq!(sip_username_prefix("ACME-GmbH 2.de"), "acmegmbh2de_");
    }

    #[test]
    fn usernames_always_carry_the_prefix() {
        let p = "testsitecom_";
        assert_eq!(
            SipUsername::build(p, None, "101", "sip_username")
                .unwrap()
                .as_str(),
            "testsitecom_101"
        );
        assert_eq!(
            SipUsername::build(p, Some("john.s"), "101", "x")
                .unwrap()
                .as_str(),
            "testsitecom_john.s"
        );
        assert_eq!(
            SipUsername::build(p, Some("testsitecom_john"), "101", "x")
                .unwrap()
                .as_str(),
            "testsitecom_john"
        );
        for bad in ["John", "a b", "a@b", "", "ü"] {
            let err = SipUsername::build(p, Some(bad), "101", "sip_username").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("sip_username", "sip_username_invalid"),
                "{bad}"
            );
        }
        let long = "a".repeat(60);
        assert_eq!(
            SipUsername::build(p, Some(&long), "1", "x")
                .unwrap_err()
                .code,
            "sip_username_too_long"
        );
    }
}
