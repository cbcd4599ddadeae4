//! Phone authentication over real sockets: Digest and Basic per tenant and per device, rotation,
//! replay, URL keys, trusted proxies, and misses that all look alike.

use md5::{Digest as _, Md5};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const FILE: &str = "001565aabbcc.cfg";

/// What a 401 offers: the values of every `WWW-Authenticate` header.
fn challenges(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of `key="…"` (or `key=token`) in a challenge.
fn param(challenge: &str, key: &str) -> String {
    let start = challenge
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("{key} in {challenge}"))
        + key.len()
        + 1;
    let rest = &challenge[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_owned(),
        None => rest.split([',', ' ']).next().unwrap().to_owned(),
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// A Digest MD5 Authorization header as a phone builds it from `challenge`.
fn digest_header(challenge: &str, user: &str, password: &str, uri: &str, nc: u32) -> String {
    let (realm, nonce, opaque) = (
        param(challenge, "realm"),
        param(challenge, "nonce"),
        param(challenge, "opaque"),
    );
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5, \
         qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", opaque=\"{opaque}\""
    )
}

/// The MD5 Digest challenge of a 401.
async fn md5_challenge(app: &TestApp, file: &str) -> String {
    let resp = app.phone_get(file, Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    challenges(&resp)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .expect("an MD5 challenge")
}

/// Turns the tenant's phone auth to `mode` with username `phones`; returns the generated password.
async fn require_credentials(app: &TestApp, mode: &str) -> String {
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"mode": mode, "username": "phones"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["phone_auth"]["generated_password"]
        .as_str()
        .expect("a generated password, shown once")
        .to_owned()
}

#[tokio::test]
async fn digest_credentials_are_required_checked_and_never_replayed() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let password = require_credentials(&app, "digest").await;

    let resp = app.phone_get(FILE, Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let offered = challenges(&resp);
    assert_eq!(offered.len(), 3, "{offered:?}");
    assert!(
        offered[0].starts_with("Digest ")
            && offered[0].contains("algorithm=SHA-256")
            && offered[0].contains("qop=\"auth\"")
    );
    assert!(offered[1].contains("algorithm=MD5") && offered[2].starts_with("Basic "));
    assert!(!resp.text().await.unwrap().contains("account."));

    let challenge = md5_challenge(&app, FILE).await;
    let uri = format!("/{FILE}");
    let good = digest_header(&challenge, "phones", &password, &uri, 1);
    let ok = app
        .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &good)])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("account.1.user_name = testsitecom_101")
    );
    // The very same header again is a replay.
    let replay = app
        .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &good)])
        .await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    // The next count on the same nonce works, as phones do.
    let next = digest_header(&challenge, "phones", &password, &uri, 2);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &next)])
            .await
            .status(),
        StatusCode::OK
    );

    for (user, pw, uri) in [
        ("phones", "Wrong-Password-123", uri.as_str()),
        ("someone", password.as_str(), uri.as_str()),
        ("phones", password.as_str(), "/001565aabbcd.cfg"),
    ] {
        let challenge = md5_challenge(&app, FILE).await;
        let bad = digest_header(&challenge, user, pw, uri, 1);
        let resp = app
            .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &bad)])
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{user} {uri}");
    }
    // Basic is not accepted while the tenant asks for Digest.
    let basic = format!("Basic {}", base64_encode(&format!("phones:{password}")));
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &basic)])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn credential_refusals_are_recorded_by_reason() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let password = require_credentials(&app, "digest").await;
    let uri = format!("/{FILE}");
    let challenge = md5_challenge(&app, FILE).await;
    let good = digest_header(&challenge, "phones", &password, &uri, 1);
    let basic = format!("Basic {}", base64_encode(&format!("phones:{password}")));
    let mut sent = vec![good.clone(), good, basic];
    for (user, pw, uri) in [
        ("phones", "Wrong-Password-123", uri.as_str()),
        ("someone", password.as_str(), uri.as_str()),
        ("phones", password.as_str(), "/001565aabbcd.cfg"),
    ] {
        let challenge = md5_challenge(&app, FILE).await;
        sent.push(digest_header(&challenge, user, pw, uri, 1));
    }
    for header in &sent {
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", header)])
            .await;
    }
    // Each md5_challenge is a request without credentials: the first step of every Digest
    // exchange, not history. The first success binds; every refusal after it is kept.
    let events: Vec<(String, String)> = recorded_events(&app)
        .await
        .into_iter()
        .map(|(kind, _, result)| (kind, result))
        .collect();
    let event = |kind: &str, result: &str| (kind.to_owned(), result.to_owned());
    assert_eq!(
        events,
        [
            event("first_fetch", "served"),
            event("new_version", "served"),
            event("refused", "credentials_replayed"),
            event("refused", "credentials_unsupported"),
            event("refused", "credentials_wrong_password"),
            event("refused", "credentials_wrong_username"),
            event("refused", "credentials_wrong_uri"),
        ]
    );
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn unknown_mac_missing_and_wrong_credentials_look_the_same() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let password = require_credentials(&app, "digest").await;
    let challenge = md5_challenge(&app, FILE).await;
    let wrong = digest_header(
        &challenge,
        "phones",
        &format!("{password}x"),
        &format!("/{FILE}"),
        1,
    );
    let answers = [
        app.phone_get(
            "001565000001.cfg",
            Some("Yealink SIP-T46U 108.86.0.45 00:15:65:00:00:01"),
        )
        .await,
        app.phone_get(FILE, Some(YEALINK_UA)).await,
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &wrong)])
            .await,
    ];
    let mut seen = Vec::new();
    for resp in answers {
        let status = resp.status();
        // Nonces are fresh per answer; everything else must be equal.
        let mut headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| {
                let v = v.to_str().unwrap();
                let v = match v.find("nonce=\"") {
                    Some(i) => format!(
                        "{}nonce=…{}",
                        &v[..i],
                        &v[i + 7 + v[i + 7..].find('"').unwrap() + 1..]
                    ),
                    None => v.to_owned(),
                };
                (k.to_string(), v)
            })
            .collect();
        headers.sort();
        seen.push((status, headers, resp.text().await.unwrap()));
    }
    assert_eq!(seen[0].0, StatusCode::UNAUTHORIZED);
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
}

