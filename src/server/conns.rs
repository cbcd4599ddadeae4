//! Open connections of one listener: how many there are (in all and per source address), how
//! long each may stay silent, and which one gives way when a cap is reached.
//!
//! hyper's own `header_read_timeout` only starts with the first byte of a head, and hyper has no
//! keep-alive idle timeout: a client that connects and sends nothing would hold a file
//! descriptor forever. Every connection therefore gets a [`Slot`] at accept, and its task races
//! the connection against [`Slot::expired`].

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The connection limits of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a connection may take, from accept (or the end of its TLS handshake), to send
    /// its first complete request head.
    pub head_timeout: Duration,
    /// How long a connection may stay idle between requests.
    pub keepalive_timeout: Duration,
    /// Most open connections on the listener.
    pub max_connections: usize,
    /// Most open connections from one source address.
    pub max_per_source: usize,
}

/// What a connection is doing, shared by its IO wrapper, its service and its [`Slot`].
#[derive(Debug)]
pub struct Activity {
    /// The listener's epoch, shared so that times of different connections compare.
    epoch: Instant,
    /// Milliseconds after `epoch` when the head timeout starts (accept, then handshake end).
    opened: AtomicU64,
    /// Milliseconds after `epoch` of the last byte moved or request finished.
    last: AtomicU64,
    /// Requests whose handler is running.
    in_flight: AtomicUsize,
    /// Requests begun so far.
    requests: AtomicU64,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        let this = Self {
            epoch,
            opened: AtomicU64::new(0),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        };
        this.restart();
        this
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, millis: u64) -> Instant {
        self.epoch + Duration::from_millis(millis)
    }

    /// Notes that bytes moved.
    fn touch(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// Restarts the head timeout (after a TLS handshake, which has its own timeout).
    pub fn restart(&self) {
        let now = self.now();
        self.opened.store(now, Ordering::Relaxed);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// When the connection is to be closed if nothing happens before, `None` while a request
    /// is in flight (an admin import may run a minute with no byte moving).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if !self.idle() {
            return None;
        }
        Some(if self.requests.load(Ordering::Relaxed) == 0 {
            self.at(self.opened.load(Ordering::Relaxed)) + limits.head_timeout
        } else {
            self.at(self.last.load(Ordering::Relaxed)) + limits.keepalive_timeout
        })
    }
}

/// A request in flight; dropping it (answered, or the connection gone) ends it.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open connection as the listener's [`Tracker`] sees it.
struct Entry {
    source: IpAddr,
    activity: Arc<Activity>,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    per_source: HashMap<IpAddr, usize>,
}

impl Open {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(n) = self.per_source.get_mut(&entry.source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }

    /// Closes the idle connection (of `source`, if given) that has been quiet the longest;
    /// false when every such connection has a request in flight.
    fn evict_oldest_idle(&mut self, source: Option<IpAddr>) -> bool {
        let oldest = self
            .entries
            .iter()
            .filter(|(_, e)| source.is_none_or(|s| e.source == s) && e.activity.idle())
            // Ties (same millisecond) go to the earlier accepted connection.
            .min_by_key(|(id, e)| (e.activity.last.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| self.remove(id)) {
            Some(entry) => {
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The open connections of one listener.
#[derive(Clone)]
pub struct Tracker {
    limits: Limits,
    epoch: Instant,
    open: Arc<Mutex<Open>>,
}

impl Tracker {
    /// No connection open yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            epoch: Instant::now(),
            open: Arc::new(Mutex::new(Open::default())),
        }
    }

    /// Makes room for a connection from `source` and registers it, or `None` when the caps are
    /// reached and no connection is idle (the new one is then closed at once).
    ///
    /// IPv6 sources count per address; IPv4-mapped IPv6 addresses count as their IPv4 address.
    pub fn admit(&self, source: IpAddr) -> Option<Slot> {
        let source = source.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let from_source = open.per_source.get(&source).copied().unwrap_or(0);
        if from_source >= self.limits.max_per_source && !open.evict_oldest_idle(Some(source)) {
            return None;
        }
        if open.entries.len() >= self.limits.max_connections && !open.evict_oldest_idle(None) {
            return None;
        }
        let activity = Arc::new(Activity::new(self.epoch));
        let evict = Arc::new(Notify::new());
        let id = open.next_id;
        open.next_id += 1;
        open.entries.insert(
            id,
            Entry {
                source,
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        *open.per_source.entry(source).or_default() += 1;
        Some(Slot {
            id,
            tracker: self.clone(),
            activity,
            evict,
        })
    }
}

/// A connection's place in its listener's [`Tracker`]; dropping it frees the place.
pub struct Slot {
    id: u64,
    tracker: Tracker,
    /// What the connection is doing.
    pub activity: Arc<Activity>,
    evict: Arc<Notify>,
}

impl Slot {
    /// Resolves when the connection is to be closed: silent past the head timeout, idle past
    /// the keep-alive timeout, or evicted to make room for a newer connection.
    pub async fn expired(&self) {
        let limits = self.tracker.limits;
        // The deadline moves (a request begins or ends, bytes move, the phase changes from head
        // to keep-alive), so it is looked at again at least every quarter of the shorter timeout.
        let tick = limits.keepalive_timeout.min(limits.head_timeout) / 4;
        loop {
            let now = Instant::now();
            let deadline = self.activity.deadline(&limits);
            if deadline.is_some_and(|d| d <= now) {
                return;
            }
            let wake = deadline.map_or(now + tick, |d| d.min(now + tick));
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {},
                () = self.evict.notified() => return,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.tracker.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(self.id);
    }
}

/// A stream that notes in its [`Activity`] every time bytes move.
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
