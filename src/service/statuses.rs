//! Every device's status, kept up to date instead of worked out over every device per view:
//! the dashboard's counts and list and `/metrics` read it.
//!
//! Whether a device is `provisioned` or `config_changed_since_fetch` takes rendering its files
//! and comparing them with what the phone last got, which over 100,000 devices is seconds of
//! work. The index does it once for every device (in the background at start, or at the first
//! read), then again only for the devices a change touched: the store's change journal names
//! them (a user, a tenant, a site, a device), and the phone path reports the devices that just
//! fetched a new version. Enrollment deadlines are compared with the clock at every read, so
//! `awaiting_first_fetch` turns into `enrollment_expired` on time.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::devices::{status_inputs, vendor_of};
use super::{ServiceResult, Services};
use crate::domain::{Device, DeviceStatus, Mac, device_status};
use crate::profile::provision::config_current;
use crate::store::journal::{Changes, Scope};
use crate::store::{Reader, StoreResult, devices, sites};

/// What the index keeps of one device.
#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: Mac,
    tenant_id: i64,
    user_id: i64,
    /// Whether the phone made its first fetch.
    enrolled: bool,
    /// The enrollment deadline in nanoseconds, held to what an `i64` spans (1677 to 2262):
    /// compared with the clock only, which is inside that span, so the answer is the same,
    /// and the entry is 32 bytes instead of 40 (one per device).
    deadline: i64,
    /// Whether what it last fetched is what it would get now; `None` until worked out.
    current: Option<bool>,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 32);

impl Entry {
    fn of(device: &Device) -> Self {
        Self {
            mac: device.mac,
            tenant_id: device.tenant_id,
            user_id: device.user_id,
            enrolled: device.first_fetch_at.is_some(),
            deadline: device.enroll_deadline.timestamp_nanos_opt().unwrap_or(
                if device.enroll_deadline.timestamp() < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                },
            ),
            current: None,
        }
    }

    fn status(&self, now: DateTime<Utc>) -> DeviceStatus {
        let first_fetch = self.enrolled.then_some(now);
        device_status(
            first_fetch,
            DateTime::from_timestamp_nanos(self.deadline),
            self.current.unwrap_or(true),
            now,
        )
    }
}

/// The index's entries by device row id: a vector sorted by id, 40 bytes a device, without the
/// empty buckets a hash map keeps (about half of them at some sizes, as 1M devices). New devices
/// have the largest ids, so an insert is nearly always a push.
#[derive(Debug, Default)]
struct Devices {
    rows: Vec<(i64, Entry)>,
    /// Removed since the last [`purge`](Devices::purge): one pass takes them all out.
    removed: HashSet<i64>,
}

impl Devices {
    fn get(&self, id: i64) -> Option<&Entry> {
        let i = self.rows.binary_search_by_key(&id, |r| r.0).ok()?;
        Some(&self.rows[i].1)
    }

    fn get_mut(&mut self, id: i64) -> Option<&mut Entry> {
        let i = self.rows.binary_search_by_key(&id, |r| r.0).ok()?;
        Some(&mut self.rows[i].1)
    }

    fn insert(&mut self, id: i64, entry: Entry) {
        self.removed.remove(&id);
        match self.rows.binary_search_by_key(&id, |r| r.0) {
            Ok(i) => self.rows[i].1 = entry,
            Err(i) => {
                // Grown by an eighth, not doubled: the index is most of its size.
                if self.rows.len() == self.rows.capacity() {
                    self.rows.reserve_exact(self.rows.len() / 8 + 16);
                }
                self.rows.insert(i, (id, entry));
            }
        }
    }

    /// Takes device `id` out at the next [`purge`](Devices::purge).
    fn remove(&mut self, id: i64) {
        self.removed.insert(id);
    }

