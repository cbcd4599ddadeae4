//! The dashboard: tenants with their counts, devices by status, the latest phone events, and the
//! latest refused requests and bans.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::error::PageResult;
use super::session::UiSession;
use super::{Done, EventRow, Layout, page};
use crate::domain::DeviceStatus;
use crate::http::AppState;
use crate::service::devices::DeviceSummary;
use crate::service::overview::overview;

/// Rows in each list.
const LATEST: u32 = 15;
/// Devices listed (those needing attention first).
const DEVICES_LISTED: usize = 50;

struct TenantRow {
    name: String,
    users: i64,
    devices: i64,
}

struct StatusCount {
    key: &'static str,
    label: &'static str,
    count: u64,
}

struct DeviceRow {
    mac: String,
    tenant: String,
    extension: String,
    user: String,
    vendor: String,
    model: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "ui/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    tenants: Vec<TenantRow>,
    statuses: Vec<StatusCount>,
    total: usize,
    devices: Vec<DeviceRow>,
    events: Vec<EventRow>,
    refused: Vec<EventRow>,
}

fn label(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::AwaitingFirstFetch => "Awaiting first fetch",
        DeviceStatus::Provisioned => "Provisioned",
        DeviceStatus::ConfigChangedSinceFetch => "Changed since fetch",
        DeviceStatus::EnrollmentExpired => "Enrollment expired",
    }
}

/// The rows of `devices` (listed in the order given: those needing attention first).
fn device_rows(state: &AppState, devices: Vec<DeviceSummary>) -> Vec<DeviceRow> {
    devices
        .into_iter()
        .map(|d| DeviceRow {
            mac: d.device.mac.lower12(),
            tenant: d.tenant,
            extension: d.extension,
            user: d.user,
            vendor: state
                .vendors
                .get(&d.device.vendor)
                .map_or_else(|| d.device.vendor.clone(), |v| v.profile.name.clone()),
            model: d.device.effective_model().unwrap_or("").to_owned(),
            status: d.status.as_str(),
        })
        .collect()
}

pub(super) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let layout = Layout::load(&state, &session, "Dashboard", "dashboard")
        .await?
        .with_notice(done.done.as_deref());
    let overview = overview(
        &state.services,
        &session.caller.actor,
        LATEST,
        DEVICES_LISTED,
    )
    .await?;
    let tenants = overview
        .tenants
        .into_iter()
        .map(|t| TenantRow {
            name: t.name,
            users: t.users,
            devices: t.devices,
        })
        .collect();
    let statuses = DeviceStatus::ALL
        .into_iter()
        .zip(overview.counts)
        .map(|(s, count)| StatusCount {
            key: s.as_str(),
            label: label(s),
            count,
        })
        .collect();
    let (events, refused) = (overview.events, overview.refused);
    page(&DashboardPage {
        layout,
        tenants,
        statuses,
        total: overview.total,
        devices: device_rows(&state, overview.devices),
        events: events.into_iter().map(EventRow::from).collect(),
        refused: refused.into_iter().map(EventRow::from).collect(),
    })
}
