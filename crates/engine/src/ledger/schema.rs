//! Migrations, applied in one transaction and tracked by `PRAGMA user_version` (SQLite) or the
//! `schema_version` table of the realm's schema (PostgreSQL). A database newer than the binary is
//! refused rather than misread. Append migrations; never edit a shipped one.
//!
//! One list serves both databases: the migrations are written in SQLite's words and
//! [`postgres_ddl`] says them in PostgreSQL's (BIGINT integers, BYTEA blobs, identity keys).

use rusqlite::Connection;

use super::{LedgerError, LedgerResult};

/// Each entry is one migration: the tables it creates say what it is for.
const MIGRATIONS: &[&str] = &[
    // 1: the job model, its events and artifacts; renders, uploads, catalog; keys, credits,
    //    request log, idempotency keys; settings.
    r#"
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
    "#,
    // 2: the library is a view of the uploads: where each came from (the folder a desktop
    // import read it from), listed newest first, and found by content (one copy per image).
    r#"
    ALTER TABLE uploads ADD COLUMN source_folder TEXT;
    CREATE INDEX uploads_newest_first ON uploads (created_at DESC, key DESC);
    CREATE INDEX uploads_by_content ON uploads (sha256);
    "#,
    // 3: jobs keep their typed request with the version of its form, so a job stored by an
    // older studio is upgraded or failed cleanly, never misread. Dead storage goes: the
    // `artifacts` table was only read to number itself (artifacts live in their events), and
    // the jobs' error columns were never read (the error is the `failed` event's).
    r#"
    ALTER TABLE jobs ADD COLUMN request_version INTEGER NOT NULL DEFAULT 1;
    DROP TABLE artifacts;
    ALTER TABLE jobs DROP COLUMN error_code;
    ALTER TABLE jobs DROP COLUMN error_message;
    "#,
    // 4: the queue can be steered and the library sorted. A waiting job has a priority (higher
    // runs first; equal priorities oldest first) and can be held (`paused`: never claimed until
    // resumed). An upload can be a favourite and carry tags, found by tag through their index.
    r#"
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
    "#,
    // 5: farm mode. A claim is a lease: the worker holding it, a token that grows with every
    // claim (a late worker's writes are refused by it) and when it ends unless renewed, on the
    // database's clock. Workers report themselves for `figur farm status`.
    r#"
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
    "#,
    // 6: webhooks. A job dispatched with a `webhook_url` has its terminal event POSTed there;
    // each delivery attempt is kept (when, how long, the receiver's status or the error).
    r#"
    CREATE TABLE webhooks (
        job_id          TEXT PRIMARY KEY REFERENCES jobs (public_id),
        url             TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('waiting','delivered','failed')),
        attempts        INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        created_at      TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX webhooks_due ON webhooks (state, next_attempt_ms);
    CREATE TABLE webhook_attempts (
        job_id      TEXT NOT NULL REFERENCES webhooks (job_id),
        attempt     INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        status_code INTEGER,
        error       TEXT,
        PRIMARY KEY (job_id, attempt)
    ) WITHOUT ROWID;
    "#,
    // 7: rate limits a farm's API servers share: requests per key per fixed window.
    r#"
    CREATE TABLE rate_windows (
        subject   TEXT NOT NULL,
        window_no INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (subject, window_no)
    ) WITHOUT ROWID;
    "#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection) -> LedgerResult<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew { found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for migration in &MIGRATIONS[found.clamp(0, SCHEMA_VERSION) as usize..] {
        tx.execute_batch(migration)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(())
}

/// A migration in PostgreSQL's words.
pub(super) fn postgres_ddl(sqlite: &str) -> String {
    sqlite
        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
        .replace("BLOB", "BYTEA")
        .replace(") WITHOUT ROWID;", ");")
}

/// Creates the realm's schema if needed and brings it to [`SCHEMA_VERSION`]. Processes starting
/// together take turns (an advisory lock per schema); a schema newer than this binary is refused.
pub(super) fn migrate_postgres(client: &mut postgres::Client, schema: &str) -> LedgerResult<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("figur-migrate-{schema}")])?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}; \
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);"
    ))?;
    let found: i64 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew { found, supported: SCHEMA_VERSION });
    }
    for migration in &MIGRATIONS[found.clamp(0, SCHEMA_VERSION) as usize..] {
        tx.batch_execute(&postgres_ddl(migration))?;
    }
    tx.execute("UPDATE schema_version SET version = $1", &[&SCHEMA_VERSION])?;
    tx.commit()?;
    Ok(())
}