    fn purge(&mut self) {
        if !self.removed.is_empty() {
            let removed = std::mem::take(&mut self.removed);
            self.rows.retain(|(id, _)| !removed.contains(id));
        }
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.rows.iter().map(|(_, e)| e)
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = (i64, &mut Entry)> {
        self.rows.iter_mut().map(|(id, e)| (*id, e))
    }
}

impl FromIterator<(i64, Entry)> for Devices {
    fn from_iter<I: IntoIterator<Item = (i64, Entry)>>(iter: I) -> Self {
        let mut rows: Vec<(i64, Entry)> = iter.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        rows.shrink_to_fit();
        Self {
            rows,
            removed: HashSet::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Index {
    /// The store generation the entries are valid for; `None` before the first build.
    generation: Option<u64>,
    devices: Devices,
}

/// The device statuses. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct StatusIndex {
    index: tokio::sync::Mutex<Index>,
    /// Devices that fetched a new version since the last read.
    fetched: Mutex<IdSet>,
    /// Statuses worked out (files rendered and compared) since the start.
    worked_out: AtomicU64,
}

/// Most row ids [`IdSet`] keeps as bits (8 MiB of them); larger ones go to a set.
const MAX_BIT_ID: i64 = 1 << 26;

/// Device row ids: a bit per id (row ids are dense, counted from 1), so that a set of every
/// device, as after a boot storm with nobody reading the index, is an eighth of a byte each.
#[derive(Debug, Default)]
struct IdSet {
    bits: Vec<u64>,
    others: HashSet<i64>,
}

impl IdSet {
    fn insert(&mut self, id: i64) {
        if !(0..MAX_BIT_ID).contains(&id) {
            self.others.insert(id);
            return;
        }
        let (word, bit) = ((id / 64) as usize, id % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        self.bits[word] |= 1 << bit;
    }

    /// Every id in the set.
    fn ids(self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.others.into_iter().collect();
        for (word, bits) in self.bits.iter().enumerate() {
            let mut bits = *bits;
            while bits != 0 {
                ids.push(word as i64 * 64 + i64::from(bits.trailing_zeros()));
                bits &= bits - 1;
            }
        }
        ids
    }
}

/// A device needing attention first, for lists.
#[derive(Debug, Clone, Copy)]
pub struct Ranked {
    /// Its MAC.
    pub mac: Mac,
    /// Its status now.
    pub status: DeviceStatus,
}

impl StatusIndex {
    /// Notes that the phone of `device_id` fetched a version it had not had (its status may
    /// have gone back to `provisioned`). Call after that fetch is written.
    pub fn fetched_new_version(&self, device_id: i64) {
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(device_id);
    }

    /// How many devices (of `tenant_id`, or all) have each status, in [`DeviceStatus::ALL`]'s
    /// order.
    pub async fn counts(
        &self,
        services: &Services,
        tenant_id: Option<i64>,
    ) -> ServiceResult<[u64; 4]> {
        let index = self.current(services).await?;
        let now = Utc::now();
        let mut counts = [0; 4];
        for entry in index.devices.entries() {
            if tenant_id.is_none_or(|t| t == entry.tenant_id) {
                let status = entry.status(now);
                let i = DeviceStatus::ALL.iter().position(|s| *s == status);
                counts[i.unwrap_or(0)] += 1;
            }
        }
        Ok(counts)
    }

    /// The first `n` devices (of `tenant_id`, or all) by urgency (expired, changed, waiting,
    /// fine), then MAC; and how many there are in all.
    pub async fn most_urgent(
        &self,
        services: &Services,
        tenant_id: Option<i64>,
        n: usize,
    ) -> ServiceResult<(Vec<Ranked>, usize)> {
        let index = self.current(services).await?;
        let now = Utc::now();
        let mut all: Vec<Ranked> = index
            .devices
            .entries()
            .filter(|e| tenant_id.is_none_or(|t| t == e.tenant_id))
            .map(|e| Ranked {
                mac: e.mac,
                status: e.status(now),
            })
            .collect();
        let total = all.len();
        let key = |r: &Ranked| (urgency(r.status), r.mac.lower12());
        if all.len() > n {
            all.select_nth_unstable_by_key(n, key);
            all.truncate(n);
        }
        all.sort_by_key(key);
        Ok((all, total))
    }

    /// The status of device `device_id` now, if it exists.
    pub async fn status_of(
        &self,
        services: &Services,
        device_id: i64,
    ) -> ServiceResult<Option<DeviceStatus>> {
        let index = self.current(services).await?;
        Ok(index.devices.get(device_id).map(|e| e.status(Utc::now())))
    }

    /// How many statuses were worked out (a device's files rendered and compared) since the
    /// start: once per device at first, then once per device a change touched.
    pub fn worked_out(&self) -> u64 {
        self.worked_out.load(Ordering::Relaxed)
    }

    /// Builds the index if it never was (for a server's start, so the first view is quick).
    pub async fn warm(&self, services: &Services) -> ServiceResult<()> {
        self.current(services).await.map(drop)
    }

    /// The index brought up to the store's latest generation.
    async fn current(
        &self,
        services: &Services,
    ) -> ServiceResult<tokio::sync::MutexGuard<'_, Index>> {
        let mut index = self.index.lock().await;
        let now = services.store.generation();
        let changes = match index.generation {
            None => Changes::Everything,
            Some(g) if g == now => Changes::Some(Vec::new()),
            Some(g) => services.store.changes_between(g, now).await?,
        };
        let fetched: Vec<i64> =
            std::mem::take(&mut *self.fetched.lock().unwrap_or_else(|e| e.into_inner())).ids();
        // Nothing changed and no phone fetched a new version: every status is known.
        if matches!(&changes, Changes::Some(c) if c.is_empty()) && fetched.is_empty() {
            index.generation = Some(now);
            return Ok(index);
        }
        let stale = std::mem::take(&mut index.devices);
        match update(services, stale, changes, fetched).await {
            Ok((devices, worked_out)) => {
                self.worked_out.fetch_add(worked_out, Ordering::Relaxed);
                index.devices = devices;
                index.generation = Some(now);
                Ok(index)
            }
            Err(e) => {
                // What was taken out is gone: the next read builds it all again.
                index.generation = None;
                Err(e)
            }
        }
    }
}

/// Devices needing someone first: expired, then changed, then waiting, then fine.
pub fn urgency(status: DeviceStatus) -> u8 {
    match status {
        DeviceStatus::EnrollmentExpired => 0,
        DeviceStatus::ConfigChangedSinceFetch => 1,
        DeviceStatus::AwaitingFirstFetch => 2,
        DeviceStatus::Provisioned => 3,
    }
}

/// `devices` with `changes` and the new versions `fetched` taken in, and every status that is
/// not known worked out, on a connection of its own (the phone path's readers are never held).
async fn update(
    services: &Services,
    devices: Devices,
    changes: Changes,
    fetched: Vec<i64>,
) -> ServiceResult<(Devices, u64)> {
    let vendors = services.vendors.clone();
    Ok(services
        .store
        .scan(move |c| {
            let mut devices = match changes {
                Changes::Everything => everything(c)?,
                Changes::Some(changes) => {
                    let mut devices = devices;
                    for change in changes {
                        apply(c, &mut devices, change.scope, change.id)?;
                    }
                    devices.purge();
                    devices
                }
            };
            for id in fetched {
                if let Some(entry) = devices.get_mut(id) {
                    entry.current = None;
                }
            }
            let mut worked_out = 0;
            for (id, entry) in devices.entries_mut() {
                if entry.current.is_none() && entry.enrolled {
                    entry.current = Some(work_out(c, &vendors, id, entry.mac)?);
                    worked_out += 1;
                }
            }
            Ok((devices, worked_out))
        })
        .await?)
}

/// Every device, statuses not yet worked out.
fn everything(c: &Reader) -> StoreResult<Devices> {
    Ok(devices::list(c, None, None)?
        .iter()
        .map(|d| (d.id, Entry::of(d)))
        .collect())
}

/// Takes in one journal row: the device re-read, or the devices whose files the change may
/// have altered marked for working out again.
fn apply(c: &Reader, devices: &mut Devices, scope: Scope, id: i64) -> StoreResult<()> {
    let mut mark = |hit: &dyn Fn(&Entry) -> bool| {
        for (_, entry) in devices.entries_mut().filter(|(_, e)| hit(e)) {
            entry.current = None;
        }
    };
    match scope {
        Scope::User => mark(&|e| e.user_id == id),
        Scope::Tenant => mark(&|e| e.tenant_id == id),
        Scope::Site => match sites::by_id(c, id) {
            Ok(site) => mark(&|e| e.tenant_id == site.tenant_id),
            // A deleted site: its devices are re-read with their own rows' changes.
            Err(crate::store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        },
        Scope::Device => match devices::by_id(c, id)? {
            Some(device) => {
                devices.insert(id, Entry::of(&device));
            }
            None => {
                devices.remove(id);
            }
        },
    }
    Ok(())
}

/// Whether what device `id` last fetched is what it would get now.
fn work_out(c: &Reader, vendors: &crate::profile::Vendors, id: i64, mac: Mac) -> StoreResult<bool> {
    let Some(bundle) = devices::bundle(c, &mac)? else {
        return Ok(true);
    };
    let Ok(vendor) = vendor_of(vendors, &bundle.device) else {
        return Ok(true);
    };
    let (fetched, uploads) = status_inputs(c, id)?;
    Ok(config_current(&bundle, vendor, &fetched, &uploads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_keep_their_order_through_inserts_and_removals() {
        let device = |n: u8| Entry {
            mac: Mac::parse(&format!("00156500000{n}")).unwrap(),
            tenant_id: 1,
            user_id: i64::from(n),
            enrolled: false,
            deadline: 0,
            current: None,
        };
        let mut devices: Devices = [(5, device(5)), (2, device(2))].into_iter().collect();
        devices.insert(9, device(9));
        devices.insert(3, device(3));
        devices.insert(5, device(6));
        devices.remove(2);
        devices.remove(7);
        devices.insert(2, device(2));
        devices.remove(3);
        devices.purge();
        let ids: Vec<i64> = devices.entries_mut().map(|(id, _)| id).collect();
        assert_eq!(ids, [2, 5, 9]);
        assert_eq!(devices.get(5).map(|e| e.user_id), Some(6));
        assert!(devices.get(3).is_none());
        assert!(devices.get_mut(9).is_some());
    }

    #[test]
    fn an_id_set_gives_back_every_id_once() {
        let mut set = IdSet::default();
        for id in [1, 64, 63, 1, 200_000, -5, MAX_BIT_ID, i64::MAX] {
            set.insert(id);
        }
        let mut ids = set.ids();
        ids.sort_unstable();
        assert_eq!(ids, [-5, 1, 63, 64, 200_000, MAX_BIT_ID, i64::MAX]);
    }
}
