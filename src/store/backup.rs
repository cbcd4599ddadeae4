//! Online backups and checked restores of the database file.
//!
//! A backup copies the live database with SQLite's online backup API, in steps, inside one read
//! transaction on the source: WAL lets the server keep reading and writing meanwhile, and the
//! copy is one consistent snapshot that no concurrent write can force to restart. The copy is
//! written beside the destination, opened again and checked with `PRAGMA integrity_check`, and
//! only then renamed into place, so a destination is never half-written.
//!
//! A restore takes the server lock ([`DbLock`]), so it refuses while a server runs; it copies
//! the source beside the database, checks that copy (integrity and deskprov schema), keeps the
//! current database as `<db>.before-restore`, and renames the copy into place.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::lock::{DbLock, LockError};
use super::migrations;

/// Pages copied per backup step.
const PAGES_PER_STEP: i32 = 1024;
/// Busy or locked steps retried before giving up (10 ms apart).
const BUSY_RETRIES: u32 = 1000;
/// Tables every deskprov database has.
const REQUIRED_TABLES: [&str; 5] = ["tenants", "users", "devices", "tokens", "audit"];
/// Lines of an integrity report shown in an error.
const REPORT_LINES: usize = 5;

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The destination exists and `--force` was not given.
    #[error("{0} already exists; give --force to replace it")]
    DestinationExists(String),
    /// A file that must exist does not.
    #[error("{0} does not exist")]
    Missing(String),
    /// Source and destination are the same file.
    #[error("{0} is the database itself; choose another file")]
    SameFile(String),
    /// The file is not a deskprov database.
    #[error("{path} is not a deskprov database: {why}")]
    Foreign {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The file fails `PRAGMA integrity_check`.
    #[error("{path} is corrupt; PRAGMA integrity_check says: {report}")]
    Corrupt {
        /// The file.
        path: String,
        /// The first lines of the report.
        report: String,
    },
    /// The file was written by a newer deskprov.
    #[error(
        "{path} has schema version {found}, newer than this deskprov knows ({known}); use a newer deskprov"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its `user_version`.
        found: i64,
        /// The latest version this build knows.
        known: i64,
    },
    /// A server holds the database.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// The failure.
        source: rusqlite::Error,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

/// What a finished backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Database pages copied.
    pub pages: i64,
    /// Size of the backup file.
    pub bytes: u64,
}

/// What a finished restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// Where the database that was replaced now is, if there was one.
    pub previous: Option<PathBuf>,
    /// Schema version of the restored database.
    pub schema_version: i64,
}

