//! The dashboard's view of everything an actor may see: tenants, devices by status, the
//! latest events and refusals.

use super::devices::{DeviceSummary, summaries};
use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::history::{EventView, HistoryScope};
use crate::domain::tenant::TenantSummary;
use chrono::Utc;

use crate::domain::{DeviceStatus, device_status};
use crate::profile::provision::config_current;
use crate::store::{devices, history, uploads};

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Tenants with their user and device counts.
    pub tenants: Vec<TenantSummary>,
    /// Every device with its owner and status.
    pub devices: Vec<DeviceSummary>,
    /// The latest events of phones (first fetches, changes, new versions, refusals), newest
    /// first.
    pub events: Vec<EventView>,
    /// The latest refused phone requests and bans, newest first.
    pub refused: Vec<EventView>,
}

/// The overview for `actor`, with at most `latest` requests in each list.
pub async fn overview(services: &Services, actor: &Actor, latest: u32) -> ServiceResult<Overview> {
    let scope = actor.tenant_id;
    let tenants = super::tenants::summaries(services, actor).await?;
    let devices = summaries(services, scope, None).await?;
    let (events, refused) = services
        .store
        .read(move |c| {
            let all = HistoryScope {
                tenant_id: scope,
                refused_only: false,
            };
            let refused = HistoryScope {
                refused_only: true,
                ..all
            };
            Ok((
                history::recent(c, all, latest)?,
                history::recent(c, refused, latest)?,
            ))
        })
        .await?;
    Ok(Overview {
        tenants,
        devices,
        events,
        refused,
    })
}

/// How many devices have each of `statuses` now, worked out with the rules the API uses
/// ([`crate::domain::device_status`], [`config_current`]), on a connection of its own so the
/// phone path's readers are never held.
pub async fn count_by_status<const N: usize>(
    services: &Services,
    statuses: [DeviceStatus; N],
) -> ServiceResult<[u64; N]> {
    let vendors = services.vendors.clone();
    Ok(services
        .store
        .scan(move |c| {
            let now = Utc::now();
            let mut counts = [0; N];
            for device in devices::list(c, None, None)? {
                // Never fetched: no file to compare, no need to load the rest.
                let current = match device.first_fetch_at {
                    None => true,
                    Some(_) => {
                        let (Some(bundle), Some(vendor)) = (
                            devices::bundle(c, &device.mac)?,
                            vendors.get(&device.vendor),
                        ) else {
                            continue;
                        };
                        let fetched = devices::fetched_files(c, device.id)?;
                        let uploads = uploads::overrides(c, device.id)?;
                        config_current(&bundle, vendor, &fetched, &uploads)
                    }
                };
                let status =
                    device_status(device.first_fetch_at, device.enroll_deadline, current, now);
                if let Some(i) = statuses.iter().position(|s| *s == status) {
                    counts[i] += 1;
                }
            }
            Ok(counts)
        })
        .await?)
}
