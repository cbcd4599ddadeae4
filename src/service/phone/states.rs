//! Every device's fetch state, kept in memory ([`DeviceState`]), and its writer.
//!
//! A fetch updates the device's state under a lock and returns. What an admin or a security
//! rule depends on (the first fetch and its binding, a new address, User-Agent, model or
//! firmware, a refusal, a configuration version fetched for the first time) is written before
//! the phone gets its answer: the request waits for the writer, which commits whatever is
//! queued in one transaction (so a boot storm's first fetches share their commits). Everything
//! else (the last fetch time, the counts) is written at most once per device per flush interval,
//! in batches, and at graceful shutdown: a kill -9 may lose "last seen" times of the last
//! interval, never a binding, a refusal or the first fetch of a new version.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::domain::Mac;
use crate::domain::device::PhoneDevice;
use crate::domain::device_state::{
    Answer, Change, DeviceState, Fetched, Packed, Texts, version_fingerprint,
};
use crate::domain::history::{Event, stored_user_agent};
use crate::service::statuses::StatusIndex;
use crate::store::device_state::{self, Batch, Binding, StateWrite, Version};
use crate::store::{Store, StoreResult};

/// How often the states that changed only in what may be written late are written.
pub const DEFAULT_FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Locks the state map is split under, so that phones on different threads seldom wait.
const SHARDS: usize = 64;

/// Most device states written in one transaction of a flush: the phone path's urgent writes
/// get the writer between two.
const FLUSH_BATCH: usize = 1_000;

/// Most urgent writes committed together.
const URGENT_BATCH: usize = 512;

/// One request as the phone path saw it.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// When.
    pub at: DateTime<Utc>,
    /// From where.
    pub ip: IpAddr,
    /// The User-Agent, when it sent one.
    pub user_agent: Option<&'a str>,
    /// The model and firmware the User-Agent names.
    pub model: Option<&'a str>,
    /// See `model`.
    pub firmware: Option<&'a str>,
    /// The MAC the path names, normalised.
    pub mac: Option<&'a str>,
    /// The file asked for.
    pub file: &'a str,
    /// The status answered.
    pub status: u16,
    /// The result: `served`, `not_modified`, `uploaded`, `error` or why it was refused.
    pub result: &'static str,
    /// How it was answered.
    pub answer: Answer,
    /// The hash of the body served, when one was.
    pub body_hash: Option<&'a str>,
    /// The base URL the phone reached deskprov at (part of the body).
    pub server_url: &'a str,
    /// The SHA-256 of the client certificate, when one was presented.
    pub cert: Option<&'a str>,
    /// Whether a refusal is worth an event: it says something about a device identity
    /// (phones ask for files nobody serves, and every Digest exchange starts with a refusal).
    pub noteworthy: bool,
}

/// When and as what a device was last seen.
#[derive(Debug, Clone)]
pub struct LastSeen {
    /// The latest successful fetch.
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// Its address.
    pub last_ip: Option<IpAddr>,
    /// The latest model and firmware named.
    pub model: Option<Arc<str>>,
    /// See `model`.
    pub firmware: Option<Arc<str>>,
}

/// What is kept of one device: a state per device is what bounds memory with many devices, so
/// it is kept packed (40 to 80 bytes by its files), its texts once for all devices in [`Texts`].
struct Entry {
    /// The device's MAC: a row id SQLite gives again after a delete is another device.
    mac: Mac,
    /// Changed since it was last written.
    dirty: bool,
    state: Packed,
}

/// The states, behind [`SHARDS`] locks, and the texts they share.
struct Shards {
    maps: Vec<Mutex<HashMap<i64, Entry>>>,
    texts: RwLock<Texts>,
}

