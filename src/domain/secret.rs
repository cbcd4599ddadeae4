//! SIP, portal and phone admin passwords: the policy, and generation of strong ones.

use std::fmt;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::RuleError;

/// Fewest characters a chosen password may have.
pub const MIN_PASSWORD_CHARS: usize = 14;
/// Length of a generated SIP password.
pub const GENERATED_PASSWORD_CHARS: usize = 24;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
/// Symbols with no meaning in XML, `key = value` files, URLs, shells or SIP headers.
const SYMBOLS: &[u8] = b"-_.!*~";

/// A SIP password that satisfies the policy; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SipPassword(String);

impl SipPassword {
    /// Checks a chosen password for `field` against the policy.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        check_policy(input, field)?;
        Ok(Self(input.to_owned()))
    }

    /// A fresh random password of [`GENERATED_PASSWORD_CHARS`] from a format-safe alphabet,
    /// with every character class present.
    pub fn generate(rng: &mut impl Rng) -> Self {
        let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
        let mut chars: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS]
            .iter()
            .map(|class| *class.choose(rng).expect("non-empty class"))
            .collect();
        while chars.len() < GENERATED_PASSWORD_CHARS {
            chars.push(*all.choose(rng).expect("non-empty alphabet"));
        }
        // Shuffle so the class-guaranteeing characters are not always in front.
        for i in (1..chars.len()).rev() {
            chars.swap(i, rng.random_range(0..=i));
        }
        Self(String::from_utf8(chars).expect("ASCII alphabet"))
    }

    /// A password read back from the store, where it was validated on the way in.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The password itself: for rendering into the phone's own file, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SipPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipPassword(***)")
    }
}

/// Most characters an admin-set phone admin password may have: Yealink takes at most 32
/// (`static.security.user_password`), the shortest limit of the vendor families.
pub const MAX_ADMIN_PASSWORD_CHARS: usize = 32;

/// The password of a phone's own web interface and admin menu; `Debug` never shows it.
///
/// Generated ones come from [`SipPassword::generate`]: 24 characters of the format-safe
/// alphabet with a lower-case and an upper-case letter, a digit and a symbol, which meets the
/// strictest vendor policy (Cisco MPP: 8 to 127 characters from 3 of the 4 classes) and
/// Yealink's 32-character limit. One chosen by an admin passes the SIP password policy, has
/// at most [`MAX_ADMIN_PASSWORD_CHARS`], and only printable ASCII without spaces (what a phone's
/// keypad can type).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminPassword(String);

impl AdminPassword {
    /// Checks a chosen admin password for `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        check_policy(input, field)?;
        if input.chars().count() > MAX_ADMIN_PASSWORD_CHARS {
            return Err(RuleError::new(
                field,
                "password_too_long",
                format!(
                    "a phone admin password has at most {MAX_ADMIN_PASSWORD_CHARS} characters (Yealink's limit)"
                ),
            ));
        }
        if !input.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RuleError::new(
                field,
                "password_forbidden_char",
                "a phone admin password is printable ASCII without spaces (a phone's keypad must be able to type it)",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// A fresh random password (see the type's documentation).
    pub fn generate(rng: &mut impl Rng) -> Self {
        Self(SipPassword::generate(rng).0)
    }

    /// A password read back from the store, where it was validated on the way in.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The password itself: for rendering into the phone's own file, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminPassword(***)")
    }
}

/// What a request asks for a level's phone admin password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminPasswordChange {
    /// `"generate"`: a new random one, shown once in the answer.
    Generate,
    /// A chosen one.
    Set(AdminPassword),
    /// `null`: none at this level; the next level down applies.
    Remove,
}

/// The word that asks for a generated admin password instead of a chosen one.
pub const GENERATE: &str = "generate";

impl AdminPasswordChange {
    /// Reads the field's value: `null` removes, `"generate"` generates, anything else is a
    /// chosen password checked for `field`.
    pub fn parse(input: Option<&str>, field: &str) -> Result<Self, RuleError> {
        match input {
            None => Ok(Self::Remove),
            Some(GENERATE) => Ok(Self::Generate),
            Some(pw) => AdminPassword::parse(pw, field).map(Self::Set),
        }
    }

