//! Every use case once, transport-neutral: the JSON API, the pages, the CLI, the CSV import and
//! the audit restore all call these. Each takes the [`Actor`](crate::domain::Actor) asking (for
//! the permission check and the audit log) and returns domain values or a [`ServiceError`].
//! Changes go through the store in one transaction with their audit entry.

pub mod audit;
pub mod bulk;
pub mod devices;
pub mod error;
pub mod keys;
pub mod languages;
pub mod ops;
pub mod overview;
pub mod phone;
pub mod restore;
pub mod sign_in;
pub mod statuses;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use crate::domain::Device;
use crate::profile::Vendors;
use crate::store::Store;

pub use error::{ServiceError, ServiceResult};

/// What the use cases work on: the store and the phone profiles. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// The phone profiles.
    pub vendors: Arc<Vendors>,
    /// The URL phones reach deskprov at, when set (previews write it into files).
    pub public_url: Option<String>,
    /// The devices' fetch states, when this process serves phones.
    pub states: Option<Arc<phone::DeviceStates>>,
    /// Every device's status, kept up to date.
    pub statuses: Arc<statuses::StatusIndex>,
}

impl Services {
    /// Services over `store` with `vendors`.
    pub fn new(store: Store, vendors: Arc<Vendors>, public_url: Option<String>) -> Self {
        Self {
            store,
            vendors,
            public_url,
            states: None,
            statuses: Arc::default(),
        }
    }

    /// These services, showing what phones did from `states` (the store's copy of it lags by
    /// up to the state flush interval).
    pub fn with_states(mut self, states: Arc<phone::DeviceStates>) -> Self {
        self.states = Some(states);
        self
    }

    /// Brings `device`'s fetch columns up to what its phone did since they were written.
    pub(crate) fn refresh_fetch_state(&self, device: &mut Device) {
        let Some(seen) = self.states.as_ref().and_then(|s| s.last_seen(device.id)) else {
            return;
        };
        if seen.last_fetch_at > device.last_fetch_at {
            device.last_fetch_at = seen.last_fetch_at;
            device.last_ip = seen.last_ip.map(|ip| ip.to_string());
            if seen.model.is_some() {
                device.seen_model = seen.model.as_deref().map(str::to_owned);
            }
            if seen.firmware.is_some() {
                device.seen_firmware = seen.firmware.as_deref().map(str::to_owned);
            }
        }
    }
}

impl Services {
    /// Database calls that failed inside the database (for `/metrics`).
    pub fn db_errors(&self) -> u64 {
        self.store.errors()
    }
}

/// Whether the database answers (for `/healthz`).
pub async fn health(services: &Services) -> ServiceResult<()> {
    Ok(services.store.ping().await?)
}
