//! HTTPS and mutual TLS over real handshakes: certificates made in the test with rcgen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// A certificate authority made for the test.
struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and key (PEM) with `cn` and the given DNS/IP names.
    fn leaf(&self, cn: &str, names: &[&str]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server with HTTPS on a certificate from `server_ca`, and client certificates from
/// `phone_ca` pinned to Yealink.
async fn tls_app(dir: &Path, server_ca: &Ca, phone_ca: &Ca) -> TestApp {
    let (cert, key) = server_ca.leaf("localhost", &["localhost", "127.0.0.1"]);
    let cert = write(dir, "server.pem", &cert);
    let key = write(dir, "server.key", &key);
    let phones = write(dir, "yealink-ca.pem", &phone_ca.cert_pem);
    TestApp::spawn_with(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        c.client_cas = vec![format!("yealink={}", phones.display()).parse().unwrap()];
    })
    .await
}

fn https_url(app: &TestApp, file: &str) -> String {
    let addr = app
        .running
        .as_ref()
        .unwrap()
        .phone_tls_addr
        .expect("HTTPS listener");
    format!("https://localhost:{}/{file}", addr.port())
}

/// A client trusting `ca`, presenting `identity` (cert + key PEM) if given.
fn client(ca: &Ca, identity: Option<(&str, &str)>, tls12_only: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).unwrap())
        .resolve("localhost", "127.0.0.1:0".parse().unwrap());
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    if tls12_only {
        builder = builder.max_tls_version(reqwest::tls::Version::TLS_1_2);
    }
    builder.build().unwrap()
}

async fn try_fetch(client: &reqwest::Client, url: &str) -> Result<StatusCode, reqwest::Error> {
    client
        .get(url)
        .header("user-agent", YEALINK_UA)
        .send()
        .await
        .map(|r| r.status())
}