    /// The password this change leaves at its level (a generated one drawn from `rng`), and
    /// the generated one again, to show once.
    pub fn resolve(self, rng: &mut impl Rng) -> (Option<AdminPassword>, Option<String>) {
        match self {
            Self::Generate => {
                let pw = AdminPassword::generate(rng);
                let shown = pw.expose().to_owned();
                (Some(pw), Some(shown))
            }
            Self::Set(pw) => (Some(pw), None),
            Self::Remove => (None, None),
        }
    }
}

/// A user's portal password in clear, on its way to being hashed; `Debug` never shows it.
#[derive(Clone)]
pub struct PortalPassword(String);

impl PortalPassword {
    /// Checks a chosen portal password against the same policy as SIP passwords.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        check_policy(input, "portal_password")?;
        Ok(Self(input.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PortalPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PortalPassword(***)")
    }
}

impl PortalPassword {
    /// Hashes the password with Argon2 and a random salt: CPU-heavy (tens of milliseconds), so
    /// done before a transaction opens, never inside one.
    pub fn hash(&self, rng: &mut impl Rng) -> Result<PortalHash, argon2::password_hash::Error> {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&rng.random::<[u8; 16]>())?;
        let hash = argon2::Argon2::default().hash_password(self.0.as_bytes(), &salt)?;
        Ok(PortalHash(hash.to_string()))
    }
}

/// An Argon2 hash (PHC string) of a portal password: what is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PortalHash(String);

impl PortalHash {
    /// A hash read back from the store.
    pub fn from_trusted(hash: String) -> Self {
        Self(hash)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PortalHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PortalHash(***)")
    }
}

/// A new portal password on its way to the store: as given, then hashed before the write.
#[derive(Debug, Clone)]
pub enum PortalSecret {
    /// As given; the store refuses it.
    Plain(PortalPassword),
    /// Hashed, ready to store.
    Hashed(PortalHash),
}

