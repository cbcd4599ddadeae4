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
pub mod tenants;
pub mod tokens;
pub mod users;

use std::sync::Arc;

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
}

impl Services {
    /// Services over `store` with `vendors`.
    pub fn new(store: Store, vendors: Arc<Vendors>, public_url: Option<String>) -> Self {
        Self {
            store,
            vendors,
            public_url,
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
