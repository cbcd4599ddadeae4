//! The lock a running server holds on its database, so that `deskprov restore` and a second
//! `deskprov serve` can tell the database is in use.
//!
//! It is an advisory lock (`flock`) on an empty file beside the database, `<db>.lock`, released
//! by the operating system when the process ends, even after `kill -9`. The file itself is never
//! removed: removing lock files races with the next process that opens them.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "{db} is in use by a running deskprov server (lock {lock} is held); stop the server first"
    )]
    Held {
        /// The database.
        db: String,
        /// The lock file.
        lock: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {lock}: {source}")]
    Io {
        /// The lock file.
        lock: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// Exclusive use of a database file, held until dropped.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

impl DbLock {
    /// The lock file of `db`: `<db>.lock`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock without waiting.
    pub fn try_acquire(db: &Path) -> Result<Self, LockError> {
        let path = Self::path_for(db);
        let io = |source| LockError::Io {
            lock: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                db: db.display().to_string(),
                lock: path.display().to_string(),
            }),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("deskprov.db");
        let first = DbLock::try_acquire(&db).unwrap();
        assert!(matches!(
            DbLock::try_acquire(&db),
            Err(LockError::Held { .. })
        ));
        drop(first);
        DbLock::try_acquire(&db).unwrap();
    }
}
