//! Leases and the workers that hold them (farm mode's bookkeeping, kept on both databases).
//!
//! A worker renews the leases of the jobs it runs well before they end; a job whose lease has
//! ended belongs to a worker that died, hangs or lost the network, and is requeued (a `requeued`
//! event naming the worker, counted against the job's recoveries) or, past the cap, failed and
//! refunded. Workers also say they are alive (`workers`), for `figur farm status`.

use serde_json::json;

use super::db::{args, Db};
use super::jobs::{self, JobRow};
use super::LedgerResult;
use crate::failure::{FailureCode, JobFailure};

/// Extends the leases of these jobs (held under these tokens) by `lease_ms` from now on the
/// database's clock. Returns the jobs whose lease this worker no longer holds.
pub fn renew(conn: &Db<'_>, held: &[(String, i64)], lease_ms: i64) -> LedgerResult<Vec<String>> {
    let mut lost = Vec::new();
    for (job, token) in held {
        let renewed = conn.execute(
            &format!(
                "UPDATE jobs SET lease_expires_ms = {} + ?3 \
                 WHERE public_id = ?1 AND lease_token = ?2 AND status = 'IN_PROGRESS'",
                conn.now_ms_sql()
            ),
            args![job, token, lease_ms],
        )?;
        if renewed == 0 {
            lost.push(job.clone());
        }
    }
    Ok(lost)
}

/// What happened to a job whose lease ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    pub job: String,
    pub worker: Option<String>,
    /// `requeued` or `failed`.
    pub outcome: &'static str,
}

/// Requeues (or, after `max_recoveries`, fails and refunds) every running job whose lease has
/// ended. Safe to run from every process at once: each job is locked, and skipped if another
/// process is reclaiming it.
pub fn reclaim_expired(conn: &Db<'_>, max_recoveries: i64) -> LedgerResult<Vec<Reclaimed>> {
    let expired: Vec<(String, i64, Option<String>)> = conn.query(
        &format!(
            "SELECT public_id, recoveries, lease_owner FROM jobs WHERE status = 'IN_PROGRESS' \
             AND lease_expires_ms IS NOT NULL AND lease_expires_ms < {} ORDER BY public_id LIMIT 100{}",
            conn.now_ms_sql(),
            conn.skip_locked()
        ),
        args![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut out = Vec::with_capacity(expired.len());
    for (job, recoveries, worker) in expired {
        let name = worker.clone().unwrap_or_else(|| "a worker".into());
        if recoveries >= max_recoveries {
            let error = JobFailure {
                code: FailureCode::Internal,
                message: format!(
                    "the job's worker stopped answering {} times while running it ({name} last); it was given up",
                    recoveries + 1
                ),
            };
            jobs::fail(conn, &job, &error, json!({ "recoveries": recoveries, "worker": worker }))?;
            out.push(Reclaimed { job, worker, outcome: "failed" });
        } else {
            let message = format!(
                "{name} stopped renewing its lease on this job (it died or lost the network); requeued \
                 (recovery {} of {max_recoveries})",
                recoveries + 1
            );
            jobs::requeue(conn, &job, &message, true, json!({ "worker": worker }))?;
            out.push(Reclaimed { job, worker, outcome: "requeued" });
        }
    }
    Ok(out)
}

/// A worker as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub concurrency: i64,
    pub providers: String,
    pub started_at: String,
    /// Milliseconds since it last reported, on the database's clock.
    pub silent_ms: i64,
    /// `running` or `stopped` (it drained and said goodbye).
    pub state: String,
}

/// What a worker says of itself.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub id: &'a str,
    pub host: &'a str,
    pub concurrency: i64,
    pub providers: &'a str,
    /// Its first report since it started (a name used before starts afresh).
    pub first: bool,
}

/// Says a worker is alive (inserting it the first time).
pub fn heartbeat(conn: &Db<'_>, r: &Report<'_>) -> LedgerResult<()> {
    let now = conn.now_ms_sql();
    conn.execute(
        &format!(
            "INSERT INTO workers (id, host, concurrency, providers, started_at, seen_ms, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, {now}, 'running') \
             ON CONFLICT (id) DO UPDATE SET seen_ms = {now}, state = 'running', host = excluded.host, \
             concurrency = excluded.concurrency, providers = excluded.providers, \
             started_at = CASE WHEN ?6 = 1 THEN excluded.started_at ELSE workers.started_at END"
        ),
        args![r.id, r.host, r.concurrency, r.providers, crate::time::now_rfc3339(), r.first],
    )?;
    Ok(())
}

/// Marks a worker as stopped (it drained on SIGTERM).
pub fn stopped(conn: &Db<'_>, id: &str) -> LedgerResult<()> {
    conn.execute("UPDATE workers SET state = 'stopped' WHERE id = ?1", args![id])?;
    Ok(())
}

pub fn workers(conn: &Db<'_>) -> LedgerResult<Vec<WorkerRow>> {
    conn.query(
        &format!(
            "SELECT id, host, concurrency, providers, started_at, {} - seen_ms, state FROM workers ORDER BY id",
            conn.now_ms_sql()
        ),
        args![],
        |r| {
            Ok(WorkerRow {
                id: r.get(0)?,
                host: r.get(1)?,
                concurrency: r.get(2)?,
                providers: r.get(3)?,
                started_at: r.get(4)?,
                silent_ms: r.get(5)?,
                state: r.get(6)?,
            })
        },
    )
}

/// Running jobs with their lease's holder and how long it has left (negative: ended).
pub fn running(conn: &Db<'_>) -> LedgerResult<Vec<(JobRow, Option<i64>)>> {
    conn.query(
        &format!(
            "SELECT {}, lease_expires_ms - {} FROM jobs WHERE status = 'IN_PROGRESS' ORDER BY public_id",
            jobs::JOB_COLUMNS,
            conn.now_ms_sql()
        ),
        args![],
        |r| Ok((jobs::job_row(r)?, r.get(17)?)),
    )
}

/// How many jobs ended (succeeded or failed) at or after `since` (RFC 3339): throughput.
pub fn finished_since(conn: &Db<'_>, since: &str) -> LedgerResult<i64> {
    conn.query_one("SELECT COUNT(*) FROM jobs WHERE finished_at >= ?1", args![since], |r| r.get(0))
}

/// Waiting jobs per job type (held ones included).
pub fn queue_depth(conn: &Db<'_>) -> LedgerResult<Vec<(String, i64)>> {
    conn.query(
        "SELECT job_type, COUNT(*) FROM jobs WHERE status = 'NOT_STARTED' GROUP BY job_type ORDER BY job_type",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Waiting jobs per job type and priority (held ones included): the metrics' queue depth.
pub fn queue_by_priority(conn: &Db<'_>) -> LedgerResult<Vec<(String, i64, i64)>> {
    conn.query(
        "SELECT job_type, priority, COUNT(*) FROM jobs WHERE status = 'NOT_STARTED' GROUP BY job_type, priority",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Running jobs per job type.
pub fn running_by_type(conn: &Db<'_>) -> LedgerResult<Vec<(String, i64)>> {
    conn.query("SELECT job_type, COUNT(*) FROM jobs WHERE status = 'IN_PROGRESS' GROUP BY job_type", args![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}
