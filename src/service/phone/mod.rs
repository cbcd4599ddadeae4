//! What the phone path reads and writes: devices, tenants and rendered files kept in memory
//! between requests ([`PhoneCache`]), phones' uploads, and fetch records written off the hot
//! path. The HTTP side (src/http/phone) matches, gates and answers; it reaches the data only
//! through [`PhoneData`].

pub mod cache;

use std::sync::Arc;

use super::{ServiceResult, Services};
use crate::domain::fetch::FetchRecord;
use crate::store::recorder::FetchRecorder;
use crate::store::{Store, uploads};

pub use cache::{FileKey, PhoneCache};

/// The phone path's data: its cache, uploads and the fetch-record writer. Cheap to share.
pub struct PhoneData {
    cache: Arc<PhoneCache>,
    recorder: FetchRecorder,
    store: Store,
}

impl PhoneData {
    /// The phone path's data over `services`' store, recording fetches with `recorder`; the
    /// cache holds at most `budget` bytes and notices changes made by other processes.
    pub fn new(services: &Services, recorder: FetchRecorder, budget: usize) -> Self {
        let cache = Arc::new(PhoneCache::new(services.store.clone(), budget));
        cache.watch_external_changes();
        Self {
            cache,
            recorder,
            store: services.store.clone(),
        }
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

    /// Queues a fetch record for the batch writer; never waits (a full queue drops it, and
    /// the drop is counted).
    pub fn record(&self, record: FetchRecord) {
        self.recorder.record(record);
    }

    /// Fetch records dropped because the writer fell behind.
    pub fn dropped_records(&self) -> u64 {
        self.recorder.dropped()
    }
}
