//! API tokens: stored as SHA-256 hashes, shown once at creation.

use crate::domain::audit::{Actor, Change};
use rand::Rng;
use rand::distr::Alphanumeric;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::audit;
use super::{StoreResult, now, time_text};
use crate::domain::token::{TokenInfo, TokenRole};

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token and returns its secret value (`dp_…`), which is stored only as a hash.
pub fn create(
    tx: &Transaction<'_>,
    actor: &Actor,
    role: TokenRole,
    tenant_id: Option<i64>,
    name: &str,
) -> StoreResult<String> {
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let token = format!("dp_{secret}");
    tx.execute(
        "INSERT INTO tokens (name, role, tenant_id, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, role.as_str(), tenant_id, hash(&token), time_text(now())],
    )?;
    audit::record(
        tx,
        actor,
        Change {
            action: "create",
            entity: "token",
            key: name.to_owned(),
            tenant_id,
            before: None,
            after: Some(serde_json::json!({"name": name, "role": role})),
            snapshot: None,
        },
    )?;
    Ok(token)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let role: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        role: if role == "admin" {
            TokenRole::Admin
        } else {
            TokenRole::Installer
        },
        tenant_id: r.get(3)?,
    })
}

/// The token whose secret value is `token`, if any.
pub fn lookup(conn: &Connection, token: &str) -> StoreResult<Option<TokenInfo>> {
    let found = conn
        .prepare_cached("SELECT id, name, role, tenant_id FROM tokens WHERE token_hash = ?1")?
        .query_row([hash(token)], from_row)
        .optional()?;
    Ok(found)
}

/// The token with row id `id`, if it still exists.
pub fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<TokenInfo>> {
    let found = conn
        .prepare_cached("SELECT id, name, role, tenant_id FROM tokens WHERE id = ?1")?
        .query_row([id], from_row)
        .optional()?;
    Ok(found)
}
