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

use std::collections::{HashMap, HashSet};
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

#[derive(Debug, Default)]
struct Index {
    /// The store generation the entries are valid for; `None` before the first build.
    generation: Option<u64>,
    devices: HashMap<i64, Entry>,
}

/// The device statuses. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct StatusIndex {
    index: tokio::sync::Mutex<Index>,
    /// Devices that fetched a new version since the last read.
    fetched: Mutex<HashSet<i64>>,
    /// Statuses worked out (files rendered and compared) since the start.
    worked_out: AtomicU64,
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
        for entry in index.devices.values() {
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
            .values()
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
        Ok(index.devices.get(&device_id).map(|e| e.status(Utc::now())))
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
            std::mem::take(&mut *self.fetched.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
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
    devices: HashMap<i64, Entry>,
    changes: Changes,
    fetched: Vec<i64>,
) -> ServiceResult<(HashMap<i64, Entry>, u64)> {
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
                    devices
                }
            };
            for id in fetched {
                if let Some(entry) = devices.get_mut(&id) {
                    entry.current = None;
                }
            }
            let mut worked_out = 0;
            for (&id, entry) in devices.iter_mut() {
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
fn everything(c: &Reader) -> StoreResult<HashMap<i64, Entry>> {
    Ok(devices::list(c, None, None)?
        .iter()
        .map(|d| (d.id, Entry::of(d)))
        .collect())
}

/// Takes in one journal row: the device re-read, or the devices whose files the change may
/// have altered marked for working out again.
fn apply(c: &Reader, devices: &mut HashMap<i64, Entry>, scope: Scope, id: i64) -> StoreResult<()> {
    let mut mark = |hit: &dyn Fn(&Entry) -> bool| {
        for entry in devices.values_mut().filter(|e| hit(e)) {
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
                devices.remove(&id);
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
