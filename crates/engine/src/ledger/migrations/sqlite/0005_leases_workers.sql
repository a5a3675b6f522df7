-- farm mode. A claim is a lease: the worker holding it, a token that grows with every claim (a
-- late worker's writes are refused by it) and when it ends unless renewed, on the database's
-- clock. Workers report themselves for `figur farm status`.

ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_expires_ms INTEGER;
CREATE INDEX jobs_by_lease_end ON jobs (status, lease_expires_ms);
CREATE TABLE workers (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    providers   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    seen_ms     INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running','stopped'))
) WITHOUT ROWID;
