-- the job model, its events and artifacts; renders, uploads, catalog; keys, credits, request log,
-- idempotency keys; settings.

CREATE TABLE jobs (
    public_id        TEXT PRIMARY KEY,
    job_type         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('NOT_STARTED','IN_PROGRESS','SUCCESS','FAILURE')),
    request_json     TEXT NOT NULL,
    credits_cost     INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    api_key_id       TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    latest_seq       INTEGER NOT NULL,
    recoveries       INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_code       TEXT,
    error_message    TEXT
) WITHOUT ROWID;
CREATE INDEX jobs_by_status ON jobs (status, public_id);

CREATE TABLE job_events (
    job_id         TEXT NOT NULL REFERENCES jobs (public_id),
    seq            INTEGER NOT NULL,
    event_type     TEXT NOT NULL CHECK (event_type IN ('queued','stage','succeeded','failed')),
    stage          TEXT,
    message        TEXT NOT NULL,
    artifacts_json TEXT NOT NULL,
    extra_json     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    job_id     TEXT NOT NULL REFERENCES jobs (public_id),
    n          INTEGER NOT NULL,
    key        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('intermediate','final')),
    label      TEXT NOT NULL,
    meta_json  TEXT NOT NULL,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;

CREATE TABLE renders (
    public_id   TEXT PRIMARY KEY REFERENCES jobs (public_id),
    job_type    TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('compose','edit')),
    category    TEXT,
    image_key   TEXT NOT NULL,
    meta_json   TEXT NOT NULL,
    inputs_json TEXT NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE uploads (
    key           TEXT PRIMARY KEY,
    mime          TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    original_name TEXT NOT NULL,
    created_at    TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE catalog (
    public_id                TEXT PRIMARY KEY,
    resource                 TEXT NOT NULL CHECK (resource IN ('models','backgrounds','complementary-garments')),
    status                   TEXT NOT NULL CHECK (status IN ('active','archived')),
    display_name             TEXT NOT NULL,
    spec_json                TEXT NOT NULL,
    description              TEXT NOT NULL,
    image_key                TEXT NOT NULL,
    meta_json                TEXT NOT NULL,
    generation_job_public_id TEXT,
    builtin                  INTEGER NOT NULL DEFAULT 0,
    created_at               TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX catalog_by_resource ON catalog (resource, public_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    mode         TEXT NOT NULL CHECK (mode IN ('live','test')),
    capabilities TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
) WITHOUT ROWID;

CREATE TABLE credit_balance (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    credits INTEGER NOT NULL
);
CREATE TABLE credit_ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    TEXT,
    job_id        TEXT,
    credits       INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('debit','refund','adjustment')),
    balance_after INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE request_log (
    request_id  TEXT PRIMARY KEY,
    api_key_id  TEXT,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    api_key_id    TEXT NOT NULL,
    key           TEXT NOT NULL,
    operation     TEXT NOT NULL,
    body_sha256   TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, key)
) WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
