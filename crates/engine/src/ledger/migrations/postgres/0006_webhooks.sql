-- webhooks. A job dispatched with a `webhook_url` has its terminal event POSTed there; each
-- delivery attempt is kept (when, how long, the receiver's status or the error).

CREATE TABLE webhooks (
    job_id          TEXT PRIMARY KEY REFERENCES jobs (public_id),
    url             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('waiting','delivered','failed')),
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (state, next_attempt_ms);
CREATE TABLE webhook_attempts (
    job_id      TEXT NOT NULL REFERENCES webhooks (job_id),
    attempt     BIGINT NOT NULL,
    started_at  TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
);
