//! Who is asking: API tokens by their secret, and the pages' sign-in sessions.

use chrono::{DateTime, Utc};

use super::{ServiceResult, Services};
use crate::domain::session::{Opened, Session};
use crate::domain::token::TokenInfo;
use crate::store::{sessions, tokens};

/// The token whose secret is `secret`, if any.
pub async fn token(services: &Services, secret: String) -> ServiceResult<Option<TokenInfo>> {
    Ok(services
        .store
        .read(move |c| tokens::lookup(c, &secret))
        .await?)
}

/// Opens a page session for `token` until `until`; the sign-in is audited.
pub async fn open_session(
    services: &Services,
    token: TokenInfo,
    until: DateTime<Utc>,
) -> ServiceResult<Opened> {
    let now = Utc::now();
    Ok(services
        .store
        .write(move |tx| sessions::open(tx, &token, now, until))
        .await?)
}

/// The live session whose cookie value is `cookie`, if any.
pub async fn session(services: &Services, cookie: String) -> ServiceResult<Option<Session>> {
    Ok(services
        .store
        .read(move |c| sessions::lookup(c, &cookie, Utc::now()))
        .await?)
}

/// Ends the session whose cookie value is `cookie`; the sign-out is audited.
pub async fn close_session(services: &Services, cookie: String) -> ServiceResult<()> {
    services
        .store
        .write(move |tx| sessions::close(tx, &cookie))
        .await?;
    Ok(())
}
