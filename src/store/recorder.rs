//! Writes fetch records in batches on a background task, so the phone path never waits on a
//! database write.

use crate::domain::fetch::FetchRecord;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Store;
use super::fetches;

/// Records queued before new ones are dropped (and counted) rather than slowing phones down.
const QUEUE: usize = 65_536;
/// Most records written in one transaction. Larger batches cost less CPU a record in isolation
/// (a busy writer touches each index page and device row once for more records: over 100k
/// devices, 22 µs a record at 5,000 against 30 µs at 1,000 in `cargo bench --bench phone --
/// --micro`), but in full P1 runs the difference stayed within run-to-run noise while resident
/// memory grew to 61 MB (against 50–54 MB), too close to P4's 64 MB. A quiet writer still
/// writes every [`FLUSH_EVERY`].
const BATCH: usize = 1_000;
/// Longest a record waits in the queue.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Sends fetch records to the batch writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FetchRecorder {
    tx: mpsc::Sender<FetchRecord>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl FetchRecorder {
    /// Starts the writer task on `store`. It ends when every recorder clone is dropped, after
    /// writing what is queued.
    pub fn start(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = tokio::spawn(write_batches(store, rx));
        (
            Self {
                tx,
                dropped: Default::default(),
            },
            handle,
        )
    }

    /// Queues a record without waiting; when the queue is full the record is dropped and counted.
    pub fn record(&self, record: FetchRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Queues a record, waiting for room while the writer is behind: for callers that must
    /// not drop records and may be slowed down (the benchmark's recording ceiling).
    pub async fn record_waiting(&self, record: FetchRecord) {
        if self.tx.send(record).await.is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Records dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

async fn write_batches(store: Store, mut rx: mpsc::Receiver<FetchRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let records = std::mem::take(&mut batch);
        let count = records.len();
        if let Err(e) = store
            .write_tracked(move |tx| Ok(((), fetches::record_batch(tx, &records)?)))
            .await
        {
            tracing::error!(error = %e, count, "could not write fetch records");
        }
    }
}
