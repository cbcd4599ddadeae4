//! The common fetch, taken into a packed state in place: a phone asking again for what it has
//! (same address, User-Agent, model, firmware, file and version, enrolled) changes only its last
//! fetch time and one count, so neither unpacking the state nor allocating is needed.

use std::net::IpAddr;
use std::ops::Range;

use smallvec::SmallVec;

use super::{
    Answer, Fetched, HAS_VERSION, LITERAL, MAC_MARK, Packed, Reader, Texts, part, put_time,
    put_varint,
};
use crate::domain::Mac;

/// Where a quiet fetch writes: the last fetch time, and the count of its file and answer.
struct Edit {
    last_time: Range<usize>,
    count: Range<usize>,
    count_value: u32,
}

/// A text as a packed state names it.
enum Kept<'a> {
    Code(u64),
    Literal(&'a [u8]),
}

impl Packed {
    /// Takes in `fetch` when it changes nothing but the last fetch time and one count (see
    /// [`DeviceState::observe`](super::DeviceState::observe): such a fetch makes no change to
    /// keep), and says so; leaves the state as it is and says `false` for any other fetch, which
    /// is then taken in the long way.
    pub fn observe_quiet(
        &mut self,
        fetch: &Fetched<'_>,
        mac: &Mac,
        texts: &Texts,
        enrolled: bool,
    ) -> bool {
        let Some(edit) = quiet_edit(&self.0, fetch, mac, texts, enrolled) else {
            return false;
        };
        let mut out: SmallVec<[u8; 128]> = SmallVec::new();
        out.extend_from_slice(&self.0[..edit.last_time.start]);
        put_time(&mut out, fetch.at);
        out.extend_from_slice(&self.0[edit.last_time.end..edit.count.start]);
        put_varint(&mut out, u64::from(edit.count_value.saturating_add(1)));
        out.extend_from_slice(&self.0[edit.count.end..]);
        if out.len() == self.0.len() {
            self.0.copy_from_slice(&out);
        } else {
            self.0 = Box::from(&out[..]);
        }
        true
    }
}

/// Where `fetch` writes into the packed `bytes`, when it is a quiet one.
fn quiet_edit(
    bytes: &[u8],
    fetch: &Fetched<'_>,
    mac: &Mac,
    texts: &Texts,
    enrolled: bool,
) -> Option<Edit> {
    if !enrolled || !matches!(fetch.answer, Answer::Served | Answer::NotModified) {
        return None;
    }
    let mut r = Reader(bytes, super::Codes::default());
    let at = |r: &Reader<'_>| bytes.len() - r.0.len();
    let flags = r.byte();
    let has = |f: u8| flags & f != 0;
    if !has(part::FIRST) || !has(part::LAST) {
        return None;
    }
    r.time();
    let start = at(&r);
    r.time();
    let last_time = start..at(&r);
    let same_ip = match fetch.ip {
        IpAddr::V4(ip) => has(part::V4) && r.array::<4>() == ip.octets(),
        IpAddr::V6(ip) => has(part::V6) && r.array::<16>() == ip.octets(),
    };
    if !same_ip {
        return None;
    }
    for (flag, said) in [
        (part::UA, fetch.user_agent),
        (part::MODEL, fetch.model),
        (part::FIRMWARE, fetch.firmware),
    ] {
        let kept = has(flag).then(|| kept_text(&mut r));
        match (said, kept) {
            (None, _) => {}
            (Some(said), Some(kept)) if texts.is(&kept, mac, said) => {}
            _ => return None,
        }
    }
    let (file, count, count_value) = find_file(&mut r, bytes.len(), fetch, mac, texts)?;
    if !has(part::LAST_FILE) || r.varint() != file as u64 + 1 {
        return None;
    }
    Some(Edit {
        last_time,
        count,
        count_value,
    })
}