#[tokio::test]
async fn two_passwords_work_during_a_rotation() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (old, new) = ("Old-Phone-Pass-2025", "New-Phone-Pass-2026");
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"mode": "digest", "username": "phones", "passwords": [old, new]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for pw in [old, new] {
        let challenge = md5_challenge(&app, FILE).await;
        let header = digest_header(&challenge, "phones", pw, &format!("/{FILE}"), 1);
        assert_eq!(
            app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &header)])
                .await
                .status(),
            StatusCode::OK,
            "{pw}"
        );
    }
    // Rotation done: only the new one is left.
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"passwords": [new]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let challenge = md5_challenge(&app, FILE).await;
    let header = digest_header(&challenge, "phones", old, &format!("/{FILE}"), 1);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &header)])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn basic_works_where_the_tenant_allows_it() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let password = require_credentials(&app, "basic").await;
    let good = format!("Basic {}", base64_encode(&format!("phones:{password}")));
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &good)])
            .await
            .status(),
        StatusCode::OK
    );
    let wrong_user = format!("Basic {}", base64_encode(&format!("other:{password}")));
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &wrong_user)])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Digest is stronger and accepted too.
    let challenge = md5_challenge(&app, FILE).await;
    let digest = digest_header(&challenge, "phones", &password, &format!("/{FILE}"), 1);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &digest)])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_device_can_have_credentials_of_its_own() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (status, device) = app
        .api(
            Method::PATCH,
            "/devices/001565aabbcc",
            Some(json!({"phone_credentials": {"username": "desk-101"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    assert_eq!(device["phone_credentials"]["username"], "desk-101");
    let password = device["phone_credentials"]["generated_password"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, again) = app.get("/devices/001565aabbcc").await;
    assert!(
        again["phone_credentials"]
            .get("generated_password")
            .is_none(),
        "shown once"
    );
    assert!(!again.to_string().contains(&password));

    // The tenant asks for nothing, but this device does.
    let challenge = md5_challenge(&app, FILE).await;
    let header = digest_header(&challenge, "desk-101", &password, &format!("/{FILE}"), 1);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &header)])
            .await
            .status(),
        StatusCode::OK
    );

    // Installers cannot set credentials.
    let installer = create_token(
        app.store(),
        deskprov::domain::token::TokenRole::Installer,
        Some(1),
        "inst",
    )
    .await;
    let (status, _) = app
        .api_as(
            &installer,
            Method::PATCH,
            "/devices/001565aabbcc",
            Some(json!({"phone_credentials": null})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Removing them opens the device again (the tenant asks for nothing).
    let (status, _) = app
        .api(
            Method::PATCH,
            "/devices/001565aabbcc",
            Some(json!({"phone_credentials": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn url_keys_are_generated_and_rotated() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let generate = || {
        app.api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"url_key": "generate"}})),
        )
    };
    let (status, tenant) = generate().await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    let first = tenant["phone_auth"]["url_key"].as_str().unwrap().to_owned();
    assert!(
        first.len() >= 16 && first.chars().all(|c| c.is_ascii_alphanumeric()),
        "{first}"
    );
    assert_eq!(
        app.phone_get(&format!("{first}/{FILE}"), Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
    let (_, tenant) = generate().await;
    let second = tenant["phone_auth"]["url_key"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.phone_get(&format!("{first}/{FILE}"), Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.phone_get(&format!("{second}/{FILE}"), Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let app =
        TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()]).await;
    app.john_with_phone().await;
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"allow_cidrs": ["10.20.0.0/16"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let get = |client: reqwest::Client, xff: &'static str| {
        let url = format!("http://{}/{FILE}", app.phone);
        async move {
            client
                .get(url)
                .header("user-agent", YEALINK_UA)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The trusted proxy vouches for a phone inside the allow-list.
    assert_eq!(get(from("127.0.0.2"), "10.20.3.4").await, StatusCode::OK);
    assert_eq!(
        get(from("127.0.0.2"), "192.0.2.1").await,
        StatusCode::NOT_FOUND
    );
    // Anyone else's header is ignored: the peer address (loopback) is not in the list.
    assert_eq!(
        get(from("127.0.0.3"), "10.20.3.4").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_site_narrows_the_tenant_allow_list() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let (status, body) = app
        .post(
            "/tenants/testsite.com/sites",
            json!({"name": "Berlin", "allow_cidrs": ["10.0.0.0/8", "bad"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "allow_cidrs[1]", "cidr_invalid");
    let (status, site) = app
        .post(
            "/tenants/testsite.com/sites",
            json!({"name": "Berlin", "allow_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert_eq!(site["allow_cidrs"], json!(["10.0.0.0/8"]));
    let (status, _) = app
        .post("/devices", json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "site": "Berlin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Loopback is in the tenant's list but not in the site's.
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, site) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/sites/Berlin",
            Some(json!({"allow_cidrs": ["127.0.0.0/8"], "timezone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{site}");
    assert_eq!(site["timezone"], "Europe/Berlin");
    assert_eq!(
        app.phone_get(FILE, Some(YEALINK_UA)).await.status(),
        StatusCode::OK
    );
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com/sites/Nowhere",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_tenants_credentials_do_not_open_another_tenants_phones() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let password_a = require_credentials(&app, "digest").await;
    let (status, _) = app
        .post(
            "/tenants",
            json!({"name": "other.org", "sip_server": "pbx.other.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/other.org",
            Some(json!({"phone_auth": {"mode": "digest", "username": "phones"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post(
            "/tenants/other.org/users",
            json!({"name": "Olga", "extension": "201"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            "/devices",
            json!({"mac": "001565bbccdd", "tenant": "other.org", "extension": "201"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Same username, tenant A's password, tenant B's phone: refused.
    let file = "001565bbccdd.cfg";
    let ua = "Yealink SIP-T46U 108.86.0.45 00:15:65:bb:cc:dd";
    let resp = app.phone_get(file, Some(ua)).await;
    let challenge = challenges(&resp)
        .into_iter()
        .find(|c| c.contains("algorithm=MD5"))
        .unwrap();
    let header = digest_header(&challenge, "phones", &password_a, &format!("/{file}"), 1);
    assert_eq!(
        app.phone_request(file, Some(ua), &[("authorization", &header)])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // And tenant A's own phone still opens with it.
    let challenge = md5_challenge(&app, FILE).await;
    let header = digest_header(&challenge, "phones", &password_a, &format!("/{FILE}"), 1);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &header)])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expired_nonce_with_the_right_password_is_answered_stale() {
    let app = TestApp::spawn_with(|c| c.nonce_lifetime = std::time::Duration::from_secs(1)).await;
    app.john_with_phone().await;
    let password = require_credentials(&app, "digest").await;
    let uri = format!("/{FILE}");
    let challenge = md5_challenge(&app, FILE).await;
    assert!(!challenge.contains("stale"), "{challenge}");
    let first = digest_header(&challenge, "phones", &password, &uri, 1);
    let ok = app
        .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &first)])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // Right password, expired nonce: stale, so the phone retries without asking anyone.
    let late = digest_header(&challenge, "phones", &password, &uri, 2);
    let stale = app
        .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &late)])
        .await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let offered = challenges(&stale);
    let digests: Vec<&String> = offered.iter().filter(|c| c.starts_with("Digest")).collect();
    assert_eq!(digests.len(), 2, "{offered:?}");
    assert!(
        digests.iter().all(|c| c.contains("stale=true")),
        "{offered:?}"
    );
    // Wrong password on an expired nonce: an ordinary challenge.
    let wrong = digest_header(&challenge, "phones", "Wrong-Password-123", &uri, 3);
    let refused = app
        .phone_request(FILE, Some(YEALINK_UA), &[("authorization", &wrong)])
        .await;
    assert!(challenges(&refused).iter().all(|c| !c.contains("stale")));
    // The fresh nonce of the stale answer works.
    let fresh = digests
        .iter()
        .find(|c| c.contains("algorithm=MD5"))
        .unwrap()
        .to_string();
    let retry = digest_header(&fresh, "phones", &password, &uri, 1);
    assert_eq!(
        app.phone_request(FILE, Some(YEALINK_UA), &[("authorization", &retry)])
            .await
            .status(),
        StatusCode::OK
    );
}
