//! deskprov's admin listener from outside, as a browser or a script uses it: signing in through
//! the login form, pages with the session cookie, the JSON API with a bearer token. One request
//! per connection (`Connection: close`), raw HTTP/1.1 on tokio.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest an admin request may take before the bench gives up on it.
const TIMEOUT: Duration = Duration::from_secs(120);

/// One answer: status, head (as text) and the body (de-chunked).
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line and the headers, as sent.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The values of header `name` (case-insensitive).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.head.lines().filter_map(move |line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// The value a `Set-Cookie` of this answer gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers("set-cookie").find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, value) = pair.split_once('=')?;
            (k.trim() == name).then(|| value.trim().to_owned())
        })
    }

    /// The body as text (lossy), for messages and checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<Response> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let _ = s.set_nodelay(true);
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        s.write_all(&bytes).await?;
        let mut all = Vec::new();
        s.read_to_end(&mut all).await?;
        anyhow::Ok(all)
    };
    let all = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .with_context(|| format!("{method} {path}: no answer within {TIMEOUT:?}"))??;
    parse(&all).with_context(|| format!("{method} {path}"))
}

fn parse(all: &[u8]) -> anyhow::Result<Response> {
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of head")?;
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .context("bad status line")?;
    let mut response = Response {
        status,
        head,
        body: all[end + 4..].to_vec(),
    };
    if response
        .headers("transfer-encoding")
        .any(|v| v.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body)?;
    }
    Ok(response)
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size")?;
        let size = std::str::from_utf8(&data[..line])?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line + 2..];
        if size == 0 {
            return Ok(out);
        }
        ensure!(data.len() >= size + 2, "chunk cut short");
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A signed-in admin: a page session (cookie) and the API token it was opened with.
pub struct Admin {
    /// The admin listener.
    pub addr: SocketAddr,
    token: String,
    session: String,
}

impl Admin {
    /// Signs in through the login form as a browser does: the form, then its post.
    pub async fn sign_in(addr: SocketAddr, token: &str) -> anyhow::Result<Self> {
        let form = send(addr, "GET", "/ui/login", &[], b"").await?;
        ensure!(form.status == 200, "GET /ui/login: {}", form.status);
        let nonce = form
            .cookie("deskprov_signin")
            .context("the sign-in form set no cookie")?;
        ensure!(
            form.text()
                .contains(&format!("name=\"csrf\" value=\"{nonce}\"")),
            "the sign-in form does not carry its cookie's token"
        );
        let body = format!("csrf={nonce}&token={token}&next=%2Fui%2F");
        let cookie = format!("deskprov_signin={nonce}");
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie.as_str()),
        ];
        let posted = send(addr, "POST", "/ui/login", &headers, body.as_bytes()).await?;
        let Some(session) = posted.cookie("deskprov_session") else {
            bail!("signing in: {} {}", posted.status, posted.text());
        };
        Ok(Self {
            addr,
            token: token.to_owned(),
            session,
        })
    }

    /// `GET` of a page with the session cookie.
    pub async fn page(&self, path: &str) -> anyhow::Result<Response> {
        let cookie = format!("deskprov_session={}", self.session);
        send(self.addr, "GET", path, &[("Cookie", &cookie)], b"").await
    }

    /// A JSON API call with the bearer token.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> anyhow::Result<Response> {
        let auth = format!("Bearer {}", self.token);
        let body = json.map(|j| j.to_string()).unwrap_or_default();
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        send(self.addr, method, path, &headers, body.as_bytes()).await
    }
}

/// How a P8 read is made.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// A page, with the session cookie.
    Page,
    /// The JSON API, with the bearer token.
    Api,
    /// No credentials (`/metrics`).
    Plain,
}

/// One kind of P8 read and what `--admin-requests` sequential reads of it took.
#[derive(Debug, Clone)]
pub struct Reads {
    /// What was read, for the report.
    pub what: String,
    /// Latency of each read, in order, ms.
    pub ms: Vec<f64>,
    /// Body bytes of the last read.
    pub bytes: usize,
}

/// How many reads of one view, and the time they may take together.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Reads at most.
    pub reads: usize,
    /// Once spent, no further read starts (the first always does).
    pub time: Duration,
}

/// Reads a view up to `budget.reads` times, one after the other; `paths(i)` gives the `i`-th
/// path.
pub async fn timed(
    admin: &Admin,
    what: &str,
    via: Via,
    budget: Budget,
    paths: impl Fn(usize) -> String,
) -> anyhow::Result<Reads> {
    let n = budget.reads;
    let mut reads = Reads {
        what: what.to_owned(),
        ms: Vec::with_capacity(n),
        bytes: 0,
    };
    let started = Instant::now();
    for i in 0..n {
        if i > 0 && started.elapsed() >= budget.time {
            break;
        }
        let path = paths(i);
        let t0 = Instant::now();
        let got = match via {
            Via::Page => admin.page(&path).await?,
            Via::Api => admin.api("GET", &path, None).await?,
            Via::Plain => send(admin.addr, "GET", &path, &[], b"").await?,
        };
        reads.ms.push(t0.elapsed().as_secs_f64() * 1e3);
        ensure!(
            got.status == 200,
            "GET {path}: {} {}",
            got.status,
            got.text().chars().take(300).collect::<String>()
        );
        reads.bytes = got.body.len();
    }
    eprintln!(
        "P8 {what}: {} reads, median {:.1} ms, max {:.1} ms, {} bytes",
        reads.ms.len(),
        crate::figures::median(reads.ms.clone()),
        reads.ms.iter().copied().fold(0.0, f64::max),
        reads.bytes
    );
    Ok(reads)
}
