//! The dashboard's view of everything an actor may see: tenants, devices by status, the
//! latest events and refusals.

use super::devices::DeviceSummary;
use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::history::{EventView, HistoryScope};
use crate::domain::tenant::TenantSummary;
use crate::store::{devices, history};

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Tenants with their user and device counts.
    pub tenants: Vec<TenantSummary>,
    /// How many devices the actor may see have each status, in `DeviceStatus::ALL`'s order.
    pub counts: [u64; 4],
    /// How many devices the actor may see.
    pub total: usize,
    /// The devices needing attention first (expired, changed, waiting, fine), with their owner.
    pub devices: Vec<DeviceSummary>,
    /// The latest events of phones (first fetches, changes, new versions, refusals), newest
    /// first.
    pub events: Vec<EventView>,
    /// The latest refused phone requests and bans, newest first.
    pub refused: Vec<EventView>,
}

/// The overview for `actor`, with at most `latest` events in each list and the `listed`
/// devices needing attention first.
pub async fn overview(
    services: &Services,
    actor: &Actor,
    latest: u32,
    listed: usize,
) -> ServiceResult<Overview> {
    let scope = actor.tenant_id;
    let tenants = super::tenants::summaries(services, actor).await?;
    let counts = services.statuses.counts(services, scope).await?;
    let (urgent, total) = services
        .statuses
        .most_urgent(services, scope, listed)
        .await?;
    let devices = services
        .store
        .read(move |c| {
            let mut out = Vec::with_capacity(urgent.len());
            for ranked in urgent {
                if let Some(bundle) = devices::bundle(c, &ranked.mac)? {
                    out.push(DeviceSummary {
                        status: ranked.status,
                        tenant: bundle.tenant.name,
                        extension: bundle.owner.spec.extension.to_string(),
                        user: bundle.owner.spec.name.to_string(),
                        device: bundle.device,
                    });
                }
            }
            Ok(out)
        })
        .await?;
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
        counts,
        total,
        devices,
        events,
        refused,
    })
}