#[tokio::test]
async fn phones_fetch_over_tls_1_2_and_1_3() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, phone_ca) = (Ca::new("Test Server CA"), Ca::new("Yealink Test CA"));
    let app = tls_app(dir.path(), &server_ca, &phone_ca).await;
    app.john_with_phone().await;
    let url = https_url(&app, "001565aabbcc.cfg");
    for tls12 in [false, true] {
        let resp = client(&server_ca, None, tls12)
            .get(&url)
            .header("user-agent", YEALINK_UA)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "tls12 only: {tls12}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("account.1.display_name = John Smith")
        );
    }
    // Plain HTTP stays available for tenants that allow it.
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::OK
    );
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"require_https": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let plain = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(plain.status(), StatusCode::NOT_FOUND);
    let common = app.phone_get("y000000000108.cfg", Some(YEALINK_UA)).await;
    assert_eq!(
        common.status(),
        StatusCode::OK,
        "common files hold no secrets"
    );
    assert_eq!(
        status_of(&client(&server_ca, None, false), &url).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_certificates_bind_the_mac_the_vendor_and_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, phone_ca) = (Ca::new("Test Server CA"), Ca::new("Yealink Test CA"));
    let app = tls_app(dir.path(), &server_ca, &phone_ca).await;
    app.john_with_phone().await;
    app.user("102", "Mary Jones").await;
    app.device("001565aabbcd", "102").await;
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"require_client_cert": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let url = https_url(&app, "001565aabbcc.cfg");

    // No certificate: refused like an unknown device.
    assert_eq!(
        status_of(&client(&server_ca, None, false), &url).await,
        StatusCode::NOT_FOUND
    );
    // Plain HTTP cannot carry a certificate: refused too.
    assert_eq!(
        app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let (cert_a, key_a) = phone_ca.leaf("00:15:65:AA:BB:CC", &[]);
    let phone_a = client(&server_ca, Some((&cert_a, &key_a)), false);
    assert_eq!(status_of(&phone_a, &url).await, StatusCode::OK);
    // Phone A asking for B's file.
    let b_url = https_url(&app, "001565aabbcd.cfg");
    assert_eq!(
        phone_a
            .get(&b_url)
            .header("user-agent", "Yealink SIP-T46U 108.86.0.45")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // The first fetch bound the device to A's certificate; wait for the writer, then a second
    // genuine-looking certificate for the same MAC is refused.
    let mut bound = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, device) = app.get("/devices/001565aabbcc").await;
        if device["bound_cert_fingerprint"].is_string() {
            bound = device;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        bound["bound_cert_fingerprint"].as_str().unwrap().len(),
        64,
        "{bound}"
    );
    assert_eq!(bound["bound_ip"], "127.0.0.1");
    let (cert_a2, key_a2) = phone_ca.leaf("001565aabbcc", &[]);
    assert_eq!(
        status_of(&client(&server_ca, Some((&cert_a2, &key_a2)), false), &url).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&phone_a, &url).await,
        StatusCode::OK,
        "the bound certificate still works"
    );

    // A certificate from a CA deskprov does not trust fails the handshake.
    let stranger_ca = Ca::new("Someone Else");
    let (cert_x, key_x) = stranger_ca.leaf("001565aabbcc", &[]);
    assert!(
        try_fetch(&client(&server_ca, Some((&cert_x, &key_x)), false), &url)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_pinned_vendor_ca_does_not_vouch_for_another_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, phone_ca) = (Ca::new("Test Server CA"), Ca::new("Yealink Test CA"));
    let app = tls_app(dir.path(), &server_ca, &phone_ca).await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "0004f2a1b2c3", "tenant": "testsite.com", "extension": "101"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A Yealink-CA certificate naming the Poly phone's MAC.
    let (cert, key) = phone_ca.leaf("0004f2a1b2c3", &[]);
    let url = https_url(&app, "0004f2a1b2c3-user.cfg");
    let resp = client(&server_ca, Some((&cert, &key)), false)
        .get(&url)
        .header(
            "user-agent",
            "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

async fn status_of(client: &reqwest::Client, url: &str) -> StatusCode {
    try_fetch(client, url).await.expect("handshake succeeds")
}

#[tokio::test]
async fn a_new_certificate_is_served_after_the_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, phone_ca) = (Ca::new("Old Server CA"), Ca::new("Yealink Test CA"));
    let app = tls_app(dir.path(), &old_ca, &phone_ca).await;
    app.john_with_phone().await;
    let url = https_url(&app, "001565aabbcc.cfg");
    assert_eq!(
        status_of(&client(&old_ca, None, false), &url).await,
        StatusCode::OK
    );

    let new_ca = Ca::new("New Server CA");
    let (cert, key) = new_ca.leaf("localhost", &["localhost", "127.0.0.1"]);
    // Key first, then certificate: the watcher must not pick up a mismatched pair for good.
    write(dir.path(), "server.key", &key);
    write(dir.path(), "server.pem", &cert);
    let mut switched = false;
    for _ in 0..60 {
        if try_fetch(&client(&new_ca, None, false), &url).await.is_ok() {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(switched, "the new certificate was not served within 12 s");
    assert!(
        try_fetch(&client(&old_ca, None, false), &url)
            .await
            .is_err(),
        "the old one is gone"
    );
}

#[tokio::test]
async fn sighup_reloads_the_certificate_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = Ca::new("Old Server CA");
    let (cert, key) = old_ca.leaf("localhost", &["localhost", "127.0.0.1"]);
    let cert_path = write(dir.path(), "server.pem", &cert);
    let key_path = write(dir.path(), "server.key", &key);
    let (tls_port, phone_port, admin_port) = (free_port(), free_port(), free_port());
    let child = ChildGuard(Some(
        std::process::Command::new(env!("CARGO_BIN_EXE_deskprov"))
            .arg("serve")
            .args(["--phone-listen", &format!("127.0.0.1:{phone_port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .args(["--phone-tls-listen", &format!("127.0.0.1:{tls_port}")])
            .arg("--tls-cert")
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path)
            .arg("--db")
            .arg(dir.path().join("deskprov.db"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    // Any answer over TLS shows which certificate is served (an unknown file is a 404).
    let url = format!("https://localhost:{tls_port}/nothing.cfg");
    let mut up = false;
    for _ in 0..100 {
        if try_fetch(&client(&old_ca, None, false), &url).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the HTTPS listener came up");

    // New files, but with the old modification times: only the signal can trigger the reload.
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let (cert_time, key_time) = (stamp(&cert_path), stamp(&key_path));
    let new_ca = Ca::new("New Server CA");
    let (cert, key) = new_ca.leaf("localhost", &["localhost", "127.0.0.1"]);
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    std::fs::File::options()
        .write(true)
        .open(&cert_path)
        .unwrap()
        .set_modified(cert_time)
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&key_path)
        .unwrap()
        .set_modified(key_time)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        try_fetch(&client(&old_ca, None, false), &url).await.is_ok(),
        "no reload without a signal"
    );

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut switched = false;
    for _ in 0..50 {
        if try_fetch(&client(&new_ca, None, false), &url).await.is_ok() {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(switched, "SIGHUP reloaded the certificate");
}

#[tokio::test]
async fn an_expired_client_certificate_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, phone_ca) = (Ca::new("Test Server CA"), Ca::new("Yealink Test CA"));
    let app = tls_app(dir.path(), &server_ca, &phone_ca).await;
    app.john_with_phone().await;
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "001565aabbcc");
    params.not_before = rcgen::date_time_ymd(2015, 1, 1);
    params.not_after = rcgen::date_time_ymd(2016, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &phone_ca.issuer).unwrap();
    let expired = client(&server_ca, Some((&cert.pem(), &key.serialize_pem())), false);
    assert!(
        try_fetch(&expired, &https_url(&app, "001565aabbcc.cfg"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_phone_may_upload_only_under_its_own_certificate_mac() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, phone_ca) = (Ca::new("Test Server CA"), Ca::new("Poly Test CA"));
    let (cert, key) = server_ca.leaf("localhost", &["localhost", "127.0.0.1"]);
    let (cert, key) = (
        write(dir.path(), "s.pem", &cert),
        write(dir.path(), "s.key", &key),
    );
    let cas = write(dir.path(), "poly-ca.pem", &phone_ca.cert_pem);
    let app = TestApp::spawn_with(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        c.client_cas = vec![format!("polycom={}", cas.display()).parse().unwrap()];
    })
    .await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    for (mac, ext) in [("0004f2a1b2c3", "101"), ("0004f2a1b2c4", "102")] {
        let (status, body) = app
            .post(
                "/devices",
                json!({"mac": mac, "tenant": "testsite.com", "extension": ext}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (c, k) = phone_ca.leaf("0004f2a1b2c3", &[]);
    let phone_a = client(&server_ca, Some((&c, &k)), false);
    let put = |file: &'static str| {
        let req = phone_a
            .put(https_url(&app, file))
            .header(
                "user-agent",
                "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application",
            )
            .body("log line\n");
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(
        put("0004f2a1b2c4-app.log").await,
        StatusCode::NOT_FOUND,
        "B's name under A's certificate"
    );
    assert_eq!(put("0004f2a1b2c3-app.log").await, StatusCode::NO_CONTENT);
    let (_, b) = app.get("/devices/0004f2a1b2c4/uploads").await;
    assert!(b["uploads"].as_array().unwrap().is_empty(), "{b}");
}
