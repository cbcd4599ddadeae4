//! The dashboard's view of everything an actor may see: tenants, devices by status, the
//! latest requests and refusals.

use super::devices::{DeviceSummary, summaries};
use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::fetch::{FetchScope, FetchView};
use crate::domain::tenant::TenantSummary;
use crate::store::fetches;

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Tenants with their user and device counts.
    pub tenants: Vec<TenantSummary>,
    /// Every device with its owner and status.
    pub devices: Vec<DeviceSummary>,
    /// The latest phone requests, newest first.
    pub fetches: Vec<FetchView>,
    /// The latest refused phone requests and bans, newest first.
    pub refused: Vec<FetchView>,
}

/// The overview for `actor`, with at most `latest` requests in each list.
pub async fn overview(services: &Services, actor: &Actor, latest: u32) -> ServiceResult<Overview> {
    let scope = actor.tenant_id;
    let tenants = super::tenants::summaries(services, actor).await?;
    let devices = summaries(services, scope, None).await?;
    let (fetches, refused) = services
        .store
        .read(move |c| {
            let all = FetchScope {
                tenant_id: scope,
                refused_only: false,
            };
            let refused = FetchScope {
                refused_only: true,
                ..all
            };
            Ok((
                fetches::recent(c, all, latest)?,
                fetches::recent(c, refused, latest)?,
            ))
        })
        .await?;
    Ok(Overview {
        tenants,
        devices,
        fetches,
        refused,
    })
}
