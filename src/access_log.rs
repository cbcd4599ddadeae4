//! The optional access log of the phone listeners: one line per request, close to nginx's
//! `combined` format, written by a background task through a buffer, reopened on request (the
//! server does it on `SIGHUP`, for logrotate).
//!
//! A line:
//!
//! ```text
//! 192.0.2.10 - - [03/Dec/2026:13:28:06 +0000] "GET /0015654aa937.cfg HTTP/1.1" 200 1820 "-" "Yealink SIP-T46U 108.86.0.45" 412
//! ```
//!
//! address, `-`, `-`, time (UTC), request line, status, body bytes, referrer (always `-`),
//! User-Agent, and the time the request took in microseconds. A tenant URL key in the path is a
//! credential: it is written as `-` (`/-/0015654aa937.cfg`). The query string is left out.
//! Quotes, backslashes and control characters in the User-Agent are escaped as `\xHH`.
//!
//! Requests never wait for the disk: lines go through a bounded queue, and when it is full
//! (the disk cannot keep up) a line is dropped and counted rather than slowing phones down.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Lines the queue holds before new ones are dropped.
const QUEUE_LINES: usize = 65_536;
/// Bytes buffered before a write to the file.
const BUFFER_BYTES: usize = 64 * 1024;
/// The longest a line stays in the buffer.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Longest User-Agent written, in bytes; a longer one is cut.
const MAX_UA_BYTES: usize = 512;

/// One request, as the access log writes it.
#[derive(Debug, Clone)]
pub struct AccessEntry<'a> {
    /// The client's address (after trusted proxies).
    pub ip: IpAddr,
    /// When the request was answered.
    pub at: DateTime<Utc>,
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path with any URL key already replaced by `-`.
    pub path: &'a str,
    /// `HTTP/1.1`.
    pub version: &'a str,
    /// The status answered.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The User-Agent, if any.
    pub user_agent: Option<&'a str>,
    /// How long the request took.
    pub took: Duration,
}

/// What the writer task is told.
enum Message {
    Line(String),
    Reopen,
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A handle to the access log; cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLog {
    sender: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Opens (appends to, or creates) the log at `path` and starts its writer task.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = open_file(path)?;
        let (sender, receiver) = mpsc::channel(QUEUE_LINES);
        tokio::spawn(write_lines(path.to_owned(), file, receiver));
        Ok(Self {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues the line of `entry`; drops it (and counts it) when the queue is full.
    pub fn record(&self, entry: &AccessEntry<'_>) {
        if self.sender.try_send(Message::Line(line(entry))).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the disk could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Closes the file and opens the path again (after logrotate moved it).
    pub async fn reopen(&self) {
        let _ = self.sender.send(Message::Reopen).await;
    }

    /// Writes out every line queued so far (at shutdown).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Addresses and User-Agents of phones: not for every local user.
        options.mode(0o640);
    }
    options.open(path)
}

/// The writer task: buffers lines, writes them when the buffer is full or a second passed,
/// reopens the file when told.
async fn write_lines(path: PathBuf, file: std::fs::File, mut receiver: mpsc::Receiver<Message>) {
    let mut out = std::io::BufWriter::with_capacity(BUFFER_BYTES, file);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let message = tokio::select! {
            message = receiver.recv() => message,
            _ = tick.tick() => {
                flush(&mut out, &path);
                continue;
            }
        };
        match message {
            Some(Message::Line(text)) => {
                if let Err(e) = out.write_all(text.as_bytes()) {
                    tracing::warn!(path = %path.display(), error = %e, "access log: write failed");
                }
            }
            Some(Message::Reopen) => {
                flush(&mut out, &path);
                match open_file(&path) {
                    Ok(file) => out = std::io::BufWriter::with_capacity(BUFFER_BYTES, file),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "access log: reopen failed; writing on to the old file");
                    }
                }
            }
            Some(Message::Flush(done)) => {
                flush(&mut out, &path);
                let _ = done.send(());
            }
            None => {
                flush(&mut out, &path);
                return;
            }
        }
    }
}

fn flush(out: &mut std::io::BufWriter<std::fs::File>, path: &Path) {
    if let Err(e) = out.flush() {
        tracing::warn!(path = %path.display(), error = %e, "access log: write failed");
    }
}

/// The line of `entry`, newline included.
fn line(entry: &AccessEntry<'_>) -> String {
    let mut text = String::with_capacity(160);
    let _ = write!(
        text,
        "{} - - [{}] \"{} {} {}\" {} {} \"-\" \"",
        entry.ip,
        entry.at.format("%d/%b/%Y:%H:%M:%S +0000"),
        entry.method,
        entry.path,
        entry.version,
        entry.status,
        entry.bytes,
    );
    match entry.user_agent {
        Some(ua) => escape_into(&mut text, ua, MAX_UA_BYTES, false),
        None => text.push('-'),
    }
    let _ = writeln!(text, "\" {}", entry.took.as_micros());
    text
}

/// `value` with `"`, `\`, spaces and control characters as `\xHH`, cut at `max` bytes: for
/// request text written into a line.
pub fn escaped(value: &str, max: usize) -> String {
    let mut text = String::with_capacity(value.len().min(max));
    escape_into(&mut text, value, max, true);
    text
}

/// Appends `value` with `"`, `\` and control characters (and spaces, with `spaces`) as
/// `\xHH`, cut at `max` bytes.
fn escape_into(text: &mut String, value: &str, max: usize, spaces: bool) {
    let mut end = value.len().min(max);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    for c in value[..end].chars() {
        match c {
            '"' | '\\' => {
                let _ = write!(text, "\\x{:02X}", c as u32);
            }
            c if c.is_control() || (spaces && c == ' ') => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(text, "\\x{b:02X}");
                }
            }
            c => text.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(ua: Option<&'a str>, path: &'a str) -> AccessEntry<'a> {
        AccessEntry {
            ip: "192.0.2.10".parse().unwrap(),
            at: DateTime::parse_from_rfc3339("2026-12-03T13:28:06Z")
                .unwrap()
                .with_timezone(&Utc),
            method: "GET",
            path,
            version: "HTTP/1.1",
            status: 200,
            bytes: 1820,
            user_agent: ua,
            took: Duration::from_micros(412),
        }
    }

    #[test]
    fn lines_in_the_combined_form() {
        assert_eq!(
            line(&entry(
                Some("Yealink SIP-T46U 108.86.0.45"),
                "/0015654aa937.cfg"
            )),
            "192.0.2.10 - - [03/Dec/2026:13:28:06 +0000] \"GET /0015654aa937.cfg HTTP/1.1\" 200 1820 \"-\" \"Yealink SIP-T46U 108.86.0.45\" 412\n"
        );
        assert!(line(&entry(None, "/-/x.cfg")).contains("\"-\" \"-\" 412\n"));
    }

    #[test]
    fn user_agents_cannot_break_a_line() {
        let text = line(&entry(Some("a\"b\\c\nd\u{7f}é"), "/x"));
        assert!(text.contains("\"a\\x22b\\x5Cc\\x0Ad\\x7Fé\""), "{text}");
        assert_eq!(text.matches('\n').count(), 1);
        let long = "é".repeat(400);
        let text = line(&entry(Some(&long), "/x"));
        assert!(text.len() < MAX_UA_BYTES + 120);
    }
}
