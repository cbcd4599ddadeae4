//! The load generator: raw HTTP/1.1 over tokio sockets on one thread, so that it is cheap and
//! in full control of connections (keep-alive, or a new TCP or TLS connection per file).
//! Every answer is checked: status 200 and the expected body length.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::corpus::Phone;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Answers that were right (200 and the expected length).
    pub ok: u64,
    /// Failed connections, wrong statuses, wrong lengths.
    pub errors: u64,
    /// The first few error descriptions.
    pub error_samples: Vec<String>,
    /// Wall time of the measured part.
    pub seconds: f64,
    /// Latency of each right answer, microseconds.
    pub latencies_us: Vec<u32>,
    /// Every answer received, warm-up included, right or not (what a server's access log
    /// should hold a line for).
    pub answered: u64,
    /// Keep-alive runs: when the run started (warm-up included).
    pub started: Option<Instant>,
    /// Keep-alive runs: right answers per [`BUCKET`] from `started`, warm-up included.
    pub buckets: Vec<u32>,
}

/// The width of a keep-alive run's throughput buckets.
pub const BUCKET: Duration = Duration::from_millis(10);

impl Run {
    /// Right answers per second over the measured part.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// The `q` quantile (0..1) of the latencies, milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }

    /// Right answers per second between `from` and `to` after the start (clipped to the run).
    pub fn rate_between(&self, from: Duration, to: Duration) -> f64 {
        let bucket = |d: Duration| (d.as_micros() / BUCKET.as_micros()) as usize;
        let (a, b) = (bucket(from), bucket(to).min(self.buckets.len()));
        if b <= a {
            return f64::NAN;
        }
        let sum: u64 = self.buckets[a..b].iter().map(|&n| u64::from(n)).sum();
        sum as f64 / ((b - a) as f64 * BUCKET.as_secs_f64())
    }

    fn merge(&mut self, other: Run) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.answered += other.answered;
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        for e in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(e);
            }
        }
        self.latencies_us.extend(other.latencies_us);
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 5 {
            self.error_samples.push(what);
        }
    }
}

/// A small, fast random number generator (xorshift64*), one per connection.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

fn request(buf: &mut Vec<u8>, path: &str, ua: &str, close: bool) {
    buf.clear();
    buf.extend_from_slice(b"GET /");
    buf.extend_from_slice(path.as_bytes());
    buf.extend_from_slice(b" HTTP/1.1\r\nHost: prov.bench.test\r\nUser-Agent: ");
    buf.extend_from_slice(ua.as_bytes());
    buf.extend_from_slice(if close {
        b"\r\nAccept: */*\r\nConnection: close\r\n\r\n".as_slice()
    } else {
        b"\r\nAccept: */*\r\n\r\n".as_slice()
    });
}

