//! Jobs and their event timelines. Each function is one state change, meant to run inside one
//! writer operation (and so one atomic savepoint), or a read on a reader connection.
//!
//! Invariants kept here: `seq` runs 1, 2, 3… per job with no gaps; the first event is `queued`;
//! exactly one terminal event ends a timeline and nothing follows it; a job's `status` and its
//! latest event always agree.

use rusqlite::{params, Connection, Row};
use serde_json::{json, Value};

use super::{credits, optional, LedgerError, LedgerResult};
use crate::domain::job::{EventType, JobStatus, StoredArtifact};
use crate::error::{ApiError, ErrorCode};
use crate::failure::JobFailure;
use crate::time::now_rfc3339;

#[derive(Debug, Clone)]
pub struct JobRow {
    pub public_id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub request: Value,
    pub credits_cost: i64,
    pub request_id: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub latest_seq: i64,
    pub recoveries: i64,
    pub cancel_requested: bool,
    /// The version of the stored request's form (`Operation::version` when it was stored).
    pub request_version: u32,
    /// Higher runs first; equal priorities run oldest first (see [`super::queue`]).
    pub priority: i32,
    /// Held: a waiting job is not claimed; a running one stops at its next check point.
    pub paused: bool,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub event_type: EventType,
    pub stage: Option<String>,
    pub message: String,
    pub artifacts: Vec<StoredArtifact>,
    pub extra: Value,
    pub created_at: String,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub stage: Option<String>,
    pub message: String,
    pub artifacts: Vec<StoredArtifact>,
    pub extra: Value,
}

impl NewEvent {
    pub fn stage(stage: &str, message: impl Into<String>, extra: Value) -> Self {
        NewEvent {
            event_type: EventType::Stage,
            stage: Some(stage.to_string()),
            message: message.into(),
            artifacts: Vec::new(),
            extra,
        }
    }
}

pub struct NewJob<'a> {
    pub public_id: &'a str,
    pub job_type: &'a str,
    pub request: &'a Value,
    /// The version of the request's form (`Operation::version`).
    pub request_version: u32,
    pub credits_cost: i64,
    pub request_id: &'a str,
    pub api_key_id: Option<&'a str>,
}

pub(super) const JOB_COLUMNS: &str =
    "public_id, job_type, status, request_json, credits_cost, request_id, created_at, \
     started_at, finished_at, latest_seq, recoveries, cancel_requested, request_version, priority, paused";

pub(super) fn job_row(row: &Row<'_>) -> rusqlite::Result<(JobRow, String, String)> {
    Ok((
        JobRow {
            public_id: row.get(0)?,
            job_type: row.get(1)?,
            status: JobStatus::NotStarted,
            request: Value::Null,
            credits_cost: row.get(4)?,
            request_id: row.get(5)?,
            created_at: row.get(6)?,
            started_at: row.get(7)?,
            finished_at: row.get(8)?,
            latest_seq: row.get(9)?,
            recoveries: row.get(10)?,
            cancel_requested: row.get::<_, i64>(11)? != 0,
            request_version: row.get(12)?,
            priority: row.get(13)?,
            paused: row.get::<_, i64>(14)? != 0,
        },
        row.get(2)?,
        row.get(3)?,
    ))
}

pub(super) fn finish_job_row((mut job, status, request): (JobRow, String, String)) -> LedgerResult<JobRow> {
    job.status = JobStatus::parse(&status).ok_or_else(|| LedgerError::Corrupt(format!("job status {status}")))?;
    job.request = serde_json::from_str(&request)?;
    Ok(job)
}

