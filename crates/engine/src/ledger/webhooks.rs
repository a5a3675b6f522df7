//! Webhooks: a job dispatched with a `webhook_url` has its terminal event POSTed there.
//!
//! The row is written with the job (durable before the 202), so a delivery can never be lost
//! between a crash and a restart: a deliverer finds it once the job has ended. Delivery is at
//! least once: a deliverer claims an attempt for [`CLAIM_MS`] (on the database's clock, so the
//! machines of a farm agree), posts outside any transaction, then records the attempt; one that
//! dies mid-post leaves the claim to run out and another retries. Receivers deduplicate by the
//! `webhook-id` header, the job's id.

pub use crate::domain::job::{WebhookAttempt, WebhookDeliveries};

use super::db::{args, Db};
use super::LedgerResult;

/// How long a claimed attempt is this deliverer's before another may retry it: longer than
/// a delivery's timeout.
pub const CLAIM_MS: i64 = 60_000;

/// A delivery due now, claimed by the caller as attempt `attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub job_id: String,
    pub url: String,
    pub attempt: i64,
}

/// Remembers the job's webhook; call in the dispatch's transaction, after the job's row.
pub fn register(conn: &Db<'_>, job_id: &str, url: &str, now: &str) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO webhooks (job_id, url, state, attempts, next_attempt_ms, created_at) \
         VALUES (?1, ?2, 'waiting', 0, 0, ?3)",
        args![job_id, url, now],
    )?;
    Ok(())
}

/// Whether any delivery is due: a cheap read, so an idle studio does not write to look.
pub fn any_due(conn: &Db<'_>) -> LedgerResult<bool> {
    let found: Option<i64> = conn.query_opt(
        &format!(
            "SELECT 1 FROM webhooks w JOIN jobs j ON j.public_id = w.job_id WHERE w.state = 'waiting' \
             AND w.next_attempt_ms <= {} AND j.status IN ('SUCCESS','FAILURE') LIMIT 1",
            conn.now_ms_sql()
        ),
        args![],
        |r| r.get(0),
    )?;
    Ok(found.is_some())
}

/// Claims up to `limit` due deliveries of ended jobs, oldest due first; each is the caller's
/// for [`CLAIM_MS`]. Rows another process is claiming at this moment are skipped.
pub fn claim_due(conn: &Db<'_>, limit: i64) -> LedgerResult<Vec<Due>> {
    let now = conn.now_ms_sql();
    let lock = conn.skip_locked_of("w");
    let due: Vec<(String, String, i64)> = conn.query(
        &format!(
            "SELECT w.job_id, w.url, w.attempts FROM webhooks w JOIN jobs j ON j.public_id = w.job_id \
             WHERE w.state = 'waiting' AND w.next_attempt_ms <= {now} AND j.status IN ('SUCCESS','FAILURE') \
             ORDER BY w.next_attempt_ms, w.job_id LIMIT ?1{lock}"
        ),
        args![limit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut claimed = Vec::with_capacity(due.len());
    for (job_id, url, attempts) in due {
        conn.execute(
            &format!("UPDATE webhooks SET attempts = ?2, next_attempt_ms = {now} + ?3 WHERE job_id = ?1"),
            args![job_id, attempts + 1, CLAIM_MS],
        )?;
        claimed.push(Due { job_id, url, attempt: attempts + 1 });
    }
    Ok(claimed)
}

/// What came of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub started_at: String,
    pub duration_ms: i64,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i64>,
    /// Why it did not count: no answer (refused, timed out) or a non-2xx status.
    pub error: Option<String>,
}

/// What the deliverer decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    /// Try again this many milliseconds from now.
    RetryIn(i64),
    /// No more tries: out of attempts, or the receiver said it is gone (410).
    GiveUp,
}

/// Records attempt `due.attempt` and what comes next. An attempt whose claim ran out and was
/// claimed again meanwhile is still recorded, but no longer decides the delivery's state.
pub fn record(conn: &Db<'_>, due: &Due, attempt: &Attempt, next: Next) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO webhook_attempts (job_id, attempt, started_at, duration_ms, status_code, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![due.job_id, due.attempt, attempt.started_at, attempt.duration_ms, attempt.status_code, attempt.error],
    )?;
    let (state, after_ms) = match next {
        Next::Delivered => ("delivered", 0),
        Next::RetryIn(ms) => ("waiting", ms),
        Next::GiveUp => ("failed", 0),
    };
    conn.execute(
        &format!(
            "UPDATE webhooks SET state = ?3, next_attempt_ms = {} + ?4 \
             WHERE job_id = ?1 AND attempts = ?2 AND state = 'waiting'",
            conn.now_ms_sql()
        ),
        args![due.job_id, due.attempt, state, after_ms],
    )?;
    Ok(())
}

/// The job's webhook and attempts, or `None` when it was dispatched without one.
pub fn deliveries(conn: &Db<'_>, job_id: &str) -> LedgerResult<Option<WebhookDeliveries>> {
    let Some((webhook_url, state)) =
        conn.query_opt("SELECT url, state FROM webhooks WHERE job_id = ?1", args![job_id], |r| {
            Ok((r.get::<String>(0)?, r.get::<String>(1)?))
        })?
    else {
        return Ok(None);
    };
    let attempts = conn.query(
        "SELECT attempt, started_at, duration_ms, status_code, error FROM webhook_attempts \
         WHERE job_id = ?1 ORDER BY attempt",
        args![job_id],
        |r| {
            Ok(WebhookAttempt {
                attempt: r.get(0)?,
                started_at: r.get(1)?,
                duration_ms: r.get(2)?,
                status_code: r.get(3)?,
                error: r.get(4)?,
            })
        },
    )?;
    Ok(Some(WebhookDeliveries { job_id: job_id.to_string(), webhook_url: Some(webhook_url), state, attempts }))
}
