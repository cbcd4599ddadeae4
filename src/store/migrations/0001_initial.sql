-- deskprov schema, version 1. Times are RFC 3339 UTC text with milliseconds ('...Z'),
-- so they sort as text. JSON columns hold serde shapes from src/domain.

CREATE TABLE tenants (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    sip_username_prefix  TEXT NOT NULL UNIQUE,
    settings             TEXT NOT NULL,          -- domain::Settings
    extension_plan       TEXT NOT NULL,          -- domain::extension::ExtensionPlanInput
    phone_auth           TEXT NOT NULL,          -- domain::phone_auth::PhoneAuth
    enroll_window_secs   INTEGER NOT NULL,
    max_devices_per_user INTEGER NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE sites (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    allow_cidrs TEXT,                            -- JSON list narrowing the tenant's, if any
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    tenant_id            INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    extension            TEXT NOT NULL,
    name                 TEXT NOT NULL,
    email                TEXT,
    role                 TEXT NOT NULL,
    is_admin             INTEGER NOT NULL DEFAULT 0,
    department           TEXT,
    site_id              INTEGER REFERENCES sites(id) ON DELETE SET NULL,
    sip_username         TEXT NOT NULL UNIQUE,
    sip_password         TEXT NOT NULL,
    voicemail_pin        TEXT,
    caller_id            TEXT,
    phone_numbers        TEXT NOT NULL DEFAULT '[]',
    external_sip         TEXT,
    portal_password_hash TEXT,
    max_devices          INTEGER,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    UNIQUE (tenant_id, extension)
);

CREATE TABLE aliases (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    sip_username TEXT NOT NULL UNIQUE,
    sip_password TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX aliases_by_user ON aliases (user_id, position);

CREATE TABLE devices (
    id              INTEGER PRIMARY KEY,
    mac             TEXT NOT NULL UNIQUE,       -- lower12
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    vendor          TEXT NOT NULL,
    model           TEXT,
    site_id         INTEGER REFERENCES sites(id) ON DELETE SET NULL,
    label           TEXT,
    settings        TEXT NOT NULL DEFAULT '{}',
    enroll_deadline TEXT NOT NULL,
    first_fetch_at  TEXT,
    last_fetch_at   TEXT,
    last_ip         TEXT,
    seen_model      TEXT,
    seen_firmware   TEXT,
    seen_ua         TEXT,
    bound_ip        TEXT,                       -- address of the first successful fetch
    bound_cert      TEXT,                       -- SHA-256 of the client certificate it used, if any
    credentials     TEXT,                       -- domain::device::DeviceCredentials (JSON), if any
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX devices_by_user ON devices (user_id);
CREATE INDEX devices_by_tenant ON devices (tenant_id);

-- What each device last fetched, per file: tells whether its configuration changed since.
CREATE TABLE device_files (
    device_id  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    file       TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    server_url TEXT NOT NULL,                    -- the base URL the phone used (part of the body)
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (device_id, file)
);

-- The latest file of each name a device uploaded (logs, local overrides).
CREATE TABLE device_uploads (
    device_id   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    file        TEXT NOT NULL,
    body        BLOB NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (device_id, file)
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'installer')),
    tenant_id  INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,             -- SHA-256 hex of the token
    created_at TEXT NOT NULL
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,                    -- create / update / delete / reorder …
    entity     TEXT NOT NULL,                    -- tenant / site / user / alias / device / token
    entity_key TEXT NOT NULL,                    -- tenant name, extension, MAC, …
    tenant_id  INTEGER,
    before     TEXT,                             -- JSON, secrets masked
    after      TEXT,
    snapshot   TEXT                              -- full record of a deleted entity, for restore
);
CREATE INDEX audit_newest ON audit (id DESC);

CREATE TABLE fetches (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    ip       TEXT NOT NULL,
    ua       TEXT,
    mac      TEXT,
    vendor   TEXT,
    model    TEXT,
    firmware TEXT,
    file     TEXT NOT NULL,
    status   INTEGER NOT NULL,
    result   TEXT NOT NULL
);
CREATE INDEX fetches_by_mac ON fetches (mac, id);
