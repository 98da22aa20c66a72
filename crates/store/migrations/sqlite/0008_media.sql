-- The media catalog: the files vidgate keeps for a request in its media store. A row is
-- written once its object is complete; deleting media marks the row (the object goes first).
CREATE TABLE media_objects (
    request_id   TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    variant      TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    source_url   TEXT,
    stored_at    BIGINT NOT NULL,
    expires_at   BIGINT,
    deleted_at   BIGINT,
    PRIMARY KEY (request_id, variant)
);
-- The sweep's question: what is due to go.
CREATE INDEX media_objects_expiry ON media_objects (expires_at)
    WHERE deleted_at IS NULL AND expires_at IS NOT NULL;

-- How long this key's media is kept, in seconds, when it differs from media.retention
-- (0: kept until deleted).
ALTER TABLE api_keys ADD COLUMN media_retention BIGINT;