fn check_policy(input: &str, field: &str) -> Result<(), RuleError> {
    let weak = |what: &str| {
        RuleError::new(
            field,
            "password_too_weak",
            format!(
                "{what}: a password has at least {MIN_PASSWORD_CHARS} characters with a digit, a symbol (not < or >), an upper-case and a lower-case letter"
            ),
        )
    };
    if input.chars().any(|c| c.is_control()) {
        return Err(RuleError::new(
            field,
            "password_not_printable",
            "a password must not contain line breaks or other control characters",
        ));
    }
    if input.trim() != input {
        // Phones trim `key = value` lines, so such a password would never match.
        return Err(RuleError::new(
            field,
            "password_untrimmed",
            "a password must not begin or end with a space",
        ));
    }
    if input.contains('<') || input.contains('>') {
        return Err(RuleError::new(
            field,
            "password_forbidden_char",
            "a password must not contain < or >",
        ));
    }
    if input.chars().count() < MIN_PASSWORD_CHARS {
        return Err(weak("too short"));
    }
    if input.chars().count() > 128 {
        return Err(RuleError::new(
            field,
            "password_too_long",
            "a password has at most 128 characters",
        ));
    }
    if !input.chars().any(|c| c.is_ascii_digit()) {
        return Err(weak("no digit"));
    }
    if !input.chars().any(|c| c.is_uppercase()) {
        return Err(weak("no upper-case letter"));
    }
    if !input.chars().any(|c| c.is_lowercase()) {
        return Err(weak("no lower-case letter"));
    }
    if !input.chars().any(|c| !c.is_alphanumeric()) {
        return Err(weak("no symbol"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_what_is_missing() {
        assert!(SipPassword::parse("Str0ng&Secret#Pass", "sip_password").is_ok());
        let cases = [
            ("Sh0rt!pass", "too short"),
            ("NoDigitsHere!!abc", "no digit"),
            ("nouppercase1!abcd", "no upper-case"),
            ("NOLOWERCASE1!ABCD", "no lower-case"),
            ("NoSymbolsHere1234", "no symbol"),
        ];
        for (pw, why) in cases {
            let err = SipPassword::parse(pw, "sip_password").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("sip_password", "password_too_weak")
            );
            assert!(err.message.starts_with(why), "{pw}: {}", err.message);
        }
        assert_eq!(
            SipPassword::parse("Angle<Brackets>1", "sip_password")
                .unwrap_err()
                .code,
            "password_forbidden_char"
        );
        assert_eq!(
            SipPassword::parse(" Padded-Pass-123 ", "sip_password")
                .unwrap_err()
                .code,
            "password_untrimmed"
        );
        assert_eq!(
            SipPassword::parse("Line\nBreak1!abcdef", "sip_password")
                .unwrap_err()
                .code,
            "password_not_printable"
        );
    }

    #[test]
    fn generated_passwords_pass_the_policy_and_differ() {
        let mut rng = rand::rng();
        let a = SipPassword::generate(&mut rng);
        let b = SipPassword::generate(&mut rng);
        assert_ne!(a.expose(), b.expose());
        for pw in [a, b] {
            assert!(pw.expose().len() >= 20);
            assert!(
                SipPassword::parse(pw.expose(), "x").is_ok(),
                "{}",
                pw.expose()
            );
            assert!(
                pw.expose()
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.contains(&c))
            );
        }
    }

    #[test]
    fn admin_passwords_meet_every_vendor_policy() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let pw = AdminPassword::generate(&mut rng);
            let text = pw.expose();
            // Cisco MPP: 8 to 127 characters from at least 3 of the 4 classes; Yealink: <= 32.
            assert!(
                (8..=MAX_ADMIN_PASSWORD_CHARS).contains(&text.len()),
                "{text}"
            );
            let classes = [
                text.bytes().any(|b| b.is_ascii_lowercase()),
                text.bytes().any(|b| b.is_ascii_uppercase()),
                text.bytes().any(|b| b.is_ascii_digit()),
                text.bytes().any(|b| !b.is_ascii_alphanumeric()),
            ];
            assert_eq!(classes, [true; 4], "{text}");
            assert!(AdminPassword::parse(text, "x").is_ok(), "{text}");
            // Never a factory default.
            assert!(!["admin", "1234", "22222", "456"].contains(&text));
        }
        let err = AdminPassword::parse(&format!("Aa1-{}", "x".repeat(29)), "phone_admin_password")
            .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("phone_admin_password", "password_too_long")
        );
        assert_eq!(
            AdminPassword::parse("Zoë-Passwort-123", "x")
                .unwrap_err()
                .code,
            "password_forbidden_char"
        );
        assert_eq!(
            AdminPassword::parse("short1A-", "x").unwrap_err().code,
            "password_too_weak"
        );
        let pw = AdminPassword::generate(&mut rng);
        assert_eq!(format!("{pw:?}"), "AdminPassword(***)");
    }

    #[test]
    fn admin_password_changes() {
        let mut rng = rand::rng();
        let (pw, shown) = AdminPasswordChange::parse(Some("generate"), "x")
            .unwrap()
            .resolve(&mut rng);
        assert_eq!(pw.unwrap().expose(), shown.unwrap());
        let (pw, shown) = AdminPasswordChange::parse(Some("Chosen-Admin-42"), "x")
            .unwrap()
            .resolve(&mut rng);
        assert_eq!((pw.unwrap().expose(), shown), ("Chosen-Admin-42", None));
        assert_eq!(
            AdminPasswordChange::parse(None, "x").unwrap(),
            AdminPasswordChange::Remove
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let pw = SipPassword::parse("Str0ng&Secret#Pass", "x").unwrap();
        assert!(!format!("{pw:?}").contains("Secret"));
        let pp = PortalPassword::parse("Str0ng&Secret#Pass").unwrap();
        assert!(!format!("{pp:?}").contains("Secret"));
        let hash = pp.hash(&mut rand::rng()).unwrap();
        assert!(hash.as_str().starts_with("$argon2"));
        assert!(!format!("{hash:?}").contains("argon"));
    }
}
