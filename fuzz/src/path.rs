//! The phone path: `split_path` on the request path, then the file and upload name matchers
//! (`Vendors::match_file`, `Vendors::match_upload`) on the name it lets through.

use deskprov::http::phone::path::{plain_name, split_path};
use deskprov::profile::FileKind;
use deskprov::profile::registry::expand_name;

use crate::fixture::vendors;

/// Checks the split of `data` as a request path, and the matches of the name it gives.
pub fn run(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    check_split(path);
    // The matchers also get names no path would give them: they must not panic on those.
    match_names(path);
}

/// What `split_path` lets through is a plain name (with an optional plain key), and exactly
/// the path it was given; what it refuses is not of that shape.
fn check_split(path: &str) {
    let split = split_path(path);
    match split {
        Some((key, file)) => {
            let rebuilt = match key {
                Some(key) => format!("/{key}/{file}"),
                None => format!("/{file}"),
            };
            assert_eq!(rebuilt, path, "the split loses or adds text");
            for name in key.into_iter().chain([file]) {
                assert!(is_plain(name), "{name:?} passed as a plain name");
                assert!(plain_name(name));
            }
            match_names(file);
            check_matches(file);
        }
        None => {
            let shaped = path.strip_prefix('/').is_some_and(|rest| {
                rest.len() <= 256
                    && match rest.split_once('/') {
                        None => is_plain(rest),
                        Some((key, file)) => is_plain(key) && is_plain(file),
                    }
            });
            assert!(!shaped, "{path:?} is a plain path but was refused");
        }
    }
}

/// 1–128 of `A-Z a-z 0-9 . _ -`, not starting with a dot: nothing a file system or a log
/// could read as more than a name.
fn is_plain(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Runs both matchers on any text.
fn match_names(name: &str) {
    let vendors = vendors();
    for m in vendors.match_file(name) {
        if m.file.kind == FileKind::Device {
            assert!(m.mac.is_some(), "{name:?}: a device file without a MAC");
        }
    }
    for u in vendors.match_upload(name) {
        assert!(
            u.upload.name.contains("{mac}") || u.upload.name.contains("{MAC}"),
            "{name:?}: upload without a MAC in its pattern"
        );
    }
}

/// For a name a path let through: every match is the name its pattern writes for the MAC and
/// model it found (up to the case of the MAC's and model's letters), a literal name hides
/// every pattern, and the model a match names is one its vendor knows.
fn check_matches(name: &str) {
    let vendors = vendors();
    let matches = vendors.match_file(name);
    let literal = matches.iter().any(|m| !m.file.name.contains('{'));
    for m in &matches {
        assert!(
            !literal || !m.file.name.contains('{'),
            "{name:?}: pattern {} matched beside a literal name",
            m.file.name
        );
        let written = expand_name(&m.file.name, m.vendor, m.mac.as_ref(), m.model)
            .unwrap_or_else(|| panic!("{name:?}: {} cannot be written back", m.file.name));
        assert!(
            written.eq_ignore_ascii_case(name),
            "{name:?} matched {} of {} but that writes {written:?}",
            m.file.name,
            m.vendor.id()
        );
        if let Some(model) = m.model {
            assert_eq!(m.vendor.model_key(model), Some(model), "{name:?}");
        }
        if let Some(mac) = m.mac {
            assert!(
                name.to_ascii_lowercase().contains(&mac.lower12()),
                "{name:?}: MAC {mac} is not in the name"
            );
        }
    }
    for u in vendors.match_upload(name) {
        let written = expand_name(&u.upload.name, u.vendor, Some(&u.mac), None)
            .unwrap_or_else(|| panic!("{name:?}: {} cannot be written back", u.upload.name));
        assert!(
            written.eq_ignore_ascii_case(name),
            "{name:?} matched upload {} of {} but that writes {written:?}",
            u.upload.name,
            u.vendor.id()
        );
    }
}
