//! Operator operations on the database file: an online backup, a checked restore, and a quick
//! look at whether a file is a deskprov database (for `config check`).
//!
//! Unlike the other use cases these take no [`Services`](super::Services) and no actor: they
//! work on the file, not through an open store. A backup copies the file while a server may be
//! using it, a restore replaces it while no server does (it takes the server lock), and a check
//! must neither create nor migrate the file it looks at. Who may run them is decided by who may
//! read and write the file; they are reached from the command line only, never over HTTP, and
//! leave no audit entry (a restore replaces the audit log with the copy's).
//!
//! The work itself, and its guarantees (one consistent snapshot, `PRAGMA integrity_check` before
//! anything is put in place, the replaced database kept as `<db>.before-restore`), is the
//! store's ([`crate::store::backup`]). The errors name the file and what to do about it.

use std::path::Path;

use crate::store::backup;

pub use crate::store::backup::{BackupError, BackupReport, RestoreReport};

/// Copies the database at `db` to `dest`, replacing `dest` only when `force`; the copy is
/// checked before it is put in place.
pub fn backup(db: &Path, dest: &Path, force: bool) -> Result<BackupReport, BackupError> {
    backup::backup(db, dest, force)
}

/// Replaces the database at `db` with a checked copy of `src`; refuses while a server holds
/// `db`, and keeps the database it replaces.
pub fn restore(db: &Path, src: &Path) -> Result<RestoreReport, BackupError> {
    backup::restore(db, src)
}

/// The schema version of the deskprov database at `db`, read without changing the file; an
/// error when it is missing, not deskprov's, or newer than this build.
pub fn schema_version(db: &Path) -> Result<i64, BackupError> {
    backup::schema_version(db)
}
