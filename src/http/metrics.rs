//! `GET /metrics` on the admin listener: Prometheus text exposition, format 0.0.4.
//!
//! The phone path only bumps atomics ([`Metrics::phone_request`], [`Metrics::miss`],
//! [`Metrics::ban`]): no lock and no allocation per request. Devices by status come from the
//! status index (`service::statuses`), kept up to date as things change, so every scrape is
//! current and cheap.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::domain::DeviceStatus;
use crate::profile::Vendors;

/// Upper bounds of the phone latency histogram, in microseconds (0.5 ms … 1 s).
const BUCKETS_US: [u64; 11] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];
/// Distinct `result` label values kept; later new ones count as `other`.
const RESULTS: usize = 48;
/// Device statuses in the order they are printed (the status index's order).
const STATUSES: [DeviceStatus; 4] = DeviceStatus::ALL;

/// The counters, shared by every listener.
#[derive(Debug)]
pub struct Metrics {
    /// Vendor label values, by profile order; one more row counts requests with no vendor.
    vendors: Vec<String>,
    /// Result label values, interned on first sight (the last slot is `other`).
    results: Vec<OnceLock<&'static str>>,
    /// Requests, `vendors.len() + 1` rows of `RESULTS` counters.
    requests: Vec<AtomicU64>,
    /// Latency counts per bucket, the last one past the largest bound.
    latency: [AtomicU64; BUCKETS_US.len() + 1],
    latency_sum_us: AtomicU64,
    misses: AtomicU64,
    bans: AtomicU64,
}

impl Metrics {
    /// Counters for the vendors in `vendors`.
    pub fn new(vendors: &Vendors) -> Self {
        let vendors: Vec<String> = vendors.all().iter().map(|v| v.id().to_owned()).collect();
        let rows = vendors.len() + 1;
        Self {
            vendors,
            results: (0..RESULTS).map(|_| OnceLock::new()).collect(),
            requests: (0..rows * RESULTS).map(|_| AtomicU64::new(0)).collect(),
            latency: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bans: AtomicU64::new(0),
        }
    }

    /// Counts one answered phone request.
    pub fn phone_request(&self, vendor: Option<&str>, result: &'static str, took: Duration) {
        let row = vendor
            .and_then(|v| self.vendors.iter().position(|known| known == v))
            .unwrap_or(self.vendors.len());
        let column = self.result_slot(result);
        self.requests[row * RESULTS + column].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(BUCKETS_US.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Counts a miss that counts toward a ban.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a ban that started.
    pub fn ban(&self) {
        self.bans.fetch_add(1, Ordering::Relaxed);
    }

    /// The slot of `result`, taking a free one the first time a value is seen. Lock-free: a
    /// slot is written once, and a thread that loses the race for it moves on to the next.
    fn result_slot(&self, result: &'static str) -> usize {
        let last = RESULTS - 1;
        for (i, slot) in self.results[..last].iter().enumerate() {
            if *slot.get_or_init(|| result) == result {
                return i;
            }
        }
        let _ = self.results[last].set("other");
        last
    }

    /// Devices by status now; `None` when the database could not be read.
    async fn device_counts(&self, state: &AppState) -> Option<[u64; 4]> {
        count_devices(state).await
    }

    fn render(&self, out: &mut String, devices: Option<[u64; 4]>) {
        family(
            out,
            "deskprov_phone_requests_total",
            "counter",
            "Phone requests answered, by vendor and result.",
        );
        for (row, vendor) in self
            .vendors
            .iter()
            .map(String::as_str)
            .chain(["none"])
            .enumerate()
        {
            for (column, slot) in self.results.iter().enumerate() {
                let n = self.requests[row * RESULTS + column].load(Ordering::Relaxed);
                if let (Some(result), true) = (slot.get(), n > 0) {
                    writeln!(out, "deskprov_phone_requests_total{{vendor=\"{vendor}\",result=\"{result}\"}} {n}").ok();
                }
            }
        }
        family(
            out,
            "deskprov_phone_request_duration_seconds",
            "histogram",
            "Time to answer a phone request, from its head to its response.",
        );
        let mut cumulative = 0;
        for (i, count) in self.latency.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BUCKETS_US
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |us| seconds(*us));
            writeln!(
                out,
                "deskprov_phone_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            )
            .ok();
        }
        let sum = seconds(self.latency_sum_us.load(Ordering::Relaxed));
        writeln!(out, "deskprov_phone_request_duration_seconds_sum {sum}").ok();
        writeln!(
            out,
            "deskprov_phone_request_duration_seconds_count {cumulative}"
        )
        .ok();
        counter(
            out,
            "deskprov_phone_misses_total",
            "Phone requests refused for an identity reason (they count toward bans).",
            self.misses.load(Ordering::Relaxed),
        );
        counter(
            out,
            "deskprov_phone_bans_total",
            "Bans of phone sources started.",
            self.bans.load(Ordering::Relaxed),
        );
        if let Some(counts) = devices {
            family(
                out,
                "deskprov_devices",
                "gauge",
                "Registered devices by status (recounted at most every 60 s).",
            );
            for (status, n) in STATUSES.iter().zip(counts) {
                writeln!(
                    out,
                    "deskprov_devices{{status=\"{}\"}} {n}",
                    status.as_str()
                )
                .ok();
            }
        }
    }
}

/// `GET /metrics`. No token: like `/healthz` it is for local scrapers, and it shows counts only
/// (no MAC, address, tenant or name).
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let devices = state.metrics.device_counts(&state).await;
    let mut out = String::with_capacity(4096);
    state.metrics.render(&mut out, devices);
    phone_path(&mut out, &state);
    counter(
        &mut out,
        "deskprov_device_statuses_worked_out_total",
        "Device statuses worked out (files rendered and compared): once per device, then per device a change touched.",
        state.services.statuses.worked_out(),
    );
    counter(
        &mut out,
        "deskprov_device_state_write_failures_total",
        "Writes of device states and events the database refused (logged).",
        state.phone.states().failed_writes(),
    );
    if let Some(log) = &state.access_log {
        counter(
            &mut out,
            "deskprov_access_log_dropped_total",
            "Access log lines dropped because the disk could not keep up.",
            log.dropped(),
        );
    }
    counter(
        &mut out,
        "deskprov_db_errors_total",
        "Database calls that failed (not counting not-found and rule errors).",
        state.services.db_errors(),
    );
    family(
        &mut out,
        "deskprov_phone_banned_sources",
        "gauge",
        "Phone sources banned right now.",
    );
    writeln!(
        out,
        "deskprov_phone_banned_sources {}",
        state.bans.banned_now(Instant::now())
    )
    .ok();
    family(
        &mut out,
        "deskprov_build_info",
        "gauge",
        "The running deskprov version.",
    );
    writeln!(
        out,
        "deskprov_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )
    .ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

/// Counts devices by status with the rules the API uses; `None` (logged) when it failed.
async fn count_devices(state: &AppState) -> Option<[u64; 4]> {
    match state.services.statuses.counts(&state.services, None).await {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::error!(error = %e, "could not count devices for /metrics");
            None
        }
    }
}

/// The phone path's cache and rendering ahead.
fn phone_path(out: &mut String, state: &AppState) {
    let cache = state.phone.cache();
    counter(
        out,
        "deskprov_phone_cache_hits_total",
        "Phone files served as kept (common files in memory, per-device files from the spill file on disk) without rendering.",
        cache.hits(),
    );
    counter(
        out,
        "deskprov_phone_renders_total",
        "Phone files rendered (not in memory, or dropped by a change they depend on).",
        cache.renders(),
    );
    let ahead = state.phone.ahead();
    counter(
        out,
        "deskprov_phone_files_rendered_ahead_total",
        "Per-device files rendered in the background before their phone asked (--render-ahead).",
        ahead.map_or(0, |a| a.rendered()),
    );
    counter(
        out,
        "deskprov_phone_render_ahead_passes_total",
        "Passes over every device made by the background rendering, finished.",
        ahead.map_or(0, |a| a.passes()),
    );
    gauge(
        out,
        "deskprov_phone_render_ahead_running",
        "1 while the background rendering is making a pass over every device.",
        ahead.map_or(0, |a| u64::from(a.running())),
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}").ok();
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "counter", help);
    writeln!(out, "{name} {value}").ok();
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "gauge", help);
    writeln!(out, "{name} {value}").ok();
}

