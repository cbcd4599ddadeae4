//! SIP usernames are unique across every user and alias of every tenant.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, StoreResult};
use crate::domain::{RuleError, SipUsername};

/// Whether `username` is used by any user or alias in any tenant, other than `except_user`.
pub fn taken(conn: &Connection, username: &str, except_user: Option<i64>) -> StoreResult<bool> {
    let taken = conn
        .prepare_cached(
            "SELECT 1 FROM users WHERE sip_username = ?1 AND id IS NOT ?2
             UNION ALL SELECT 1 FROM aliases WHERE sip_username = ?1 LIMIT 1",
        )?
        .query_row(params![username, except_user], |_| Ok(()))
        .optional()?;
    Ok(taken.is_some())
}

/// The conflict answered when `username` is taken, about `field`.
pub fn conflict(username: &SipUsername, field: &str) -> StoreError {
    StoreError::Conflict(RuleError::new(
        field,
        "sip_username_taken",
        format!("the SIP username {username} is already in use"),
    ))
}
