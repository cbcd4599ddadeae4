//! Phone numbers, external SIP logins, voicemail PINs and email addresses.

use std::fmt;

use serde::Serialize;

use super::RuleError;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// A value read back from the store, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An E.164 number: `+`, then 8 to 15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct E164(String);
string_newtype!(E164);

impl E164 {
    /// Parses `+4930123456` style numbers for `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        let digits = input.strip_prefix('+').unwrap_or("");
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(RuleError::new(
                field,
                "e164_invalid",
                "must be an E.164 number: '+' then 8 to 15 digits, the first not 0 (e.g. +4930123456)",
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

/// The login part of an external SIP account (`G79333CN0001`, never `…@host`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExternalSipLogin(String);
string_newtype!(ExternalSipLogin);

impl ExternalSipLogin {
    /// Parses the login part only, for `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        if input.contains('@') {
            return Err(RuleError::new(
                field,
                "sip_login_has_host",
                "give the login part only (G79333CN0001), not login@host",
            ));
        }
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
        if !ok {
            return Err(RuleError::new(
                field,
                "sip_login_invalid",
                "must be 1 to 64 characters of letters, digits and . _ - +",
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

/// A voicemail PIN: at least 4 digits, digits only.
#[derive(Clone, PartialEq, Eq)]
pub struct VoicemailPin(String);
string_newtype!(VoicemailPin);

impl fmt::Debug for VoicemailPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VoicemailPin(***)")
    }
}

impl VoicemailPin {
    /// Parses a PIN for the `voicemail_pin` field.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        if input.len() < 4 || input.len() > 16 || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RuleError::new(
                "voicemail_pin",
                "pin_invalid",
                "a voicemail PIN is 4 to 16 digits, digits only",
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

/// An email address (a practical check: one `@`, a dotted domain, no spaces or controls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    /// Parses an address for the `email` field.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        let invalid = || {
            RuleError::new(
                "email",
                "email_invalid",
                "must be an email address like name@example.com",
            )
        };
        if input.len() > 254 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = input.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|part| {
                !part.is_empty()
                    && !part.starts_with('-')
                    && !part.ends_with('-')
                    && part.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !domain_ok || !local_ok {
            return Err(invalid());
        }
        Ok(Self(input.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        assert!(E164::parse("+4930123456", "caller_id").is_ok());
        assert!(E164::parse("+123456789012345", "caller_id").is_ok());
        for bad in [
            "4930123456",
            "+0930123456",
            "+1234567",
            "+1234567890123456",
            "+49 30 123456",
            "+49301234a6",
        ] {
            let err = E164::parse(bad, "caller_id").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("caller_id", "e164_invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn external_sip_login_is_the_login_part_only() {
        assert!(ExternalSipLogin::parse("G79333CN0001", "external_sip").is_ok());
        assert_eq!(
            ExternalSipLogin::parse("G79333CN0001@sip.example", "external_sip")
                .unwrap_err()
                .code,
            "sip_login_has_host"
        );
        assert_eq!(
            ExternalSipLogin::parse("a b", "external_sip")
                .unwrap_err()
                .code,
            "sip_login_invalid"
        );
    }

    #[test]
    fn pins_are_four_or_more_digits() {
        assert!(VoicemailPin::parse("1234").is_ok());
        for bad in ["123", "12a4", "", "12345678901234567"] {
            assert_eq!(VoicemailPin::parse(bad).unwrap_err().code, "pin_invalid");
        }
        assert!(!format!("{:?}", VoicemailPin::parse("9876").unwrap()).contains("9876"));
    }

    #[test]
    fn emails() {
        for ok in [
            "john@testsite.com",
            "a.b+c@mail.example.org",
            "zoë@exämple.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "john",
            "john@",
            "@x.com",
            "john@localhost",
            "jo hn@x.com",
            "john@x..com",
            "a@b.com\n",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                "email_invalid",
                "{bad:?}"
            );
        }
    }
}