impl Shards {
    fn of(&self, device_id: i64) -> MutexGuard<'_, HashMap<i64, Entry>> {
        let shard = (device_id as u64 % SHARDS as u64) as usize;
        lock(&self.maps[shard])
    }

    /// `state` packed, any text it holds that is not kept yet kept first.
    fn pack(&self, state: &DeviceState, mac: &Mac) -> Packed {
        let texts = self.texts.read().unwrap_or_else(|e| e.into_inner());
        if let Some(packed) = Packed::pack(state, mac, &texts) {
            return packed;
        }
        drop(texts);
        let mut texts = self.texts.write().unwrap_or_else(|e| e.into_inner());
        texts.add(state, mac);
        Packed::pack(state, mac, &texts).expect("every text kept, or carried by the state")
    }

    /// `entry`'s state.
    fn unpack(&self, entry: &Entry) -> DeviceState {
        let texts = self.texts.read().unwrap_or_else(|e| e.into_inner());
        entry.state.unpack(&entry.mac, &texts)
    }

    /// The devices whose state changed since it was last written, each marked as written.
    fn take_dirty(&self) -> Vec<i64> {
        let mut dirty = Vec::new();
        for map in &self.maps {
            dirty.extend(lock(map).iter().filter(|(_, e)| e.dirty).map(|(id, _)| *id));
        }
        dirty
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A write the request waits for.
struct Urgent {
    batch: Batch,
    done: oneshot::Sender<()>,
}

/// Rows read per page when every stored state is read after the start.
const PRELOAD_PAGE: u32 = 1_000;

/// Reads every device's stored state, a page at a time, into the states not known yet: a
/// phone's first fetch after a start then finds its state in memory instead of reading its
/// row (a point read costs tens of microseconds, a row of a page a few).
async fn preload(states: Weak<DeviceStates>) {
    let mut after = 0;
    loop {
        let Some(this) = states.upgrade() else { return };
        let page = this
            .store
            .read(move |c| device_state::page(c, after, PRELOAD_PAGE))
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the devices' fetch states ahead; each is read at its first fetch");
                return;
            }
        };
        let Some(&(last, ..)) = page.last() else {
            return;
        };
        after = last;
        for (id, mac, state) in page {
            let packed = this.shards.pack(&state, &mac);
            // A state a request read meanwhile is at least as new: it stays.
            this.shards.of(id).entry(id).or_insert(Entry {
                mac,
                dirty: false,
                state: packed,
            });
        }
        drop(this);
        tokio::task::yield_now().await;
    }
}

/// Every device's fetch state and the task writing it. Cheap to share behind an `Arc`.
pub struct DeviceStates {
    store: Store,
    /// Told of every device that fetched a new version, once that is written.
    statuses: Arc<StatusIndex>,
    shards: Arc<Shards>,
    urgent: mpsc::UnboundedSender<Urgent>,
    failed: Arc<AtomicU64>,
}

impl std::fmt::Debug for DeviceStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStates").finish_non_exhaustive()
    }
}

impl DeviceStates {
    /// The states of `store`'s devices, and the task writing them: it writes what changed every
    /// `flush_every`, and everything left when the last handle is dropped, then ends. New
    /// versions fetched are told to `statuses`.
    pub fn start(
        store: Store,
        flush_every: Duration,
        statuses: Arc<StatusIndex>,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let shards = Arc::new(Shards {
            maps: (0..SHARDS).map(|_| Mutex::default()).collect(),
            texts: RwLock::default(),
        });
        let failed = Arc::new(AtomicU64::new(0));
        let (urgent, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store: store.clone(),
            shards: shards.clone(),
            failed: failed.clone(),
        };
        let task = tokio::spawn(writer.run(rx, flush_every));
        let states = Arc::new(Self {
            store,
            statuses,
            shards,
            urgent,
            failed,
        });
        tokio::spawn(preload(Arc::downgrade(&states)));
        (states, task)
    }

    /// Takes in one request about `device` (when it named a known one): updates its state, and
    /// waits until what must be kept is written.
    pub async fn observe(&self, device: Option<&PhoneDevice>, seen: &Seen<'_>) {
        let batch = match device {
            Some(device) => match self.observe_device(device, seen).await {
                Some(batch) => batch,
                None => return,
            },
            None if seen.answer.granted() || !seen.noteworthy => return,
            None => Batch {
                states: Vec::new(),
                events: vec![event(seen, "refused", None, None)],
            },
        };
        let new_version = batch.events.iter().any(|e| e.kind == "new_version");
        self.write_now(batch).await;
        if let (true, Some(device)) = (new_version, device) {
            self.statuses.fetched_new_version(device.id);
        }
    }

    /// Keeps a ban of `ip` in the history.
    pub async fn record_ban(&self, seen: &Seen<'_>) {
        self.write_now(Batch {
            states: Vec::new(),
            events: vec![event(seen, "ban", None, None)],
        })
        .await;
    }

    /// The state of `device_id` as this process knows it, if it fetched since the start.
    pub fn get(&self, device_id: i64) -> Option<DeviceState> {
        let shard = self.shards.of(device_id);
        shard.get(&device_id).map(|e| self.shards.unpack(e))
    }

