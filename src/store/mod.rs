//! SQLite storage: the only module with SQL.
//!
//! One writer connection takes every change inside one `IMMEDIATE` transaction; a small pool of
//! reader connections serves reads, which WAL keeps from waiting on the writer. Query functions
//! are synchronous and take a `&Connection`/`&Transaction`, so they can be tested without tokio;
//! [`Store::read`] and [`Store::write`] run them on the blocking pool.

pub mod aliases;
pub mod audit;
pub mod backup;
pub mod devices;
pub mod fetches;
pub mod lock;
pub mod migrations;
pub mod recorder;
pub mod sessions;
pub mod sites;
pub mod tenants;
pub mod tokens;
pub mod uploads;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::domain::RuleError;

pub use audit::Actor;

/// Reader connections kept open.
const READERS: usize = 4;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change would break uniqueness or a limit (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(RuleError),
    /// The change breaks a rule that needs the data to check (HTTP 422).
    #[error("invalid: {0}")]
    Invalid(RuleError),
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A stored JSON column did not parse.
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The blocking task panicked or was cancelled.
    #[error("background task: {0}")]
    Task(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Handle on the database: cheap to clone, shared by every listener.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Failed calls, for `/metrics`.
    errors: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrations::run(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                conn.busy_timeout(Duration::from_secs(5))?;
                conn.pragma_update(None, "foreign_keys", "ON")?;
                Ok(Mutex::new(conn))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                errors: AtomicU64::new(0),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        run_blocking(move || store.read_blocking(f)).await
    }

    /// Runs `f` on a reader connection on the current thread.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let n = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % self.inner.readers.len();
        let conn = self.inner.readers[n]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.count_failure(f(&conn))
    }

    /// Calls that failed inside the database (not-found and rule errors are answers, not
    /// failures).
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    fn count_failure<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        if let Err(
            StoreError::Sqlite(_)
            | StoreError::Migration(_)
            | StoreError::Json(_)
            | StoreError::Task(_),
        ) = &result
        {
            self.inner.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Runs `f` on a read-only connection of its own, inside one read transaction (one
    /// snapshot, no lock churn per statement): for long scans, such as counting every device,
    /// that must not hold a pooled reader the phone path waits for.
    pub async fn scan<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        run_blocking(move || {
            store.count_failure((|| {
                let mut conn = Connection::open_with_flags(
                    store.path(),
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(5))?;
                let tx = conn.transaction()?;
                f(&tx)
            })())
        })
        .await
    }

    /// Runs `f` inside one `IMMEDIATE` transaction on the writer: committed if `f` returns
    /// `Ok`, rolled back otherwise, so a change is written whole or not at all.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        run_blocking(move || store.write_blocking(f)).await
    }

    /// [`Store::write`] on the current thread.
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.count_failure((|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })())
    }

    /// Like [`Store::write_blocking`], but `f` decides: its `(value, commit)` commits the
    /// transaction when `commit` is true and rolls it back otherwise. A dry run goes through
    /// exactly the code a real run does and leaves the database as it was.
    pub fn write_or_rollback_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<(T, bool)>,
    ) -> StoreResult<T> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (value, commit) = f(&tx)?;
        if commit {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        Ok(value)
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Now, as stored.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A time as stored: RFC 3339, UTC, milliseconds.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored time back.
pub fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Whether a SQLite error is a uniqueness or foreign-key violation.
pub fn is_constraint(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_inside_the_database_are_counted_and_answers_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deskprov.db")).unwrap();
        let missing_table = store.read_blocking(|c| Ok(c.execute("SELECT * FROM nowhere", [])?));
        assert!(missing_table.is_err());
        assert_eq!(store.errors(), 1);
        let not_found = store.read_blocking::<()>(|_| Err(StoreError::NotFound("user")));
        assert!(not_found.is_err());
        assert_eq!(store.errors(), 1, "not found is an answer, not a failure");
        let failed_write =
            store.write_blocking(|tx| Ok(tx.execute("INSERT INTO nowhere VALUES (1)", [])?));
        assert!(failed_write.is_err());
        assert_eq!(store.errors(), 2);
    }
}