/// Microseconds as seconds, exactly (`2500` → `0.0025`).
fn seconds(us: u64) -> String {
    let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(&Vendors::builtin().unwrap())
    }

    fn rendered(m: &Metrics) -> String {
        let mut out = String::new();
        m.render(&mut out, Some([1, 2, 3, 4]));
        out
    }

    #[test]
    fn requests_count_by_vendor_and_result_and_fill_the_histogram() {
        let m = metrics();
        m.phone_request(Some("yealink"), "served", Duration::from_micros(300));
        m.phone_request(Some("yealink"), "served", Duration::from_millis(3));
        m.phone_request(None, "no_such_file", Duration::from_secs(2));
        m.phone_request(Some("acme"), "unknown_device", Duration::from_micros(700));
        let text = rendered(&m);
        for line in [
            "deskprov_phone_requests_total{vendor=\"yealink\",result=\"served\"} 2",
            "deskprov_phone_requests_total{vendor=\"none\",result=\"no_such_file\"} 1",
            "deskprov_phone_requests_total{vendor=\"none\",result=\"unknown_device\"} 1",
            "deskprov_phone_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "deskprov_phone_request_duration_seconds_bucket{le=\"0.001\"} 2",
            "deskprov_phone_request_duration_seconds_bucket{le=\"0.005\"} 3",
            "deskprov_phone_request_duration_seconds_bucket{le=\"1\"} 3",
            "deskprov_phone_request_duration_seconds_bucket{le=\"+Inf\"} 4",
            "deskprov_phone_request_duration_seconds_sum 2.004",
            "deskprov_phone_request_duration_seconds_count 4",
            "deskprov_devices{status=\"enrollment_expired\"} 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("vendor=\"snom\""),
            "empty series are left out"
        );
    }

    #[test]
    fn result_values_beyond_the_slots_count_as_other() {
        let m = metrics();
        let names: Vec<&'static str> = (0..RESULTS + 5)
            .map(|i| &*Box::leak(format!("r{i}").into_boxed_str()))
            .collect();
        for name in &names {
            m.phone_request(Some("snom"), name, Duration::ZERO);
        }
        let text = rendered(&m);
        assert!(text.contains("{vendor=\"snom\",result=\"r0\"} 1"));
        assert!(
            text.contains("{vendor=\"snom\",result=\"other\"} 6"),
            "{text}"
        );
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(500), "0.0005");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(2_004_000), "2.004");
        assert_eq!(seconds(0), "0");
    }
}
