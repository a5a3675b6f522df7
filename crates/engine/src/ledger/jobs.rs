//! Jobs and their event timelines. Each function is one state change, meant to run inside one
//! writer operation (and so one atomic transaction), or a read inside one snapshot.
//!
//! Invariants kept here: `seq` runs 1, 2, 3… per job with no gaps; the first event is `queued`;
//! exactly one terminal event ends a timeline and nothing follows it; a job's `status` and its
//! latest event always agree. Every change to an existing job locks its row first (on
//! PostgreSQL; SQLite has one writer), so writers from several processes take turns.
//!
//! A claim gives the job a **lease**: the claiming worker's name, a token (one more than the
//! last claim's) and an end time on the database's clock, renewed while it runs. The worker's
//! writes for the job ([`hold`]) are refused once the token has moved on (the lease ran out and
//! the job was requeued and claimed again): a late worker cannot commit.

use serde_json::{json, Value};

use super::db::{args, Db, DbRow};
use super::{credits, LedgerError, LedgerResult};
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
    /// How many times it was claimed: the token of its current (or last) lease.
    pub lease_token: i64,
    /// The worker holding (or that last held) its lease.
    pub lease_owner: Option<String>,
}

impl JobRow {
    /// Which run of the job this is (1 for the first claim): artifacts of later runs are kept
    /// apart from an earlier run's, which may still be writing (see [`hold`]).
    pub fn attempt(&self) -> i64 {
        self.lease_token.max(1)
    }
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

/// A new job owned, for a dispatch that waits in a commit group ([`super::Ledger::insert_job`]).
#[derive(Debug, Clone)]
pub struct OwnedJob {
    pub public_id: String,
    pub job_type: String,
    pub request: Value,
    pub request_version: u32,
    pub credits_cost: i64,
    pub request_id: String,
    pub api_key_id: Option<String>,
}

impl OwnedJob {
    pub fn as_new(&self) -> NewJob<'_> {
        NewJob {
            public_id: &self.public_id,
            job_type: &self.job_type,
            request: &self.request,
            request_version: self.request_version,
            credits_cost: self.credits_cost,
            request_id: &self.request_id,
            api_key_id: self.api_key_id.as_deref(),
        }
    }
}

/// Who claims: a worker's name and how long its lease lasts before it must be renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub worker: String,
    pub lease_ms: i64,
}

pub(super) const JOB_COLUMNS: &str =
    "public_id, job_type, status, request_json, credits_cost, request_id, created_at, \
     started_at, finished_at, latest_seq, recoveries, cancel_requested, request_version, priority, paused, \
     lease_token, lease_owner";

pub(super) fn job_row(row: &DbRow) -> LedgerResult<JobRow> {
    let status: String = row.get(2)?;
    let request: String = row.get(3)?;
    Ok(JobRow {
        public_id: row.get(0)?,
        job_type: row.get(1)?,
        status: JobStatus::parse(&status).ok_or_else(|| LedgerError::Corrupt(format!("job status {status}")))?,
        request: serde_json::from_str(&request)?,
        credits_cost: row.get(4)?,
        request_id: row.get(5)?,
        created_at: row.get(6)?,
        started_at: row.get(7)?,
        finished_at: row.get(8)?,
        latest_seq: row.get(9)?,
        recoveries: row.get(10)?,
        cancel_requested: row.get(11)?,
        request_version: row.get(12)?,
        priority: row.get(13)?,
        paused: row.get(14)?,
        lease_token: row.get(15)?,
        lease_owner: row.get(16)?,
    })
}

/// Creates a job with its `queued` event and its debit: all three or none.
/// An empty balance is `Rejected` with 402 and writes nothing.
pub fn insert(conn: &Db<'_>, job: &NewJob<'_>) -> LedgerResult<()> {
    let now = now_rfc3339();
    conn.execute(
        "INSERT INTO jobs (public_id, job_type, status, request_json, credits_cost, request_id, api_key_id, \
         created_at, latest_seq, request_version) VALUES (?1, ?2, 'NOT_STARTED', ?3, ?4, ?5, ?6, ?7, 1, ?8)",
        args![
            job.public_id,
            job.job_type,
            job.request.to_string(),
            job.credits_cost,
            job.request_id,
            job.api_key_id,
            now,
            job.request_version
        ],
    )?;
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
    )?;
    // The debit last: it locks the one balance row every dispatch changes, so the lock is held
    // from here to the commit only (an empty balance still rolls the whole dispatch back).
    credits::debit(conn, job.public_id, job.request_id, job.credits_cost).map(|_| ())
}

