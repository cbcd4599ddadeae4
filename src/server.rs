//! Listeners (phone HTTP, phone HTTPS, admin) and graceful shutdown.
//!
//! Connections are accepted here rather than by `axum::serve` so that the phone listener can
//! terminate TLS itself, bound header sizes and read times, and hand each request its peer
//! address.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How long a client may take to send its request head (slow-loris defence).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request headers accepted.
const MAX_HEADERS: usize = 64;
/// Largest request head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves, then drains open connections.
/// With `tls`, every connection is a TLS connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<PhoneTls>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
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
        let _ = stream.set_nodelay(true);
        let (router, builder, watcher, tls) = (
            router.clone(),
            builder.clone(),
            graceful.watcher(),
            tls.clone(),
        );
        tokio::spawn(async move {
            let Some(tls) = tls else {
                let conn = Connection {
                    peer,
                    scheme: Scheme::Http,
                    cert: None,
                };
                let served = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), conn.service(router));
                let _ = watcher.watch(served.into_owned()).await;
                return;
            };
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let cert = tls.peer_cert(stream.get_ref().1).map(Arc::new);
            let conn = Connection {
                peer,
                scheme: Scheme::Https,
                cert,
            };
            let served =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), conn.service(router));
            let _ = watcher.watch(served.into_owned()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

/// What every request of one connection carries as extensions: peer address, scheme, and the
/// client certificate read at the handshake.
#[derive(Clone)]
struct Connection {
    peer: SocketAddr,
    scheme: Scheme,
    cert: Option<Arc<PeerCert>>,
}

impl Connection {
    fn service(
        self,
        router: Router,
    ) -> impl hyper::service::Service<
        axum::http::Request<Incoming>,
        Response = axum::response::Response,
        Error = Infallible,
        Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
    > + Clone {
        hyper::service::service_fn(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(self.peer));
            req.extensions_mut().insert(self.scheme);
            if let Some(cert) = &self.cert {
                req.extensions_mut().insert(cert.clone());
            }
            router.clone().oneshot(req)
        })
    }
}

/// Whether a request came over plain HTTP or TLS (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
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

pub mod tls;

use tls::{PeerCert, PhoneTls};

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::config::ServeConfig;
use crate::http::phone::credentials::PhoneAuthenticator;
use crate::http::phone::{BanList, BanPolicy, PhoneCache, cache as phone_cache};

/// How long a Digest nonce stays valid.
const NONCE_TTL: Duration = Duration::from_secs(300);
/// Digest nonces remembered at once (oldest evicted first).
const MAX_NONCES: usize = 100_000;
use crate::http::metrics::Metrics;
use crate::http::{AppState, admin_router, phone_router};
use crate::profile::Vendors;
use crate::service::Services;
use crate::store::Store;
use crate::store::lock::DbLock;
use crate::store::pruner;
use crate::store::recorder::FetchRecorder;

/// A started server: its bound addresses and the means to stop it.
pub struct Running {
    /// Where phones fetch over HTTP.
    pub phone_addr: SocketAddr,
    /// Where phones fetch over HTTPS, when configured.
    pub phone_tls_addr: Option<SocketAddr>,
    /// Where the admin API listens.
    pub admin_addr: SocketAddr,
    /// The shared state (store, vendors, recorder).
    pub state: AppState,
    trigger: ShutdownTrigger,
    listeners: Vec<JoinHandle<()>>,
    recorder: JoinHandle<()>,
    pruner: Option<JoinHandle<()>>,
    /// Held while serving: `deskprov restore` and a second server refuse meanwhile.
    _lock: DbLock,
}

impl Running {
    /// Stops accepting, drains open connections, and flushes queued fetch records.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        if let Some(pruner) = &self.pruner {
            pruner.abort();
        }
        for task in self.listeners {
            let _ = task.await;
        }
        drop(self.state);
        let _ = self.recorder.await;
    }
}

/// Opens the store, binds every listener and starts serving.
pub async fn start(config: &ServeConfig) -> anyhow::Result<Running> {
    config.validate()?;
    let lock = DbLock::try_acquire(&config.db.path)?;
    let store = Store::open(&config.db.path)
        .with_context(|| format!("opening database {}", config.db.path.display()))?;
    let vendors = Arc::new(Vendors::builtin().context("loading vendor profiles")?);
    let (recorder, recorder_task) = FetchRecorder::start(store.clone());
    let pruner = config
        .fetch_retention
        .0
        .map(|keep| pruner::start(store.clone(), keep));
    let phone_cache = Arc::new(PhoneCache::new(store.clone(), phone_cache::DEFAULT_BUDGET));
    phone_cache.watch_external_changes();
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned());
    let state = AppState {
        services: Services::new(store.clone(), vendors.clone(), public_url.clone()),
        metrics: Arc::new(Metrics::new(&vendors)),
        store,
        phone_cache,
        vendors,
        recorder,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        public_url,
        authenticator: Arc::new(PhoneAuthenticator::new("deskprov", NONCE_TTL, MAX_NONCES)),
        bans: Arc::new(BanList::new(BanPolicy {
            misses: config.ban_misses,
            window: config.ban_window,
            ban_for: config.ban_for,
        })),
    };
    let (trigger, shutdown) = Shutdown::new();
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the {what} listener on {addr}"))
    };
    let phone = bind(config.phone_listen, "phone HTTP").await?;
    let admin = bind(config.admin_listen, "admin").await?;
    let phone_tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some((
            bind(config.phone_tls_listen, "phone HTTPS").await?,
            tls::phone_tls(cert, key, &config.client_cas)?,
        )),
        _ => None,
    };
    let phone_addr = phone.local_addr()?;
    let admin_addr = admin.local_addr()?;
    let phone_tls_addr = phone_tls
        .as_ref()
        .map(|(l, _)| l.local_addr())
        .transpose()?;
    let mut listeners = vec![
        tokio::spawn(serve(
            phone,
            phone_router(state.clone()),
            None,
            shutdown.clone().wait(),
        )),
        tokio::spawn(serve(
            admin,
            admin_router(state.clone()),
            None,
            shutdown.clone().wait(),
        )),
    ];
    if let Some((listener, acceptor)) = phone_tls {
        listeners.push(tokio::spawn(serve(
            listener,
            phone_router(state.clone()),
            Some(acceptor),
            shutdown.wait(),
        )));
    }
    Ok(Running {
        phone_addr,
        phone_tls_addr,
        admin_addr,
        state,
        trigger,
        listeners,
        recorder: recorder_task,
        pruner,
        _lock: lock,
    })
}
