//! What the phone path keeps between requests: tenants and sites (few, needed by every
//! request); every device asked for, in the small form its gates need ([`PhoneDevice`]), with
//! where its rendered files are; the files themselves in a [`Spill`] file on disk, so that a
//! phone's next fetch is answered without reading the database or rendering; and, within a
//! memory budget, whole bundles for rendering and the common files (a boot storm asks for the
//! same common files thousands of times).
//!
//! Never stale. The cache is at one store change generation ([`Store::generation`]), the
//! position of the store's change journal, and everything it holds is what the store held then.
//! A request reads the generation before anything else (noticing another process's commits on
//! the way, [`Store::refresh_generation`]); when it is newer than the cache's, the cache is
//! brought to it first by the journal rows in between ([`Store::changes_between`]), which name
//! the tenants, sites, users and devices that changed, and exactly what depends on them goes:
//!
//! - a device: what is kept of it, its bundle and its files;
//! - a user: the bundles and files of the devices it owns (the journal also names the users and
//!   devices whose keys aim at a user that changed name or extension);
//! - a site: its row, the bundles and files of the devices at it (their own or their owner's
//!   site), the settings kept for it;
//! - a tenant: its row, its devices' bundles and files, the common files rendered with its
//!   settings, the settings kept for it, every URL key, and whether any phone needs credentials
//!   (which a device change forgets too);
//! - anything else (a new epoch, pruned journal rows, too many rows, an `all` row, a journal
//!   that cannot be read): everything.
//!
//! One request at a time brings the cache forward, in order, from its generation to the
//! request's, reading the journal without holding the cache's lock; requests for the same or an
//! older generation wait for it or find it done. What a request read under an older generation
//! than the cache's is used for that request only, never kept. The gates (address, enrollment
//! window, credentials, …) still run on every request: only data and bytes are cached, never a
//! decision.

use crate::domain::device::{DeviceBundle, PhoneDevice};
use crate::domain::tenant::{Site, Tenant};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::store::Reader;
use smallvec::SmallVec;

use super::spill::{Record, Slot, Spill};
use user_agents::{SharedNames, UaMemo, UaPartsKept};

mod user_agents;

use crate::domain::{Mac, Settings};
use crate::profile::provision::{DeviceFile, device_settings};
use crate::profile::{Rendered, SettingsContext, UaInfo, Vendor, Vendors};
use crate::store::devices;
use crate::store::journal::{self, Change, Changes, Scope};
use crate::store::sites;
use crate::store::tenants;
use crate::store::{Store, StoreResult};

/// Bytes of common files and device bundles kept in memory at most; the oldest go first.
/// Per-device files are spilled to disk and not counted here.
pub const DEFAULT_BUDGET: usize = 8 << 20;

/// Garbage in the spill file past which it is started anew, when it is also more than what is
/// live: each change to a device leaves its old files behind.
const SPILL_WASTE: u64 = 64 << 20;

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

/// A registered device as the phone path checks it: the device, its tenant and its site.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The device.
    pub device: PhoneDevice,
    /// Its tenant.
    pub tenant: Arc<Tenant>,
    /// Its site (its own, else its owner's).
    pub site: Option<Arc<Site>>,
}

/// A device kept, with where its rendered files are in the spill file.
struct Known {
    device: PhoneDevice,
    /// By the hash of their [`FileKey`].
    files: SmallVec<[(u64, Slot); 2]>,
    /// What its last User-Agent said.
    ua: Option<UaMemo>,
}