/// A response reader with its own buffer, kept across keep-alive requests.
struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Reader {
    fn new() -> Self {
        Self {
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// Reads one response; returns its status and body length.
    async fn response<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<(u16, usize), String> {
        loop {
            if let Some(head) = find_head(&self.buf[self.start..self.end]) {
                let (status, len) = parse_head(&self.buf[self.start..self.start + head])?;
                let total = head + len;
                while self.end - self.start < total {
                    if self.buf.len() - self.start < total {
                        self.buf.copy_within(self.start..self.end, 0);
                        self.end -= self.start;
                        self.start = 0;
                        if self.buf.len() < total {
                            self.buf.resize(total, 0);
                        }
                    }
                    self.fill(s).await?;
                }
                self.start += total;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                return Ok((status, len));
            }
            if self.end == self.buf.len() {
                if self.start == 0 {
                    return Err("response head too large".into());
                }
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            self.fill(s).await?;
        }
    }

    async fn fill<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<(), String> {
        let n = s
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed early".into());
        }
        self.end += n;
        Ok(())
    }
}

/// Length of the head including the blank line, once complete.
fn find_head(data: &[u8]) -> Option<usize> {
    data.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

fn parse_head(head: &[u8]) -> Result<(u16, usize), String> {
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut len = None;
    for line in head.split(|&b| b == b'\n') {
        if line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:") {
            len = std::str::from_utf8(&line[15..])
                .ok()
                .and_then(|v| v.trim().parse().ok());
        }
    }
    Ok((status, len.ok_or("no Content-Length")?))
}

fn check(run: &mut Run, what: &str, got: Result<(u16, usize), String>, want: usize) -> bool {
    match got {
        Ok((200, len)) if len == want => true,
        Ok((status, len)) => {
            run.error(format!(
                "{what}: status {status}, {len} bytes (expected 200, {want})"
            ));
            false
        }
        Err(e) => {
            run.error(format!("{what}: {e}"));
            false
        }
    }
}

/// P1: `connections` keep-alive connections, each fetching the per-MAC file of a random
/// device after the other, for `warmup` + `duration`; only the last `duration` counts.
pub async fn keepalive(
    addr: SocketAddr,
    phones: Arc<Vec<Phone>>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Run {
    let start = Instant::now();
    let window = Window {
        start,
        from: start + warmup,
        until: start + warmup + duration,
    };
    let tasks: Vec<_> = (0..connections)
        .map(|c| tokio::spawn(keepalive_connection(addr, phones.clone(), c as u64, window)))
        .collect();
    let mut total = Run {
        seconds: duration.as_secs_f64(),
        started: Some(start),
        ..Run::default()
    };
    for t in tasks {
        if let Ok(run) = t.await {
            total.merge(run);
        }
    }
    total
}

/// A keep-alive run's times: its start, and the measured part from `from` to `until`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    from: Instant,
    until: Instant,
}

/// One connection of [`keepalive`]: random per-MAC files one after the other until `until`.
async fn keepalive_connection(addr: SocketAddr, phones: Arc<Vec<Phone>>, c: u64, w: Window) -> Run {
    let slots = (w.until - w.start).as_micros().div_ceil(BUCKET.as_micros()) as usize;
    let mut run = Run {
        buckets: vec![0; slots],
        ..Run::default()
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c + 1) * 0x1000_0001));
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            run.error(format!("connect: {e}"));
            return run;
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut out, mut reader) = (Vec::with_capacity(512), Reader::new());
    loop {
        let t0 = Instant::now();
        if t0 >= w.until {
            break;
        }
        let phone = &phones[rng.below(phones.len())];
        let file = phone.main_file();
        request(&mut out, &file.name, &phone.ua, false);
        if let Err(e) = stream.write_all(&out).await {
            run.error(format!("write: {e}"));
            break;
        }
        let got = reader.response(&mut stream).await;
        let broken = got.is_err();
        let t1 = Instant::now();
        run.answered += u64::from(!broken);
        let right = got
            .as_ref()
            .is_ok_and(|&(s, len)| s == 200 && len == file.len);
        if right && t1 < w.until {
            run.buckets[((t1 - w.start).as_micros() / BUCKET.as_micros()) as usize] += 1;
        }
        if t0 >= w.from && t1 <= w.until && check(&mut run, &file.name, got, file.len) {
            run.ok += 1;
            run.latencies_us.push((t1 - t0).as_micros() as u32);
        }
        if broken {
            break;
        }
    }
    run
}

/// Plain TCP or TLS with a full handshake on every connection.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(TlsConnector),
}

/// P2/P3: every phone boots once, fetching its files in order over a new connection each;
/// `concurrency` phones boot at a time.
pub async fn storm(
    addr: SocketAddr,
    transport: Transport,
    phones: Arc<Vec<Phone>>,
    concurrency: usize,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (phones, next, transport) = (phones.clone(), next.clone(), transport.clone());
            tokio::spawn(async move {
                let mut run = Run::default();
                let mut out = Vec::with_capacity(512);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(phone) = phones.get(i) else { break };
                    for file in &phone.boot {
                        let t0 = Instant::now();
                        request(&mut out, &file.name, &phone.ua, true);
                        let got = one_shot(addr, &transport, &out).await;
                        run.answered += u64::from(got.is_ok());
                        if check(&mut run, &file.name, got, file.len) {
                            run.ok += 1;
                            run.latencies_us.push(t0.elapsed().as_micros() as u32);
                        }
                    }
                }
                run
            })
        })
        .collect();
    let mut total = Run::default();
    for t in tasks {
        if let Ok(run) = t.await {
            total.merge(run);
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total
}

async fn one_shot(
    addr: SocketAddr,
    transport: &Transport,
    req: &[u8],
) -> Result<(u16, usize), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    match transport {
        Transport::Plain => exchange(tcp, req).await,
        Transport::Tls(connector) => {
            let name = ServerName::try_from("prov.bench.test").map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            exchange(tls, req).await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> Result<(u16, usize), String> {
    s.write_all(req).await.map_err(|e| format!("write: {e}"))?;
    let mut reader = Reader::new();
    reader.response(&mut s).await
}

/// A TLS client that does a full handshake every time (no session resumption) and, to keep
/// its own CPU low, does not check the server's certificate or signature: the servers do all
/// their handshake work regardless.
pub fn tls_connector() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
