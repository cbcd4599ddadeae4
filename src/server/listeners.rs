//! Starting a server: the shared state, the bound listeners, and the handle that stops them.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::conns::Limits;
use super::tls::{self, PhoneTls};
use super::{HEADER_READ_TIMEOUT, Shutdown, ShutdownTrigger, serve};
use crate::access_log::AccessLog;
use crate::config::ServeConfig;
use crate::http::metrics::Metrics;
use crate::http::phone::credentials::PhoneAuthenticator;
use crate::http::phone::{BanList, BanPolicy};
use crate::http::{AppState, admin_router, phone_router};
use crate::profile::Vendors;
use crate::service::Services;
use crate::service::phone::DeviceStates;
use crate::service::phone::{PhoneData, cache as phone_cache};
use crate::store::Store;
use crate::store::lock::DbLock;
use crate::store::pruner;

/// Digest nonces remembered at once (oldest evicted first).
const MAX_NONCES: usize = 100_000;

/// A started server: its bound addresses and the means to stop it.
pub struct Running {
    /// Where phones fetch over HTTP.
    pub phone_addr: SocketAddr,
    /// Where phones fetch over HTTPS, when configured.
    pub phone_tls_addr: Option<SocketAddr>,
    /// Where the admin API listens.
    pub admin_addr: SocketAddr,
    /// The shared state (store, vendors, device states).
    pub state: AppState,
    trigger: ShutdownTrigger,
    listeners: Vec<JoinHandle<()>>,
    /// Writes device states; ends once the state is dropped, after writing what is left.
    state_writer: JoinHandle<()>,
    /// Deletes old device events and change-journal rows.
    pruner: JoinHandle<()>,
    /// Works out every device's status in the background, so the first dashboard is quick.
    status_warmer: JoinHandle<()>,
    /// Reopens the access log on SIGHUP, when there is one.
    reopener: Option<JoinHandle<()>>,
    /// Held while serving: `deskprov restore` and a second server refuse meanwhile.
    _lock: DbLock,
}

impl Running {
    /// Stops accepting, drains open connections, and writes the device states that wait.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        for task in [Some(&self.pruner), self.reopener.as_ref()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        self.status_warmer.abort();
        for task in self.listeners {
            let _ = task.await;
        }
        if let Some(log) = &self.state.access_log {
            log.flush().await;
        }
        drop(self.state);
        let _ = self.state_writer.await;
    }
}

/// Opens the store, binds every listener and starts serving.
pub async fn start(config: &ServeConfig) -> anyhow::Result<Running> {
    config.validate()?;
    let lock = DbLock::try_acquire(&config.db.path)?;
    let store = Store::open(&config.db.path)
        .with_context(|| format!("opening database {}", config.db.path.display()))?;
    let vendors = Arc::new(Vendors::builtin().context("loading vendor profiles")?);
    let pruner = pruner::start(store.clone(), config.fetch_retention.0);
    let access_log = config
        .access_log
        .0
        .as_deref()
        .map(|path| {
            AccessLog::open(path)
                .with_context(|| format!("opening the access log {}", path.display()))
        })
        .transpose()?;
    let reopener = access_log.clone().map(reopen_on_hangup).transpose()?;
    let (mut state, state_writer) = app_state(config, store, vendors);
    let services = state.services.clone();
    let status_warmer = tokio::spawn(async move {
        if let Err(e) = services.statuses.warm(&services).await {
            tracing::error!(error = %e, "could not work out the devices' statuses");
        }
    });
    state.access_log = access_log;
    let bound = Bound::bind(config).await?;
    let (phone_addr, admin_addr) = (bound.phone.local_addr()?, bound.admin.local_addr()?);
    let phone_tls_addr = bound
        .phone_tls
        .as_ref()
        .map(|(l, _)| l.local_addr())
        .transpose()?;
    let (trigger, shutdown) = Shutdown::new();
    let listeners = bound.spawn(&state, limits(config), shutdown);
    Ok(Running {
        phone_addr,
        phone_tls_addr,
        admin_addr,
        state,
        trigger,
        listeners,
        state_writer,
        status_warmer,
        pruner,
        reopener,
        _lock: lock,
    })
}

/// The connection limits of each listener, from the settings.
fn limits(config: &ServeConfig) -> Limits {
    Limits {
        head_timeout: HEADER_READ_TIMEOUT,
        keepalive_timeout: config.keepalive_timeout,
        max_connections: config.max_connections as usize,
        max_per_source: config.max_connections_per_source as usize,
    }
}

/// The state every listener shares, from the settings, the store and the vendor profiles, and
/// the task writing device states.
fn app_state(
    config: &ServeConfig,
    store: Store,
    vendors: Arc<Vendors>,
) -> (AppState, JoinHandle<()>) {
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned());
    let services = Services::new(store.clone(), vendors.clone(), public_url.clone());
    let (states, state_writer) = DeviceStates::start(
        store,
        config.state_flush_interval,
        services.statuses.clone(),
    );
    let services = services.with_states(states.clone());
    let phone = PhoneData::new(
        &services,
        states,
        phone_cache::DEFAULT_BUDGET,
        config.render_ahead,
    );
    let state = AppState {
        services,
        metrics: Arc::new(Metrics::new(&vendors)),
        phone: Arc::new(phone),
        vendors,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        public_url,
        authenticator: Arc::new(PhoneAuthenticator::new(
            "deskprov",
            config.nonce_lifetime,
            MAX_NONCES,
        )),
        bans: Arc::new(BanList::new(BanPolicy {
            misses: config.ban_misses,
            window: config.ban_window,
            ban_for: config.ban_for,
        })),
        access_log: None,
    };
    (state, state_writer)
}

/// Reopens `log` on every SIGHUP (logrotate moved the file); elsewhere than Unix, never.
fn reopen_on_hangup(log: AccessLog) -> anyhow::Result<JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reopening the access log");
                log.reopen().await;
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::spawn(async move {
            let _log = log;
            std::future::pending::<()>().await
        }))
    }
}

/// The bound sockets, before anything is served on them.
struct Bound {
    phone: TcpListener,
    admin: TcpListener,
    phone_tls: Option<(TcpListener, PhoneTls)>,
}

impl Bound {
    /// Binds the phone HTTP and admin listeners, and the phone HTTPS one when a certificate
    /// and key are configured.
    async fn bind(config: &ServeConfig) -> anyhow::Result<Self> {
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
        Ok(Self {
            phone,
            admin,
            phone_tls,
        })
    }

    /// Starts serving on every listener until `shutdown`, each with `limits` of its own.
    fn spawn(self, state: &AppState, limits: Limits, shutdown: Shutdown) -> Vec<JoinHandle<()>> {
        let mut listeners = vec![
            tokio::spawn(serve(
                self.phone,
                phone_router(state.clone()),
                None,
                limits,
                shutdown.clone().wait(),
            )),
            tokio::spawn(serve(
                self.admin,
                admin_router(state.clone()),
                None,
                limits,
                shutdown.clone().wait(),
            )),
        ];
        if let Some((listener, acceptor)) = self.phone_tls {
            listeners.push(tokio::spawn(serve(
                listener,
                phone_router(state.clone()),
                Some(acceptor),
                limits,
                shutdown.wait(),
            )));
        }
        listeners
    }
}
