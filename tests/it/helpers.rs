//! A running deskprov on loopback with a temporary database, and request helpers.

use deskprov::domain::audit::Actor;
use deskprov::domain::token::{TokenDraft, TokenRole};
use std::net::SocketAddr;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use deskprov::config::{DbArgs, LogFormat, Retention, ServeConfig};
use deskprov::profile::Vendors;
use deskprov::server::{self, Running};
use deskprov::service::{Services, tokens};
use deskprov::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A MAC from Yealink's 00:15:65 block.
pub const YEALINK_MAC: &str = "001565aabbcc";
/// A real Yealink User-Agent for [`YEALINK_MAC`].
pub const YEALINK_UA: &str = "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc";

/// A server started for one test.
pub struct TestApp {
    pub running: Option<Running>,
    pub phone: SocketAddr,
    pub admin: SocketAddr,
    pub db: PathBuf,
    pub admin_token: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Serve config on loopback ports chosen by the OS.
pub fn loopback_config(db: PathBuf) -> ServeConfig {
    ServeConfig {
        db: DbArgs { path: db },
        phone_listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: None,
        tls_key: None,
        phone_tls_listen: "127.0.0.1:0".parse().unwrap(),
        trusted_proxies: Vec::new(),
        public_url: None,
        client_cas: Vec::new(),
        ban_misses: 10,
        ban_window: std::time::Duration::from_secs(60),
        ban_for: std::time::Duration::from_secs(900),
        nonce_lifetime: std::time::Duration::from_secs(300),
        keepalive_timeout: std::time::Duration::from_secs(30),
        max_connections: 4096,
        max_connections_per_source: 256,
        fetch_retention: Retention(Some(std::time::Duration::from_secs(90 * 86_400))),
        access_log: deskprov::config::AccessLogTarget(None),
        state_flush_interval: std::time::Duration::from_secs(60),
        render_ahead: true,
        demo: false,
        log_format: LogFormat::Text,
    }
}

impl TestApp {
    /// Starts a server on a fresh database file with one global admin token.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the config first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("deskprov.db");
        let mut config = loopback_config(db.clone());
        adjust(&mut config);
        let running = server::start(&config).await.expect("server starts");
        let admin_token = create_token(
            &running.state.services.store,
            TokenRole::Admin,
            None,
            "test-admin",
        )
        .await;
        Self {
            phone: running.phone_addr,
            admin: running.admin_addr,
            running: Some(running),
            db,
            admin_token,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn store(&self) -> &Store {
        &self.running.as_ref().unwrap().state.services.store
    }

    /// The use cases the server runs on.
    pub fn services(&self) -> &Services {
        &self.running.as_ref().unwrap().state.services
    }

    /// Stops the server and starts it again on the same database, with `adjust` applied to
    /// the config (the admin token stays valid: it is in the database).
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut ServeConfig)) {
        self.stop().await;
        let mut config = loopback_config(self.db.clone());
        adjust(&mut config);
        let running = server::start(&config).await.expect("server starts");
        self.phone = running.phone_addr;
        self.admin = running.admin_addr;
        self.running = Some(running);
    }

