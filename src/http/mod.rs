//! HTTP: the phone-facing handler, the admin/installer JSON API, the HTML pages under `/ui`,
//! auth and errors. No SQL here.

pub mod api;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod json;
pub mod metrics;
pub mod params;
pub mod phone;
pub mod ui;

use std::sync::Arc;

use ipnet::IpNet;

use crate::profile::Vendors;
use crate::store::Store;
use crate::store::recorder::FetchRecorder;

/// Shared state of every listener.
#[derive(Clone)]
pub struct AppState {
    /// The use cases (and the store and profiles they work on).
    pub services: crate::service::Services,
    /// The database.
    pub store: Store,
    /// Vendor profiles.
    pub vendors: Arc<Vendors>,
    /// Fetch record writer.
    pub recorder: FetchRecorder,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Digest nonces and credential checks for phones.
    pub authenticator: Arc<phone::credentials::PhoneAuthenticator>,
    /// Miss counts and bans of phone sources.
    pub bans: Arc<phone::BanList>,
    /// The URL phones reach deskprov at, when set; otherwise taken from each request's `Host`.
    pub public_url: Option<String>,
    /// Counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Devices, tenants and rendered files the phone path keeps between requests.
    pub phone_cache: Arc<phone::PhoneCache>,
}

pub use api::router as admin_router;
pub use phone::router as phone_router;