/// Copies the database at `db` to `dest` while a server may be using it; checks the copy.
pub fn backup(db: &Path, dest: &Path, force: bool) -> Result<BackupReport> {
    if !db.exists() {
        return Err(BackupError::Missing(db.display().to_string()));
    }
    if same_file(db, dest) {
        return Err(BackupError::SameFile(dest.display().to_string()));
    }
    if dest.exists() && !force {
        return Err(BackupError::DestinationExists(dest.display().to_string()));
    }
    let source = open(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    check_schema(&source, db)?;
    let tmp = temp_beside(dest);
    let written = copy_checked(&source, db, &tmp).and_then(|(pages, _)| {
        replace(&tmp, dest)?;
        Ok(pages)
    });
    let pages = written.inspect_err(|_| remove_quietly(&tmp))?;
    let bytes = std::fs::metadata(dest)
        .map_err(io(format!("reading {}", dest.display())))?
        .len();
    Ok(BackupReport { pages, bytes })
}

/// Replaces the database at `db` with a checked copy of `src`, keeping the old one as
/// `<db>.before-restore`. Refuses while a server holds `db`, and refuses a corrupt or foreign
/// `src` without touching `db`.
pub fn restore(db: &Path, src: &Path) -> Result<RestoreReport> {
    if !src.exists() {
        return Err(BackupError::Missing(src.display().to_string()));
    }
    if same_file(db, src) {
        return Err(BackupError::SameFile(src.display().to_string()));
    }
    let _lock = DbLock::try_acquire(db)?;
    let tmp = temp_beside(db);
    let (_, schema_version) = open(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|source| copy_checked(&source, src, &tmp))
        .inspect_err(|_| remove_quietly(&tmp))?;
    let previous = if db.exists() {
        Some(set_aside(db).inspect_err(|_| remove_quietly(&tmp))?)
    } else {
        None
    };
    if let Err(e) = replace(&tmp, db) {
        if let Some(previous) = &previous {
            let _ = std::fs::rename(previous, db);
        }
        remove_quietly(&tmp);
        return Err(e);
    }
    Ok(RestoreReport {
        previous,
        schema_version,
    })
}

/// Opens `path` read-only and checks it has deskprov's schema, not newer than this build (a
/// quick look, without the full integrity check). Returns its schema version.
pub fn schema_version(path: &Path) -> Result<i64> {
    if !path.is_file() {
        return Err(BackupError::Missing(path.display().to_string()));
    }
    check_schema(&open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?, path)
}

/// Copies `source` to a new file `tmp` in steps inside one read transaction, makes it a
/// self-contained file (no WAL), syncs it, and checks it from a fresh connection. Problems with
/// the data are reported against `origin`, the file it comes from. Returns the pages copied
/// and the schema version.
fn copy_checked(source: &Connection, origin: &Path, tmp: &Path) -> Result<(i64, i64)> {
    remove_quietly(tmp);
    let copying = |e| match classify(e, origin) {
        BackupError::Sqlite { source, .. } => BackupError::Sqlite {
            what: format!("copying {} to {}", origin.display(), tmp.display()),
            source,
        },
        known => known,
    };
    let mut target = Connection::open(tmp).map_err(copying)?;
    // One snapshot for the whole copy: writers go on (WAL), the copy never restarts.
    source
        .execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema;")
        .map_err(copying)?;
    let pages = step_through(source, &mut target).map_err(copying);
    let _ = source.execute_batch("COMMIT");
    let pages = pages?;
    target
        .pragma_update(None, "journal_mode", "DELETE")
        .map_err(copying)?;
    drop(target);
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("syncing {}", tmp.display())))?;
    let copy = open(tmp, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check_integrity(&copy, origin)?;
    Ok((pages, check_schema(&copy, origin)?))
}

fn step_through(source: &Connection, target: &mut Connection) -> rusqlite::Result<i64> {
    let backup = Backup::new(source, target)?;
    let mut busy = 0;
    loop {
        match backup.step(PAGES_PER_STEP)? {
            StepResult::Done => return Ok(i64::from(backup.progress().pagecount)),
            StepResult::More => busy = 0,
            StepResult::Busy | StepResult::Locked if busy < BUSY_RETRIES => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the database stayed busy".into()),
                ));
            }
        }
    }
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite(format!("opening {}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite(format!("opening {}", path.display())))?;
    Ok(conn)
}

fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let report = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| classify(e, path))?;
    if report == ["ok"] {
        return Ok(());
    }
    let mut shown: Vec<&str> = report
        .iter()
        .take(REPORT_LINES)
        .map(String::as_str)
        .collect();
    if report.len() > REPORT_LINES {
        shown.push("…");
    }
    Err(BackupError::Corrupt {
        path: path.display().to_string(),
        report: shown.join("; "),
    })
}

/// Checks the deskprov schema is there and not newer than this build; returns its version.
fn check_schema(conn: &Connection, path: &Path) -> Result<i64> {
    let version = user_version(conn, path)?;
    let foreign = |why: String| BackupError::Foreign {
        path: path.display().to_string(),
        why,
    };
    if version == 0 {
        return Err(foreign("it has no deskprov schema (user_version 0)".into()));
    }
    let known = migrations::latest();
    if version > known {
        return Err(BackupError::TooNew {
            path: path.display().to_string(),
            found: version,
            known,
        });
    }
    for table in REQUIRED_TABLES {
        let present: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
                [table],
                |r| r.get(0),
            )
            .map_err(|e| classify(e, path))?;
        if !present {
            return Err(foreign(format!("table {table} is missing")));
        }
    }
    Ok(version)
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| classify(e, path))
}

