//! Listeners (phone HTTP, phone HTTPS, admin) and graceful shutdown.
//!
//! Connections are accepted here rather than by `axum::serve` so that the phone listener can
//! terminate TLS itself, bound header sizes and read times, and hand each request its
//! connection facts ([`crate::http::conn`]).

pub mod conns;
mod listeners;
pub mod tls;

pub use listeners::{Running, start};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::http::conn::{Connection, Scheme};
use conns::{Activity, Limits, Slot, Tracked, Tracker};
use tls::PhoneTls;

/// How long a client may take to send a request head, and to send its first one from accept
/// (or from the end of its TLS handshake), byte or no byte (slow-loris and idle-socket defence).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request headers accepted.
const MAX_HEADERS: usize = 64;
/// Largest request head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/1 connection settings every listener shares.
type ConnBuilder = Arc<auto::Builder<TokioExecutor>>;

/// Serves `router` on `listener` until `shutdown` resolves, then drains open connections.
/// With `tls`, every connection is a TLS connection; `limits` bound the open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<PhoneTls>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let tracker = Tracker::new(limits);
    // HTTP/1.1 only: phones speak nothing else, and HTTP/2 without TLS (h2c, prior knowledge)
    // would bypass the head limits set here.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over the caps with every connection busy: closed at once (dropped here).
        let Some(slot) = tracker.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: connection caps reached, none idle");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = serve_connection(
            stream,
            peer,
            router.clone(),
            builder.clone(),
            graceful.watcher(),
            tls.clone(),
            slot.activity.clone(),
        );
        tokio::spawn(guarded(conn, slot, peer));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

/// Runs `conn` until it ends or `slot` expires (silent, idle or evicted); dropping the
/// connection future closes its socket, and dropping `slot` frees its place.
async fn guarded(conn: impl Future<Output = ()>, slot: Slot, peer: SocketAddr) {
    tokio::select! {
        () = conn => {},
        () = slot.expired() => tracing::debug!(%peer, "idle connection closed"),
    }
}

/// Serves one accepted connection (after its TLS handshake, with `tls`) until it closes or
/// shutdown drains it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: ConnBuilder,
    watcher: Watcher,
    tls: Option<PhoneTls>,
    activity: Arc<Activity>,
) {
    let stream = Tracked::new(stream, activity.clone());
    let Some(tls) = tls else {
        let conn = Connection {
            peer,
            scheme: Scheme::Http,
            cert: None,
        };
        let service = service(conn, router, activity);
        let served = builder.serve_connection(TokioIo::new(stream), service);
        let _ = watcher.watch(served.into_owned()).await;
        return;
    };
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    // The handshake had its own time; the request head gets the full head timeout after it.
    activity.restart();
    let cert = tls.peer_cert(stream.get_ref().1).map(Arc::new);
    let conn = Connection {
        peer,
        scheme: Scheme::Https,
        cert,
    };
    let service = service(conn, router, activity);
    let served = builder.serve_connection(TokioIo::new(stream), service);
    let _ = watcher.watch(served.into_owned()).await;
}

/// `router` as a hyper service whose requests carry the facts of `conn` as extensions, and
/// count as in flight in `activity` until answered (so the idle timeout never cuts them).
fn service(
    conn: Connection,
    router: Router,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    axum::http::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: axum::http::Request<Incoming>| {
        conn.tag(req.extensions_mut());
        let in_flight = activity.begin();
        let answer = router.clone().oneshot(req);
        async move {
            let answered = answer.await;
            drop(in_flight);
            answered
        }
    })
}

/// A signal every listener can wait on.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Triggers a [`Shutdown`].
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Resolves once shutdown is triggered (or the trigger is dropped).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    /// Starts shutdown.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called; the future resolves on the
/// first of them.
///
/// The handlers are installed here, not when the future is first polled: a signal that arrives
/// while the server is starting (already accepting connections, printing the demo) must be a
/// graceful stop, not the default action that ends the process without draining connections or
/// flushing fetch records. Call it before starting the server.
pub fn os_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn recv(signal: Option<Signal>) {
            match signal {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            tokio::select! {
                () = recv(term) => {},
                () = recv(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The address a listener actually bound (for `:0` in tests).
pub fn local_addr(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    listener.local_addr()
}
