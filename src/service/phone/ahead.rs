//! Every device's own files rendered before its phone asks: after a start, and again whenever
//! the phone cache had to start over (a restore, a database that went back, a spill file that
//! was mostly garbage). A boot storm after a restart is then answered from the spill file, as
//! a web server answers from its static files, rather than by reading and rendering for each
//! phone while hundreds wait.
//!
//! Only when phones' base URL is known ahead (`--public-url`): a file names the URL it was
//! fetched at. One device at a time, yielding between devices, so phones asking meanwhile are
//! answered between two renders; a device a phone asks for first is rendered by that request
//! and skipped here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::cache::{FileKey, PhoneCache};
use crate::domain::Mac;
use crate::profile::provision::device_file;
use crate::profile::{FileKind, Vendors};
use crate::store::{StoreResult, devices};

/// Devices listed per read of the device table.
const PAGE: u32 = 500;

/// How long a pass waits after being woken, so that a burst of start-overs makes one pass.
const SETTLE: Duration = Duration::from_secs(1);

/// The task rendering ahead, and what it did. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Ahead {
    running: AtomicBool,
    passes: AtomicU64,
    rendered: AtomicU64,
    /// Told by the cache when it starts over.
    wake: Arc<Notify>,
}

impl Ahead {
    /// Starts rendering every device's files for phones reaching deskprov at `public_url`, now
    /// and whenever `cache` starts over.
    pub fn start(cache: Arc<PhoneCache>, vendors: Arc<Vendors>, public_url: String) -> Arc<Self> {
        let ahead = Arc::new(Self::default());
        cache.on_start_over(ahead.wake.clone());
        let task = ahead.clone();
        tokio::spawn(async move {
            loop {
                task.pass(&cache, &vendors, &public_url).await;
                task.wake.notified().await;
                tokio::time::sleep(SETTLE).await;
            }
        });
        ahead
    }

    /// Whether a pass is under way.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Passes finished since the start.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// Files rendered ahead since the start.
    pub fn rendered(&self) -> u64 {
        self.rendered.load(Ordering::Relaxed)
    }

    async fn pass(&self, cache: &PhoneCache, vendors: &Vendors, public_url: &str) {
        self.running.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let (mut devices, mut files, mut after) = (0u64, 0u64, String::new());
        loop {
            let from = after.clone();
            let page = cache
                .read(move |c| devices::page(c, None, Some(&from), PAGE))
                .await;
            let page = match page {
                Ok(page) if !page.is_empty() => page,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "rendering ahead stopped: could not list devices");
                    break;
                }
            };
            after = page.last().map(|d| d.mac.lower12()).unwrap_or_default();
            for device in page {
                match render_device(cache, vendors, public_url, device.mac).await {
                    Ok(n) => {
                        files += n;
                        self.rendered.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, mac = %device.mac, "could not render a device's files ahead")
                    }
                }
                devices += 1;
                tokio::task::yield_now().await;
            }
        }
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.running.store(false, Ordering::Relaxed);
        tracing::info!(
            devices,
            files,
            took_ms = started.elapsed().as_millis() as u64,
            "rendered every device's files ahead"
        );
    }
}

/// Renders the files of the device with `mac` that are not kept yet; returns how many.
async fn render_device(
    cache: &PhoneCache,
    vendors: &Vendors,
    public_url: &str,
    mac: Mac,
) -> StoreResult<u64> {
    let g = cache.generation().await;
    let Some(subject) = cache.device(g, mac).await? else {
        return Ok(0);
    };
    let Some(vendor) = vendors.get(&subject.device.vendor) else {
        return Ok(0);
    };
    let server_url = match &subject.tenant.phone_auth.url_key {
        Some(key) => format!("{public_url}/{key}"),
        None => public_url.to_owned(),
    };
    let mut bundle = None;
    let mut rendered = 0;
    let specs = vendor.profile.files.iter();
    for spec in specs.filter(|f| f.kind == FileKind::Device && !f.prefer_upload) {
        let key = FileKey {
            device_id: Some(subject.device.id),
            tenant_id: None,
            file: std::ptr::from_ref(spec) as usize,
            model: subject.device.model.as_deref().map(str::to_owned),
            server_url: server_url.clone(),
        };
        if cache.has_device_file(g, &subject.device, &key) {
            continue;
        }
        let bundle = match &bundle {
            Some(bundle) => bundle,
            None => match cache.bundle(g, mac).await? {
                Some(found) => bundle.insert(found),
                None => return Ok(rendered),
            },
        };
        let settings = cache.settings(g, bundle, vendor);
        match device_file(
            bundle,
            vendor,
            spec,
            None,
            &server_url,
            false,
            Some(settings),
        ) {
            Ok(file) => {
                cache.warn_about_overflow(g, bundle, &file);
                cache.keep_device_file(g, &subject.device, &key, &file.into_rendered());
                rendered += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, %mac, file = spec.name, "could not render a file ahead")
            }
        }
    }
    Ok(rendered)
}
