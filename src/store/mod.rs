//! SQLite storage: the only module with SQL.
//!
//! One writer connection takes every change inside one `IMMEDIATE` transaction; a small pool of
//! reader connections serves reads, which WAL keeps from waiting on the writer. Query functions
//! are synchronous and take a `&Connection`/`&Transaction`, so they can be tested without tokio;
//! [`Store::read`] and [`Store::write`] run them on the blocking pool.

pub mod aliases;
pub mod audit;
pub mod backup;
pub mod device_state;
pub mod devices;
pub mod history;
pub mod journal;
pub mod keys;
pub mod lock;
pub mod migrations;
pub mod pruner;
pub mod sessions;
pub mod sip_usernames;
pub mod sites;
pub mod tenants;
pub mod tokens;
pub mod uploads;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::domain::RuleError;
use crate::domain::time::{parse_time, time_text};

/// Reader connections kept open.
const READERS: usize = 4;

/// Compiled statements the writer connection keeps.
const WRITER_STATEMENTS: usize = 128;

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

/// What a read runs on: one connection, read-only. Query functions take it; callers outside
/// the store hold it only to pass it on (it is the seam a second engine plugs into).
pub type Reader = Connection;

/// What a write runs on: one open transaction, committed whole or rolled back.
pub type Writer<'a> = Transaction<'a>;

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
    /// The change generation: see [`Store::generation`].
    generation: AtomicU64,
    /// `PRAGMA data_version` of the writer when last looked at: it moves only when another
    /// process commits.
    external_version: AtomicU64,
    /// A read-only connection that looks at the journal's head for each phone request (see
    /// [`Store::refresh_generation`]).
    watch: Mutex<Watch>,
}

/// The connection [`Store::refresh_generation`] looks through, with what it saw last.
struct Watch {
    conn: Connection,
    /// Its `PRAGMA data_version` at the last look: it moves with every other connection's commit.
    version: i64,
    /// The WAL index (`<db>-shm`), when it could be opened, and its header at the last look.
    wal_index: Option<(std::fs::File, WalHeader)>,
}

/// The first copy of the WAL-index header (sqlite.org/walformat.html, "The WAL-Index Header"):
/// every commit, by any process, rewrites it (change counter, last frame, salts, checksums).
type WalHeader = [u8; 48];

