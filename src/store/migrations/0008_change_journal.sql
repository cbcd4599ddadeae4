-- deskprov schema: the change journal.
-- Every committed change to a row that a phone's answer or its checks read leaves one row here
-- per thing it touches, written by the triggers below (so every code path and every process
-- writing to this file is covered): `scope` says what kind of thing and `id` which one, always
-- the narrowest that covers it. The phone path's cache reads the rows committed since it last
-- looked and drops exactly what they name. `seq` only grows (AUTOINCREMENT never reuses a value,
-- even after old rows are pruned), so "everything after seq N" is one range.
--
-- Scopes: 'tenant' (a tenant row), 'site' (a site row), 'user' (a user, its aliases, its keys,
-- which devices it has), 'device' (a device, its keys, its uploads), 'all' (anything: drops
-- everything cached).
--
-- Not journaled: audit, tokens, sessions, device_events and device_files (a phone's answer does
-- not read them), and the columns of devices that the phone path's fetch state writes (last_fetch_at,
-- last_ip, seen_firmware, seen_ua, updated_at, last_file, fetch_counts):
-- see the WHEN clause of changes_devices_update, which lists the columns that DO matter.

CREATE TABLE changes (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    id    INTEGER NOT NULL
);

-- Tenants: settings, phone policy (URL key, allow-list, credentials), admin password, …
CREATE TRIGGER changes_tenants_insert AFTER INSERT ON tenants BEGIN
    INSERT INTO changes (scope, id) VALUES ('tenant', NEW.id);
END;
CREATE TRIGGER changes_tenants_update AFTER UPDATE ON tenants BEGIN
    INSERT INTO changes (scope, id) VALUES ('tenant', NEW.id);
END;
CREATE TRIGGER changes_tenants_delete AFTER DELETE ON tenants BEGIN
    INSERT INTO changes (scope, id) VALUES ('tenant', OLD.id);
END;

-- Sites: settings, allow-list, admin password, name (the owner's site name is part of a user).
CREATE TRIGGER changes_sites_insert AFTER INSERT ON sites BEGIN
    INSERT INTO changes (scope, id) VALUES ('site', NEW.id);
END;
CREATE TRIGGER changes_sites_update AFTER UPDATE ON sites BEGIN
    INSERT INTO changes (scope, id) VALUES ('site', NEW.id);
END;
CREATE TRIGGER changes_sites_delete AFTER DELETE ON sites BEGIN
    INSERT INTO changes (scope, id) VALUES ('site', OLD.id);
END;

-- Users. A phone's keys show the names of the users they aim at (by extension, within the
-- tenant), so a user that appears, goes, or changes name or extension also touches every user
-- and device whose own keys aim at that extension (the old one or the new one).
CREATE TRIGGER changes_users_insert AFTER INSERT ON users BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.id);
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'user', k.user_id FROM user_keys k JOIN users o ON o.id = k.user_id
        WHERE k.external = 0 AND k.value = NEW.extension AND o.tenant_id = NEW.tenant_id;
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'device', k.device_id FROM device_keys k JOIN devices d ON d.id = k.device_id
        WHERE k.external = 0 AND k.value = NEW.extension AND d.tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER changes_users_update AFTER UPDATE ON users BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.id);
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'user', k.user_id FROM user_keys k JOIN users o ON o.id = k.user_id
        WHERE (OLD.extension IS NOT NEW.extension OR OLD.name IS NOT NEW.name
               OR OLD.tenant_id IS NOT NEW.tenant_id)
          AND k.external = 0 AND k.value IN (OLD.extension, NEW.extension)
          AND o.tenant_id IN (OLD.tenant_id, NEW.tenant_id);
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'device', k.device_id FROM device_keys k JOIN devices d ON d.id = k.device_id
        WHERE (OLD.extension IS NOT NEW.extension OR OLD.name IS NOT NEW.name
               OR OLD.tenant_id IS NOT NEW.tenant_id)
          AND k.external = 0 AND k.value IN (OLD.extension, NEW.extension)
          AND d.tenant_id IN (OLD.tenant_id, NEW.tenant_id);
END;
CREATE TRIGGER changes_users_delete AFTER DELETE ON users BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', OLD.id);
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'user', k.user_id FROM user_keys k JOIN users o ON o.id = k.user_id
        WHERE k.external = 0 AND k.value = OLD.extension AND o.tenant_id = OLD.tenant_id;
    INSERT INTO changes (scope, id)
        SELECT DISTINCT 'device', k.device_id FROM device_keys k JOIN devices d ON d.id = k.device_id
        WHERE k.external = 0 AND k.value = OLD.extension AND d.tenant_id = OLD.tenant_id;
