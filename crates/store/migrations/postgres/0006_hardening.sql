-- Hardening (see the SQLite migration of the same number for what each column means).
ALTER TABLE tasks ADD COLUMN poll_event INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;

-- Key names are unique among active keys only, so a revoked key's name can be used again.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_name_key;
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