/// Creates a job with its `queued` event and its debit: all three or none.
/// An empty balance is `Rejected` with 402 and writes nothing.
pub fn insert(conn: &Connection, job: &NewJob<'_>) -> LedgerResult<()> {
    let now = now_rfc3339();
    credits::debit(conn, job.public_id, job.request_id, job.credits_cost)?;
    conn.prepare_cached(
        "INSERT INTO jobs (public_id, job_type, status, request_json, credits_cost, request_id, api_key_id, \
         created_at, latest_seq, request_version) VALUES (?1, ?2, 'NOT_STARTED', ?3, ?4, ?5, ?6, ?7, 1, ?8)",
    )?
    .execute(params![
        job.public_id,
        job.job_type,
        job.request.to_string(),
        job.credits_cost,
        job.request_id,
        job.api_key_id,
        now,
        job.request_version
    ])?;
    insert_event_row(
        conn,
        job.public_id,
        1,
        &NewEvent {
            event_type: EventType::Queued,
            stage: None,
            message: "queued".into(),
            artifacts: Vec::new(),
            extra: json!({ "credits_cost": job.credits_cost }),
        },
        &now,
    )
}

pub(super) fn insert_event_row(
    conn: &Connection,
    job_id: &str,
    seq: i64,
    event: &NewEvent,
    now: &str,
) -> LedgerResult<()> {
    conn.prepare_cached(
        "INSERT INTO job_events (job_id, seq, event_type, stage, message, artifacts_json, extra_json, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        job_id,
        seq,
        event.event_type.as_str(),
        event.stage,
        event.message,
        serde_json::to_string(&event.artifacts)?,
        event.extra.to_string(),
        now
    ])?;
    Ok(())
}

/// Appends a non-terminal event to a running job. Refuses (rolls back) if the job is no longer
/// running: nothing may follow a terminal event.
pub fn append_stage(conn: &Connection, job_id: &str, event: &NewEvent) -> LedgerResult<i64> {
    debug_assert!(!event.event_type.is_terminal());
    let seq: Option<i64> = optional(conn.query_row(
        "UPDATE jobs SET latest_seq = latest_seq + 1 WHERE public_id = ?1 AND status = 'IN_PROGRESS' \
         RETURNING latest_seq",
        [job_id],
        |r| r.get(0),
    ))?;
    let seq = seq.ok_or_else(|| LedgerError::Corrupt(format!("job {job_id} is not running")))?;
    insert_event_row(conn, job_id, seq, event, &now_rfc3339())?;
    Ok(seq)
}

/// Claims up to `n` waiting jobs that are not held, highest priority first and oldest first
/// within a priority: each becomes `IN_PROGRESS` with a `started` stage event.
pub fn claim(conn: &Connection, n: usize) -> LedgerResult<Vec<JobRow>> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT public_id FROM jobs WHERE status = 'NOT_STARTED' AND paused = 0 \
             ORDER BY priority DESC, public_id LIMIT ?1",
        )?
        .query_map([n as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = now_rfc3339();
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let seq: i64 = conn.query_row(
            "UPDATE jobs SET status = 'IN_PROGRESS', started_at = COALESCE(started_at, ?2), latest_seq = latest_seq + 1 \
             WHERE public_id = ?1 RETURNING latest_seq",
            params![id, now],
            |r| r.get(0),
        )?;
        let job = get(conn, &id)?.ok_or_else(|| LedgerError::Corrupt(format!("claimed job {id} vanished")))?;
        let attempt = job.recoveries + 1;
        insert_event_row(
            conn,
            &id,
            seq,
            &NewEvent::stage("started", "started", json!({ "attempt": attempt, "progress": 0.0 })),
            &now,
        )?;
        claimed.push(job);
    }
    Ok(claimed)
}

/// How a finishing job actually ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// A cancel arrived while it ran: it ends cancelled and refunded, its result discarded.
    Cancelled,
}

/// Ends a running job with `succeeded`, its final artifacts in the event and the job's result.
/// If a cancel was requested meanwhile the job ends cancelled instead (the caller must then not
/// file its output).
pub fn succeed(conn: &Connection, job_id: &str, artifacts: Vec<StoredArtifact>, extra: Value) -> LedgerResult<Ending> {
    let job = get(conn, job_id)?.ok_or_else(|| LedgerError::Corrupt(format!("no job {job_id}")))?;
    if job.status != JobStatus::InProgress {
        return Err(LedgerError::Corrupt(format!("job {job_id} is {:?}, not running", job.status)));
    }
    if job.cancel_requested {
        fail(conn, job_id, &JobFailure::cancelled(), json!({}))?;
        return Ok(Ending::Cancelled);
    }
    let seq = job.latest_seq + 1;
    let now = now_rfc3339();
    conn.execute(
        "UPDATE jobs SET status = 'SUCCESS', finished_at = ?2, latest_seq = ?3, paused = 0 WHERE public_id = ?1",
        params![job_id, now, seq],
    )?;
    insert_event_row(
        conn,
        job_id,
        seq,
        &NewEvent { event_type: EventType::Succeeded, stage: None, message: "succeeded".into(), artifacts, extra },
        &now,
    )?;
    Ok(Ending::Succeeded)
}

