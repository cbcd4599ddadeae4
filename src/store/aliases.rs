//! SIP aliases of a user, kept in the admin's order (`position` 1, 2, …).

use crate::domain::audit::{Actor, Change};
use crate::domain::user::User;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::audit;
use super::sip_usernames;
use super::{StoreError, StoreResult, execute_cached, now, time_text};
use crate::domain::user::AliasSpec;
use crate::domain::user::{Alias, MAX_ALIASES_PER_USER};
use crate::domain::{RuleError, SipPassword, SipUsername};

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alias> {
    Ok(Alias {
        id: r.get(0)?,
        user_id: r.get(1)?,
        position: r.get(2)?,
        name: r.get(3)?,
        sip_username: r.get(4)?,
        sip_password: SipPassword::from_trusted(r.get(5)?),
    })
}

/// A user's aliases in order.
pub fn for_user(conn: &Connection, user_id: i64) -> StoreResult<Vec<Alias>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, position, name, sip_username, sip_password FROM aliases WHERE user_id = ?1 ORDER BY position, id",
    )?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds an alias at the end of `user`'s order.
pub fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    prefix: &str,
    user: &User,
    spec: &AliasSpec,
) -> StoreResult<Alias> {
    insert_as(tx, actor, "create", prefix, user, spec)
}

/// Adds an alias at the end of `user`'s order, recording the change as `action` (`create`,
/// `import`, `restore`).
pub fn insert_as(
    tx: &Transaction<'_>,
    actor: &Actor,
    action: &str,
    prefix: &str,
    user: &User,
    spec: &AliasSpec,
) -> StoreResult<Alias> {
    let existing = for_user(tx, user.id)?;
    if existing.len() >= MAX_ALIASES_PER_USER {
        return Err(StoreError::Conflict(RuleError::new(
            "name",
            "too_many_aliases",
            format!("a user has at most {MAX_ALIASES_PER_USER} aliases"),
        )));
    }
    let username = match &spec.sip_username {
        Some(u) if sip_usernames::taken(tx, u.as_str(), None)? => {
            return Err(sip_usernames::conflict(u, "sip_username"));
        }
        Some(u) => u.clone(),
        None => next_default_username(tx, prefix, user)?,
    };
    let position = existing.last().map_or(1, |a| a.position + 1);
    execute_cached(
        tx,
        "INSERT INTO aliases (user_id, position, name, sip_username, sip_password, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user.id,
            position,
            spec.name.as_str(),
            username.as_str(),
            spec.sip_password.expose(),
            time_text(now())
        ],
    )?;
    let alias = by_id(tx, user.id, tx.last_insert_rowid())?;
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity: "alias",
            key: format!("{}/{}", user.spec.extension, alias.id),
            tenant_id: Some(user.tenant_id),
            before: None,
            after: Some(alias.to_json()),
            snapshot: None,
        },
    )?;
    Ok(alias)
}

/// `<prefix><extension>_<n>` with the smallest n ≥ 2 not in use.
fn next_default_username(conn: &Connection, prefix: &str, user: &User) -> StoreResult<SipUsername> {
    for n in 2.. {
        let rest = format!("{}_{n}", user.spec.extension);
        let candidate =
            SipUsername::build(prefix, None, &rest, "sip_username").map_err(StoreError::Invalid)?;
        if !sip_usernames::taken(conn, candidate.as_str(), None)? {
            return Ok(candidate);
        }
    }
    unreachable!("the counter is unbounded")
}

/// Every alias of a tenant's users, by owner and position (one query, for export).
pub fn for_tenant(conn: &Connection, tenant_id: i64) -> StoreResult<Vec<Alias>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.user_id, a.position, a.name, a.sip_username, a.sip_password
         FROM aliases a JOIN users u ON u.id = a.user_id
         WHERE u.tenant_id = ?1 ORDER BY a.user_id, a.position, a.id",
    )?;
    let rows = stmt.query_map([tenant_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The alias `id` of user `user_id`.
pub fn by_id(conn: &Connection, user_id: i64, id: i64) -> StoreResult<Alias> {
    conn.prepare_cached("SELECT id, user_id, position, name, sip_username, sip_password FROM aliases WHERE id = ?1 AND user_id = ?2")?
        .query_row(params![id, user_id], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("alias"))
}

/// Puts `user`'s aliases in the order of `ids`, which must list each of them exactly once.
pub fn reorder(
    tx: &Transaction<'_>,
    actor: &Actor,
    user: &User,
    ids: &[i64],
) -> StoreResult<Vec<Alias>> {
    let before = for_user(tx, user.id)?;
    let mut have: Vec<i64> = before.iter().map(|a| a.id).collect();
    let mut want = ids.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        return Err(StoreError::Invalid(RuleError::new(
            "order",
            "order_mismatch",
            format!("the order must list each of this user's alias ids exactly once: {have:?}"),
        )));
    }
    for (i, id) in ids.iter().enumerate() {
        execute_cached(
            tx,
            "UPDATE aliases SET position = ?1 WHERE id = ?2",
            params![i as i64 + 1, id],
        )?;
    }
    let after = for_user(tx, user.id)?;
    audit::record(
        tx,
        actor,
        Change {
            action: "reorder",
            entity: "alias",
            key: user.spec.extension.to_string(),
            tenant_id: Some(user.tenant_id),
            before: Some(before.iter().map(Alias::to_json).collect()),
            after: Some(after.iter().map(Alias::to_json).collect()),
            snapshot: None,
        },
    )?;
    Ok(after)
}

/// Deletes an alias and closes the gap in the order.
pub fn delete(tx: &Transaction<'_>, actor: &Actor, user: &User, alias: &Alias) -> StoreResult<()> {
    tx.execute("DELETE FROM aliases WHERE id = ?1", [alias.id])?;
    execute_cached(
        tx,
        "UPDATE aliases SET position = position - 1 WHERE user_id = ?1 AND position > ?2",
        params![user.id, alias.position],
    )?;
    audit::record(
        tx,
        actor,
        Change {
            action: "delete",
            entity: "alias",
            key: format!("{}/{}", user.spec.extension, alias.id),
            tenant_id: Some(user.tenant_id),
            before: Some(alias.to_json()),
            after: None,
            snapshot: Some(alias.snapshot()),
        },
    )
}
