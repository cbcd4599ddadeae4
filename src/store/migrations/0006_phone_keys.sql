-- Programmable phone keys: a user's (they follow the user to every phone) and a device's own
-- (they override the key at their position on that phone). `ord` keeps each list in the order
-- the admin gave it; domain::keys::Key is one row.
CREATE TABLE user_keys (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL,                   -- place in the list, from 0
    type     TEXT NOT NULL,                      -- line, blf, speed_dial, park, pickup, none
    value    TEXT NOT NULL,
    label    TEXT,
    position INTEGER,
    module   INTEGER,
    external INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, ord)
);

CREATE TABLE device_keys (
    device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    type      TEXT NOT NULL,
    value     TEXT NOT NULL,
    label     TEXT,
    position  INTEGER,
    module    INTEGER,
    external  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, ord)
);

-- Deleting or renaming a user looks for the keys aimed at their extension.
CREATE INDEX user_keys_by_target ON user_keys (value) WHERE external = 0;
CREATE INDEX device_keys_by_target ON device_keys (value) WHERE external = 0;
