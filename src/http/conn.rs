//! What a request knows about its connection: peer address, scheme, client certificate.
//!
//! The listeners (the `server` module) fill these in once per connection; the handlers read them
//! as request extensions. They live here so that `http` does not depend on `server`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::Extensions;

use crate::domain::Mac;

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

/// What a phone's client certificate says, worked out once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// The MAC in the subject (CN or another attribute), if one parses.
    pub mac: Option<Mac>,
    /// The vendor whose pinned CA issued it; `None` for an unpinned bundle.
    pub vendor: Option<String>,
    /// SHA-256 of the certificate, hex.
    pub fingerprint: String,
}

/// The facts of one connection, put on each of its requests by [`Connection::tag`].
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer's address.
    pub peer: SocketAddr,
    /// Plain HTTP or TLS.
    pub scheme: Scheme,
    /// The client certificate read at the TLS handshake, if one was presented.
    pub cert: Option<Arc<PeerCert>>,
}

impl Connection {
    /// Adds the extensions handlers read: `ConnectInfo<SocketAddr>`, [`Scheme`] and
    /// `Arc<PeerCert>` (when there is one).
    pub fn tag(&self, extensions: &mut Extensions) {
        extensions.insert(ConnectInfo(self.peer));
        extensions.insert(self.scheme);
        if let Some(cert) = &self.cert {
            extensions.insert(cert.clone());
        }
    }
}
