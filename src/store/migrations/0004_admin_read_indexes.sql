-- Whether any device asks for HTTP credentials is looked up after every change (the phone path
-- keeps the answer per generation); without this index it is a scan of every device.
CREATE INDEX devices_with_credentials ON devices (id) WHERE credentials IS NOT NULL;

-- The dashboard shows the latest refused requests; they are rare among fetches, so without an
-- index of their own that is a walk back through every fetch since the last refusal.
CREATE INDEX fetches_refused ON fetches (id) WHERE result NOT IN ('served', 'not_modified', 'uploaded');
