//! The MAC address of a phone: its identity on the provisioning path.

use std::fmt;
use std::str::FromStr;

use mac_address::MacAddress;

use super::RuleError;

/// Every spelling [`Mac::parse`] reads, as a regular expression (ECMA 262, as the OpenAPI
/// document states it): 12 hex digits, alone, in groups of 2 separated by `:` or by `-`, or in
/// groups of 4 separated by `.`. Which of those are devices is a rule of its own (not all-zero,
/// not multicast).
pub const MAC_PATTERN: &str = r"^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2})$";

/// The OpenAPI schema of a MAC in any common spelling: a string matching [`MAC_PATTERN`].
pub fn mac_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "A MAC in any common spelling: `001565aabbcc`, `00:15:65:AA:BB:CC`, \
             `00-15-65-aa-bb-cc` or `0015.65aa.bbcc`",
        ))
        .pattern(Some(MAC_PATTERN))
        .examples(["00:15:65:aa:bb:cc"])
        .build()
}

/// Whether `input` is a MAC in one of the spellings [`Mac::parse`] reads, device or not.
pub fn well_formed(input: &str) -> bool {
    parse_bytes(input).is_some()
}

/// The 12 lower-case hex digits of any well-formed spelling, device or not: where a MAC sorts
/// (a page cursor need not be a device). The error names `field`.
pub fn sort_key(input: &str, field: &str) -> Result<String, RuleError> {
    parse_bytes(input)
        .map(hex::encode)
        .ok_or_else(|| malformed().in_field(field))
}

/// The error of a spelling that is no MAC at all.
fn malformed() -> RuleError {
    RuleError::new(
        "mac",
        "mac_invalid",
        "a MAC address is 12 hex digits, optionally in groups of 2 separated by one kind of ':' or '-', or in groups of 4 separated by '.'",
    )
}

/// A unicast, non-zero MAC address, parsed from one of the common spellings.
///
/// Accepted: `001565aabbcc`, `00:15:65:aa:bb:cc`, `00-15-65-AA-BB-CC`, `0015.65aa.bbcc`
/// (any case, one consistent separator). Everything else, including whitespace, single-digit
/// octets, all-zero, broadcast and multicast addresses, is refused: those are never identities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(MacAddress);

impl Mac {
    /// Parses any common spelling; the error names the `mac` field.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        let bytes = parse_bytes(input).ok_or_else(malformed)?;
        if bytes == [0; 6] {
            return Err(RuleError::new(
                "mac",
                "mac_reserved",
                "the all-zero MAC address is not a device",
            ));
        }
        if bytes[0] & 1 == 1 {
            return Err(RuleError::new(
                "mac",
                "mac_multicast",
                "broadcast and multicast MAC addresses are not devices",
            ));
        }
        Ok(Self(MacAddress::new(bytes)))
    }

    /// The six bytes.
    pub fn bytes(&self) -> [u8; 6] {
        self.0.bytes()
    }

    /// The first three bytes: the vendor's organisationally unique identifier.
    pub fn oui(&self) -> [u8; 3] {
        let b = self.bytes();
        [b[0], b[1], b[2]]
    }

    /// `001565aabbcc`: the canonical form, used in storage, logs and most file names.
    pub fn lower12(&self) -> String {
        hex::encode(self.bytes())
    }

    /// `001565AABBCC`.
    pub fn upper12(&self) -> String {
        hex::encode_upper(self.bytes())
    }

    /// `00:15:65:aa:bb:cc`.
    pub fn colon(&self) -> String {
        let b = self.bytes();
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

fn parse_bytes(input: &str) -> Option<[u8; 6]> {
    let digits: String = match input.len() {
        12 => input.to_owned(),
        17 => {
            let sep = input.as_bytes()[2];
            if sep != b':' && sep != b'-' {
                return None;
            }
            let groups: Vec<&str> = input.split(sep as char).collect();
            if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
                return None;
            }
            groups.concat()
        }
        14 => {
            let groups: Vec<&str> = input.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return None;
            }
            groups.concat()
        }
        _ => return None,
    };
    if digits.len() != 12 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