/// Ends a job that has not ended with `failed`, `extra.error` and a refund. Returns its seq.
pub fn fail(conn: &Connection, job_id: &str, error: &JobFailure, mut extra: Value) -> LedgerResult<i64> {
    let job = get(conn, job_id)?.ok_or_else(|| LedgerError::Corrupt(format!("no job {job_id}")))?;
    if job.status.is_terminal() {
        return Err(LedgerError::Corrupt(format!("job {job_id} has already ended")));
    }
    let refunded = if error.code.refunds() { job.credits_cost } else { 0 };
    if error.code.refunds() {
        credits::refund(conn, job_id, &job.request_id, refunded)?;
    }
    let seq = job.latest_seq + 1;
    let now = now_rfc3339();
    conn.execute(
        "UPDATE jobs SET status = 'FAILURE', finished_at = ?2, latest_seq = ?3, paused = 0 WHERE public_id = ?1",
        params![job_id, now, seq],
    )?;
    if let Value::Object(map) = &mut extra {
        map.insert("error".into(), json!(error));
        map.insert("refunded_credits".into(), json!(refunded));
    }
    insert_event_row(
        conn,
        job_id,
        seq,
        &NewEvent {
            event_type: EventType::Failed,
            stage: None,
            message: error.message.clone(),
            artifacts: Vec::new(),
            extra,
        },
        &now,
    )?;
    Ok(seq)
}

/// Puts a running job back in the queue with a `requeued` stage event. `count` marks a crash
/// recovery (capped); a clean shutdown does not count against the job.
pub fn requeue(conn: &Connection, job_id: &str, message: &str, count: bool) -> LedgerResult<()> {
    back_to_queue(conn, job_id, count, NewEvent::stage("requeued", message, json!({ "crash_recovery": count })))
}

/// Puts a running job that was paused back in the queue, held, with a `paused` stage event. It
/// starts again from the beginning when resumed (a workflow's state lives on its thread).
pub fn set_aside(conn: &Connection, job_id: &str) -> LedgerResult<()> {
    let message = "paused; it starts again from the beginning when resumed";
    back_to_queue(conn, job_id, false, NewEvent::stage("paused", message, json!({ "paused": true, "progress": 0.0 })))
}

fn back_to_queue(conn: &Connection, job_id: &str, count: bool, event: NewEvent) -> LedgerResult<()> {
    let seq: Option<i64> = optional(conn.query_row(
        "UPDATE jobs SET status = 'NOT_STARTED', latest_seq = latest_seq + 1, recoveries = recoveries + ?2 \
         WHERE public_id = ?1 AND status = 'IN_PROGRESS' RETURNING latest_seq",
        params![job_id, count as i64],
        |r| r.get(0),
    ))?;
    if let Some(seq) = seq {
        insert_event_row(conn, job_id, seq, &event, &now_rfc3339())?;
    }
    Ok(())
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It had not started: it has ended cancelled and refunded already.
    EndedNow,
    /// It is running: it stops at its next check point.
    Requested,
}

pub fn request_cancel(conn: &Connection, job_id: &str) -> LedgerResult<CancelOutcome> {
    let job = get(conn, job_id)?.ok_or_else(|| LedgerError::Rejected(ApiError::job_not_found(job_id)))?;
    match job.status {
        JobStatus::NotStarted => {
            fail(conn, job_id, &JobFailure::cancelled(), json!({}))?;
            Ok(CancelOutcome::EndedNow)
        }
        JobStatus::InProgress => {
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE public_id = ?1", [job_id])?;
            Ok(CancelOutcome::Requested)
        }
        JobStatus::Success | JobStatus::Failure => Err(LedgerError::Rejected(ApiError::new(
            ErrorCode::JobNotCancellable,
            format!("job {job_id} has already finished ({})", job.status.as_str()),
        ))),
    }
}

