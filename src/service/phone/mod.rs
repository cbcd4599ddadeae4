//! What the phone path reads and writes: devices, tenants and rendered files kept in memory
//! between requests ([`PhoneCache`]), phones' uploads, and every device's fetch state
//! ([`DeviceStates`]). The HTTP side (src/http/phone) matches, gates and answers; it reaches the data only
//! through [`PhoneData`].

pub mod cache;
mod spill;
pub mod states;

use std::sync::Arc;

use super::{ServiceResult, Services};
use crate::store::{Store, uploads};

pub use cache::{FileKey, PhoneCache, Subject};
pub use spill::Record;
pub use states::{DeviceStates, Seen};

/// The phone path's data: its cache, uploads and the devices' fetch states. Cheap to share.
pub struct PhoneData {
    cache: Arc<PhoneCache>,
    states: Arc<DeviceStates>,
    store: Store,
}

impl PhoneData {
    /// The phone path's data over `services`' store, keeping fetch states in `states`; the
    /// cache holds at most `budget` bytes and notices changes made by other processes.
    pub fn new(services: &Services, states: Arc<DeviceStates>, budget: usize) -> Self {
        let cache = Arc::new(PhoneCache::new(services.store.clone(), budget));
        cache.watch_external_changes();
        Self {
            cache,
            states,
            store: services.store.clone(),
        }
    }

    /// Every device's fetch state.
    pub fn states(&self) -> &DeviceStates {
        &self.states
    }

    /// Devices, tenants and rendered files kept between requests.
    pub fn cache(&self) -> &PhoneCache {
        &self.cache
    }

    /// The device's latest upload of `name`, if any.
    pub async fn upload(&self, device_id: i64, name: &str) -> ServiceResult<Option<Vec<u8>>> {
        let name = name.to_owned();
        Ok(self
            .store
            .read(move |c| uploads::get(c, device_id, &name))
            .await?)
    }

    /// Keeps `body` as the device's latest upload of `name`.
    pub async fn save_upload(
        &self,
        device_id: i64,
        name: &str,
        body: Vec<u8>,
    ) -> ServiceResult<()> {
        let name = name.to_owned();
        Ok(self
            .store
            .write(move |tx| uploads::save(tx, device_id, &name, &body))
            .await?)
    }
}