END;

-- Aliases and a user's keys belong to the user.
CREATE TRIGGER changes_aliases_insert AFTER INSERT ON aliases BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.user_id);
END;
CREATE TRIGGER changes_aliases_update AFTER UPDATE ON aliases BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.user_id);
    INSERT INTO changes (scope, id) SELECT 'user', OLD.user_id WHERE OLD.user_id IS NOT NEW.user_id;
END;
CREATE TRIGGER changes_aliases_delete AFTER DELETE ON aliases BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', OLD.user_id);
END;

CREATE TRIGGER changes_user_keys_insert AFTER INSERT ON user_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.user_id);
END;
CREATE TRIGGER changes_user_keys_update AFTER UPDATE ON user_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', NEW.user_id);
    INSERT INTO changes (scope, id) SELECT 'user', OLD.user_id WHERE OLD.user_id IS NOT NEW.user_id;
END;
CREATE TRIGGER changes_user_keys_delete AFTER DELETE ON user_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('user', OLD.user_id);
END;

-- Devices. A device also touches its owner (a user counts its devices), old and new.
CREATE TRIGGER changes_devices_insert AFTER INSERT ON devices BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', NEW.id);
    INSERT INTO changes (scope, id) VALUES ('user', NEW.user_id);
END;
-- Only the columns a phone's answer or its checks read: not the ones fetches write on every
-- request (last_fetch_at, last_ip, seen_firmware, seen_ua, updated_at, last_file, fetch_counts).
-- A fetch that binds the device (first_fetch_at, bound_ip, bound_cert) or reports a new model
-- (seen_model) is listed: the checks and the files read those.
CREATE TRIGGER changes_devices_update AFTER UPDATE ON devices
WHEN OLD.id IS NOT NEW.id
    OR OLD.mac IS NOT NEW.mac
    OR OLD.tenant_id IS NOT NEW.tenant_id
    OR OLD.user_id IS NOT NEW.user_id
    OR OLD.vendor IS NOT NEW.vendor
    OR OLD.model IS NOT NEW.model
    OR OLD.site_id IS NOT NEW.site_id
    OR OLD.label IS NOT NEW.label
    OR OLD.settings IS NOT NEW.settings
    OR OLD.enroll_deadline IS NOT NEW.enroll_deadline
    OR OLD.first_fetch_at IS NOT NEW.first_fetch_at
    OR OLD.seen_model IS NOT NEW.seen_model
    OR OLD.bound_ip IS NOT NEW.bound_ip
    OR OLD.bound_cert IS NOT NEW.bound_cert
    OR OLD.credentials IS NOT NEW.credentials
    OR OLD.created_at IS NOT NEW.created_at
    OR OLD.admin_password IS NOT NEW.admin_password
    OR OLD.generated_admin_password IS NOT NEW.generated_admin_password
BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', OLD.id);
    INSERT INTO changes (scope, id) SELECT 'device', NEW.id WHERE OLD.id IS NOT NEW.id;
    INSERT INTO changes (scope, id) SELECT 'user', OLD.user_id WHERE OLD.user_id IS NOT NEW.user_id;
    INSERT INTO changes (scope, id) SELECT 'user', NEW.user_id WHERE OLD.user_id IS NOT NEW.user_id;
END;
CREATE TRIGGER changes_devices_delete AFTER DELETE ON devices BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', OLD.id);
    INSERT INTO changes (scope, id) VALUES ('user', OLD.user_id);
END;

-- A device's own keys and its uploads (a profile may serve an upload back) belong to the device.
CREATE TRIGGER changes_device_keys_insert AFTER INSERT ON device_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', NEW.device_id);
END;
CREATE TRIGGER changes_device_keys_update AFTER UPDATE ON device_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', NEW.device_id);
    INSERT INTO changes (scope, id) SELECT 'device', OLD.device_id WHERE OLD.device_id IS NOT NEW.device_id;
END;
CREATE TRIGGER changes_device_keys_delete AFTER DELETE ON device_keys BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', OLD.device_id);
END;

CREATE TRIGGER changes_device_uploads_insert AFTER INSERT ON device_uploads BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', NEW.device_id);
END;
CREATE TRIGGER changes_device_uploads_update AFTER UPDATE ON device_uploads BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', NEW.device_id);
    INSERT INTO changes (scope, id) SELECT 'device', OLD.device_id WHERE OLD.device_id IS NOT NEW.device_id;
END;
CREATE TRIGGER changes_device_uploads_delete AFTER DELETE ON device_uploads BEGIN
    INSERT INTO changes (scope, id) VALUES ('device', OLD.device_id);
END;
