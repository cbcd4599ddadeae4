//! What a phone request's path and Host say, read strictly.

use axum::http::{HeaderMap, header};

use crate::http::conn::Scheme;

/// Splits `/file` or `/key/file`; refuses anything but plain names (no `..`, `%`, `\`, …), so
/// request text never reaches a file system.
pub fn split_path(path: &str) -> Option<(Option<&str>, &str)> {
    let rest = path.strip_prefix('/')?;
    if rest.len() > 256 {
        return None;
    }
    match rest.split_once('/') {
        None if plain_name(rest) => Some((None, rest)),
        Some((key, file)) if plain_name(key) && plain_name(file) => Some((Some(key), file)),
        _ => None,
    }
}

/// The path as the access log writes it: a first segment before the file (a URL key, a
/// credential) as `-`, and what is left cut to 256 bytes with anything but plain text escaped.
pub(super) fn logged_path(path: &str) -> String {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let shown = match rest.split_once('/') {
        Some((_, file)) => format!("/-/{file}"),
        None => format!("/{rest}"),
    };
    crate::access_log::escaped(&shown, 256)
}

/// A file or key name: 1–128 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `scheme://host` from the `Host` header, when it is a plain host name or address with an
/// optional port; anything else is refused rather than written into a file.
pub(super) fn request_base_url(scheme: Scheme, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then(|| format!("{}://{host}", scheme.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        assert_eq!(
            split_path("/001565aabbcc.cfg"),
            Some((None, "001565aabbcc.cfg"))
        );
        assert_eq!(
            split_path("/k3y-abcdefghijklmnop/y000000000108.cfg"),
            Some((Some("k3y-abcdefghijklmnop"), "y000000000108.cfg"))
        );
        for bad in [
            "/",
            "/../etc/passwd",
            "/%2e%2e/x",
            "/..%5c..%5cwin.ini",
            "/a/b/c",
            "/001565aabbcc.cfg%00.xml",
            "/.hidden",
            "/a\\b",
            "noslash",
        ] {
            assert_eq!(split_path(bad), None, "{bad}");
        }
        assert_eq!(split_path(&format!("/{}", "a".repeat(300))), None);
    }

    #[test]
    fn hosts_are_plain_or_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "prov.example.com:8080".parse().unwrap());
        assert_eq!(
            request_base_url(Scheme::Https, &h).as_deref(),
            Some("https://prov.example.com:8080")
        );
        h.insert(header::HOST, "evil.example/\"x".parse().unwrap());
        assert_eq!(request_base_url(Scheme::Http, &h), None);
    }
}
