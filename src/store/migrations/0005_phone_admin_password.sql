-- deskprov schema: phone admin passwords.
-- A tenant, a site or a device may set the admin password of its phones (the device's wins,
-- then the site's, then the tenant's). Below them all, every device has one generated at
-- registration, so no phone is left on its factory default: for devices registered before
-- this migration, its hook generates one (an empty value is never read as a password).

ALTER TABLE tenants ADD COLUMN admin_password TEXT;
ALTER TABLE sites ADD COLUMN admin_password TEXT;
ALTER TABLE devices ADD COLUMN admin_password TEXT;
ALTER TABLE devices ADD COLUMN generated_admin_password TEXT NOT NULL DEFAULT '';
