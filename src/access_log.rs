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
//! Requests never wait for the disk: a request appends its line to a shared buffer, which the
//! writer takes whole when it holds 64 KiB or a second passed (as nginx's `buffer=64k
//! flush=1s`); when the writer falls behind by 4 MiB (the disk cannot keep up), a line is
//! dropped and counted rather than slowing phones down.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

/// Bytes waiting for the writer before new lines are dropped.
const MAX_PENDING: usize = 4 << 20;
/// Bytes buffered before the writer is woken to write them.
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

/// What the writer task is told besides "lines are waiting".
enum Control {
    Reopen,
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The lines waiting for the writer, shared by every request and the writer.
#[derive(Debug, Default)]
struct Pending {
    lines: Mutex<Vec<u8>>,
    /// Told when the buffer is full enough to write.
    full: Notify,
    dropped: AtomicU64,
}

/// A handle to the access log; cheap to clone. The writer ends, writing what is left, when
/// the last handle is dropped.
#[derive(Debug, Clone)]
pub struct AccessLog {
    pending: Arc<Pending>,
    control: mpsc::Sender<Control>,
}

thread_local! {
    /// The line being made, and the time stamp of the last second written: formatting a
    /// date costs more than the rest of a line.
    static SCRATCH: RefCell<(String, i64, String)> = RefCell::default();
}

impl AccessLog {
    /// Opens (appends to, or creates) the log at `path` and starts its writer task.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = open_file(path)?;
        let (control, receiver) = mpsc::channel(16);
        let pending = Arc::new(Pending::default());
        tokio::spawn(write_lines(
            path.to_owned(),
            file,
            pending.clone(),
            receiver,
        ));
        Ok(Self { pending, control })
    }

    /// Adds the line of `entry` to the buffer; drops it (and counts it) when the writer is
    /// too far behind.
    pub fn record(&self, entry: &AccessEntry<'_>) {
        SCRATCH.with_borrow_mut(|(text, second, stamp)| {
            text.clear();
            if *second != entry.at.timestamp() || stamp.is_empty() {
                *second = entry.at.timestamp();
                stamp.clear();
                let _ = write!(stamp, "{}", entry.at.format("%d/%b/%Y:%H:%M:%S +0000"));
            }
            line_into(text, stamp, entry);
            let mut lines = self.pending.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.len() + text.len() > MAX_PENDING {
                self.pending.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let was_below = lines.len() < BUFFER_BYTES;
            lines.extend_from_slice(text.as_bytes());
            if was_below && lines.len() >= BUFFER_BYTES {
                self.pending.full.notify_one();
            }
        });
    }

    /// Lines dropped because the disk could not keep up.
    pub fn dropped(&self) -> u64 {
        self.pending.dropped.load(Ordering::Relaxed)
    }

    /// Closes the file and opens the path again (after logrotate moved it).
    pub async fn reopen(&self) {
        let _ = self.control.send(Control::Reopen).await;
    }

    /// Writes out every line buffered so far (at shutdown).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.control.send(Control::Flush(done)).await.is_ok() {
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

/// The writer task: writes what is buffered when 64 KiB are or a second passed, reopens the
/// file when told, and writes the rest when the last handle is gone.
async fn write_lines(
    path: PathBuf,
    file: std::fs::File,
    pending: Arc<Pending>,
    mut control: mpsc::Receiver<Control>,
) {
    let mut file = file;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let message = tokio::select! {
            message = control.recv() => message,
            () = pending.full.notified() => {
                write_pending(&pending, &mut file, &path);
                continue;
            }
            _ = tick.tick() => {
                write_pending(&pending, &mut file, &path);
                continue;
            }
        };
        write_pending(&pending, &mut file, &path);
        match message {
            Some(Control::Reopen) => match open_file(&path) {
                Ok(reopened) => file = reopened,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "access log: reopen failed; writing on to the old file");
                }
            },
            Some(Control::Flush(done)) => {
                let _ = done.send(());
            }
            None => return,
        }
    }
}

/// Writes the buffered lines to `file`, taking them whole so requests never wait on the disk.
fn write_pending(pending: &Pending, file: &mut std::fs::File, path: &Path) {
    let lines = {
        let mut lines = pending.lines.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *lines, Vec::with_capacity(BUFFER_BYTES))
    };
    if lines.is_empty() {
        return;
    }
    if let Err(e) = file.write_all(&lines) {
        tracing::warn!(path = %path.display(), error = %e, "access log: write failed");
    }
}

/// The line of `entry`, newline included.
#[cfg(test)]
fn line(entry: &AccessEntry<'_>) -> String {
    let mut text = String::new();
    let stamp = entry.at.format("%d/%b/%Y:%H:%M:%S +0000").to_string();
    line_into(&mut text, &stamp, entry);
    text
}

/// Appends the line of `entry` to `text`, with `stamp` its time as written.
fn line_into(text: &mut String, stamp: &str, entry: &AccessEntry<'_>) {
    let _ = write!(
        text,
        "{} - - [{}] \"{} {} {}\" {} {} \"-\" \"",
        entry.ip, stamp, entry.method, entry.path, entry.version, entry.status, entry.bytes,
    );
    match entry.user_agent {
        Some(ua) => escape_into(text, ua, MAX_UA_BYTES, false),
        None => text.push('-'),
    }
    let _ = writeln!(text, "\" {}", entry.took.as_micros());
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

    #[tokio::test]
    async fn a_writer_that_falls_behind_drops_lines_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::open(&path).unwrap();
        let one = entry(Some("Yealink SIP-T46U 108.86.0.45"), "/0015654aa937.cfg");
        let per_line = line(&one).len();
        // This task never yields while recording: the writer cannot run.
        let sent = MAX_PENDING / per_line + 100;
        for _ in 0..sent {
            log.record(&one);
        }
        assert_eq!(log.dropped(), (sent - MAX_PENDING / per_line) as u64);
        log.flush().await;
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), MAX_PENDING / per_line);
        assert!(written.lines().all(|l| format!("{l}\n") == line(&one)));
        // Once written, lines are taken again.
        log.record(&one);
        log.flush().await;
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), MAX_PENDING / per_line + 1);
    }
}
