//! Deletes device events older than the retention in the background, so the table does not grow
//! without end: at start, then every [`PRUNE_EVERY`], a chunk per transaction so that the phone
//! path's writes and admin changes waiting on the writer get their turn in between.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::task::JoinHandle;

use super::{Store, history};

/// How often old events are looked for.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Most events deleted in one transaction.
const CHUNK: u32 = 10_000;

/// Starts deleting events older than `keep`.
pub fn start(store: Store, keep: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            prune_all(&store, keep).await;
        }
    })
}

async fn prune_all(store: &Store, keep: Duration) {
    let before = Utc::now() - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
    let mut deleted = 0;
    loop {
        // Not a change a phone's file depends on: the generation stays.
        let chunk = store
            .write_tracked(move |tx| Ok((history::prune(tx, before, CHUNK)?, false)))
            .await;
        let n = match chunk {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "could not delete old device events");
                return;
            }
        };
        deleted += n;
        if n < CHUNK as usize {
            break;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, before = %before.to_rfc3339(), "deleted old device events");
    }
}