/// The index of the file `fetch` asked for among the state's files, where its count of the
/// fetch's answer is (in the state of `total` bytes `r` reads) and that count; `None` when the
/// file is not there yet, has no such count yet, or got another version.
fn find_file(
    r: &mut Reader<'_>,
    total: usize,
    fetch: &Fetched<'_>,
    mac: &Mac,
    texts: &Texts,
) -> Option<(usize, Range<usize>, u32)> {
    let files = r.varint() as usize;
    let mut found = None;
    for i in 0..files {
        let name = kept_text(r);
        let flags = r.byte();
        let this = found.is_none() && texts.is(&name, mac, fetch.file);
        let mut count = None;
        for (bit, answer) in Answer::ALL.into_iter().enumerate() {
            if flags & (1 << bit) != 0 {
                let start = total - r.0.len();
                let n = r.varint() as u32;
                if answer == fetch.answer {
                    count = Some((start, n));
                }
            }
        }
        let version = (flags & HAS_VERSION != 0).then(|| u64::from_le_bytes(r.array::<8>()));
        if this {
            let same_version = fetch.version.is_none_or(|v| version == Some(v));
            // Without that count yet, the file's flags change too: the long way.
            found = Some(count.filter(|_| same_version).map(|c| (i, c)));
        }
    }
    let (i, (start, n)) = found??;
    Some((i, start..start + varint_len(n), n))
}

fn kept_text<'a>(r: &mut Reader<'a>) -> Kept<'a> {
    let code = r.varint();
    if code != LITERAL {
        return Kept::Code(code);
    }
    let len = r.varint() as usize;
    let (bytes, rest) = r.0.split_at(len);
    r.0 = rest;
    Kept::Literal(bytes)
}

impl Texts {
    /// Whether `kept` (a text of a state of the device with `mac`) is `text`, without spelling
    /// the MAC back into a new string.
    fn is(&self, kept: &Kept<'_>, mac: &Mac, text: &str) -> bool {
        let code = match kept {
            Kept::Literal(bytes) => return *bytes == text.as_bytes(),
            Kept::Code(code) => *code,
        };
        let Some(kept) = usize::try_from(code >> 3)
            .ok()
            .and_then(|i| self.texts.get(i))
        else {
            return false;
        };
        let form = (code & 7) as u8;
        if form == 0 {
            return **kept == *text;
        }
        let (spelt, spelt_len) = spell_mac(mac, form);
        let spelt = &spelt[..spelt_len];
        let mut rest = text.as_bytes();
        for (i, piece) in kept.split(MAC_MARK).enumerate() {
            if i > 0 {
                let Some(after) = rest.strip_prefix(spelt) else {
                    return false;
                };
                rest = after;
            }
            let Some(after) = rest.strip_prefix(piece.as_bytes()) else {
                return false;
            };
            rest = after;
        }
        rest.is_empty()
    }
}