/// The phone path's cache. Cheap to share behind an `Arc`.
pub struct PhoneCache {
    store: Store,
    budget: usize,
    /// Where spill files are made (the database's folder).
    spill_dir: Option<std::path::PathBuf>,
    /// Told when everything kept is gone, to render it again.
    started_over: Mutex<Option<Arc<tokio::sync::Notify>>>,
    state: Mutex<State>,
    /// Held by the one request bringing the cache to a newer generation.
    advancing: tokio::sync::Mutex<()>,
    /// Files served from the cache.
    hits: AtomicU64,
    /// Files rendered (not found in the cache).
    renders: AtomicU64,
    /// Keys the hashes of User-Agents ([`PhoneCache::user_agent`]): a phone cannot make its
    /// User-Agent pass for another without knowing them.
    ua_keys: std::hash::RandomState,
}

/// What a device's bundle and files were read from: the rows whose change drops them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ties {
    device: i64,
    owner: i64,
    tenant: i64,
    /// The device's own site and its owner's (the bundle's site is one of them; a user row
    /// carries its site's name).
    sites: [Option<i64>; 2],
}

impl Ties {
    fn of(bundle: &DeviceBundle) -> Self {
        Self {
            device: bundle.device.id,
            owner: bundle.owner.id,
            tenant: bundle.tenant.id,
            sites: [bundle.device.site_id, bundle.owner.site_id],
        }
    }

    fn of_device(device: &PhoneDevice) -> Self {
        Self {
            device: device.id,
            owner: device.owner_id,
            tenant: device.tenant_id,
            sites: device.sites,
        }
    }
}

/// A kept file, with what a per-device file was rendered from.
struct File {
    rendered: Arc<Rendered>,
    ties: Option<Ties>,
}

/// What a run of journal rows drops.
#[derive(Debug, Default)]
struct Evict {
    tenants: HashSet<i64>,
    sites: HashSet<i64>,
    users: HashSet<i64>,
    devices: HashSet<i64>,
}

impl Evict {
    fn of(changes: &[Change]) -> Self {
        let mut evict = Self::default();
        for change in changes {
            let set = match change.scope {
                Scope::Tenant => &mut evict.tenants,
                Scope::Site => &mut evict.sites,
                Scope::User => &mut evict.users,
                Scope::Device => &mut evict.devices,
            };
            set.insert(change.id);
        }
        evict
    }

    fn is_empty(&self) -> bool {
        self.tenants.is_empty()
            && self.sites.is_empty()
            && self.users.is_empty()
            && self.devices.is_empty()
    }

    fn drops(&self, t: &Ties) -> bool {
        self.devices.contains(&t.device)
            || self.users.contains(&t.owner)
            || self.tenants.contains(&t.tenant)
            || t.sites.iter().flatten().any(|s| self.sites.contains(s))
    }
}

#[derive(Default)]
struct State {
    generation: u64,
    tenants: HashMap<i64, Arc<Tenant>>,
    sites: HashMap<i64, Arc<Site>>,
    url_keys: HashMap<String, Option<i64>>,
    any_phone_auth: Option<bool>,
    /// Every device asked for since the state last started over: not budgeted (one small
    /// entry per device), dropped only by changes.
    known: HashMap<Mac, Known>,
    /// Where per-device files are kept; `None` when no spill file could be made (they are then
    /// rendered on every fetch).
    spill: Option<Arc<Spill>>,
    /// Whole bundles read lately, for rendering.
    devices: HashMap<Mac, Arc<DeviceBundle>>,
    /// Phone-wide settings by vendor (its address), tenant and site, for devices with no
    /// settings of their own.
    settings: HashMap<(usize, i64, Option<i64>), Arc<SettingsContext>>,
    files: HashMap<FileKey, File>,
    /// Insertion order of devices and files, for eviction.
    order: VecDeque<Key>,
    bytes: usize,
    /// Devices whose overflow warning was logged.
    warned: HashMap<i64, Ties>,
    /// What the devices' User-Agents said, shared.
    ua_parts: UaPartsKept,
    /// The vendor and model names of the devices kept, shared.
    names: SharedNames,
}

impl State {
    /// Whether the state may serve and keep things for a request that started at `g`.
    fn at(&self, g: u64) -> bool {
        g == self.generation
    }

