//! The pages under `/ui`: driven in headless Chromium through WebDriver (chromedriver and
//! chromium from Debian's packages, installed by `.ci/run`), and their session and CSRF rules
//! checked over plain HTTP. Screenshots of each page go to `target/ui-screenshots/` (or
//! `$DESKPROV_ARTIFACTS`).

use deskprov::domain::token::TokenRole;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, YEALINK_UA, create_token, kv, parse_kv};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// chromedriver, started for one test; killed (with the browser it started) on drop.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Self {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: the browser tests need Debian's chromium and \
             chromium-driver packages, which .ci/run installs (apt-get install chromium chromium-driver)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("chromedriver starts");
        Self {
            child,
            port,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{}/status", self.url())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The browser runs in chromedriver's process group: end them together.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session on a running deskprov.
struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: Driver,
}

fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DESKPROV_ARTIFACTS") {
        return PathBuf::from(dir).join("ui-screenshots");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-screenshots")
}

impl Browser {
    async fn open(app: &TestApp) -> Self {
        let driver = Driver::start();
        driver.wait_ready().await;
        let profile = driver._profile.path().display().to_string();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={profile}"), "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .expect("a Chromium session");
        let shots = screenshot_dir();
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            client,
            base: format!("http://{}", app.admin),
            shots,
            _driver: driver,
        }
    }

    async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// The text of `css`.
    async fn text(&self, css: &str) -> String {
        self.read_again(css, async || self.find(css).await.text().await)
            .await
    }

    /// The texts of every `css` element.
    async fn texts(&self, css: &str) -> Vec<String> {
        self.read_again(css, async || {
            let mut out = Vec::new();
            for e in self.client.find_all(Locator::Css(css)).await? {
                out.push(e.text().await?);
            }
            Ok(out)
        })
        .await
    }

    /// Runs `read` until it succeeds: a navigation may replace an element between finding it
    /// and reading it (the old document's node is gone then), and it is found again.
    async fn read_again<T>(
        &self,
        css: &str,
        read: impl AsyncFn() -> Result<T, fantoccini::error::CmdError>,
    ) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match read().await {
                Ok(value) => return value,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("{css} went away while reading it ({e}); reading again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("could not read {css}: {e}"),
            }
        }
    }

    async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Waits until the text of `css` contains `wanted`.
    async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.text(css).await;
            if now.contains(wanted) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {wanted:?}; it shows {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's path starts with `prefix`.
    async fn wait_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.path().await;
            if now.starts_with(prefix) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "never reached {prefix}; at {now}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A screenshot of the whole page at `width` CSS pixels, kept as a test artifact.
    async fn shot(&self, name: &str, width: u32) {
        let (was_width, was_height) = self.client.get_window_size().await.unwrap();
        self.client.set_window_size(width, 900).await.unwrap();
        let height = self
            .client
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight);",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900)
            .clamp(400, 6000);
        self.client
            .set_window_size(width, height as u32 + 140)
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        self.client
            .set_window_size(was_width as u32, was_height as u32)
            .await
            .unwrap();
    }

    async fn sign_in(&self, token: &str) {
        self.go("/ui/login").await;
        self.type_into("#token", token).await;
        self.click("form[action='/ui/login'] button[type=submit]")
            .await;
        self.find("#who").await;
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// Waits for the fetch recorder (which batches) to bind the device's first fetch.
async fn wait_first_fetch(app: &TestApp, mac: &'static str) {
    for _ in 0..200 {
        let fetched: bool = app
            .store()
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT first_fetch_at IS NOT NULL FROM devices WHERE mac = ?1",
                    [mac],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        if fetched {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fetch of {mac} was never recorded");
}

/// Rows of `table` in the store, for proving a refused form wrote nothing.
async fn count(app: &TestApp, table: &str) -> i64 {
    app.counts()
        .await
        .into_iter()
        .find(|(t, _)| t == table)
        .map(|(_, n)| n)
        .unwrap()
}

#[tokio::test]
async fn an_admin_sets_up_a_user_and_a_phone_in_the_browser() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let browser = Browser::open(&app).await;

    // Not signed in: any page leads to the sign-in page, and back after signing in.
    browser.go("/ui/tenants/testsite.com/users").await;
    assert!(browser.wait_path("/ui/login").await.contains("next="));
    browser.shot("login", 1280).await;
    browser.type_into("#token", "dp_not_a_token").await;
    browser
        .click("form[action='/ui/login'] button[type=submit]")
        .await;
    assert!(browser.text("#login-error").await.contains("not known"));
    browser.type_into("#token", &app.admin_token).await;
    browser
        .click("form[action='/ui/login'] button[type=submit]")
        .await;
    assert_eq!(
        browser.wait_path("/ui/tenants/").await,
        "/ui/tenants/testsite.com/users"
    );
    assert_eq!(browser.text("#who").await, "test-admin");

    // The session cookie is HttpOnly and SameSite=Strict, and it is not the token.
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "deskprov_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");
    assert!(!session.value().contains(&app.admin_token));

    // A broken rule: the API's message next to the field, and nothing written.
    let users_before = count(&app, "users").await;
    let offered = browser
        .find("#extension")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!offered.is_empty(), "the next free extension is offered");
    browser.type_into("#name", "John Smith").await;
    browser.type_into("#extension", "911").await;
    browser.click("#create").await;
    let error = browser.text("#extension-error").await;
    let (_, api) = app
        .post(
            "/tenants/testsite.com/users",
            json!({"name": "John Smith", "extension": "911"}),
        )
        .await;
    assert_eq!(error, api["error"]["message"].as_str().unwrap(), "{api}");
    assert_eq!(
        browser
            .find("#extension")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(count(&app, "users").await, users_before);
    browser.shot("users-validation-error", 1280).await;

    // Create with the offered extension.
    browser.type_into("#extension", &offered).await;
    browser.type_into("#email", "john@testsite.com").await;
    browser.click("#create").await;
    browser
        .wait_path(&format!("/ui/tenants/testsite.com/users/{offered}"))
        .await;
    assert_eq!(browser.text("#notice").await, "User created.");
    assert_eq!(
        browser.text("#sip-username").await,
        format!("testsitecom_{offered}")
    );

    // Two aliases, then the second moved up.
    for name in ["John Support", "John Sales"] {
        browser.type_into("#add-alias #name", name).await;
        browser.click("#add-alias button[type=submit]").await;
        browser.wait_text("#alias-list", name).await;
    }
    assert_eq!(
        browser.texts("#alias-list .alias-name").await,
        ["John Support", "John Sales"]
    );
    browser
        .click("#alias-list li:nth-child(2) button[name=up]")
        .await;
    browser.wait_text("#notice", "Line order changed").await;
    assert_eq!(
        browser.texts("#alias-list .alias-name").await,
        ["John Sales", "John Support"]
    );
    assert_eq!(
        browser.texts("#alias-list .lineno").await,
        ["Line 2", "Line 3"]
    );
    browser.shot("user", 1280).await;

    // Register the phone: the MAC typed with dashes, the vendor named while typing, the user
    // picked by name.
    browser.go("/ui/devices/new").await;
    browser.type_into("#mac", "00-15-65-AA-BB-CC").await;
    assert_eq!(
        browser.wait_text("#mac-hint", "Yealink").await,
        "Yealink (00:15:65)"
    );
    browser.type_into("#user", "John Smith").await;
    browser.shot("register", 1280).await;
    browser.click("#save").await;
    browser.wait_path("/ui/devices/001565aabbcc").await;
    assert_eq!(browser.text("#notice").await, "Phone registered.");
    assert_eq!(
        browser.text("#line-summary").await,
        "Line 1: John Smith, Line 2: John Sales, Line 3: John Support"
    );
    assert_eq!(
        browser.texts("#lines .line-name").await,
        ["John Smith", "John Sales", "John Support"]
    );

    // The phone's own file, fetched over HTTP, has the same order.
    let resp = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let pairs = parse_kv(&resp.text().await.unwrap());
    assert_eq!(kv(&pairs, "account.1.label"), Some("John Smith"));
    assert_eq!(kv(&pairs, "account.2.label"), Some("John Sales"));
    assert_eq!(kv(&pairs, "account.3.label"), Some("John Support"));
    let real_password = kv(&pairs, "account.1.password").unwrap().to_owned();

    // After the fetch, the device page shows what the phone said, and previews mask secrets.
    wait_first_fetch(&app, "001565aabbcc").await;
    browser.go("/ui/devices/00:15:65:aa:bb:cc").await;
    browser.wait_text("#status", "provisioned").await;
    let details = browser.text("#details").await;
    assert!(details.contains("T46U"), "{details}");
    assert!(details.contains("108.86.0.45"), "{details}");
    let history = browser.text("#history").await;
    assert!(history.contains("First fetch"), "{history}");
    assert!(history.contains("001565aabbcc.cfg"), "{history}");
    let source = browser.client.source().await.unwrap();
    assert!(
        source.contains("account.1.password = "),
        "a preview is shown"
    );
    assert!(!source.contains(&real_password), "secrets are masked");
    browser.shot("device", 1280).await;
    browser.shot("device-phone", 360).await;

    // The dashboard counts it; the audit log names the token, newest first.
    browser.go("/ui/").await;
    assert!(browser.text("#status-provisioned").await.starts_with('1'));
    assert!(browser.text("#events").await.contains("001565aabbcc.cfg"));
    browser.shot("dashboard", 1280).await;
    browser.go("/ui/audit?tenant=testsite.com").await;
    let first_row = browser.text("#audit-list tbody tr:first-child").await;
    assert!(first_row.contains("token:test-admin"), "{first_row}");
    assert!(first_row.contains("create device"), "{first_row}");
    let audit = browser.text("#audit-list").await;
    assert!(
        audit.contains("John Support, John Sales → John Sales, John Support"),
        "{audit}"
    );
    browser.shot("audit", 1280).await;

    // Sign out: the session is gone on the server, and pages lead back to the sign-in page.
    browser.click(".signout button").await;
    browser.wait_text("#signed-out", "signed out").await;
    browser.go("/ui/").await;
    browser.wait_path("/ui/login").await;
    browser.close().await;
}

#[tokio::test]
async fn an_installer_registers_a_phone_on_a_phone_sized_screen_and_no_more() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    let tenant_id = app
        .store()
        .read(|c| deskprov::store::tenants::by_name(c, "testsite.com"))
        .await
        .unwrap()
        .id;
    let installer = create_token(
        app.store(),
        TokenRole::Installer,
        Some(tenant_id),
        "installer-1",
    )
    .await;
    let browser = Browser::open(&app).await;
    browser.client.set_window_size(360, 800).await.unwrap();
    browser.sign_in(&installer).await;
    assert_eq!(browser.text("#who").await, "installer-1");

    // No admin-only links or forms, and admin-only pages refuse.
    assert!(!browser.exists("a[href='/ui/audit']").await);
    browser.go("/ui/audit").await;
    let refused = browser.text("#error-message").await;
    assert!(refused.contains("needs an admin token"), "{refused}");
    browser.shot("installer-refused", 360).await;
    browser.go("/ui/tenants/testsite.com/users").await;
    browser.find("#user-list").await;
    assert!(!browser.exists("#create-user").await);
    browser.shot("users-installer-phone", 360).await;
    browser.go("/ui/tenants/testsite.com/users/101").await;
    browser.find("#alias-list").await;
    assert!(!browser.exists("#alias-list button").await);
    assert!(!browser.exists("#delete-user").await);

    // Register, picking the user by extension from the suggestions' spelling.
    browser.go("/ui/devices/new").await;
    browser.type_into("#mac", "0015.65AA.BBCC").await;
    browser.wait_text("#mac-hint", "Yealink").await;
    browser.type_into("#user", "101 John Smith").await;
    browser.type_into("#model", "T19P_E2").await;
    browser.shot("register-phone", 360).await;
    browser.click("#save").await;
    browser.wait_path("/ui/devices/001565aabbcc").await;
    // A one-line model: the alias is called out as overflow.
    let summary = browser.text("#line-summary").await;
    assert_eq!(
        summary,
        "Line 1: John Smith. Not on this phone (1 line): John Support"
    );
    assert!(browser.text("#overflow").await.contains("John Support"));
    assert!(!browser.exists("#files").await, "previews are for admins");
    browser.shot("device-installer-phone", 360).await;

    // The page fits the screen: nothing wider than 360 px but tables that scroll.
    let width = browser
        .client
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert!(width.as_u64().is_some_and(|w| w <= 360), "{width}");
    let overflowing = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflowing, Value::Bool(false));
    browser.close().await;
}

