//! The Authorization header parser of the phone side (`parse_authorization`): the scheme, and
//! Digest's auth-params (RFC 9110 §11.2), read before any credential is checked.

use deskprov::http::phone::credentials::{Authorization, parse_authorization};

/// Longest value the parser reads (longer ones are refused unread).
const MAX_HEADER_LEN: usize = 4096;

/// Parses `data` as an Authorization value and checks what comes out.
pub fn run(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    check(header);
}

/// The invariants for one header value.
pub fn check(header: &str) {
    let parsed = parse_authorization(header);
    if header.len() > MAX_HEADER_LEN {
        assert_eq!(parsed, None, "a value over 4 KiB was read");
        return;
    }
    let trimmed = header.trim_matches([' ', '\t']);
    match &parsed {
        None => {}
        Some(Authorization::Digest(params)) => {
            assert!(scheme_of(trimmed).eq_ignore_ascii_case("digest"));
            check_params(header, params);
        }
        Some(Authorization::Basic(token)) => {
            assert!(scheme_of(trimmed).eq_ignore_ascii_case("basic"));
            assert!(
                trimmed.ends_with(token),
                "{header:?}: the token is not what follows the scheme"
            );
            assert!(!token.starts_with([' ', '\t']));
        }
        Some(Authorization::Other(scheme)) => {
            assert_eq!(*scheme, scheme_of(trimmed));
            assert!(!scheme.is_empty() && scheme.bytes().all(is_tchar));
            assert!(
                !scheme.eq_ignore_ascii_case("digest") && !scheme.eq_ignore_ascii_case("basic")
            );
        }
    }
    // The scheme is case-insensitive: its case changes nothing.
    let scheme_len = scheme_of(trimmed).len();
    let start = header.len() - header.trim_start_matches([' ', '\t']).len();
    if scheme_len > 0 {
        let end = start + scheme_len;
        for recased in [
            header[start..end].to_ascii_uppercase(),
            header[start..end].to_ascii_lowercase(),
        ] {
            let other = format!("{}{recased}{}", &header[..start], &header[end..]);
            let again = parse_authorization(&other);
            match (&parsed, &again) {
                (Some(Authorization::Other(_)), Some(Authorization::Other(s))) => {
                    assert_eq!(*s, recased.as_str());
                }
                _ => assert_eq!(parsed, again, "{header:?} and {other:?} read differently"),
            }
        }
    }
}

/// The leading token of a trimmed value (empty when it does not start with one).
fn scheme_of(trimmed: &str) -> &str {
    let end = trimmed
        .bytes()
        .position(|b| !is_tchar(b))
        .unwrap_or(trimmed.len());
    &trimmed[..end]
}

/// Digest auth-params: at least one, names lowercase tokens given once, values free of ASCII
/// control characters but tab (no line break, NUL or DEL); written back as quoted strings,
/// they read the same.
fn check_params(header: &str, params: &[(String, String)]) {
    assert!(!params.is_empty(), "{header:?}: Digest with no parameter");
    for (i, (name, value)) in params.iter().enumerate() {
        assert!(
            !name.is_empty() && name.bytes().all(is_tchar),
            "{header:?}: name {name:?}"
        );
        assert_eq!(
            *name,
            name.to_ascii_lowercase(),
            "{header:?}: name not lowercased"
        );
        assert!(
            params[..i].iter().all(|(n, _)| n != name),
            "{header:?}: {name} given twice"
        );
        assert!(
            value
                .chars()
                .all(|c| c == '\t' || !c.is_control() || !c.is_ascii()),
            "{header:?}: value {value:?} holds a control character"
        );
    }
    let written = format!(
        "Digest {}",
        params
            .iter()
            .map(|(n, v)| format!("{n}={}", quote(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if written.len() <= MAX_HEADER_LEN {
        assert_eq!(
            parse_authorization(&written),
            Some(Authorization::Digest(params.to_vec())),
            "{header:?} written back as {written:?} reads differently"
        );
    }
}

/// `value` as an HTTP quoted-string (RFC 9110 §5.6.4).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_headers_hold() {
        for header in [
            r#"Digest username="phone-0004f2aabbcc", realm="deskprov", nonce="abc", uri="/x.cfg", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="0a4f113b", response="00""#,
            "Basic dXNlcjpwdw==",
            "Bearer x",
            "Digest a=\"\\\"\\\\\", b=c",
            "",
        ] {
            check(header);
        }
    }
}
