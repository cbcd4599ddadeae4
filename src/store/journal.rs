//! The change journal: one row per thing a committed change touched, written by SQLite triggers
//! (migration 0008) on every table a phone's answer or its checks read, whichever code path or
//! process made the change. The store's change generation is the journal's position
//! ([`Store::generation`](super::Store::generation)); the phone path's cache reads the rows
//! between two generations ([`changes_between`]) to drop exactly what they name.

use rusqlite::Connection;

use super::StoreResult;

/// Bits of a generation that hold the journal position; the bits above hold the epoch.
pub const EPOCH_SHIFT: u32 = 48;

/// The journal position of a generation.
pub const SEQ_MASK: u64 = (1 << EPOCH_SHIFT) - 1;

/// Most rows [`changes_between`] reads: beyond that, dropping everything is cheaper than
/// picking.
pub const MAX_CHANGES: u64 = 10_000;

/// What kind of thing a journal row names (the `scope` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A tenant row: its settings, phone policy, admin password, or the tenant itself.
    Tenant,
    /// A site row.
    Site,
    /// A user: the row, its aliases, its keys, the devices it has; or a user its keys aim at.
    User,
    /// A device: the row (not its fetch bookkeeping), its keys, its uploads.
    Device,
}

impl Scope {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "tenant" => Scope::Tenant,
            "site" => Scope::Site,
            "user" => Scope::User,
            "device" => Scope::Device,
            _ => return None,
        })
    }
}

/// One thing a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change {
    /// What kind of thing.
    pub scope: Scope,
    /// Its row id.
    pub id: i64,
}

/// What changed between two generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Exactly these things (in journal order, possibly repeated).
    Some(Vec<Change>),
    /// Anything may have: the epochs differ (the database went back, or its journal could not
    /// be read), the rows were pruned, there are too many to pick from, or one says `all`.
    Everything,
}

/// The generation's epoch.
pub fn epoch(generation: u64) -> u64 {
    generation >> EPOCH_SHIFT
}

/// The generation's journal position.
pub fn seq(generation: u64) -> u64 {
    generation & SEQ_MASK
}

/// The generation of journal position `seq` in `epoch`.
pub fn generation(epoch: u64, seq: u64) -> u64 {
    (epoch << EPOCH_SHIFT) | (seq & SEQ_MASK)
}

/// The position of the latest journal row ever committed (0 for none), as `conn` sees it:
/// AUTOINCREMENT's own counter, which pruning does not move back.
pub fn head(conn: &Connection) -> StoreResult<u64> {
    let seq: i64 = conn
        .prepare_cached(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// What changed after generation `from` up to and including `to`: the journal rows with a
/// position in `(seq(from), seq(to)]`, or [`Changes::Everything`] when they cannot all be had.
/// `to` must have been published by the store (its rows are committed).
pub fn changes_between(conn: &Connection, from: u64, to: u64) -> StoreResult<Changes> {
    if epoch(from) != epoch(to) {
        return Ok(Changes::Everything);
    }
    let (lo, hi) = (seq(from), seq(to));
    if hi <= lo {
        return Ok(Changes::Some(Vec::new()));
    }
    if hi - lo > MAX_CHANGES {
        return Ok(Changes::Everything);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT scope, id FROM changes WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map([lo as i64, hi as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut changes = Vec::new();
    for row in rows {
        let (scope, id) = row?;
        match Scope::parse(&scope) {
            Some(scope) => changes.push(Change { scope, id }),
            // 'all', or a scope this build does not know.
            None => return Ok(Changes::Everything),
        }
    }
    // Positions are consecutive (AUTOINCREMENT, rolled-back rows take theirs back with them):
    // fewer rows than positions means some were pruned.
    if changes.len() as u64 != hi - lo {
        return Ok(Changes::Everything);
    }
    Ok(Changes::Some(changes))
}

/// Deletes journal rows up to position `upto`, at most `chunk` of them (the oldest); returns how
/// many went.
pub fn prune(conn: &Connection, upto: u64, chunk: u32) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM changes WHERE seq <= min(?1, (SELECT min(seq) FROM changes) + ?2 - 1)",
        )?
        .execute(rusqlite::params![upto as i64, chunk])?)
}

#[cfg(test)]
mod tests;