pub(super) fn insert_event_row(conn: &Db<'_>, job_id: &str, seq: i64, event: &NewEvent, now: &str) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO job_events (job_id, seq, event_type, stage, message, artifacts_json, extra_json, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            job_id,
            seq,
            event.event_type.as_str(),
            event.stage,
            event.message,
            serde_json::to_string(&event.artifacts)?,
            event.extra.to_string(),
            now
        ],
    )?;
    // Other processes following this job (a long-poll on another API server) hear of it at commit.
    conn.notify(&format!("{job_id} {seq} {}", u8::from(event.event_type.is_terminal())))
}

/// Locks and reads a job a worker is about to write for: it must still be running under the
/// lease `token` this worker was given, else the write is [`LedgerError::Fenced`].
pub fn hold(conn: &Db<'_>, job_id: &str, token: i64) -> LedgerResult<JobRow> {
    let job = get_for_update(conn, job_id)?.ok_or_else(|| LedgerError::Corrupt(format!("no job {job_id}")))?;
    if job.status != JobStatus::InProgress || job.lease_token != token {
        return Err(LedgerError::Fenced { job: job_id.to_string() });
    }
    Ok(job)
}

/// Appends a non-terminal event to a job running under lease `token`. Refuses if the job is no
/// longer running (nothing may follow a terminal event) or its lease has moved on.
pub fn append_stage(conn: &Db<'_>, job_id: &str, token: i64, event: &NewEvent) -> LedgerResult<i64> {
    debug_assert!(!event.event_type.is_terminal());
    let seq = hold(conn, job_id, token)?.latest_seq + 1;
    conn.execute("UPDATE jobs SET latest_seq = ?2 WHERE public_id = ?1", args![job_id, seq])?;
    insert_event_row(conn, job_id, seq, event, &now_rfc3339())?;
    Ok(seq)
}

