//! What the phone path reads and writes: devices, tenants and rendered files kept in memory
//! between requests ([`PhoneCache`]), phones' uploads, and every device's fetch state
//! ([`DeviceStates`]). The HTTP side (src/http/phone) matches, gates and answers; it reaches the data only
//! through [`PhoneData`].

mod ahead;
pub mod cache;
mod spill;
pub mod states;

use std::sync::Arc;

use super::{ServiceResult, Services};
use crate::store::{Store, uploads};

pub use ahead::Ahead;
pub use cache::{FileKey, PhoneCache, Subject};
pub use spill::Record;
pub use states::{DeviceStates, Seen};

/// The phone path's data: its cache, uploads and the devices' fetch states. Cheap to share.
pub struct PhoneData {
    cache: Arc<PhoneCache>,
    ahead: Option<Arc<Ahead>>,
    states: Arc<DeviceStates>,
    store: Store,
}

impl PhoneData {
    /// The phone path's data over `services`' store, keeping fetch states in `states`; the
    /// cache holds at most `budget` bytes in memory and notices changes made by other
    /// processes. With `render_ahead` and a public URL, every device's files are rendered in
    /// the background ([`Ahead`]).
    pub fn new(
        services: &Services,
        states: Arc<DeviceStates>,
        budget: usize,
        render_ahead: bool,
    ) -> Self {
        let cache = Arc::new(PhoneCache::new(services.store.clone(), budget));
        cache.watch_external_changes();
        let ahead = match (&services.public_url, render_ahead) {
            (Some(url), true) => Some(Ahead::start(
                cache.clone(),
                services.vendors.clone(),
                url.clone(),
            )),
            _ => None,
        };
        Self {
            cache,
            ahead,
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

    /// The task rendering every device's files ahead, when it runs.
    pub fn ahead(&self) -> Option<&Ahead> {
        self.ahead.as_deref()
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