/// Jobs left running by a process that died, with how often each was recovered before.
pub fn interrupted(conn: &Connection) -> LedgerResult<Vec<(String, i64)>> {
    let rows = conn
        .prepare("SELECT public_id, recoveries FROM jobs WHERE status = 'IN_PROGRESS' ORDER BY public_id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// What another process (or an API server) asked of a running job: stop for good, or pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Nothing,
    Cancel,
    Pause,
}

pub fn requested(conn: &Connection, job_id: &str) -> LedgerResult<Requested> {
    let flags =
        optional(conn.query_row("SELECT cancel_requested, paused FROM jobs WHERE public_id = ?1", [job_id], |r| {
            Ok((r.get::<_, i64>(0)? != 0, r.get::<_, i64>(1)? != 0))
        }))?;
    Ok(match flags {
        Some((true, _)) => Requested::Cancel,
        Some((false, true)) => Requested::Pause,
        _ => Requested::Nothing,
    })
}

pub fn get(conn: &Connection, job_id: &str) -> LedgerResult<Option<JobRow>> {
    let row = optional(
        conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE public_id = ?1"))?
            .query_row([job_id], job_row),
    )?;
    row.map(finish_job_row).transpose()
}

/// Newest first, optionally filtered by status and job type.
pub fn list(
    conn: &Connection,
    limit: u32,
    offset: u32,
    status: Option<JobStatus>,
    job_type: Option<&str>,
) -> LedgerResult<Vec<JobRow>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR job_type = ?4) \
             ORDER BY public_id DESC LIMIT ?1 OFFSET ?2"
        ))?
        .query_map(params![limit, offset, status.map(JobStatus::as_str), job_type], job_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish_job_row).collect()
}

/// An event row's columns before their JSON is parsed.
type RawEvent = (i64, String, Option<String>, String, String, String, String);