    /// When and as what the device was last seen, if it fetched since the start.
    pub fn last_seen(&self, device_id: i64) -> Option<LastSeen> {
        let state = self.get(device_id)?;
        Some(LastSeen {
            last_fetch_at: state.last_fetch_at,
            last_ip: state.last_ip,
            model: state.model,
            firmware: state.firmware,
        })
    }

    /// Writes that failed (the database refused them): logged, and counted for `/metrics`.
    pub fn failed_writes(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Updates the device's state; the batch to write now, if anything must be.
    async fn observe_device(&self, device: &PhoneDevice, seen: &Seen<'_>) -> Option<Batch> {
        let id = device.id;
        let known = |e: &Entry| e.mac == device.mac;
        if !self.shards.of(id).get(&id).is_some_and(known) {
            let stored = match self.load(id).await {
                Ok(Some(state)) => state,
                // Deleted since the request read it: nothing to keep.
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(error = %e, device_id = id, "could not read a device's fetch state");
                    DeviceState::default()
                }
            };
            let packed = self.shards.pack(&stored, &device.mac);
            let mut shard = self.shards.of(id);
            if !shard.get(&id).is_some_and(known) {
                shard.insert(
                    id,
                    Entry {
                        mac: device.mac,
                        dirty: false,
                        state: packed,
                    },
                );
            }
        }
        let version = seen.body_hash.map(version_fingerprint);
        let fetched = Fetched {
            at: seen.at,
            ip: seen.ip,
            user_agent: seen.user_agent,
            model: seen.model,
            firmware: seen.firmware,
            file: seen.file,
            answer: seen.answer,
            version,
        };
        let mut shard = self.shards.of(id);
        let entry = shard.get_mut(&id)?;
        let texts = self.shards.texts.read().unwrap_or_else(|e| e.into_inner());
        // Most fetches are a phone asking again for what it has: taken in place.
        if entry
            .state
            .observe_quiet(&fetched, &device.mac, &texts, device.enrolled())
        {
            entry.dirty = true;
            return None;
        }
        let (mut state, codes) = entry.state.unpack_with_codes(&device.mac, &texts);
        let changes = state.observe(&fetched, device.enrolled());
        let repacked = entry.state.repack(&state, &device.mac, &texts, &codes);
        drop(texts);
        if repacked.is_none() {
            entry.state = self.shards.pack(&state, &device.mac);
        }
        if changes.is_empty() || (changes == [Change::Refused] && !seen.noteworthy) {
            entry.dirty = true;
            return None;
        }
        entry.dirty = false;
        Some(urgent_batch(device, seen, &state, &changes))
    }

    async fn load(&self, id: i64) -> StoreResult<Option<DeviceState>> {
        match self.store.try_read_now(move |c| device_state::load(c, id)) {
            Some(result) => result,
            None => self.store.read(move |c| device_state::load(c, id)).await,
        }
    }

    /// Hands `batch` to the writer and waits until it is committed (or failed, logged).
    async fn write_now(&self, batch: Batch) {
        let (done, committed) = oneshot::channel();
        if self.urgent.send(Urgent { batch, done }).is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let _ = committed.await;
    }
}

/// What a fetch's changes write now: the device's whole state, its binding on a first fetch,
/// the version it got when new, and one event per change.
fn urgent_batch(
    device: &PhoneDevice,
    seen: &Seen<'_>,
    state: &DeviceState,
    changes: &[Change],
) -> Batch {
    let binding = changes.contains(&Change::FirstFetch).then(|| Binding {
        at: seen.at,
        ip: seen.ip.to_string(),
        cert: seen.cert.map(str::to_owned),
    });
    let new_version = changes.contains(&Change::NewVersion);
    let versions = match seen.body_hash {
        Some(hash) if new_version => vec![Version {
            file: seen.file.to_owned(),
            body_hash: hash.to_owned(),
            server_url: seen.server_url.to_owned(),
            at: seen.at,
        }],
        _ => Vec::new(),
    };
    let events = changes
        .iter()
        .map(|c| {
            let detail = match c {
                Change::NewVersion => seen.body_hash.map(str::to_owned),
                other => other.before(),
            };
            event(seen, c.kind(), Some(device.tenant_id), detail)
        })
        .collect();
    Batch {
        states: vec![StateWrite {
            device_id: device.id,
            state: state.clone(),
            binding,
            versions,
        }],
        events,
    }
}

