//! Shared pieces of the per-vendor tests: a provisioned phone with fixed secrets, fetching as
//! that phone, golden-file comparison, and parse-back helpers.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The owner's SIP password in every vendor test (fixed, so golden files are stable).
pub const OWNER_PASSWORD: &str = "Owner-Pass-0001";

/// The phone admin password the test tenant sets (fixed, so golden files are stable).
pub const ADMIN_PASSWORD: &str = "Admin-Pass-0001";

/// The test tenant's voicemail number.
pub const VOICEMAIL: &str = "*97";

/// The SIP password of the `i`-th alias (from 1).
pub fn alias_password(i: usize) -> String {
    format!("Alias-Pass-{i:04}")
}

/// A phone under test.
#[derive(Debug, Clone, Copy)]
pub struct Phone<'a> {
    /// Vendor profile id.
    pub vendor: &'a str,
    /// MAC (lower12), inside one of the vendor's OUIs.
    pub mac: &'a str,
    /// Model as registered.
    pub model: &'a str,
    /// A real User-Agent of that model (with the same MAC when the vendor sends one).
    pub ua: &'a str,
}

/// A display name that must come through every format intact and escaped.
pub const TRICKY_NAME: &str = "A & B <x> \"q\" 'r' Zoë";

/// Tenant `testsite.com` (Berlin time, German, its own NTP server, voicemail `*97`, a fixed phone
/// admin password), user 101 `owner` with a fixed password and `aliases` with fixed passwords,
/// and `phone` registered to 101.
pub async fn provision(app: &TestApp, phone: Phone<'_>, owner: &str, aliases: &[&str]) {
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "testsite.com", "sip_server": "pbx.testsite.com", "sip_port": 5062, "transport": "tcp",
                   "timezone": "Europe/Berlin", "ntp_server": "ntp.testsite.com", "language": "de",
                   "voicemail_number": VOICEMAIL, "phone_admin_password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": owner, "extension": "101", "sip_password": OWNER_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (i, alias) in aliases.iter().enumerate() {
        let (status, body) = app
            .post(
                "/tenants/testsite.com/users/101/aliases",
                json!({"name": alias, "sip_password": alias_password(i + 1)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post("/devices", json!({"mac": phone.mac, "tenant": "testsite.com", "extension": "101", "model": phone.model, "vendor": phone.vendor}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Fetches `file` with the phone's User-Agent; asserts 200 and returns the body and content type.
pub async fn fetch(app: &TestApp, phone: Phone<'_>, file: &str) -> (String, String) {
    let resp = app.phone_get(file, Some(phone.ua)).await;
    assert_eq!(resp.status(), StatusCode::OK, "{file}");
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    (resp.text().await.unwrap(), content_type)
}

/// The status a phone gets for `file`.
pub async fn status_of(app: &TestApp, phone: Phone<'_>, file: &str) -> StatusCode {
    app.phone_get(file, Some(phone.ua)).await.status()
}

/// Compares `body` with `tests/golden/<vendor>/<case>/<file>`. Set `UPDATE_GOLDEN=1` to
/// (re)write the golden file instead; review the diff before committing it.
pub fn golden(vendor: &str, case: &str, file: &str, body: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        vendor,
        case,
        file,
    ]
    .iter()
    .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        body,
        expected,
        "{} differs from its golden file",
        path.display()
    );
}

/// Parses XML (panics with the error if it is not well-formed).
pub fn parse_xml(body: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(body)
        .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{body}"))
}

/// The set of keys of a `key = value` file.
pub fn keys(pairs: &[(String, String)]) -> BTreeSet<String> {
    pairs.iter().map(|(k, _)| k.clone()).collect()
}

/// The owner's revealed SIP password as the API reports it (to search files for it).
pub async fn owner_password(app: &TestApp) -> String {
    let (_, user) = app
        .api(
            reqwest::Method::GET,
            "/tenants/testsite.com/users/101?reveal=true",
            None,
        )
        .await;
    user["sip_password"].as_str().unwrap().to_owned()
}

/// The line map the API reports for `mac`: (names on lines, names in overflow).
pub async fn line_map(app: &TestApp, mac: &str) -> (Vec<String>, Vec<String>) {
    let (status, body) = app.get(&format!("/devices/{mac}/lines")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = |key: &str| {
        body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect()
    };
    (names("lines"), names("overflow"))
}

/// Asserts the phone's common files hold no secret: no SIP or admin password value, no
/// password key.
pub fn assert_no_secrets(file: &str, body: &str) {
    for secret in [
        OWNER_PASSWORD,
        ADMIN_PASSWORD,
        &alias_password(1),
        &alias_password(2),
        &alias_password(3),
    ] {
        assert!(!body.contains(secret), "{file} leaks a password");
    }
    let lower = body.to_lowercase();
    for marker in ["password", "passwd", "pswd", "secret"] {
        assert!(!lower.contains(marker), "{file} mentions {marker}:\n{body}");
    }
}
