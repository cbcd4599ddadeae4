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

/// A key as a served file shows it, parsed back by a family's test: where it is, what it does
/// and what it aims at, in deskprov's words (`line` keys carry the account's line number).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShownKey {
    /// Expansion module from 1, or 0 for the phone itself.
    pub module: u32,
    /// Position from 1.
    pub position: u32,
    /// `line`, `blf`, `speed_dial`, `park`, `pickup` (blank keys are left out).
    pub kind: String,
    /// The line number (`line`), extension, digits or SIP URI.
    pub value: String,
    /// The text on the key.
    pub label: String,
}

/// The user the standard keys watch: 102 "Mary Jones".
pub const WATCHED: (&str, &str) = ("102", "Mary Jones");

/// Gives the phone's owner (101) the standard key set and the phone one override: a BLF on
/// 102, a speed dial, a park orbit, a pickup of 102, an external BLF, a blank key pinned after
/// them, and — when `module` is set — a BLF on module 1, key 2. The device overrides its first
/// free position after the plan with a speed dial to `*98`.
pub async fn provision_keys(app: &TestApp, phone: Phone<'_>, module: bool) {
    let (status, body) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": WATCHED.1, "extension": WATCHED.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut keys = vec![
        json!({"type": "blf", "value": WATCHED.0}),
        json!({"type": "speed_dial", "value": "+4930123456", "label": "Office"}),
        json!({"type": "park", "value": "701"}),
        json!({"type": "pickup", "value": WATCHED.0, "label": "Pick Mary"}),
        json!({"type": "blf", "value": "sip:desk@pbx.example.net", "external": true}),
    ];
    if module {
        keys.push(json!({"type": "blf", "value": WATCHED.0, "label": "Mary EXP", "module": 1, "position": 2}));
    }
    let (status, body) = app
        .api(
            reqwest::Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({ "keys": keys })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .api(
            reqwest::Method::PUT,
            &format!("/devices/{}/keys", phone.mac),
            Some(json!({"keys": [{"type": "speed_dial", "value": "*98", "label": "Mailbox"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The keys the layout endpoint says the phone shows (blank keys left out), as [`ShownKey`]s.
pub async fn layout_keys(app: &TestApp, mac: &str) -> Vec<ShownKey> {
    let (status, body) = app.get(&format!("/devices/{mac}/layout")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut keys: Vec<ShownKey> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["type"] != "none")
        .map(|k| ShownKey {
            module: k.get("module").and_then(|m| m.as_u64()).unwrap_or(0) as u32,
            position: k["position"].as_u64().unwrap() as u32,
            kind: k["type"].as_str().unwrap().to_owned(),
            value: k["value"].as_str().unwrap().to_owned(),
            label: k["label"].as_str().unwrap().to_owned(),
        })
        .collect();
    keys.sort();
    keys
}

/// Asserts what a family's parser read back from the served files is what the layout says:
/// every account of the plan on exactly one key, no key on an account the model lacks, and the
/// user, device and module keys where the layout puts them.
pub async fn assert_keys_as_laid_out(app: &TestApp, mac: &str, shown: Vec<ShownKey>) {
    assert_keys_shown_as(app, mac, shown, &[]).await;
}

/// [`assert_keys_as_laid_out`] for a family whose files cannot tell some key types apart:
/// `(layout type, type the file shows)` pairs, such as `("pickup", "blf")` where a family picks
/// calls up with a BLF key.
pub async fn assert_keys_shown_as(
    app: &TestApp,
    mac: &str,
    mut shown: Vec<ShownKey>,
    shown_as: &[(&str, &str)],
) {
    shown.sort();
    let mut expected = layout_keys(app, mac).await;
    for k in &mut expected {
        if let Some((_, as_kind)) = shown_as.iter().find(|(kind, _)| *kind == k.kind) {
            k.kind = (*as_kind).to_owned();
        }
    }
    expected.sort();
    assert_eq!(
        shown, expected,
        "keys in the served files differ from the layout"
    );
    let (lines, _) = line_map(app, mac).await;
    for line in 1..=lines.len() {
        let on = shown
            .iter()
            .filter(|k| k.kind == "line" && k.value == line.to_string())
            .count();
        assert_eq!(on, 1, "account {line} is on {on} keys");
    }
    let (status, layout) = app.get(&format!("/devices/{mac}/layout")).await;
    assert_eq!(status, StatusCode::OK);
    let accounts = layout["accounts"].as_u64().unwrap() as usize;
    for k in shown.iter().filter(|k| k.kind == "line") {
        let n: usize = k.value.parse().unwrap();
        assert!((1..=accounts).contains(&n), "a key points at account {n}");
    }
}
