//! TLS for the phone HTTPS listener: rustls (ring), TLS 1.2 and 1.3, a certificate that reloads
//! without a restart, and optional client certificates checked against vendor CA bundles. The
//! certificate, key and bundles are read by [`crate::tls`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::domain::Mac;
use crate::http::conn::PeerCert;
use crate::tls::{ClientCa, ClientCaBundles, certified_key, install_crypto_provider};

/// How often the certificate files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The phone HTTPS listener's TLS: an acceptor plus what is needed to read client certificates.
#[derive(Clone)]
pub struct PhoneTls {
    /// Accepts connections.
    pub acceptor: TlsAcceptor,
    client_cas: Arc<ClientCaBundles>,
}

impl PhoneTls {
    /// Reads the client certificate of an accepted connection, if one was presented.
    pub fn peer_cert(&self, conn: &rustls::ServerConnection) -> Option<PeerCert> {
        let chain = conn.peer_certificates()?;
        identify(&self.client_cas, chain)
    }
}

/// Builds the phone TLS from a PEM certificate chain and key, and client CA bundles; spawns the
/// watcher that reloads the certificate on SIGHUP or when its files change.
pub fn phone_tls(cert: &Path, key: &Path, client_cas: &[ClientCa]) -> anyhow::Result<PhoneTls> {
    install_crypto_provider();
    let reloader = Arc::new(CertReloader::load(cert, key)?);
    let builder = ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ]);
    let bundles = Arc::new(ClientCaBundles::load(client_cas)?);
    let mut config = match bundles.any_verifier()? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    }
    .with_cert_resolver(reloader.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(watch(reloader));
    Ok(PhoneTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        client_cas: bundles,
    })
}

/// Serves the current certificate and swaps in a new one when asked.
#[derive(Debug)]
pub struct CertReloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertReloader {
    fn load(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            current: RwLock::new(Arc::new(certified_key(cert, key)?)),
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
        })
    }

    /// Reads the files again; on any error the old certificate stays in service.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = certified_key(&self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    fn stamp(&self) -> Option<(SystemTime, SystemTime)> {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((modified(&self.cert_path)?, modified(&self.key_path)?))
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

async fn watch(reloader: Arc<CertReloader>) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = reloader.stamp();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(s) => s.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<bool>();
        let why = tokio::select! {
            _ = tick.tick() => {
                let now = reloader.stamp();
                if now == seen { continue; }
                seen = now;
                "certificate files changed"
            }
            true = signalled => "SIGHUP",
        };
        match reloader.reload() {
            Ok(()) => tracing::info!(reason = why, "reloaded the phone TLS certificate"),
            Err(e) => {
                tracing::error!(reason = why, error = %format!("{e:#}"), "could not reload the phone TLS certificate; keeping the old one")
            }
        }
    }
}

/// Reads a client certificate chain: the MAC it names, the vendor whose CA it chains to, its
/// fingerprint.
fn identify(bundles: &ClientCaBundles, chain: &[CertificateDer<'static>]) -> Option<PeerCert> {
    let (end_entity, intermediates) = chain.split_first()?;
    Some(PeerCert {
        mac: mac_in_subject(end_entity),
        vendor: bundles.vendor_of(end_entity, intermediates),
        fingerprint: hex::encode(Sha256::digest(end_entity.as_ref())),
    })
}

/// The MAC a factory certificate names: the CN first, then any other subject attribute.
fn mac_in_subject(cert: &CertificateDer<'_>) -> Option<Mac> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let cn = subject.iter_common_name().filter_map(|a| a.as_str().ok());
    let others = subject.iter_attributes().filter_map(|a| a.as_str().ok());
    cn.chain(others)
        .find_map(|value| Mac::parse(value.trim()).ok())
}
