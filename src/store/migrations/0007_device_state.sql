-- A fetch is no longer a row: each device keeps a state (the fetch columns of `devices`, the
-- versions in `device_files`, and now the last file and counts per file and answer), and the
-- history keeps the events fetches made, not every request.

ALTER TABLE devices ADD COLUMN last_file TEXT;
ALTER TABLE devices ADD COLUMN fetch_counts TEXT NOT NULL DEFAULT '{}';

CREATE TABLE device_events (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,      -- first_fetch, address, user_agent, model, firmware, new_version, refused, ban
    tenant_id INTEGER,            -- the device's tenant, when the request named a known device
    mac       TEXT,
    ip        TEXT NOT NULL,
    ua        TEXT,
    file      TEXT NOT NULL,
    status    INTEGER NOT NULL,
    result    TEXT NOT NULL,
    detail    TEXT                -- what it was before, or the new version's hash
);
CREATE INDEX device_events_by_mac ON device_events (mac, tenant_id, id);
CREATE INDEX device_events_by_tenant ON device_events (tenant_id, id);
CREATE INDEX device_events_refused ON device_events (id) WHERE kind IN ('refused', 'ban');

-- The history so far: every device's first fetch (its binding), and every refusal.
INSERT INTO device_events (at, kind, tenant_id, mac, ip, ua, file, status, result)
SELECT d.first_fetch_at, 'first_fetch', d.tenant_id, d.mac, COALESCE(d.bound_ip, ''), d.seen_ua,
       COALESCE((SELECT f.file FROM fetches f WHERE f.mac = d.mac AND f.status = 200 ORDER BY f.id LIMIT 1), ''),
       200, 'served'
FROM devices d WHERE d.first_fetch_at IS NOT NULL ORDER BY d.first_fetch_at;

INSERT INTO device_events (at, kind, tenant_id, mac, ip, ua, file, status, result)
SELECT f.at, CASE WHEN f.result = 'banned' THEN 'ban' ELSE 'refused' END,
       (SELECT d.tenant_id FROM devices d WHERE d.mac = f.mac), f.mac, f.ip, f.ua, f.file, f.status, f.result
FROM fetches f
WHERE f.result NOT IN ('served', 'not_modified', 'uploaded', 'no_such_file', 'credentials_required')
ORDER BY f.id;

-- Each device's last file and its counts per file and answer.
UPDATE devices SET last_file = (
    SELECT f.file FROM fetches f WHERE f.mac = devices.mac AND f.result IN ('served', 'not_modified')
    ORDER BY f.id DESC LIMIT 1
);
UPDATE devices SET fetch_counts = counted.files
FROM (
    SELECT mac, json_group_object(file, json(answers)) AS files FROM (
        SELECT mac, file, json_group_object(answer, n) AS answers FROM (
            SELECT mac, file,
                   CASE WHEN result IN ('served', 'not_modified', 'uploaded') THEN result
                        WHEN result = 'error' THEN 'failed' ELSE 'refused' END AS answer,
                   COUNT(*) AS n
            FROM fetches WHERE mac IS NOT NULL GROUP BY mac, file, answer
        ) GROUP BY mac, file
    ) GROUP BY mac
) AS counted
WHERE counted.mac = devices.mac;

DROP TABLE fetches;