/// Claims up to `n` waiting jobs that are not held, highest priority first and oldest first
/// within a priority: each becomes `IN_PROGRESS` with a `started` stage event and a lease for
/// `by`. Jobs another transaction is claiming are skipped, not waited for.
pub fn claim(conn: &Db<'_>, n: usize, by: &Claimant) -> LedgerResult<Vec<JobRow>> {
    let ids: Vec<String> = conn.query(
        &format!(
            "SELECT public_id FROM jobs WHERE status = 'NOT_STARTED' AND paused = 0 \
             ORDER BY priority DESC, public_id LIMIT ?1{}",
            conn.skip_locked()
        ),
        args![n as i64],
        |r| r.get(0),
    )?;
    let now = now_rfc3339();
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let seq: i64 = conn.query_one(
            &format!(
                "UPDATE jobs SET status = 'IN_PROGRESS', started_at = COALESCE(started_at, ?2), \
                 latest_seq = latest_seq + 1, lease_token = lease_token + 1, lease_owner = ?3, \
                 lease_expires_ms = {} + ?4 WHERE public_id = ?1 RETURNING latest_seq",
                conn.now_ms_sql()
            ),
            args![id, now, by.worker, by.lease_ms],
            |r| r.get(0),
        )?;
        let job = get(conn, &id)?.ok_or_else(|| LedgerError::Corrupt(format!("claimed job {id} vanished")))?;
        let attempt = job.recoveries + 1;
        insert_event_row(
            conn,
            &id,
            seq,
            &NewEvent::stage("started", "started", json!({ "attempt": attempt, "progress": 0.0, "worker": by.worker })),
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

/// Ends a job running under lease `token` with `succeeded`, its final artifacts in the event and
/// the job's result. If a cancel was requested meanwhile the job ends cancelled instead (the
/// caller must then not file its output).
pub fn succeed(
    conn: &Db<'_>,
    job_id: &str,
    token: i64,
    artifacts: Vec<StoredArtifact>,
    extra: Value,
) -> LedgerResult<Ending> {
    let job = hold(conn, job_id, token)?;
    if job.cancel_requested {
        fail(conn, job_id, &JobFailure::cancelled(), json!({}))?;
        return Ok(Ending::Cancelled);
    }
    let seq = job.latest_seq + 1;
    let now = now_rfc3339();
    conn.execute(
        "UPDATE jobs SET status = 'SUCCESS', finished_at = ?2, latest_seq = ?3, paused = 0, lease_expires_ms = NULL \
         WHERE public_id = ?1",
        args![job_id, now, seq],
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
pub fn fail(conn: &Db<'_>, job_id: &str, error: &JobFailure, mut extra: Value) -> LedgerResult<i64> {
    let job = get_for_update(conn, job_id)?.ok_or_else(|| LedgerError::Corrupt(format!("no job {job_id}")))?;
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
        "UPDATE jobs SET status = 'FAILURE', finished_at = ?2, latest_seq = ?3, paused = 0, lease_expires_ms = NULL \
         WHERE public_id = ?1",
        args![job_id, now, seq],
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
/// recovery (capped); a clean shutdown does not count against the job. `extra` adds facts to
/// the event (the worker whose lease ran out).
pub fn requeue(conn: &Db<'_>, job_id: &str, message: &str, count: bool, extra: Value) -> LedgerResult<()> {
    let mut facts = json!({ "crash_recovery": count });
    if let (Value::Object(facts), Value::Object(extra)) = (&mut facts, extra) {
        facts.extend(extra);
    }
    back_to_queue(conn, job_id, count, NewEvent::stage("requeued", message, facts))
}

/// Puts a running job that was paused back in the queue, held, with a `paused` stage event. It
/// starts again from the beginning when resumed (a workflow's state lives on its thread).
pub fn set_aside(conn: &Db<'_>, job_id: &str) -> LedgerResult<()> {
    let message = "paused; it starts again from the beginning when resumed";
    back_to_queue(conn, job_id, false, NewEvent::stage("paused", message, json!({ "paused": true, "progress": 0.0 })))
}

fn back_to_queue(conn: &Db<'_>, job_id: &str, count: bool, event: NewEvent) -> LedgerResult<()> {
    let seq: Option<i64> = conn.query_opt(
        "UPDATE jobs SET status = 'NOT_STARTED', latest_seq = latest_seq + 1, recoveries = recoveries + ?2, \
         lease_expires_ms = NULL WHERE public_id = ?1 AND status = 'IN_PROGRESS' RETURNING latest_seq",
        args![job_id, count as i64],
        |r| r.get(0),
    )?;
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

pub fn request_cancel(conn: &Db<'_>, job_id: &str) -> LedgerResult<CancelOutcome> {
    let job = get_for_update(conn, job_id)?.ok_or_else(|| LedgerError::Rejected(ApiError::job_not_found(job_id)))?;
    match job.status {
        JobStatus::NotStarted => {
            fail(conn, job_id, &JobFailure::cancelled(), json!({}))?;
            Ok(CancelOutcome::EndedNow)
        }
        JobStatus::InProgress => {
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE public_id = ?1", args![job_id])?;
            Ok(CancelOutcome::Requested)
        }
        JobStatus::Success | JobStatus::Failure => Err(LedgerError::Rejected(ApiError::new(
            ErrorCode::JobNotCancellable,
            format!("job {job_id} has already finished ({})", job.status.as_str()),
        ))),
    }
}

/// Jobs left running by a process that died, with how often each was recovered before and the
/// worker that held them.
pub fn interrupted(conn: &Db<'_>) -> LedgerResult<Vec<(String, i64)>> {
    conn.query("SELECT public_id, recoveries FROM jobs WHERE status = 'IN_PROGRESS' ORDER BY public_id", args![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// What another process (or an API server) asked of a running job: stop for good, or pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Nothing,
    Cancel,
    Pause,
    /// The job's lease has moved on to another run: this one must stop without writing.
    Lost,
}

/// What was asked of the run of `job_id` under lease `token`.
pub fn requested(conn: &Db<'_>, job_id: &str, token: i64) -> LedgerResult<Requested> {
    let flags = conn.query_opt(
        "SELECT cancel_requested, paused, lease_token, status FROM jobs WHERE public_id = ?1",
        args![job_id],
        |r| Ok((r.get::<bool>(0)?, r.get::<bool>(1)?, r.get::<i64>(2)?, r.get::<String>(3)?)),
    )?;
    Ok(match flags {
        Some((_, _, held, status)) if held != token || status != JobStatus::InProgress.as_str() => Requested::Lost,
        Some((true, _, _, _)) => Requested::Cancel,
        Some((false, true, _, _)) => Requested::Pause,
        _ => Requested::Nothing,
    })
}

pub fn get(conn: &Db<'_>, job_id: &str) -> LedgerResult<Option<JobRow>> {
    conn.query_opt(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE public_id = ?1"), args![job_id], job_row)
}

/// [`get`], locking the row until the transaction ends: for a change that depends on what it read.
pub fn get_for_update(conn: &Db<'_>, job_id: &str) -> LedgerResult<Option<JobRow>> {
    conn.query_opt(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE public_id = ?1{}", conn.for_update()),
        args![job_id],
        job_row,
    )
}

/// Newest first, optionally filtered by status and job type.
pub fn list(
    conn: &Db<'_>,
    limit: u32,
    offset: u32,
    status: Option<JobStatus>,
    job_type: Option<&str>,
) -> LedgerResult<Vec<JobRow>> {
    conn.query(
        &format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (CAST(?3 AS TEXT) IS NULL OR status = ?3) AND (CAST(?4 AS TEXT) IS NULL OR job_type = ?4) \
             ORDER BY public_id DESC LIMIT ?1 OFFSET ?2"
        ),
        args![limit, offset, status.map(JobStatus::as_str), job_type],
        job_row,
    )
}

fn event_row(row: &DbRow) -> LedgerResult<EventRow> {
    let event_type: String = row.get(1)?;
    let artifacts: String = row.get(4)?;
    let extra: String = row.get(5)?;
    Ok(EventRow {
        seq: row.get(0)?,
        event_type: EventType::parse(&event_type).ok_or_else(|| LedgerError::Corrupt(format!("event {event_type}")))?,
        stage: row.get(2)?,
        message: row.get(3)?,
        artifacts: serde_json::from_str(&artifacts)?,
        extra: serde_json::from_str(&extra)?,
        created_at: row.get(6)?,
    })
}

/// Events with `seq > since`, ascending, at most `limit`.
pub fn events_since(conn: &Db<'_>, job_id: &str, since: i64, limit: u32) -> LedgerResult<Vec<EventRow>> {
    conn.query(
        "SELECT seq, event_type, stage, message, artifacts_json, extra_json, created_at FROM job_events \
         WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        args![job_id, since, limit],
        event_row,
    )
}

pub fn event(conn: &Db<'_>, job_id: &str, seq: i64) -> LedgerResult<Option<EventRow>> {
    conn.query_opt(
        "SELECT seq, event_type, stage, message, artifacts_json, extra_json, created_at FROM job_events \
         WHERE job_id = ?1 AND seq = ?2",
        args![job_id, seq],
        event_row,
    )
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// The job as claimed again (its lease token now `token`), as a second run of it is.
    pub(crate) fn reclaimed(conn: &Db<'_>, job_id: &str, token: i64) -> LedgerResult<usize> {
        conn.execute("UPDATE jobs SET lease_token = ?2 WHERE public_id = ?1", args![job_id, token])
    }

    pub(crate) fn by() -> Claimant {
        Claimant { worker: "test-worker".into(), lease_ms: 60_000 }
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
        let claimed = ledger.write_blocking(|c| claim(c, 5, &by())).unwrap();
        assert_eq!(claimed.len(), 1);
        ledger.write_blocking(|c| append_stage(c, "A", 1, &NewEvent::stage("render", "rendering", json!({})))).unwrap();
        assert_eq!(ledger.write_blocking(|c| succeed(c, "A", 1, vec![], json!({}))).unwrap(), Ending::Succeeded);
        let t = timeline(&ledger, "A");
        assert_eq!(t.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(t[0].1, EventType::Queued);
        assert_eq!(t[3].1, EventType::Succeeded);
        // Nothing may follow a terminal event.
        assert!(ledger.write_blocking(|c| append_stage(c, "A", 1, &NewEvent::stage("x", "x", json!({})))).is_err());
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

    /// Grouped dispatches of `cost` credits, `n` of them spread over `ledgers` at once: how
    /// many were refused with 402, each refusal's sentence checked against `balance_word`.
    fn grouped_on(ledgers: &[std::sync::Arc<Ledger>], prefix: &str, n: usize, cost: i64) -> usize {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let inserts: Vec<_> = (0..n)
                .map(|i| {
                    let ledger = ledgers[i % ledgers.len()].clone();
                    let job = OwnedJob {
                        public_id: format!("{prefix}{i}"),
                        job_type: "EXTRACT".into(),
                        request: json!({"i": i}),
                        request_version: 1,
                        credits_cost: cost,
                        request_id: format!("r-{prefix}{i}"),
                        api_key_id: None,
                    };
                    tokio::spawn(async move { ledger.insert_job(job).await })
                })
                .collect();
            let mut refused = 0;
            for insert in inserts {
                match insert.await.unwrap() {
                    Ok(()) => {}
                    Err(LedgerError::Rejected(e)) if e.code == ErrorCode::InsufficientBalance => refused += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            refused
        })
    }

    /// Two API servers on one PostgreSQL ledger (two writers, each with its own credit
    /// reserve): their groups debit their reserves, yet the balance stays the ledger's sum, a
    /// keyed dispatch the balance row alone cannot pay for sweeps the reserves back, and when
    /// the balance runs out exactly the dispatches it cannot pay for are refused.
    #[test]
    fn two_writers_keep_the_balance_exact_through_their_reserves() {
        if std::env::var("FIGUR_TEST_POSTGRES").is_err() {
            eprintln!("FIGUR_TEST_POSTGRES is not set: reserves are PostgreSQL's (./studio test's second engine pass)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let (a, b) = (Ledger::open(&path).unwrap(), Ledger::open(&path).unwrap());
        let ledgers = [std::sync::Arc::new(a), std::sync::Arc::new(b)];
        ledgers[0].write_blocking(|c| credits::set(c, 1000)).unwrap();
        assert_eq!(grouped_on(&ledgers, "A", 50, 10), 0);
        let (balance, sum, reserved) = ledgers[1]
            .read_blocking(|c| Ok((credits::balance(c)?, credits::ledger_sum(c)?, credits::reserved(c)?)))
            .unwrap();
        assert_eq!((balance, sum), (500, 500));
        assert!(reserved > 0, "the writers hold some credits back");
        // A keyed dispatch (the generic path) for more than the row holds: the reserves come back.
        let row = balance - reserved;
        ledgers[0].write_blocking(move |c| credits::debit(c, "K1", "rk", row + 10).map(|_| ())).unwrap();
        let left = 500 - row - 10;
        assert_eq!(ledgers[0].read_blocking(credits::balance).unwrap(), left);
        // The rest runs out mid-way: exactly the jobs it cannot pay for are refused.
        let refused = grouped_on(&ledgers, "B", 60, 10);
        assert_eq!(refused as i64, 60 - left / 10);
        let (balance, sum) = ledgers[0].read_blocking(|c| Ok((credits::balance(c)?, credits::ledger_sum(c)?))).unwrap();
        assert_eq!((balance, sum), (left % 10, left % 10));
    }

    /// Each debit of a grouped dispatch records the balance after it: one dispatch at a time
    /// (on PostgreSQL the first refills the writer's reserve from the balance row and the rest
    /// are paid from it in one statement each), then twenty at once (in the groups the writer
    /// makes of them) — the balance counted down by each debit in turn, ending at the balance.
    #[test]
    fn each_debit_records_the_balance_after_it() {
        let (_d, ledger) = setup();
        let ledger = std::sync::Arc::new(ledger);
        ledger.write_blocking(|c| credits::set(c, 1000)).unwrap();
        for i in 0..5 {
            assert_eq!(grouped_on(std::slice::from_ref(&ledger), &format!("S{i}-"), 1, 10), 0);
        }
        assert_eq!(grouped_on(std::slice::from_ref(&ledger), "C", 20, 10), 0);
        let debits: Vec<(i64, i64)> = ledger
            .read_blocking(|c| {
                c.query(
                    "SELECT credits, balance_after FROM credit_ledger WHERE kind = 'debit' ORDER BY id",
                    args![],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        let afters: Vec<i64> = debits.iter().map(|d| d.1).collect();
        assert_eq!(afters, (0..25).map(|i| 990 - 10 * i).collect::<Vec<i64>>());
        assert!(debits.iter().all(|d| d.0 == -10));
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 750);
        assert_eq!(ledger.read_blocking(credits::ledger_sum).unwrap(), 750);
    }

    /// Dispatches inserted as a commit group's rows (`Ledger::insert_job`; set-wise on
    /// PostgreSQL): with 25 credits, four 10-credit jobs at once make exactly two jobs, and the
    /// other two get the 402 their dispatch alone would have had; the balance is the ledger's sum.
    #[test]
    fn grouped_dispatches_take_the_balance_exactly_in_turn() {
        let (_d, ledger) = setup();
        let ledger = std::sync::Arc::new(ledger);
        ledger.write_blocking(|c| credits::set(c, 25)).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let results: Vec<LedgerResult<()>> = runtime.block_on(async {
            let inserts: Vec<_> = (0..4)
                .map(|i| {
                    let ledger = ledger.clone();
                    tokio::spawn(async move {
                        let job = OwnedJob {
                            public_id: format!("G{i}"),
                            job_type: "EXTRACT".into(),
                            request: json!({"i": i}),
                            request_version: 1,
                            credits_cost: 10,
                            request_id: format!("r{i}"),
                            api_key_id: None,
                        };
                        ledger.insert_job(job).await
                    })
                })
                .collect();
            let mut results = Vec::new();
            for insert in inserts {
                results.push(insert.await.unwrap());
            }
            results
        });
        let refused: Vec<String> = results
            .iter()
            .filter_map(|r| match r {
                Err(LedgerError::Rejected(e)) if e.code == ErrorCode::InsufficientBalance => Some(e.message.clone()),
                Err(e) => panic!("{e}"),
                Ok(()) => None,
            })
            .collect();
        assert_eq!(refused, ["this job costs 10 credits and the balance is 5"; 2]);
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 5);
        assert_eq!(ledger.read_blocking(credits::ledger_sum).unwrap(), 5);
        let made: Vec<String> = (0..4)
            .map(|i| format!("G{i}"))
            .filter(|id| {
                ledger
                    .read_blocking({
                        let id = id.clone();
                        move |c| get(c, &id)
                    })
                    .unwrap()
                    .is_some()
            })
            .collect();
        assert_eq!(made.len(), 2);
        for id in made {
            let first = ledger.read_blocking(move |c| event(c, &id, 1)).unwrap().unwrap();
            assert_eq!((first.event_type, first.extra["credits_cost"].clone()), (EventType::Queued, json!(10)));
        }
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
        ledger.write_blocking(|c| claim(c, 1, &by())).unwrap();
        assert_eq!(ledger.write_blocking(|c| request_cancel(c, "D")).unwrap(), CancelOutcome::Requested);
        assert_eq!(ledger.write_blocking(|c| succeed(c, "D", 1, vec![], json!({}))).unwrap(), Ending::Cancelled);
        assert_eq!(ledger.read_blocking(|c| get(c, "D")).unwrap().unwrap().status, JobStatus::Failure);
        assert_eq!(ledger.read_blocking(credits::balance).unwrap(), 100);
    }

    #[test]
    fn requeue_counts_only_crashes() {
        let (_d, ledger) = setup();
        dispatch(&ledger, "E", 1).unwrap();
        ledger.write_blocking(|c| claim(c, 1, &by())).unwrap();
        ledger.write_blocking(|c| requeue(c, "E", "shutdown", false, json!({}))).unwrap();
        ledger.write_blocking(|c| claim(c, 1, &by())).unwrap();
        ledger.write_blocking(|c| requeue(c, "E", "crash", true, json!({}))).unwrap();
        let job = ledger.read_blocking(|c| get(c, "E")).unwrap().unwrap();
        assert_eq!((job.status, job.recoveries), (JobStatus::NotStarted, 1));
        let stages: Vec<_> = timeline(&ledger, "E").into_iter().filter_map(|e| e.2).collect();
        assert_eq!(stages, ["started", "requeued", "started", "requeued"]);
    }
}