    /// Stops the server and waits for queued fetch records to be written.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// An API call with the admin token; returns status and JSON body (Null when empty).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.api_as(&self.admin_token, method, path, body).await
    }

    /// An API call with `token`.
    pub async fn api_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("http://{}/api/v1{path}", self.admin))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("admin listener answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.api(Method::GET, path, None).await
    }

    /// A phone fetch of `/{file}` with an optional User-Agent.
    pub async fn phone_get(&self, file: &str, ua: Option<&str>) -> reqwest::Response {
        self.phone_request(file, ua, &[]).await
    }

    /// A phone fetch with extra headers.
    pub async fn phone_request(
        &self,
        file: &str,
        ua: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.get(format!("http://{}/{file}", self.phone));
        if let Some(ua) = ua {
            req = req.header("user-agent", ua);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("phone listener answers")
    }

    /// Tenant `testsite.com` on `pbx.testsite.com`.
    pub async fn tenant(&self) {
        let (status, body) = self
            .post(
                "/tenants",
                json!({"name": "testsite.com", "sip_server": "pbx.testsite.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// A user in `testsite.com`; returns the response body.
    pub async fn user(&self, extension: &str, name: &str) -> Value {
        let (status, body) = self
            .post("/tenants/testsite.com/users", json!({"name": name, "extension": extension, "email": format!("u{extension}@testsite.com")}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// An alias of `extension`; returns its id.
    pub async fn alias(&self, extension: &str, name: &str) -> i64 {
        let (status, body) = self
            .post(
                &format!("/tenants/testsite.com/users/{extension}/aliases"),
                json!({"name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Registers `mac` to `extension` in `testsite.com`.
    pub async fn device(&self, mac: &str, extension: &str) -> Value {
        let (status, body) = self
            .post(
                "/devices",
                json!({"mac": mac, "tenant": "testsite.com", "extension": extension}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Tenant, user 101 "John Smith" with aliases "John Support" and "John Sales", and a
    /// Yealink device.
    pub async fn john_with_phone(&self) {
        self.tenant().await;
        self.user("101", "John Smith").await;
        self.alias("101", "John Support").await;
        self.alias("101", "John Sales").await;
        self.device(YEALINK_MAC, "101").await;
    }

    /// Row counts of every table, to prove a refused request wrote nothing.
    pub async fn counts(&self) -> Vec<(String, i64)> {
        self.store()
            .read(|c| {
                let mut out = Vec::new();
                for table in [
                    "tenants",
                    "sites",
                    "users",
                    "aliases",
                    "devices",
                    "tokens",
                    "audit",
                    "user_keys",
                    "device_keys",
                ] {
                    let n: i64 =
                        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
                    out.push((table.to_owned(), n));
                }
                Ok(out)
            })
            .await
            .unwrap()
    }
}

/// Creates a token through the same use case as `deskprov token create`.
pub async fn create_token(
    store: &Store,
    role: TokenRole,
    tenant_id: Option<i64>,
    name: &str,
) -> String {
    static VENDORS: OnceLock<Arc<Vendors>> = OnceLock::new();
    let vendors = VENDORS.get_or_init(|| Arc::new(Vendors::builtin().unwrap()));
    let services = Services::new(store.clone(), vendors.clone(), None);
    let tenant = match tenant_id {
        Some(id) => Some(
            store
                .read(move |c| deskprov::store::tenants::by_id(c, id))
                .await
                .unwrap()
                .name,
        ),
        None => None,
    };
    let draft = TokenDraft {
        role,
        tenant,
        name: Some(name.to_owned()),
    };
    tokens::create(&services, &Actor::new("test"), draft)
        .await
        .unwrap()
}

/// Parses a `key = value` file into ordered pairs; panics on a line that is neither.
pub fn parse_kv(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once(" = ")
                .unwrap_or_else(|| panic!("not a key = value line: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The value of `key` in a `key = value` file.
pub fn kv<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Asserts an API error body names `field` with `code`.
pub fn assert_error(body: &Value, field: &str, code: &str) {
    assert_eq!(body["error"]["field"], field, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Sends a request that must be refused: asserts the status, the error's field and code, and
/// that no table changed. Returns the error body.
pub async fn assert_refused(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
    field: &str,
    code: &str,
) -> Value {
    let before = app.counts().await;
    let (got, resp) = app.api(method.clone(), path, body.clone()).await;
    assert_eq!(got, status, "{method} {path} {body:?}: {resp}");
    assert_error(&resp, field, code);
    assert_eq!(
        app.counts().await,
        before,
        "{method} {path} {body:?} was refused but wrote something"
    );
    resp
}

/// A request to the admin listener with a raw body and optional token and content type.
pub async fn raw_request(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, format!("http://{}{path}", app.admin))
        .body(body.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.expect("admin listener answers")
}

/// The row id of the tenant called `name`.
pub async fn tenant_id(app: &TestApp, name: &str) -> i64 {
    let name = name.to_owned();
    app.store()
        .read(move |c| deskprov::store::tenants::by_name(c, &name))
        .await
        .unwrap()
        .id
}

/// A child process that is killed when dropped, so a failing test leaves nothing running.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child still owned")
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("child still owned").id()
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child().try_wait().expect("try_wait") {
                self.0 = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `(kind, status, result)` of every event in the devices' history, oldest first. Events
/// are written before the phone gets its answer: no waiting.
pub async fn recorded_events(app: &TestApp) -> Vec<(String, u16, String)> {
    app.store()
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT kind, status, result FROM device_events ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap()
}

/// The values of `series` (each `name` or `name{labels}` as `/metrics` prints it), read from one
/// scrape of `/metrics`, in order. Panics naming a series that is missing.
pub async fn metric_values<const N: usize>(app: &TestApp, series: [&str; N]) -> [u64; N] {
    let text = app
        .client
        .get(format!("http://{}/metrics", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    series.map(|name| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
    })
}
