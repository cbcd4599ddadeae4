//! Sign-in sessions of the HTML pages.

use super::token::TokenInfo;
use chrono::{DateTime, Utc};

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the session stands for (looked up afresh, so a deleted token ends it).
    pub token: TokenInfo,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// A session just opened: the cookie value (shown to the browser once) and the session.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The cookie value: 256 random bits, hex.
    pub cookie: String,
    /// The session.
    pub session: Session,
}