impl FromStr for Mac {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lower12())
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({})", self.lower12())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_spelling_is_the_same_device() {
        let expected = Mac::parse("001565aabbcc").unwrap();
        for spelling in [
            "001565AABBCC",
            "00:15:65:aa:bb:cc",
            "00:15:65:AA:BB:CC",
            "00-15-65-aa-bb-cc",
            "0015.65aa.bbcc",
            "0015.65AA.BBCC",
        ] {
            assert_eq!(Mac::parse(spelling).unwrap(), expected, "{spelling}");
        }
        assert_eq!(expected.lower12(), "001565aabbcc");
        assert_eq!(expected.upper12(), "001565AABBCC");
        assert_eq!(expected.colon(), "00:15:65:aa:bb:cc");
        assert_eq!(expected.oui(), [0x00, 0x15, 0x65]);
    }

    #[test]
    fn malformed_spellings_are_refused() {
        for bad in [
            "",
            "00:15-65:aa:bb:cc",
            "001565aabbc",
            "001565aabbccd",
            "0:15:65:a:b:c",
            "001565aabbcc\n",
            " 001565aabbcc",
            "00:15:65:aa:bb:cc:",
            "0015.65aa:bbcc",
            "00156５aabbcc",
            "00:15:65:aa:bb:c\0",
            "zz1565aabbcc",
            "+01565aabbcc",
        ] {
            let err = Mac::parse(bad).unwrap_err();
            assert_eq!(err.field, "mac");
            assert_eq!(err.code, "mac_invalid", "{bad:?}");
        }
    }

    #[test]
    fn the_documented_pattern_refuses_what_the_parser_refuses() {
        let pattern = regex::Regex::new(MAC_PATTERN).unwrap();
        for bad in [
            "",
            "00:15-65:aa:bb:cc",
            "001565aabbc",
            "0015.65aa:bbcc",
            "001565aabbcc\n",
            " 001565aabbcc",
            "00156５aabbcc",
            "zz1565aabbcc",
        ] {
            assert!(!pattern.is_match(bad), "{bad:?}");
            assert!(!well_formed(bad), "{bad:?}");
            assert_eq!(sort_key(bad, "after").unwrap_err().field, "after");
        }
        // Well-formed, but no device: the pattern takes them, registration refuses them.
        for spelling in ["000000000000", "ff:ff:ff:ff:ff:ff", "0100.5e00.0001"] {
            assert!(pattern.is_match(spelling), "{spelling}");
            assert!(well_formed(spelling));
            assert!(Mac::parse(spelling).is_err());
        }
    }

    #[test]
    fn zero_broadcast_and_multicast_are_not_identities() {
        assert_eq!(Mac::parse("000000000000").unwrap_err().code, "mac_reserved");
        assert_eq!(
            Mac::parse("ffffffffffff").unwrap_err().code,
            "mac_multicast"
        );
        assert_eq!(
            Mac::parse("01005e000001").unwrap_err().code,
            "mac_multicast"
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_unicast_mac_round_trips_through_every_spelling(bytes in any::<[u8; 6]>()) {
                prop_assume!(bytes[0] & 1 == 0 && bytes != [0; 6]);
                let mac = Mac::parse(&hex::encode(bytes)).unwrap();
                prop_assert_eq!(mac.bytes(), bytes);
                prop_assert_eq!(Mac::parse(&mac.upper12()).unwrap(), mac);
                prop_assert_eq!(Mac::parse(&mac.colon()).unwrap(), mac);
                prop_assert_eq!(Mac::parse(&mac.colon().replace(':', "-")).unwrap(), mac);
            }

            #[test]
            fn parsing_never_panics(input in "\\PC{0,20}") {
                let _ = Mac::parse(&input);
            }

            #[test]
            fn the_documented_pattern_matches_exactly_the_spellings_parsed(
                input in "[0-9a-fA-F:.\\-xz ]{10,18}"
            ) {
                let pattern = regex::Regex::new(MAC_PATTERN).unwrap();
                prop_assert_eq!(pattern.is_match(&input), well_formed(&input), "{:?}", input);
            }

            #[test]
            fn every_spelling_of_any_mac_matches_the_documented_pattern(bytes in any::<[u8; 6]>()) {
                let pattern = regex::Regex::new(MAC_PATTERN).unwrap();
                let lower = hex::encode(bytes);
                let colon = lower.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>().join(":");
                let dotted = lower.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>().join(".");
                for spelling in [lower.clone(), lower.to_uppercase(), colon.clone(), colon.replace(':', "-"), dotted] {
                    prop_assert!(pattern.is_match(&spelling), "{}", spelling);
                    prop_assert_eq!(sort_key(&spelling, "after").unwrap(), lower.clone());
                }
            }
        }
    }
}
