//! `Mac::parse`: what phones put in file names and User-Agents, and admins in requests.

use deskprov::domain::Mac;

/// Checks `Mac::parse` on `data` against [`reference`], and every accepted MAC's spellings.
pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check(input);
}

/// The invariants for one input.
pub fn check(input: &str) {
    let parsed = Mac::parse(input);
    let expected = reference(input);
    match (&parsed, expected) {
        (Ok(mac), Reading::Unicast(bytes)) => {
            assert_eq!(mac.bytes(), bytes, "{input:?} read as other bytes");
            spellings_round_trip(*mac);
            assert_eq!(input.parse::<Mac>().ok(), Some(*mac), "FromStr disagrees");
        }
        (Err(e), reading) => {
            assert_eq!(e.field, "mac", "{input:?}");
            let code = match reading {
                Reading::Invalid => "mac_invalid",
                Reading::Zero => "mac_reserved",
                Reading::Multicast => "mac_multicast",
                Reading::Unicast(b) => panic!("{input:?} ({b:02x?}) refused as {}", e.code),
            };
            assert_eq!(e.code, code, "{input:?}");
        }
        (Ok(mac), reading) => panic!("{input:?} accepted as {mac:?}; expected {reading:?}"),
    }
}

/// Every spelling deskprov writes parses back to the same MAC.
fn spellings_round_trip(mac: Mac) {
    let b = mac.bytes();
    assert!(b != [0; 6] && b[0] & 1 == 0, "{mac:?} is not a device");
    let lower = mac.lower12();
    assert_eq!(lower.len(), 12);
    assert!(
        lower
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert_eq!(mac.upper12(), lower.to_ascii_uppercase());
    assert_eq!(mac.to_string(), lower);
    assert_eq!(mac.oui(), [b[0], b[1], b[2]]);
    let dotted = format!("{}.{}.{}", &lower[..4], &lower[4..8], &lower[8..]);
    for spelling in [
        lower.clone(),
        mac.upper12(),
        mac.colon(),
        mac.colon().replace(':', "-"),
        mac.colon().to_ascii_uppercase(),
        dotted,
    ] {
        assert_eq!(Mac::parse(&spelling).ok(), Some(mac), "{spelling:?}");
    }
}

/// What an input is, read from the rule in `Mac`'s documentation and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Not one of the accepted spellings.
    Invalid,
    /// `000000000000`.
    Zero,
    /// A broadcast or multicast address (lowest bit of the first byte set).
    Multicast,
    /// A device.
    Unicast([u8; 6]),
}

/// 12 hex digits, or 6 groups of 2 separated by one kind of `:` or `-`, or 3 groups of 4
/// separated by `.`; any case; nothing else, not even whitespace.
pub fn reference(input: &str) -> Reading {
    let groups: Vec<&str> = if !input.contains([':', '-', '.']) {
        vec![input]
    } else if let Some(sep) = [':', '-'].into_iter().find(|s| input.contains(*s)) {
        let groups: Vec<&str> = input.split(sep).collect();
        if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
            return Reading::Invalid;
        }
        groups
    } else {
        let groups: Vec<&str> = input.split('.').collect();
        if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
            return Reading::Invalid;
        }
        groups
    };
    let digits: Vec<u8> = groups.concat().into_bytes();
    if digits.len() != 12 {
        return Reading::Invalid;
    }
    let mut bytes = [0u8; 6];
    for (i, pair) in digits.chunks(2).enumerate() {
        let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
            return Reading::Invalid;
        };
        bytes[i] = hi << 4 | lo;
    }
    if bytes == [0; 6] {
        Reading::Zero
    } else if bytes[0] & 1 == 1 {
        Reading::Multicast
    } else {
        Reading::Unicast(bytes)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_reads_the_documented_spellings() {
        let device = Reading::Unicast([0x00, 0x15, 0x65, 0xaa, 0xbb, 0xcc]);
        for ok in [
            "001565aabbcc",
            "00:15:65:AA:bb:cc",
            "00-15-65-aa-bb-cc",
            "0015.65aa.bbcc",
        ] {
            assert_eq!(reference(ok), device, "{ok}");
            check(ok);
        }
        for bad in [
            "",
            "00:15-65:aa:bb:cc",
            "0015.65aa:bbcc",
            " 001565aabbcc",
            "0:15:65:a:b:c",
        ] {
            assert_eq!(reference(bad), Reading::Invalid, "{bad}");
            check(bad);
        }
        assert_eq!(reference("000000000000"), Reading::Zero);
        assert_eq!(reference("ff:ff:ff:ff:ff:ff"), Reading::Multicast);
    }
}