fn event_row(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn finish_event_row(
    (seq, event_type, stage, message, artifacts, extra, created_at): RawEvent,
) -> LedgerResult<EventRow> {
    Ok(EventRow {
        seq,
        event_type: EventType::parse(&event_type).ok_or_else(|| LedgerError::Corrupt(format!("event {event_type}")))?,
        stage,
        message,
        artifacts: serde_json::from_str(&artifacts)?,
        extra: serde_json::from_str(&extra)?,
        created_at,
    })
}

/// Events with `seq > since`, ascending, at most `limit`.
pub fn events_since(conn: &Connection, job_id: &str, since: i64, limit: u32) -> LedgerResult<Vec<EventRow>> {
    conn.prepare_cached(
        "SELECT seq, event_type, stage, message, artifacts_json, extra_json, created_at FROM job_events \
         WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?
    .query_map(params![job_id, since, limit], event_row)?
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .map(finish_event_row)
    .collect()
}

pub fn event(conn: &Connection, job_id: &str, seq: i64) -> LedgerResult<Option<EventRow>> {
    optional(
        conn.prepare_cached(
            "SELECT seq, event_type, stage, message, artifacts_json, extra_json, created_at FROM job_events \
             WHERE job_id = ?1 AND seq = ?2",
        )?
        .query_row(params![job_id, seq], event_row),
    )?
    .map(finish_event_row)
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    fn setup() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        ledger.write_blocking(|c| credits::set(c, 100)).unwrap();
        (dir, ledger)
    }

    fn dispatch(ledger: &Ledger, id: &'static str, cost: i64) -> LedgerResult<()> {
        ledger.write_blocking(move |c| {
            insert(
                c,
                &NewJob {
                    public_id: id,
                    job_type: "BACKGROUND_GENERATOR",
                    request: &json!({}),
                    request_version: 1,
                    credits_cost: cost,
                    request_id: "R",
                    api_key_id: None,
                },
            )
        })
    }

    fn timeline(ledger: &Ledger, id: &'static str) -> Vec<(i64, EventType, Option<String>)> {
        ledger
            .read_blocking(|c| events_since(c, id, 0, 1000))
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.event_type, e.stage))
            .collect()
    }

    #[test]
    fn lifecycle_keeps_seq_contiguous_and_credits_balanced() {
        let (_d, ledger) = setup();
        dispatch(&ledger, "A", 30).unwrap();
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 70);
        let claimed = ledger.write_blocking(|c| claim(c, 5)).unwrap();
        assert_eq!(claimed.len(), 1);
        ledger.write_blocking(|c| append_stage(c, "A", &NewEvent::stage("render", "rendering", json!({})))).unwrap();
        assert_eq!(ledger.write_blocking(|c| succeed(c, "A", vec![], json!({}))).unwrap(), Ending::Succeeded);
        let t = timeline(&ledger, "A");
        assert_eq!(t.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(t[0].1, EventType::Queued);
        assert_eq!(t[3].1, EventType::Succeeded);
        // Nothing may follow a terminal event.
        assert!(ledger.write_blocking(|c| append_stage(c, "A", &NewEvent::stage("x", "x", json!({})))).is_err());
        assert!(ledger
            .write_blocking(|c| fail(
                c,
                "A",
                &JobFailure { code: crate::failure::FailureCode::Internal, message: "late".into() },
                json!({})
            ))
            .is_err());
        assert_eq!(timeline(&ledger, "A").len(), 4);
    }

    #[test]
    fn empty_balance_creates_nothing() {
        let (_d, ledger) = setup();
        let err = dispatch(&ledger, "B", 101).unwrap_err();
        assert!(matches!(err, LedgerError::Rejected(ref e) if e.code == ErrorCode::InsufficientBalance));
        assert!(ledger.read_blocking(|c| get(c, "B")).unwrap().is_none());
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 100);
    }

    #[test]
    fn cancel_before_start_ends_and_refunds_at_once_and_finished_jobs_refuse() {
        let (_d, ledger) = setup();
        dispatch(&ledger, "C", 10).unwrap();
        assert_eq!(ledger.write_blocking(|c| request_cancel(c, "C")).unwrap(), CancelOutcome::EndedNow);
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 100);
        let last = ledger.read_blocking(|c| event(c, "C", 2)).unwrap().unwrap();
        assert_eq!(last.extra["error"]["code"], crate::failure::FailureCode::JobCancelled.as_str());
        assert_eq!(last.extra["refunded_credits"], 10);
        let err = ledger.write_blocking(|c| request_cancel(c, "C")).unwrap_err();
        assert!(matches!(err, LedgerError::Rejected(ref e) if e.code == ErrorCode::JobNotCancellable));
    }

    #[test]
    fn cancel_while_running_wins_over_a_late_success() {
        let (_d, ledger) = setup();
        dispatch(&ledger, "D", 10).unwrap();
        ledger.write_blocking(|c| claim(c, 1)).unwrap();
        assert_eq!(ledger.write_blocking(|c| request_cancel(c, "D")).unwrap(), CancelOutcome::Requested);
        assert_eq!(ledger.write_blocking(|c| succeed(c, "D", vec![], json!({}))).unwrap(), Ending::Cancelled);
        assert_eq!(ledger.read_blocking(|c| get(c, "D")).unwrap().unwrap().status, JobStatus::Failure);
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 100);
    }

    #[test]
    fn requeue_counts_only_crashes() {
        let (_d, ledger) = setup();
        dispatch(&ledger, "E", 1).unwrap();
        ledger.write_blocking(|c| claim(c, 1)).unwrap();
        ledger.write_blocking(|c| requeue(c, "E", "shutdown", false)).unwrap();
        ledger.write_blocking(|c| claim(c, 1)).unwrap();
        ledger.write_blocking(|c| requeue(c, "E", "crash", true)).unwrap();
        let job = ledger.read_blocking(|c| get(c, "E")).unwrap().unwrap();
        assert_eq!((job.status, job.recoveries), (JobStatus::NotStarted, 1));
        let stages: Vec<_> = timeline(&ledger, "E").into_iter().filter_map(|e| e.2).collect();
        assert_eq!(stages, ["started", "requeued", "started", "requeued"]);
    }
}