fn event(
    seen: &Seen<'_>,
    kind: &'static str,
    tenant_id: Option<i64>,
    detail: Option<String>,
) -> Event {
    Event {
        at: seen.at,
        kind,
        tenant_id,
        mac: seen.mac.map(str::to_owned),
        ip: seen.ip.to_string(),
        user_agent: seen.user_agent.map(stored_user_agent),
        file: seen.file.to_owned(),
        status: seen.status,
        result: seen.result,
        detail,
    }
}

/// The task that writes states and events.
struct Writer {
    store: Store,
    shards: Arc<Shards>,
    failed: Arc<AtomicU64>,
}

impl Writer {
    async fn run(self, mut urgent: mpsc::UnboundedReceiver<Urgent>, flush_every: Duration) {
        let mut tick = tokio::time::interval(flush_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                first = urgent.recv() => match first {
                    Some(first) => self.write_urgent(first, &mut urgent).await,
                    None => break,
                },
                _ = tick.tick() => self.flush(&mut urgent).await,
            }
        }
        self.flush(&mut urgent).await;
    }

    /// Commits `first` and whatever else is queued, in one transaction, then lets them go on.
    async fn write_urgent(&self, first: Urgent, queue: &mut mpsc::UnboundedReceiver<Urgent>) {
        let mut waiting = vec![first.done];
        let mut batch = first.batch;
        while waiting.len() < URGENT_BATCH {
            let Ok(next) = queue.try_recv() else { break };
            batch.states.extend(next.batch.states);
            batch.events.extend(next.batch.events);
            waiting.push(next.done);
        }
        self.write(batch).await;
        for done in waiting {
            let _ = done.send(());
        }
    }

    /// Writes every state changed since it was last written, [`FLUSH_BATCH`] a transaction,
    /// letting the requests waiting on an urgent write go first between two.
    async fn flush(&self, urgent: &mut mpsc::UnboundedReceiver<Urgent>) {
        let dirty = self.shards.take_dirty();
        for ids in dirty.chunks(FLUSH_BATCH) {
            if let Ok(first) = urgent.try_recv() {
                self.write_urgent(first, urgent).await;
            }
            let states: Vec<StateWrite> = ids
                .iter()
                .filter_map(|&id| {
                    let mut shard = self.shards.of(id);
                    let entry = shard.get_mut(&id).filter(|e| e.dirty)?;
                    entry.dirty = false;
                    Some(StateWrite {
                        device_id: id,
                        state: self.shards.unpack(entry),
                        binding: None,
                        versions: Vec::new(),
                    })
                })
                .collect();
            self.write(Batch {
                states,
                events: Vec::new(),
            })
            .await;
        }
    }

    async fn write(&self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let count = batch.states.len() + batch.events.len();
        let result = self
            .store
            .write(move |tx| device_state::write(tx, &batch))
            .await;
        if let Err(e) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, count, "could not write device states");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::device_state::FileState;

    fn state(mac: &str) -> DeviceState {
        let file = |name: &str| FileState {
            name: Arc::from(name),
            version: Some(7),
            counts: Default::default(),
        };
        DeviceState {
            model: Some(Arc::from("T46U")),
            firmware: Some(Arc::from("108.86.0.45")),
            user_agent: Some(Arc::from(format!(
                "Yealink SIP-T46U 108.86.0.45 {}",
                Mac::parse(mac).unwrap().colon()
            ))),
            last_file: Some(Arc::from(format!("{mac}.cfg"))),
            files: vec![file("y000000000028.cfg"), file(&format!("{mac}.cfg"))],
            ..DeviceState::default()
        }
    }

    #[test]
    fn devices_share_models_firmware_user_agents_and_file_names_but_for_their_mac() {
        let shards = Shards {
            maps: Vec::new(),
            texts: RwLock::default(),
        };
        let (a, b) = (
            Mac::parse("001565000001").unwrap(),
            Mac::parse("001565000002").unwrap(),
        );
        let (one, two) = (state("001565000001"), state("001565000002"));
        let packed = [shards.pack(&one, &a), shards.pack(&two, &b)];
        assert_eq!(
            shards.texts.read().unwrap().len(),
            5,
            "model, firmware, User-Agent and the two file names, each kept once"
        );
        for (p, (mac, state)) in packed.iter().zip([(a, &one), (b, &two)]) {
            let entry = Entry {
                mac,
                dirty: false,
                state: p.clone(),
            };
            assert_eq!(&shards.unpack(&entry), state);
            assert!(p.len() < 40, "{} bytes", p.len());
        }
    }
}