/// Turns SQLite's "not a database" and "malformed" answers into the errors users read.
fn classify(e: rusqlite::Error, path: &Path) -> BackupError {
    let code = e.sqlite_error_code();
    let path_text = path.display().to_string();
    match code {
        Some(ErrorCode::NotADatabase) => BackupError::Foreign {
            path: path_text,
            why: "it is not an SQLite database".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => BackupError::Corrupt {
            path: path_text,
            report: e.to_string(),
        },
        _ => BackupError::Sqlite {
            what: format!("reading {path_text}"),
            source: e,
        },
    }
}

/// Moves the database (and a WAL it may have) to `<db>.before-restore`, first folding the WAL
/// into the file when SQLite can, so that no old WAL is left beside the new database.
fn set_aside(db: &Path) -> Result<PathBuf> {
    if let Ok(conn) = open(db, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        // Best effort: a damaged database may refuse, and then its WAL moves along below.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    let previous = suffixed(db, ".before-restore");
    for stale in ["", "-wal", "-shm", "-journal"] {
        remove_quietly(&suffixed(&previous, stale));
    }
    rename(db, &previous)?;
    for companion in ["-wal", "-journal"] {
        let from = suffixed(db, companion);
        if from.exists() {
            rename(&from, &suffixed(&previous, companion))?;
        }
    }
    remove_quietly(&suffixed(db, "-shm"));
    Ok(previous)
}

/// Renames `tmp` over `target` and syncs the directory, so the rename survives a crash.
fn replace(tmp: &Path, target: &Path) -> Result<()> {
    rename(tmp, target)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Directories cannot be opened for syncing on every platform; the rename itself is done.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(io(format!(
        "renaming {} to {}",
        from.display(),
        to.display()
    )))
}

/// `.<name>.tmp-<pid>` in the same directory as `target` (so a rename can replace it).
fn temp_beside(target: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}", std::process::id()));
    target.with_file_name(name)
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn remove_quietly(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(suffixed(path, suffix));
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> BackupError {
    move |source| BackupError::Io { what, source }
}

fn sqlite(what: String) -> impl FnOnce(rusqlite::Error) -> BackupError {
    move |source| BackupError::Sqlite { what, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store_in(dir: &Path) -> PathBuf {
        let db = dir.join("deskprov.db");
        Store::open(&db).unwrap();
        db
    }

    #[test]
    fn a_backup_is_a_checked_self_contained_copy() {
        let dir = tempfile::tempdir().unwrap();
        let db = store_in(dir.path());
        let dest = dir.path().join("copy.db");
        let report = backup(&db, &dest, false).unwrap();
        assert!(report.pages > 0 && report.bytes > 0);
        assert_eq!(schema_version(&dest).unwrap(), migrations::latest());
        let copy = open(&dest, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        check_integrity(&copy, &dest).unwrap();
        assert!(!suffixed(&dest, "-wal").exists());
        assert!(matches!(
            backup(&db, &dest, false),
            Err(BackupError::DestinationExists(_))
        ));
        backup(&db, &dest, true).unwrap();
    }

    #[test]
    fn foreign_and_garbage_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT); PRAGMA user_version = 1;")
            .unwrap();
        assert!(
            matches!(schema_version(&foreign), Err(BackupError::Foreign { why, .. }) if why.contains("tenants"))
        );
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
        assert!(
            matches!(schema_version(&garbage), Err(BackupError::Foreign { why, .. }) if why.contains("not an SQLite"))
        );
    }
}
