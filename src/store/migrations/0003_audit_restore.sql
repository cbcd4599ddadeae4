-- A deleted record that has been restored points at the audit entry of its restore, so the
-- same delete cannot be restored twice.
ALTER TABLE audit ADD COLUMN restored_by INTEGER REFERENCES audit(id);