/// [`mac_spelling`](super::mac_spelling) without an allocation: its bytes and length.
fn spell_mac(mac: &Mac, form: u8) -> ([u8; 17], usize) {
    let digits: &[u8; 16] = if form.is_multiple_of(2) {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let sep = match form {
        1 | 2 => None,
        3 | 4 => Some(b':'),
        _ => Some(b'-'),
    };
    let mut out = [0u8; 17];
    let mut n = 0;
    for (i, b) in mac.bytes().into_iter().enumerate() {
        if let (Some(sep), true) = (sep, i > 0) {
            out[n] = sep;
            n += 1;
        }
        out[n] = digits[usize::from(b >> 4)];
        out[n + 1] = digits[usize::from(b & 0xf)];
        n += 2;
    }
    (out, n)
}

fn varint_len(mut n: u32) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    use super::super::{DeviceState, mac_spelling};
    use super::*;

    const MAC: &str = "805ec0000001";
    const IPS: [&str; 2] = ["10.0.0.5", "2001:db8::5"];
    const UAS: [Option<&str>; 4] = [
        Some("Yealink SIP-T46U 108.86.0.45 80:5e:c0:00:00:01"),
        Some("Yealink SIP-T46U 108.86.0.45 805EC0000001 805EC0000001"),
        Some("Other/1.0"),
        None,
    ];
    const FIRMWARE: [Option<&str>; 3] = [Some("108.86.0.45"), Some("108.86.0.50"), None];
    const FILES: [&str; 2] = ["805ec0000001.cfg", "y000000000028.cfg"];
    const NANOS: [u32; 4] = [0, 1, 200_000, 999_999_999];

    /// One fetch of a small world of them, so that repeats (the quiet ones) are common.
    #[derive(Debug, Clone, Copy)]
    struct Step {
        ip: usize,
        ua: usize,
        firmware: usize,
        file: usize,
        answer: usize,
        version: Option<u64>,
        nanos: usize,
        enrolled: bool,
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            (
                0..IPS.len(),
                0..UAS.len(),
                0..FIRMWARE.len(),
                0..FILES.len(),
            ),
            (
                0..Answer::ALL.len(),
                prop::option::of(1..3u64),
                0..NANOS.len(),
            ),
            prop::bool::weighted(0.9),
        )
            .prop_map(
                |((ip, ua, firmware, file), (answer, version, nanos), enrolled)| Step {
                    ip,
                    ua,
                    firmware,
                    file,
                    answer,
                    version,
                    nanos,
                    enrolled,
                },
            )
    }

    fn fetched(s: Step, n: i64) -> Fetched<'static> {
        Fetched {
            at: DateTime::<Utc>::from_timestamp(1_780_000_000 + n, NANOS[s.nanos]).unwrap(),
            ip: IPS[s.ip].parse().unwrap(),
            user_agent: UAS[s.ua],
            model: UAS[s.ua].map(|_| "T46U"),
            firmware: FIRMWARE[s.firmware],
            file: FILES[s.file],
            answer: Answer::ALL[s.answer],
            version: s.version,
        }
    }

    fn packed(state: &DeviceState, mac: &Mac, texts: &mut Texts) -> Packed {
        texts.add(state, mac);
        Packed::pack(state, mac, texts).unwrap()
    }

    proptest! {
        /// Whatever fetches came before, a fetch taken in quietly leaves the state the long way
        /// leaves it, and is one the long way finds nothing to keep in.
        #[test]
        fn a_quiet_fetch_is_the_long_way_with_nothing_to_keep(steps in prop::collection::vec(step(), 1..40)) {
            let mac = Mac::parse(MAC).unwrap();
            let mut texts = Texts::default();
            let mut state = DeviceState::default();
            for (n, s) in steps.into_iter().enumerate() {
                let f = fetched(s, n as i64);
                let mut quiet = packed(&state, &mac, &mut texts);
                let changes = state.observe(&f, s.enrolled);
                if quiet.observe_quiet(&f, &mac, &texts, s.enrolled) {
                    prop_assert!(changes.is_empty(), "{changes:?}");
                    prop_assert_eq!(quiet.unpack(&mac, &texts), state.clone());
                }
            }
        }
    }

    #[test]
    fn a_fetch_of_what_the_phone_has_is_quiet_and_any_change_is_not() {
        let mac = Mac::parse(MAC).unwrap();
        let mut texts = Texts::default();
        let mut state = DeviceState::default();
        let first = Step {
            ip: 0,
            ua: 1,
            firmware: 0,
            file: 0,
            answer: 0,
            version: Some(1),
            nanos: 3,
            enrolled: false,
        };
        state.observe(&fetched(first, 0), false);
        let again = Step {
            enrolled: true,
            nanos: 1,
            ..first
        };
        state.observe(&fetched(again, 1), true);
        let mut quiet = packed(&state, &mac, &mut texts);
        // A shorter time than the packed one: the state shrinks by a byte or more.
        let before = quiet.len();
        assert!(quiet.observe_quiet(&fetched(again, 2), &mac, &texts, true));
        state.observe(&fetched(again, 2), true);
        assert_eq!(quiet.unpack(&mac, &texts), state);
        assert!(quiet.len() <= before);
        for changed in [
            Step { ip: 1, ..again },
            Step { ua: 0, ..again },
            Step {
                firmware: 1,
                ..again
            },
            Step { file: 1, ..again },
            Step {
                version: Some(2),
                ..again
            },
            Step { answer: 1, ..again },
            Step { answer: 3, ..again },
            Step {
                enrolled: false,
                ..again
            },
        ] {
            let mut untouched = quiet.clone();
            assert!(
                !untouched.observe_quiet(&fetched(changed, 3), &mac, &texts, changed.enrolled),
                "{changed:?}"
            );
            assert_eq!(untouched, quiet);
        }
        let no_ua = Step { ua: 3, ..again };
        assert!(quiet.observe_quiet(&fetched(no_ua, 4), &mac, &texts, true));
    }

    #[test]
    fn every_mac_spelling_is_spelt_without_an_allocation_alike() {
        let mac = Mac::parse("0a1b2c3d4e5f").unwrap();
        for form in 1..=6 {
            let (bytes, len) = spell_mac(&mac, form);
            assert_eq!(
                std::str::from_utf8(&bytes[..len]).unwrap(),
                mac_spelling(&mac, form)
            );
        }
    }
}