// --- Plain HTTP: sessions and CSRF -------------------------------------------------------

/// A browser-less session: the cookie header and the CSRF token of its forms.
struct HttpSession {
    cookie: String,
    csrf: String,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The text of the element with `id`, entities decoded.
fn element_text(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        + marker.len();
    let raw = &html[start..start + html[start..].find('<').unwrap()];
    raw.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

async fn http_sign_in(
    app: &TestApp,
    token: &str,
    headers: &[(&str, &str)],
) -> (HttpSession, String) {
    let http = no_redirects();
    let base = format!("http://{}", app.admin);
    let form = http.get(format!("{base}/ui/login")).send().await.unwrap();
    let (nonce, _) = set_cookie_value(&form, "deskprov_signin").expect("a sign-in cookie");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let mut req = http
        .post(format!("{base}/ui/login"))
        .header(COOKIE, format!("deskprov_signin={nonce}"))
        .form(&[("csrf", csrf.as_str()), ("token", token), ("next", "")]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (value, raw) = set_cookie_value(&resp, "deskprov_session").expect("a session cookie");
    let cookie = format!("deskprov_session={value}");
    let page = http
        .get(format!("{base}/ui/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = hidden_csrf(&page.text().await.unwrap());
    (HttpSession { cookie, csrf }, raw)
}

async fn post_form(
    app: &TestApp,
    session: &HttpSession,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    no_redirects()
        .post(format!("http://{}{path}", app.admin))
        .header(COOKIE, &session.cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_form_needs_the_session_csrf_token_and_refusals_write_nothing() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (session, _) = http_sign_in(&app, &app.admin_token, &[]).await;
    let before = app.counts().await;
    for csrf in ["", "0".repeat(64).as_str(), "wrong"] {
        let resp = post_form(
            &app,
            &session,
            "/ui/tenants/testsite.com/users",
            &[("csrf", csrf), ("name", "Eve"), ("extension", "150")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(resp.text().await.unwrap().contains("out of date"));
    }
    assert_eq!(app.counts().await, before);
    let ok = post_form(
        &app,
        &session,
        "/ui/tenants/testsite.com/users",
        &[
            ("csrf", &session.csrf),
            ("name", "Eve"),
            ("extension", "150"),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        ok.headers()[LOCATION],
        "/ui/tenants/testsite.com/users/150?done=user_created"
    );
    // Made through the same store function as the API: audited with the token's name.
    let (_, audit) = app.get("/audit?tenant=testsite.com&limit=1").await;
    assert_eq!(audit["entries"][0]["actor"], "token:test-admin", "{audit}");
    assert_eq!(audit["entries"][0]["key"], "150", "{audit}");

    // The sign-in form has its own double-submit token.
    let http = no_redirects();
    let resp = http
        .post(format!("http://{}/ui/login", app.admin))
        .form(&[("csrf", "abc"), ("token", app.admin_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_value(&resp, "deskprov_session").is_none());
}

#[tokio::test]
async fn installers_are_refused_admin_changes_and_sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let alias = app.alias("101", "John Support").await;
    let tenant_id = app
        .store()
        .read(|c| deskprov::store::tenants::by_name(c, "testsite.com"))
        .await
        .unwrap()
        .id;
    let installer = create_token(
        app.store(),
        TokenRole::Installer,
        Some(tenant_id),
        "installer-1",
    )
    .await;
    let (session, _) = http_sign_in(&app, &installer, &[]).await;
    let before = app.counts().await;
    for (path, form) in [
        (
            "/ui/tenants/testsite.com/users".to_owned(),
            vec![("name", "Eve"), ("extension", "150")],
        ),
        (
            "/ui/tenants/testsite.com/users/101/aliases".to_owned(),
            vec![("name", "Sneaky")],
        ),
        (
            format!("/ui/tenants/testsite.com/users/101/aliases/{alias}/delete"),
            vec![],
        ),
        (
            "/ui/tenants/testsite.com/users/101/delete".to_owned(),
            vec![("confirm", "101")],
        ),
    ] {
        let mut form = form;
        form.push(("csrf", &session.csrf));
        let resp = post_form(&app, &session, &path, &form).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(resp.text().await.unwrap().contains("needs an admin token"));
    }
    assert_eq!(app.counts().await, before);
    let audit = no_redirects()
        .get(format!("http://{}/ui/audit", app.admin))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), StatusCode::FORBIDDEN);

    // Another tenant's pages are refused too.
    app.post(
        "/tenants",
        json!({"name": "other.com", "sip_server": "pbx.other.com"}),
    )
    .await;
    let other = no_redirects()
        .get(format!("http://{}/ui/tenants/other.com/users", app.admin))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);

    // Sign-out deletes the session server-side: the old cookie opens nothing.
    let out = post_form(&app, &session, "/ui/logout", &[("csrf", &session.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/ui/login?signed_out=1");
    let (cleared, _) = set_cookie_value(&out, "deskprov_session").unwrap();
    assert_eq!(cleared, "");
    let after = no_redirects()
        .get(format!("http://{}/ui/", app.admin))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        after.headers()[LOCATION],
        "/ui/login?next=%2Fui%2F&expired=1"
    );
}

#[tokio::test]
async fn session_cookies_are_strict_http_only_and_secure_behind_a_tls_proxy() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let (_, plain) = http_sign_in(&app, &app.admin_token, &[]).await;
    assert!(plain.contains("HttpOnly"), "{plain}");
    assert!(plain.contains("SameSite=Strict"), "{plain}");
    assert!(plain.contains("Path=/ui"), "{plain}");
    assert!(!plain.contains("Secure"), "{plain}");
    let (session, tls) =
        http_sign_in(&app, &app.admin_token, &[("x-forwarded-proto", "https")]).await;
    assert!(tls.ends_with("; Secure"), "{tls}");
    // The cookie is a random id, not the token; the store keeps only its hash.
    let value = session
        .cookie
        .trim_start_matches("deskprov_session=")
        .to_owned();
    assert_eq!(value.len(), 64);
    assert!(!value.contains(&app.admin_token));
    let stored: Vec<String> = app
        .store()
        .read(|c| {
            let mut stmt = c.prepare("SELECT id_hash FROM ui_sessions")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(!stored.contains(&value));
    // Pages are never cached and never framed.
    let page = no_redirects()
        .get(format!("http://{}/ui/", app.admin))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
}

#[tokio::test]
async fn without_javascript_the_vendor_shows_after_submit_and_errors_sit_by_their_field() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "John Smithers").await;
    let (session, _) = http_sign_in(&app, &app.admin_token, &[]).await;
    let before = app.counts().await;
    // A known MAC but a user that matches twice: the vendor is named, the user field explains.
    let resp = post_form(
        &app,
        &session,
        "/ui/devices/new",
        &[
            ("csrf", &session.csrf),
            ("mac", "00:15:65:aa:bb:cc"),
            ("user", "smith"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Yealink (00:15:65)"), "{html}");
    assert!(html.contains("id=\"user-error\""), "{html}");
    assert!(html.contains("2 users match"), "{html}");
    // A malformed MAC: the API's message by the MAC field.
    let resp = post_form(
        &app,
        &session,
        "/ui/devices/new",
        &[
            ("csrf", &session.csrf),
            ("mac", "00:15:65"),
            ("user", "101"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    let (_, api) = app
        .post(
            "/devices",
            json!({"mac": "00:15:65", "tenant": "testsite.com", "extension": "101"}),
        )
        .await;
    let message = api["error"]["message"].as_str().unwrap();
    assert_eq!(element_text(&html, "mac-error"), message);
    assert_eq!(app.counts().await, before);
    // The script's answer, for typing.
    let hint: Value = no_redirects()
        .get(format!(
            "http://{}/ui/devices/vendor?mac=00-15-65-AA-BB-CC",
            app.admin
        ))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hint["vendor"], "Yealink");
    assert_eq!(hint["mac"], "00:15:65:aa:bb:cc");
}

async fn get_page(app: &TestApp, session: &HttpSession, path: &str) -> (StatusCode, String) {
    let resp = no_redirects()
        .get(format!("http://{}{path}", app.admin))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// The part of `html` from the element with `id` on.
fn from_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    &html[at..]
}

#[tokio::test]
async fn refusals_reach_the_dashboard_and_reopen_and_deletes_work_from_forms() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (session, _) = http_sign_in(&app, &app.admin_token, &[]).await;

    // A refused request and a served one, as the dashboard lists them.
    let miss = app.phone_get("001565000001.cfg", None).await;
    assert_eq!(miss.status(), StatusCode::NOT_FOUND);
    let served = app.phone_get("001565aabbcc.cfg", Some(YEALINK_UA)).await;
    assert_eq!(served.status(), StatusCode::OK);
    wait_first_fetch(&app, "001565aabbcc").await;
    let (_, html) = get_page(&app, &session, "/ui/").await;
    let refused = from_id(&html, "refused");
    assert!(refused.contains("001565000001.cfg"), "{refused}");
    assert!(refused.contains("404 unknown_device"), "{refused}");
    assert!(!refused.contains("200 served"), "{refused}");
    assert!(from_id(&html, "events").contains("200 served"));
    assert!(from_id(&html, "status-provisioned").starts_with("id=\"status-provisioned\"><b>1</b>"));

    // Re-open enrollment: the binding is forgotten, the phone awaits its first fetch again.
    let resp = post_form(
        &app,
        &session,
        "/ui/devices/00:15:65:AA:BB:CC/reopen",
        &[("csrf", &session.csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[LOCATION],
        "/ui/devices/001565aabbcc?done=reopened"
    );
    let (_, api) = app.get("/devices/001565aabbcc").await;
    assert_eq!(api["status"], "awaiting_first_fetch", "{api}");
    assert_eq!(api["first_fetch_at"], Value::Null, "{api}");

    // Deleting a user: a wrong confirmation is refused by the field, so is a user with a phone.
    let before = app.counts().await;
    let resp = post_form(
        &app,
        &session,
        "/ui/tenants/testsite.com/users/101/delete",
        &[("csrf", &session.csrf), ("confirm", "110")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = resp.text().await.unwrap();
    assert!(element_text(&html, "confirm-error").contains("repeat its extension"));
    let resp = post_form(
        &app,
        &session,
        "/ui/tenants/testsite.com/users/101/delete",
        &[("csrf", &session.csrf), ("confirm", "101")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(element_text(&html, "confirm-error").contains("delete or re-assign them first"));
    assert_eq!(app.counts().await, before);

    // Without the phone: an alias deleted, then the user.
    let (status, _) = app
        .api(
            reqwest::Method::DELETE,
            "/devices/001565aabbcc?confirm=001565aabbcc",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, user) = app.get("/tenants/testsite.com/users/101").await;
    let first_alias = user["aliases"][0]["id"].as_i64().unwrap();
    let resp = post_form(
        &app,
        &session,
        &format!("/ui/tenants/testsite.com/users/101/aliases/{first_alias}/delete"),
        &[("csrf", &session.csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, aliases) = app.get("/tenants/testsite.com/users/101/aliases").await;
    assert_eq!(aliases["aliases"][0]["name"], "John Sales", "{aliases}");
    assert_eq!(aliases["aliases"].as_array().unwrap().len(), 1);
    let resp = post_form(
        &app,
        &session,
        "/ui/tenants/testsite.com/users/101/delete",
        &[("csrf", &session.csrf), ("confirm", " 101 ")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[LOCATION],
        "/ui/tenants/testsite.com/users?done=user_deleted"
    );
    let (status, _) = app.get("/tenants/testsite.com/users/101").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = get_page(&app, &session, "/ui/tenants/testsite.com/users/101").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(element_text(&html, "error-message").contains("No such user"));
}
