-- Whether any device asks for HTTP credentials is looked up after every change (the phone path
-- keeps the answer per generation); without this index it is a scan of every device.
CREATE INDEX devices_with_credentials ON devices (id) WHERE credentials IS NOT NULL;
