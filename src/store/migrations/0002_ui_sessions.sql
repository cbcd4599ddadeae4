-- deskprov schema, version 2: sign-in sessions of the HTML pages under /ui.
-- The cookie carries a random session id; only its SHA-256 is stored, so a copy of the
-- database opens no session. A session stands for the API token it was opened with: deleting
-- the token ends its sessions.

CREATE TABLE ui_sessions (
    id_hash    TEXT PRIMARY KEY,                 -- SHA-256 hex of the cookie value
    token_id   INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,                    -- per-session token every form carries
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
CREATE INDEX ui_sessions_by_token ON ui_sessions (token_id);
