//! TLS for the phone HTTPS listener: rustls (ring), TLS 1.2 and 1.3, a certificate that reloads
//! without a restart, and optional client certificates checked against vendor CA bundles.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::domain::Mac;
use crate::http::conn::PeerCert;

/// How often the certificate files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Installs ring as the process-wide rustls provider (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A CA bundle that phones' factory certificates chain to, optionally tied to one vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCa {
    /// Vendor profile id whose phones carry certificates from this CA (`yealink`), if pinned.
    pub vendor: Option<String>,
    /// PEM file with the CA certificates.
    pub path: PathBuf,
}

impl std::str::FromStr for ClientCa {
    type Err = String;

    /// `VENDOR=FILE` pins the bundle to a vendor; `FILE` alone accepts it for any vendor.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((vendor, path))
                if !vendor.is_empty()
                    && vendor.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                Ok(Self {
                    vendor: Some(vendor.to_owned()),
                    path: path.into(),
                })
            }
            _ if text.is_empty() => Err("give a PEM file, or VENDOR=FILE".into()),
            _ => Ok(Self {
                vendor: None,
                path: text.into(),
            }),
        }
    }
}

/// The phone HTTPS listener's TLS: an acceptor plus what is needed to read client certificates.
#[derive(Clone)]
pub struct PhoneTls {
    /// Accepts connections.
    pub acceptor: TlsAcceptor,
    identifier: Arc<ClientIdentifier>,
}

impl PhoneTls {
    /// Reads the client certificate of an accepted connection, if one was presented.
    pub fn peer_cert(&self, conn: &rustls::ServerConnection) -> Option<PeerCert> {
        let chain = conn.peer_certificates()?;
        self.identifier.identify(chain)
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
    let identifier = Arc::new(ClientIdentifier::load(client_cas)?);
    let mut config = match identifier.any_verifier()? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    }
    .with_cert_resolver(reloader.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(watch(reloader));
    Ok(PhoneTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        identifier,
    })
}

/// Loads the certificate, key and CA bundles as [`phone_tls`] does, without serving anything
/// (for `deskprov config check`).
pub fn check_files(cert: &Path, key: &Path, client_cas: &[ClientCa]) -> anyhow::Result<()> {
    install_crypto_provider();
    certified_key(cert, key)?;
    ClientIdentifier::load(client_cas)?.any_verifier()?;
    Ok(())
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

fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let certs = load_certs(cert)?;
    let key = load_key(key)?;
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .with_context(|| format!("{} is not a usable private key", key_path_display(cert)))?;
    let certified = CertifiedKey::new(certs, signing_key);
    certified
        .keys_match()
        .context("the certificate and the key do not belong together")?;
    Ok(certified)
}

fn key_path_display(cert: &Path) -> String {
    format!("the key for {}", cert.display())
}

fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading certificate {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing certificate {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).with_context(|| format!("reading key {}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .with_context(|| format!("parsing key {}", path.display()))?
        .with_context(|| format!("{} holds no PEM private key", path.display()))
}

/// Verifies client certificates against each CA bundle, to learn which vendor's CA issued one.
struct ClientIdentifier {
    bundles: Vec<(Option<String>, Arc<dyn ClientCertVerifier>)>,
    all: Option<Arc<RootCertStore>>,
}

impl ClientIdentifier {
    fn load(cas: &[ClientCa]) -> anyhow::Result<Self> {
        let mut all = RootCertStore::empty();
        let mut bundles = Vec::new();
        for ca in cas {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(&ca.path)? {
                roots.add(cert.clone()).with_context(|| {
                    format!("{} holds an unusable CA certificate", ca.path.display())
                })?;
                all.add(cert)?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .with_context(|| format!("building a verifier for {}", ca.path.display()))?;
            bundles.push((ca.vendor.clone(), verifier));
        }
        Ok(Self {
            bundles,
            all: (!cas.is_empty()).then(|| Arc::new(all)),
        })
    }

    /// The handshake verifier: any configured CA, and phones without certificates still connect
    /// (tenants that require one refuse them per request).
    fn any_verifier(&self) -> anyhow::Result<Option<Arc<dyn ClientCertVerifier>>> {
        self.all
            .as_ref()
            .map(|roots| {
                WebPkiClientVerifier::builder(roots.clone())
                    .allow_unauthenticated()
                    .build()
                    .context("building the client certificate verifier")
            })
            .transpose()
    }

    fn identify(&self, chain: &[CertificateDer<'static>]) -> Option<PeerCert> {
        let (end_entity, intermediates) = chain.split_first()?;
        let now = UnixTime::now();
        let vendor = self
            .bundles
            .iter()
            .find(|(_, v)| v.verify_client_cert(end_entity, intermediates, now).is_ok())
            .and_then(|(vendor, _)| vendor.clone());
        Some(PeerCert {
            mac: mac_in_subject(end_entity),
            vendor,
            fingerprint: hex::encode(Sha256::digest(end_entity.as_ref())),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ca_arguments() {
        assert_eq!(
            "yealink=/etc/ca/yealink.pem".parse::<ClientCa>().unwrap(),
            ClientCa {
                vendor: Some("yealink".into()),
                path: "/etc/ca/yealink.pem".into()
            }
        );
        assert_eq!("/etc/ca/all.pem".parse::<ClientCa>().unwrap().vendor, None);
        assert!("".parse::<ClientCa>().is_err());
    }
}
