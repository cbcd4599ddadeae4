//! TLS files: the phone HTTPS certificate and key, and the CA bundles that phones' factory
//! client certificates chain to. Loading and checking them is here, shared by the settings
//! ([`ClientCa`]), `config check` ([`check_files`]) and the server, which keeps the listener's
//! rustls setup, the certificate reload and the handshake (`server::tls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;

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

/// Loads the certificate, key and CA bundles as the phone HTTPS listener does, without serving
/// anything (for `deskprov config check`).
pub fn check_files(cert: &Path, key: &Path, client_cas: &[ClientCa]) -> anyhow::Result<()> {
    install_crypto_provider();
    certified_key(cert, key)?;
    ClientCaBundles::load(client_cas)?.any_verifier()?;
    Ok(())
}

/// Reads a PEM certificate chain and its private key, and checks that they belong together.
pub fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
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

/// The client CA bundles, loaded: one verifier per bundle (to learn which vendor's CA issued a
/// certificate) and all their certificates together (for the handshake).
pub struct ClientCaBundles {
    bundles: Vec<(Option<String>, Arc<dyn ClientCertVerifier>)>,
    all: Option<Arc<RootCertStore>>,
}

impl ClientCaBundles {
    /// Reads and parses every bundle.
    pub fn load(cas: &[ClientCa]) -> anyhow::Result<Self> {
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
    /// (tenants that require one refuse them per request). `None` without bundles.
    pub fn any_verifier(&self) -> anyhow::Result<Option<Arc<dyn ClientCertVerifier>>> {
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

    /// The vendor of the first bundle that `end_entity` (with `intermediates`) chains to, when
    /// that bundle is tied to a vendor.
    pub fn vendor_of(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Option<String> {
        let now = UnixTime::now();
        self.bundles
            .iter()
            .find(|(_, v)| v.verify_client_cert(end_entity, intermediates, now).is_ok())
            .and_then(|(vendor, _)| vendor.clone())
    }
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
