//! What the phone path keeps in memory between requests: tenants and sites (few, needed by
//! every request), devices with their owner and aliases, and rendered files (a boot storm asks
//! for the same common files thousands of times, and each phone for its own files two or three
//! times in a row).
//!
//! Never stale: every entry is valid for one store change generation ([`Store::generation`]),
//! which moves after every committed change that can alter a phone's file or its checks. A
//! request reads the generation before anything else; when it has moved, everything is dropped.
//! What a request read under an older generation than the cache's is used for that request only,
//! never kept. The gates (address, enrollment window, credentials, …) still run on every request:
//! only data and bytes are cached, never a decision.

use crate::domain::device::DeviceBundle;
use crate::domain::tenant::{Site, Tenant};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::store::Reader;

use crate::domain::{Mac, Settings};
use crate::profile::provision::device_settings;
use crate::profile::{Rendered, SettingsContext, Vendor};
use crate::store::devices;
use crate::store::sites;
use crate::store::tenants;
use crate::store::{Store, StoreResult};

/// Bytes of rendered files and device data kept at most; the oldest entries go first.
pub const DEFAULT_BUDGET: usize = 8 << 20;

/// Rough memory of a cached device with its owner, aliases, tenant and site.
const DEVICE_COST: usize = 4096;

/// Devices whose overflow warning was logged, remembered at most (then forgotten, and logged again).
const MAX_WARNED: usize = 200_000;

/// How often commits by other processes (a CLI on the same database) are looked for.
pub const EXTERNAL_CHECK_EVERY: Duration = Duration::from_millis(100);

/// Which rendered file: everything its bytes depend on besides the store's data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// The device, for per-device files; `None` for common files.
    pub device_id: Option<i64>,
    /// The tenant whose settings a common file was rendered with (URL-key requests).
    pub tenant_id: Option<i64>,
    /// The profile's file spec (its address: profiles live as long as the server).
    pub file: usize,
    /// The model rendered for.
    pub model: Option<String>,
    /// The base URL written into the file.
    pub server_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Device(Mac),
    File(FileKey),
}

/// The phone path's cache. Cheap to share behind an `Arc`.
pub struct PhoneCache {
    store: Store,
    budget: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: u64,
    tenants: HashMap<i64, Arc<Tenant>>,
    sites: HashMap<i64, Arc<Site>>,
    url_keys: HashMap<String, Option<i64>>,
    any_phone_auth: Option<bool>,
    devices: HashMap<Mac, Arc<DeviceBundle>>,
    /// Phone-wide settings by vendor (its address), tenant and site, for devices with no
    /// settings of their own.
    settings: HashMap<(usize, i64, Option<i64>), Arc<SettingsContext>>,
    files: HashMap<FileKey, Arc<Rendered>>,
    /// Insertion order of devices and files, for eviction.
    order: VecDeque<Key>,
    bytes: usize,
    warned: HashSet<i64>,
}

impl State {
    /// Brings the state to generation `g` (dropping everything when it moved); whether it may
    /// serve and keep things for a request that started at `g`.
    fn at(&mut self, g: u64) -> bool {
        if g > self.generation {
            *self = State {
                generation: g,
                ..State::default()
            };
        }
        g == self.generation
    }

    fn push(&mut self, key: Key, cost: usize, budget: usize) {
        self.order.push_back(key);
        self.bytes += cost;
        while self.bytes > budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.bytes -= match old {
                Key::Device(mac) => self.devices.remove(&mac).map_or(0, |_| DEVICE_COST),
                Key::File(key) => self.files.remove(&key).map_or(0, |r| file_cost(&r)),
            };
        }
    }
}

fn file_cost(r: &Rendered) -> usize {
    r.body.len() + r.etag.len() + r.content_type.len() + 128
}

impl PhoneCache {
    /// A cache over `store` keeping about `budget` bytes.
    pub fn new(store: Store, budget: usize) -> Self {
        Self {
            store,
            budget,
            state: Mutex::new(State::default()),
        }
    }