    /// Brings the state from its generation to `g`, dropping what `changes` name.
    fn advance(&mut self, g: u64, changes: &Changes) {
        match changes {
            Changes::Everything => {
                let spill = self.spill.take();
                if let Some(spill) = &spill {
                    for slot in self.known.values().flat_map(|k| &k.files) {
                        spill.forget(&slot.1);
                    }
                }
                *self = State {
                    generation: g,
                    spill,
                    ..State::default()
                };
            }
            Changes::Some(changes) => {
                self.evict(&Evict::of(changes));
                self.generation = g;
            }
        }
    }

    fn evict(&mut self, evict: &Evict) {
        if evict.is_empty() {
            return;
        }
        self.tenants.retain(|id, _| !evict.tenants.contains(id));
        self.sites.retain(|id, _| !evict.sites.contains(id));
        if !evict.tenants.is_empty() {
            // A tenant's URL key may have moved to, or from, any key looked up.
            self.url_keys.clear();
        }
        if !evict.tenants.is_empty() || !evict.devices.is_empty() {
            self.any_phone_auth = None;
        }
        self.settings.retain(|(_, tenant, site), _| {
            !evict.tenants.contains(tenant) && site.is_none_or(|s| !evict.sites.contains(&s))
        });
        self.warned.retain(|_, ties| !evict.drops(ties));
        let spill = self.spill.as_deref();
        self.known.retain(|_, known| {
            let keep = !evict.drops(&Ties::of_device(&known.device));
            if !keep && let Some(spill) = spill {
                for (_, slot) in &known.files {
                    spill.forget(slot);
                }
            }
            keep
        });
        let mut freed = 0;
        self.devices.retain(|_, bundle| {
            let keep = !evict.drops(&Ties::of(bundle));
            if !keep {
                freed += DEVICE_COST;
            }
            keep
        });
        self.files.retain(|key, file| {
            let keep = match &file.ties {
                Some(ties) => !evict.drops(ties),
                None => key.tenant_id.is_none_or(|t| !evict.tenants.contains(&t)),
            };
            if !keep {
                freed += file_cost(&file.rendered);
            }
            keep
        });
        if freed > 0 {
            self.bytes = self.bytes.saturating_sub(freed);
            let (devices, files) = (&self.devices, &self.files);
            self.order.retain(|key| match key {
                Key::Device(mac) => devices.contains_key(mac),
                Key::File(key) => files.contains_key(key),
            });
        }
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
                Key::File(key) => self
                    .files
                    .remove(&key)
                    .map_or(0, |f| file_cost(&f.rendered)),
            };
        }
    }
}

fn file_cost(r: &Rendered) -> usize {
    r.body.len() + r.etag.len() + r.content_type.len() + 128
}

/// A new spill file in `dir`, or `None` (logged): files are then rendered on every fetch.
fn new_spill(dir: Option<&Path>) -> Option<Arc<Spill>> {
    match Spill::create(dir) {
        Ok(spill) => Some(Arc::new(spill)),
        Err(e) => {
            tracing::warn!(error = %e, dir = ?dir, "could not make a spill file; per-device files are rendered on every fetch");
            None
        }
    }
}

/// The hash a per-device file is kept under (fixed keys: the same for the process's life).
fn key_hash(key: &FileKey) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

impl PhoneCache {
    /// A cache over `store` keeping about `budget` bytes in memory, and per-device files in a
    /// spill file in the database's folder.
    pub fn new(store: Store, budget: usize) -> Self {
        let spill_dir = store.path().parent().map(Path::to_owned);
        let spill = new_spill(spill_dir.as_deref());
        Self {
            store,
            budget,
            spill_dir,
            started_over: Mutex::default(),
            state: Mutex::new(State {
                spill,
                ..State::default()
            }),
            advancing: tokio::sync::Mutex::new(()),
            hits: AtomicU64::new(0),
            renders: AtomicU64::new(0),
            ua_keys: std::hash::RandomState::new(),
        }
    }

