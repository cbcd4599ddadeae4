//! Deletes what need not be kept in the background, so tables do not grow without end: device
//! events older than the retention, and change-journal rows no cache can still need. At start,
//! then every [`PRUNE_EVERY`], a chunk per transaction so that the phone path's writes and admin
//! changes waiting on the writer get their turn in between.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::task::JoinHandle;

use super::{Store, history, journal};

/// How often old events and journal rows are looked for.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Journal rows always kept, however old: the newest this many.
pub const JOURNAL_KEEP: u64 = 100_000;

/// Most rows deleted in one transaction.
const CHUNK: u32 = 10_000;

/// Starts deleting device events older than `keep` (none when `None`) and old journal rows.
pub fn start(store: Store, keep: Option<Duration>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        let mut journal = JournalPruner::default();
        loop {
            every.tick().await;
            if let Some(keep) = keep {
                prune_fetches(&store, keep).await;
            }
            journal.run(&store).await;
        }
    })
}

async fn prune_fetches(store: &Store, keep: Duration) {
    let before = Utc::now() - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
    let mut deleted = 0;
    loop {
        let chunk = store
            .write(move |tx| history::prune(tx, before, CHUNK))
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

/// Prunes the change journal. A row goes once it is both older than one run (it was there at
/// the previous run, [`PRUNE_EVERY`] ago) and not among the newest [`JOURNAL_KEEP`]. The phone
/// cache reads the journal from where it last was, which is at most a few requests ago: a cache
/// that fell behind the pruned rows drops everything, which is always correct.
#[derive(Debug, Default)]
pub struct JournalPruner {
    /// The journal's head at the previous run.
    previous: Option<u64>,
}

impl JournalPruner {
    /// One run: deletes what is due, in chunks; returns how many rows went.
    pub async fn run(&mut self, store: &Store) -> usize {
        let head = match store.read(journal::head).await {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "could not read the change journal's head");
                return 0;
            }
        };
        let upto = self
            .previous
            .unwrap_or(0)
            .min(head.saturating_sub(JOURNAL_KEEP));
        self.previous = Some(head);
        let mut deleted = 0;
        loop {
            let chunk = store.write(move |tx| journal::prune(tx, upto, CHUNK)).await;
            match chunk {
                Ok(n) => {
                    deleted += n;
                    if n < CHUNK as usize {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not delete old change journal rows");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::debug!(deleted, upto, "deleted old change journal rows");
        }
        deleted
    }
}