    /// The store's generation: read it once at the start of a request and pass it to every call.
    pub fn generation(&self) -> u64 {
        self.store.generation()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a read on the calling thread when a reader is free (the phone path's reads are a few
    /// point lookups: cheaper than a hand-off to the blocking pool), else on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Reader) -> StoreResult<T> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let inline = f.clone();
        match self.store.try_read_now(move |c| inline(c)) {
            Some(result) => result,
            None => self.store.read(move |c| f(c)).await,
        }
    }

    /// Everything needed to serve `mac`, or `None` for an unknown device.
    pub async fn device(&self, g: u64, mac: Mac) -> StoreResult<Option<Arc<DeviceBundle>>> {
        if let Some(bundle) = self.cached(g, |s| s.devices.get(&mac).cloned()) {
            return Ok(Some(bundle));
        }
        let Some((device, owner, aliases, keys)) = self
            .read(move |c| devices::with_owner_and_aliases(c, &mac))
            .await?
        else {
            return Ok(None);
        };
        let tenant_id = device.tenant_id;
        let tenant = match self.cached(g, |s| s.tenants.get(&tenant_id).cloned()) {
            Some(t) => t,
            None => Arc::new(self.read(move |c| tenants::by_id(c, tenant_id)).await?),
        };
        let site = match device.site_id.or(owner.site_id) {
            None => None,
            Some(id) => Some(match self.cached(g, |s| s.sites.get(&id).cloned()) {
                Some(site) => site,
                None => Arc::new(self.read(move |c| sites::by_id(c, id)).await?),
            }),
        };
        let bundle = Arc::new(DeviceBundle {
            tenant: (*tenant).clone(),
            site: site.as_deref().cloned(),
            owner,
            aliases,
            keys,
            device,
        });
        let mut state = self.state();
        if state.at(g) {
            state.tenants.entry(tenant.id).or_insert(tenant);
            if let Some(site) = site {
                state.sites.entry(site.id).or_insert(site);
            }
            if state.devices.insert(mac, bundle.clone()).is_none() {
                state.push(Key::Device(mac), DEVICE_COST, self.budget);
            }
        }
        Ok(Some(bundle))
    }

    /// What `get` finds in the cache, if it is at generation `g`.
    fn cached<T>(&self, g: u64, get: impl FnOnce(&State) -> Option<T>) -> Option<T> {
        let mut state = self.state();
        if state.at(g) { get(&state) } else { None }
    }

    /// The tenant whose phones use `key` as first path segment.
    pub async fn tenant_by_key(&self, g: u64, key: &str) -> StoreResult<Option<Arc<Tenant>>> {
        {
            let mut state = self.state();
            if state.at(g)
                && let Some(id) = state.url_keys.get(key)
            {
                match id {
                    None => return Ok(None),
                    Some(id) => {
                        if let Some(t) = state.tenants.get(id) {
                            return Ok(Some(t.clone()));
                        }
                    }
                }
            }
        }
        let owned = key.to_owned();
        let tenant = self
            .read(move |c| tenants::by_url_key(c, &owned))
            .await?
            .map(Arc::new);
        let mut state = self.state();
        if state.at(g) && state.url_keys.len() < 10_000 {
            state
                .url_keys
                .insert(key.to_owned(), tenant.as_ref().map(|t| t.id));
            if let Some(t) = &tenant {
                state.tenants.insert(t.id, t.clone());
            }
        }
        Ok(tenant)
    }

    /// Whether any tenant or device asks phones for credentials.
    pub async fn any_phone_auth(&self, g: u64) -> StoreResult<bool> {
        {
            let mut state = self.state();
            if state.at(g)
                && let Some(any) = state.any_phone_auth
            {
                return Ok(any);
            }
        }
        let any = self.store.read(tenants::any_phone_auth).await?;
        let mut state = self.state();
        if state.at(g) {
            state.any_phone_auth = Some(any);
        }
        Ok(any)
    }

    /// A file rendered earlier in generation `g`.
    pub fn file(&self, g: u64, key: &FileKey) -> Option<Arc<Rendered>> {
        let mut state = self.state();
        if !state.at(g) {
            return None;
        }
        state.files.get(key).cloned()
    }

    /// Keeps a file rendered from data read in generation `g`.
    pub fn keep_file(&self, g: u64, key: FileKey, rendered: Arc<Rendered>) {
        let mut state = self.state();
        if !state.at(g) {
            return;
        }
        let cost = file_cost(&rendered);
        if state.files.insert(key.clone(), rendered).is_none() {
            state.push(Key::File(key), cost, self.budget);
        }
    }

    /// The phone-wide settings of `bundle`'s device in `vendor`'s codes.
    pub fn settings(&self, g: u64, bundle: &DeviceBundle, vendor: &Vendor) -> SettingsContext {
        if bundle.device.settings != Settings::default() {
            return device_settings(bundle, vendor);
        }
        let key = (
            std::ptr::from_ref(vendor) as usize,
            bundle.tenant.id,
            bundle.site.as_ref().map(|s| s.id),
        );
        if let Some(known) = self.cached(g, |s| s.settings.get(&key).cloned()) {
            return (*known).clone();
        }
        let settings = device_settings(bundle, vendor);
        let mut state = self.state();
        if state.at(g) && state.settings.len() < 10_000 {
            state.settings.insert(key, Arc::new(settings.clone()));
        }
        settings
    }

    /// Whether the overflow warning for `device_id` is due: once per device until something
    /// changes, not on every fetch.
    pub fn overflow_warning_due(&self, g: u64, device_id: i64) -> bool {
        let mut state = self.state();
        if !state.at(g) {
            return true;
        }
        if state.warned.len() >= MAX_WARNED {
            state.warned.clear();
        }
        state.warned.insert(device_id)
    }

    /// Looks for commits by other processes every [`EXTERNAL_CHECK_EVERY`] until `self` is gone.
    pub fn watch_external_changes(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXTERNAL_CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(cache) = weak.upgrade() else { break };
                let store = cache.store.clone();
                drop(cache);
                let _ = tokio::task::spawn_blocking(move || store.notice_external_changes()).await;
            }
        });
    }
}