    /// The store's generation, with the cache brought to it: call it once at the start of a
    /// request and pass the answer to every other call.
    pub async fn generation(&self) -> u64 {
        let g = self.store.refresh_generation();
        self.catch_up(g).await;
        g
    }

    /// Brings the cache to generation `g` (a generation the store handed out) when it is
    /// behind: the journal rows in between say what to drop. One request at a time does it;
    /// the others wait, then find it done.
    pub async fn catch_up(&self, g: u64) {
        if self.state().generation >= g {
            return;
        }
        let _turn = self.advancing.lock().await;
        let from = self.state().generation;
        if from >= g {
            return;
        }
        // Read without holding the state's lock; no one else moves the generation meanwhile.
        let changes = self
            .read(move |c| journal::changes_between(c, from, g))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read the change journal; the phone cache starts over");
                Changes::Everything
            });
        let mut state = self.state();
        if state.generation == from {
            // Starting over from nothing kept (the first request) loses nothing to render again.
            let had_files = state.known.values().any(|k| !k.files.is_empty());
            state.advance(g, &changes);
            let renewed = self.renew_spill_if_wasteful(&mut state);
            drop(state);
            if renewed || (had_files && matches!(changes, Changes::Everything)) {
                self.started_over();
            }
        }
    }

    /// Starts a new spill file when the current one is mostly garbage: what was kept in it is
    /// rendered again as phones ask.
    fn renew_spill_if_wasteful(&self, state: &mut State) -> bool {
        let Some(spill) = &state.spill else {
            return false;
        };
        if spill.wasted() <= SPILL_WASTE.max(spill.live()) {
            return false;
        }
        tracing::info!(
            wasted = spill.wasted(),
            live = spill.live(),
            "starting a new spill file for per-device files"
        );
        for known in state.known.values_mut() {
            known.files.clear();
        }
        state.spill = new_spill(self.spill_dir.as_deref());
        true
    }

    /// What the cache holds, for tests: `device:<mac>`, `file:<device id>` and
    /// `common:<tenant id or ->` entries, sorted; checks the byte count on the way.
    #[cfg(test)]
    fn held(&self) -> Vec<String> {
        let state = self.state();
        let mut held: Vec<String> = state
            .devices
            .keys()
            .map(|mac| format!("device:{}", mac.lower12()))
            .chain(state.known.iter().flat_map(|(mac, known)| {
                let file = (!known.files.is_empty()).then(|| format!("file:{}", known.device.id));
                std::iter::once(format!("known:{}", mac.lower12())).chain(file)
            }))
            .chain(
                state
                    .files
                    .keys()
                    .map(|k| match (k.device_id, k.tenant_id) {
                        (Some(d), _) => format!("file:{d}"),
                        (None, Some(t)) => format!("common:{t}"),
                        (None, None) => "common:-".to_owned(),
                    }),
            )
            .collect();
        held.sort();
        let bytes = state.devices.len() * DEVICE_COST
            + state
                .files
                .values()
                .map(|f| file_cost(&f.rendered))
                .sum::<usize>();
        assert_eq!(state.bytes, bytes, "bytes counted");
        assert_eq!(state.order.len(), state.devices.len() + state.files.len());
        held
    }

    /// Files served from the cache since start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Files rendered since start (every file not served from the cache).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a read on the calling thread when a reader is free (the phone path's reads are a few
    /// point lookups: cheaper than a hand-off to the blocking pool), else on the blocking pool.
    pub(super) async fn read<T, F>(&self, f: F) -> StoreResult<T>
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

    /// The device with `mac` as its gates check it, or `None` for an unknown device: from what
    /// is kept when it can, else read (and then kept).
    pub async fn device(&self, g: u64, mac: Mac) -> StoreResult<Option<Subject>> {
        let kept = self.cached(g, |s| {
            let device = &s.known.get(&mac)?.device;
            let tenant = s.tenants.get(&device.tenant_id)?.clone();
            let site = match device.site_id() {
                Some(id) => Some(s.sites.get(&id)?.clone()),
                None => None,
            };
            Some(Subject {
                device: device.clone(),
                tenant,
                site,
            })
        });
        if kept.is_some() {
            return Ok(kept);
        }
        let Some(bundle) = self.bundle(g, mac).await? else {
            return Ok(None);
        };
        let device = PhoneDevice::of(&bundle);
        let subject = self.cached(g, |s| {
            Some(Subject {
                device: device.clone(),
                tenant: s.tenants.get(&device.tenant_id)?.clone(),
                site: device.site_id().and_then(|id| s.sites.get(&id).cloned()),
            })
        });
        let subject = subject.unwrap_or_else(|| Subject {
            device: device.clone(),
            tenant: Arc::new(bundle.tenant.clone()),
            site: bundle.site.clone().map(Arc::new),
        });
        let mut state = self.state();
        if state.at(g) && !state.known.contains_key(&mac) {
            let mut device = device;
            // Vendors and models are few: one copy each for every device kept.
            device.vendor = state.names.share(&device.vendor);
            device.model = device.model.map(|m| state.names.share(&m));
            state.known.insert(
                mac,
                Known {
                    device,
                    files: SmallVec::new(),
                    ua: None,
                },
            );
        }
        Ok(Some(subject))
    }

    /// What `ua` says about `device` ([`Vendors::parse_ua`]): read once per device and
    /// User-Agent, then remembered while the device is kept.
    pub fn user_agent(
        &self,
        g: u64,
        device: &PhoneDevice,
        ua: &str,
        vendors: &Vendors,
    ) -> Option<UaInfo> {
        let hash = self.ua_keys.hash_one(ua);
        let recalled = self.cached(g, |s| {
            let known = s.known.get(&device.mac)?;
            let memo = known.ua.as_ref().filter(|_| known.device.id == device.id)?;
            memo.recall(hash, device)
        });
        if recalled.is_some() {
            return recalled;
        }
        let info = vendors.parse_ua(ua)?;
        let mut state = self.state();
        if state.at(g) {
            let memo = state.ua_parts.memo(hash, &info, device);
            if let Some(known) = state.known.get_mut(&device.mac)
                && known.device.id == device.id
            {
                known.ua = memo;
            }
        }
        Some(info)
    }

    /// Whether a per-device file is kept for `device` under `key` at generation `g`.
    pub fn has_device_file(&self, g: u64, device: &PhoneDevice, key: &FileKey) -> bool {
        let hash = key_hash(key);
        self.cached(g, |s| {
            let known = s.known.get(&device.mac)?;
            known.files.iter().find(|(h, _)| *h == hash).map(|_| ())
        })
        .is_some()
    }

    /// Has `notify` told whenever the cache starts over (everything it kept is gone).
    pub fn on_start_over(&self, notify: Arc<tokio::sync::Notify>) {
        *self.started_over.lock().unwrap_or_else(|e| e.into_inner()) = Some(notify);
    }

    fn started_over(&self) {
        let notify = self.started_over.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = notify.as_ref() {
            notify.notify_one();
        }
    }

    /// A per-device file kept for `device` under `key` at generation `g`, read back from the
    /// spill file; `None` when there is none (or it cannot be read: it is rendered again).
    pub fn device_file(&self, g: u64, device: &PhoneDevice, key: &FileKey) -> Option<Record> {
        let hash = key_hash(key);
        let (spill, slot) = self.cached(g, |s| {
            let known = s.known.get(&device.mac)?;
            let (_, slot) = known.files.iter().find(|(h, _)| *h == hash)?;
            Some((s.spill.clone()?, *slot))
        })?;
        match spill.get(&slot) {
            Ok(record) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(record)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read a spilled file; rendering it again");
                None
            }
        }
    }

    /// Keeps a per-device file just rendered for `device` from data read in generation `g`,
    /// in the spill file; `shape` says which other devices' files look like it (the file and
    /// model), for compression.
    pub fn keep_device_file(
        &self,
        g: u64,
        device: &PhoneDevice,
        key: &FileKey,
        rendered: &Rendered,
    ) {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let Some(spill) = self.cached(g, |s| s.spill.clone()) else {
            return;
        };
        let shape = BuildHasherDefault::<DefaultHasher>::default().hash_one((key.file, &key.model));
        let slot = match spill.put(shape, &rendered.etag, rendered.body.as_bytes()) {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(error = %e, "could not spill a rendered file");
                return;
            }
        };
        let hash = key_hash(key);
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state.at(g) && state.spill.as_ref().is_some_and(|s| Arc::ptr_eq(s, &spill));
        let known = state
            .known
            .get_mut(&device.mac)
            .filter(|k| k.device.id == device.id);
        match known {
            Some(known) if current => match known.files.iter_mut().find(|(h, _)| *h == hash) {
                Some((_, old)) => spill.forget(&std::mem::replace(old, slot)),
                None => known.files.push((hash, slot)),
            },
            _ => spill.forget(&slot),
        }
    }

    /// Everything needed to render `mac`'s files, or `None` for an unknown device.
    pub async fn bundle(&self, g: u64, mac: Mac) -> StoreResult<Option<Arc<DeviceBundle>>> {
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
        let state = self.state();
        if state.at(g) { get(&state) } else { None }
    }

    /// The tenant whose phones use `key` as first path segment.
    pub async fn tenant_by_key(&self, g: u64, key: &str) -> StoreResult<Option<Arc<Tenant>>> {
        {
            let state = self.state();
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
            let state = self.state();
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

    /// A file rendered earlier and still current at generation `g`.
    pub fn file(&self, g: u64, key: &FileKey) -> Option<Arc<Rendered>> {
        let state = self.state();
        if !state.at(g) {
            return None;
        }
        let found = state.files.get(key).map(|f| f.rendered.clone());
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps a file just rendered from data read in generation `g`: a per-device file from
    /// `bundle`, a common file from no device's data (`None`).
    pub fn keep_file(
        &self,
        g: u64,
        key: FileKey,
        bundle: Option<&DeviceBundle>,
        rendered: Arc<Rendered>,
    ) {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        if !state.at(g) {
            return;
        }
        let cost = file_cost(&rendered);
        let file = File {
            rendered,
            ties: bundle.map(Ties::of),
        };
        if state.files.insert(key.clone(), file).is_none() {
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

    /// Logs that aliases of `bundle`'s device did not fit on the phone, when `file` says so:
    /// once per device until something it is read from changes, not on every render.
    pub fn warn_about_overflow(&self, g: u64, bundle: &DeviceBundle, file: &DeviceFile) {
        let DeviceFile::Rendered(_, plan) = file else {
            return;
        };
        if !plan.overflow.is_empty() && self.overflow_warning_due(g, bundle) {
            tracing::warn!(
                mac = %bundle.device.mac,
                capacity = plan.capacity,
                overflow = plan.overflow.len(),
                "aliases beyond the phone's line capacity are not on the phone"
            );
        }
    }

    fn overflow_warning_due(&self, g: u64, bundle: &DeviceBundle) -> bool {
        let mut state = self.state();
        if !state.at(g) {
            return true;
        }
        if state.warned.len() >= MAX_WARNED {
            state.warned.clear();
        }
        state
            .warned
            .insert(bundle.device.id, Ties::of(bundle))
            .is_none()
    }

    /// Looks for commits by other processes every [`EXTERNAL_CHECK_EVERY`] until `self` is gone,
    /// so the generation moves (and a database that went back starts a new epoch) between
    /// requests too.
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

#[cfg(test)]
mod tests;
