//! Sign-in sessions of the HTML pages: a random id in a cookie, mapped here to the API token it
//! was opened with. Only the id's SHA-256 is stored, never the id or the token itself.

use crate::domain::audit::{Actor, Change};
use crate::domain::token::TokenInfo;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::audit;
use super::tokens;
use super::{StoreResult, time_column, time_text};
use crate::domain::session::{Opened, Session};

fn random_hex() -> String {
    hex::encode(rand::rng().random::<[u8; 32]>())
}

fn hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// Opens a session for `token` until `expires_at`, drops expired ones, and records the sign-in.
pub fn open(
    tx: &Transaction<'_>,
    token: &TokenInfo,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> StoreResult<Opened> {
    purge_expired(tx, at)?;
    let cookie = random_hex();
    let csrf = random_hex();
    tx.execute(
        "INSERT INTO ui_sessions (id_hash, token_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash(&cookie), token.id, csrf, time_text(at), time_text(expires_at)],
    )?;
    record(tx, token, "sign_in")?;
    Ok(Opened {
        cookie,
        session: Session {
            token: token.clone(),
            csrf,
            expires_at,
        },
    })
}

fn record(tx: &Transaction<'_>, token: &TokenInfo, action: &str) -> StoreResult<()> {
    audit::record(
        tx,
        &Actor::new(format!("token:{}", token.name)),
        Change {
            action,
            entity: "session",
            key: token.name.clone(),
            tenant_id: token.tenant_id,
            before: None,
            after: None,
            snapshot: None,
        },
    )
}

/// The live session whose cookie value is `cookie`, if any (expired ones are not found).
pub fn lookup(conn: &Connection, cookie: &str, at: DateTime<Utc>) -> StoreResult<Option<Session>> {
    let row = conn
        .prepare_cached(
            "SELECT token_id, csrf, expires_at FROM ui_sessions WHERE id_hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![hash(cookie), time_text(at)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                time_column(r, 2)?,
            ))
        })
        .optional()?;
    let Some((token_id, csrf, expires_at)) = row else {
        return Ok(None);
    };
    Ok(tokens::by_id(conn, token_id)?.map(|token| Session {
        token,
        csrf,
        expires_at,
    }))
}

/// Ends the session whose cookie value is `cookie`; `false` if there was none.
pub fn close(tx: &Transaction<'_>, cookie: &str) -> StoreResult<bool> {
    let token_id: Option<i64> = tx
        .query_row(
            "DELETE FROM ui_sessions WHERE id_hash = ?1 RETURNING token_id",
            [hash(cookie)],
            |r| r.get(0),
        )
        .optional()?;
    let Some(token) = token_id
        .map(|id| tokens::by_id(tx, id))
        .transpose()?
        .flatten()
    else {
        return Ok(false);
    };
    record(tx, &token, "sign_out")?;
    Ok(true)
}

/// Deletes sessions that ended before `at`; returns how many.
pub fn purge_expired(tx: &Transaction<'_>, at: DateTime<Utc>) -> StoreResult<usize> {
    Ok(tx.execute(
        "DELETE FROM ui_sessions WHERE expires_at <= ?1",
        [time_text(at)],
    )?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::domain::TokenRole;
    use crate::store::{Store, StoreError};

    fn store_with_token() -> (tempfile::TempDir, Store, TokenInfo) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let secret = store
            .write_blocking(|tx| {
                tokens::create(tx, &Actor::new("test"), TokenRole::Admin, None, "alice")
            })
            .unwrap();
        let info = store
            .read_blocking(|c| tokens::lookup(c, &secret))
            .unwrap()
            .unwrap();
        (dir, store, info)
    }

    #[test]
    fn a_corrupt_stored_time_is_an_error_not_a_made_up_time() {
        let (_dir, store, token) = store_with_token();
        let now = Utc::now();
        let opened = store
            .write_blocking(|tx| open(tx, &token, now, now + TimeDelta::hours(1)))
            .unwrap();
        store
            .write_blocking(|tx| Ok(tx.execute("UPDATE ui_sessions SET expires_at = 'zzz'", [])?))
            .unwrap();
        let found = store.read_blocking(|c| lookup(c, &opened.cookie, now));
        assert!(
            matches!(
                found,
                Err(StoreError::Sqlite(
                    rusqlite::Error::FromSqlConversionFailure(..)
                ))
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_expires() {
        let (_dir, store, token) = store_with_token();
        let now = Utc::now();
        let opened = store
            .write_blocking(|tx| open(tx, &token, now, now + TimeDelta::hours(1)))
            .unwrap();
        assert_eq!(opened.cookie.len(), 64);
        assert_ne!(opened.cookie, opened.session.csrf);
        let found = store
            .read_blocking(|c| lookup(c, &opened.cookie, now))
            .unwrap()
            .expect("live session");
        assert_eq!(found.token.name, "alice");
        assert_eq!(found.csrf, opened.session.csrf);
        let later = now + TimeDelta::hours(2);
        assert!(
            store
                .read_blocking(|c| lookup(c, &opened.cookie, later))
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .read_blocking(|c| lookup(c, "not-a-cookie", now))
                .unwrap()
                .is_none()
        );
        // The cookie value itself is nowhere in the database.
        let stored: String = store
            .read_blocking(
                |c| Ok(c.query_row("SELECT id_hash FROM ui_sessions", [], |r| r.get(0))?),
            )
            .unwrap();
        assert_ne!(stored, opened.cookie);
        assert_eq!(
            store.write_blocking(|tx| purge_expired(tx, later)).unwrap(),
            1
        );
    }

    #[test]
    fn closing_ends_the_session_and_is_audited() {
        let (_dir, store, token) = store_with_token();
        let now = Utc::now();
        let opened = store
            .write_blocking(|tx| open(tx, &token, now, now + TimeDelta::hours(1)))
            .unwrap();
        assert!(
            store
                .write_blocking(|tx| close(tx, &opened.cookie))
                .unwrap()
        );
        assert!(
            !store
                .write_blocking(|tx| close(tx, &opened.cookie))
                .unwrap()
        );
        assert!(
            store
                .read_blocking(|c| lookup(c, &opened.cookie, now))
                .unwrap()
                .is_none()
        );
        let actions: Vec<String> = store
            .read_blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT action FROM audit WHERE entity = 'session' AND actor = 'token:alice' ORDER BY id",
                )?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap();
        assert_eq!(actions, ["sign_in", "sign_out"]);
    }

    #[test]
    fn deleting_the_token_ends_its_sessions() {
        let (_dir, store, token) = store_with_token();
        let now = Utc::now();
        let opened = store
            .write_blocking(|tx| open(tx, &token, now, now + TimeDelta::hours(1)))
            .unwrap();
        let id = token.id;
        store
            .write_blocking(move |tx| Ok(tx.execute("DELETE FROM tokens WHERE id = ?1", [id])?))
            .unwrap();
        assert!(
            store
                .read_blocking(|c| lookup(c, &opened.cookie, now))
                .unwrap()
                .is_none()
        );
    }
}
