-- The operator's model-catalog entries (PUT /admin/models/...): `path` is `Model` or
-- `Model/version`, `body` the entry as JSON (the catalog file's format), laid over the
-- built-in catalog by every replica.
CREATE TABLE catalog_entries (
    path TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
