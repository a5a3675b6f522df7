-- the queue can be steered and the library sorted. A waiting job has a priority (higher runs
-- first; equal priorities oldest first) and can be held (`paused`: never claimed until resumed).
-- An upload can be a favourite and carry tags, found by tag through their index.

ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_claim_order ON jobs (status, paused, priority DESC, public_id);
ALTER TABLE uploads ADD COLUMN favourite INTEGER NOT NULL DEFAULT 0;
CREATE TABLE upload_tags (
    key TEXT NOT NULL REFERENCES uploads (key),
    tag TEXT NOT NULL,
    PRIMARY KEY (key, tag)
) WITHOUT ROWID;
CREATE INDEX upload_tags_by_tag ON upload_tags (tag, key);