/// Reads the WAL-index header of `file`; `None` when it cannot be read.
fn wal_header(file: &std::fs::File) -> Option<WalHeader> {
    use std::os::unix::fs::FileExt;
    let mut header = [0; 48];
    file.read_exact_at(&mut header, 0).ok()?;
    Some(header)
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
        // Every write statement of the store, with room to spare: see [`execute_cached`].
        writer.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        migrations::run(&mut writer)?;
        let version: i64 = writer.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let seq = journal::head(&writer)?;
        let open_reader = || -> StoreResult<Connection> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            Ok(conn)
        };
        let readers = (0..READERS)
            .map(|_| open_reader().map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        let watch = open_reader()?;
        // The header before the version: a commit in between is then seen at the first look.
        let wal_index = wal_index(path);
        let watch_version: i64 = watch.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                errors: AtomicU64::new(0),
                generation: AtomicU64::new(journal::generation(1, seq)),
                external_version: AtomicU64::new(version as u64),
                watch: Mutex::new(Watch {
                    conn: watch,
                    version: watch_version,
                    wal_index,
                }),
            }),
        })
    }

    /// The change generation: a number that grows with every committed change that can alter
    /// what a phone is served, and only then. It is the position of the change journal
    /// ([`journal`]), which SQLite triggers fill on every table a phone's answer or its checks
    /// read: the low 48 bits are the position of the latest journal row committed, the high 16
    /// bits an *epoch* that moves when the position went back (a database restored underneath)
    /// or could not be read. A write that journals nothing (audit, tokens, sessions, a fetch's
    /// bookkeeping) leaves it where it is. It moves after a write of this process commits, and
    /// for another process's commits once they are noticed ([`Store::refresh_generation`],
    /// [`Store::notice_external_changes`]). It never goes back. Whatever was read from the store
    /// while the generation was `g` is current until a journal row after `g` names it:
    /// [`Store::changes_between`] says which. Read it *before* the data it tags.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// What changed after generation `from` up to `to` (a generation this store handed out).
    pub async fn changes_between(&self, from: u64, to: u64) -> StoreResult<journal::Changes> {
        self.read(move |c| journal::changes_between(c, from, to))
            .await
    }

    /// Publishes journal position `seq` as a connection saw it (`None`: it could not be read)
    /// after the generation was `before`. Every published position was committed before it was
    /// published, so a look after it sees at least that far; seeing less means the database went
    /// back (a backup put back underneath): a new epoch, past every generation handed out.
    /// Otherwise the generation moves to `seq`, never back.
    fn saw(&self, before: u64, seq: Option<u64>) {
        let next = match seq {
            Some(seq) if seq >= journal::seq(before) => {
                journal::generation(journal::epoch(before), seq)
            }
            _ => {
                let epoch = (journal::epoch(before) + 1).min(u64::from(u16::MAX));
                journal::generation(epoch, seq.unwrap_or(journal::seq(before)))
            }
        };
        self.inner.generation.fetch_max(next, Ordering::AcqRel);
    }

    /// The generation, after looking whether another process committed since the last look (so
    /// that a phone request sees a change the `deskprov` CLI made a moment before): one read of
    /// the WAL-index header, and only when that changed, one `PRAGMA data_version` on a
    /// connection of its own and the journal's head when that moved. Cheap enough for every
    /// request.
    pub fn refresh_generation(&self) -> u64 {
        let mut watch = self.inner.watch.lock().unwrap_or_else(|e| e.into_inner());
        let Watch {
            conn,
            version,
            wal_index,
        } = &mut *watch;
        let before = self.generation();
        // A header that reads as it did at the last look: nobody committed since. Read before
        // asking SQLite, so that a commit in between is seen at the next look.
        if let Some((file, seen)) = wal_index {
            match wal_header(file) {
                Some(header) if header == *seen => return before,
                Some(header) => *seen = header,
                None => {}
            }
        }
        if let Ok(now) = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
            && now != *version
        {
            *version = now;
            let head = journal::head(conn);
            self.saw(before, self.count_failure(head).ok());
        }
        drop(watch);
        self.generation()
    }

    /// Publishes the journal's head when another process committed to the database since the
    /// last look (the writer's `PRAGMA data_version` moves only for other connections' commits,
    /// and every other connection of this process is read-only); a head that went back, or
    /// cannot be read, starts a new epoch. Skipped when the writer is busy: that write checks on
    /// its own. Returns whether the generation moved.
    pub fn notice_external_changes(&self) -> bool {
        let Ok(conn) = self.inner.writer.try_lock() else {
            return false;
        };
        self.check_external(&conn)
    }

    fn check_external(&self, conn: &Connection) -> bool {
        let Ok(version) = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) else {
            return false;
        };
        let before = self
            .inner
            .external_version
            .swap(version as u64, Ordering::AcqRel);
        if before == version as u64 {
            return false;
        }
        let before = self.generation();
        self.saw(before, journal::head(conn).ok());
        self.generation() != before
    }

    /// Whether a reader connection answers a trivial query.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
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

    /// Runs `f` on a reader connection on the calling thread if one is free right now, without
    /// waiting; `None` when all are busy. For the phone path's few point reads, where handing the
    /// work to the blocking pool (a thread switch there and back) costs more than the reads; WAL
    /// keeps them from ever waiting on a writer.
    pub fn try_read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        // Always the first free one: the same connection serves the phone path's reads while it
        // is free, so its page cache holds their pages (index and table interiors) warm.
        self.inner
            .readers
            .iter()
            .find_map(|reader| {
                let conn = match reader.try_lock() {
                    Ok(conn) => conn,
                    Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                    Err(std::sync::TryLockError::WouldBlock) => return None,
                };
                Some(conn)
            })
            .map(|conn| f(&conn))
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

    /// How SQLite runs `sql` with `params`: the details of its `EXPLAIN QUERY PLAN`, joined.
    #[cfg(test)]
    pub(crate) fn query_plan(&self, sql: &str, params: impl rusqlite::Params) -> String {
        self.read_blocking(|c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows = stmt.query_map(params, |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?.join("; "))
        })
        .expect("a query plan")
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
        self.transact(|tx| Ok((f(tx)?, true)))
    }

    /// Like [`Store::write_blocking`], but `f` decides: its `(value, commit)` commits the
    /// transaction when `commit` is true and rolls it back otherwise. A dry run goes through
    /// exactly the code a real run does and leaves the database as it was.
    pub fn write_or_rollback_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<(T, bool)>,
    ) -> StoreResult<T> {
        self.transact(f)
    }

    /// The one way to change the database: takes the writer, notices other processes'
    /// commits, runs `f` inside an `IMMEDIATE` transaction, then commits (`f`'s flag is true) or
    /// rolls back, and after a commit publishes the journal position it committed at (read
    /// inside the transaction, so it covers every commit before it, whoever made them).
    fn transact<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<(T, bool)>,
    ) -> StoreResult<T> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.check_external(&conn);
        let (value, committed) = self.count_failure((|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Whatever was published by now was committed before this transaction began.
            let before = self.generation();
            let (value, commit) = f(&tx)?;
            if !commit {
                tx.rollback()?;
                return Ok((value, None));
            }
            let seq = journal::head(&tx)?;
            tx.commit()?;
            Ok((value, Some((before, seq))))
        })())?;
        if let Some((before, seq)) = committed {
            self.saw(before, Some(seq));
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

/// The WAL index of the database at `path`, open for reading, with its header now; `None` (and
/// every look asks SQLite) when there is none to read.
fn wal_index(path: &Path) -> Option<(std::fs::File, WalHeader)> {
    let mut name = path.as_os_str().to_owned();
    name.push("-shm");
    let file = std::fs::File::open(name).ok()?;
    let header = wal_header(&file)?;
    Some((file, header))
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

/// Reads the stored time in column `idx` of `row`: a corrupt value is a conversion error.
pub(crate) fn time_column(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(idx)?;
    parse_time(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Like [`time_column`] for a column that may be NULL.
pub(crate) fn optional_time_column(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => time_column(row, idx).map(Some),
    }
}

/// `conn.execute(sql, params)` through the connection's statement cache, for the writes a bulk
/// change runs many times: compiling a statement also compiles the change journal's triggers it
/// fires, which costs more than running it.
pub(crate) fn execute_cached(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
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
