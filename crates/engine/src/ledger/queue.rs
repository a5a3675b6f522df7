//! Steering the queue: a waiting job's priority, holding it (pause) and letting it go (resume),
//! and the queue in the order the scheduler will take it.
//!
//! The order is the claim's (`jobs::claim`): running jobs, then waiting ones, each by priority
//! (higher first) and age (older first). A held job keeps its place in that order and is skipped by the
//! claim until it is resumed. A change to a waiting job is a durable stage event on its timeline
//! (`priority`, `paused`, `resumed`), so every client following the job sees it; a running job's
//! timeline belongs to its worker, which writes `paused` when it stops.

use serde_json::json;

use super::db::{args, Db};
use super::jobs::{self, insert_event_row, JobRow, NewEvent};
use super::{LedgerError, LedgerResult};
use crate::domain::job::JobStatus;
use crate::error::{ApiError, ErrorCode};
use crate::time::now_rfc3339;

/// The priorities a job can be given; 0 is every dispatch's.
pub const PRIORITIES: std::ops::RangeInclusive<i32> = -100..=100;

/// What a steering change did, so the caller can wake the right parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steered {
    /// A waiting job changed; its event has this seq.
    Waiting(i64),
    /// A running job was asked to pause (or asked not to): its worker must be told.
    Running,
    /// Nothing to change (already so).
    Unchanged,
}

fn unfinished(conn: &Db<'_>, job_id: &str) -> LedgerResult<JobRow> {
    let job =
        jobs::get_for_update(conn, job_id)?.ok_or_else(|| LedgerError::Rejected(ApiError::job_not_found(job_id)))?;
    if job.status.is_terminal() {
        return Err(LedgerError::Rejected(ApiError::new(
            ErrorCode::JobFinished,
            format!(
                "job {job_id} has already finished ({}); only waiting and running jobs can be steered",
                job.status.as_str()
            ),
        )));
    }
    Ok(job)
}

/// Appends a steering event to a waiting job's timeline.
fn note(conn: &Db<'_>, job: &JobRow, stage: &str, message: String, extra: serde_json::Value) -> LedgerResult<i64> {
    let seq = job.latest_seq + 1;
    conn.execute("UPDATE jobs SET latest_seq = ?2 WHERE public_id = ?1", args![job.public_id, seq])?;
    insert_event_row(conn, &job.public_id, seq, &NewEvent::stage(stage, message, extra), &now_rfc3339())?;
    Ok(seq)
}

/// Gives a job a priority (within [`PRIORITIES`]; the caller has checked). A running job keeps
/// running; the priority counts if it ever waits again.
pub fn set_priority(conn: &Db<'_>, job_id: &str, priority: i32) -> LedgerResult<Steered> {
    let job = unfinished(conn, job_id)?;
    if job.priority == priority {
        return Ok(Steered::Unchanged);
    }
    conn.execute("UPDATE jobs SET priority = ?2 WHERE public_id = ?1", args![job_id, priority])?;
    if job.status == JobStatus::InProgress {
        return Ok(Steered::Running);
    }
    let message = format!("priority {priority} (was {})", job.priority);
    Ok(Steered::Waiting(note(conn, &job, "priority", message, json!({ "priority": priority, "progress": 0.0 }))?))
}

/// Holds a job: a waiting one is skipped by the claim from now on; a running one is flagged and
/// stops at its next check point (its worker then sets it aside with [`jobs::set_aside`]).
pub fn pause(conn: &Db<'_>, job_id: &str) -> LedgerResult<Steered> {
    let job = unfinished(conn, job_id)?;
    if job.paused {
        return Ok(Steered::Unchanged);
    }
    conn.execute("UPDATE jobs SET paused = 1 WHERE public_id = ?1", args![job_id])?;
    if job.status == JobStatus::InProgress {
        return Ok(Steered::Running);
    }
    let message = "paused; it waits here until resumed".to_string();
    Ok(Steered::Waiting(note(conn, &job, "paused", message, json!({ "paused": true, "progress": 0.0 }))?))
}

/// Lets a held job go: a waiting one can be claimed again (in its place by priority and age); a
/// running one that was asked to pause and has not stopped yet keeps running.
pub fn resume(conn: &Db<'_>, job_id: &str) -> LedgerResult<Steered> {
    let job = unfinished(conn, job_id)?;
    if !job.paused {
        return Ok(Steered::Unchanged);
    }
    conn.execute("UPDATE jobs SET paused = 0 WHERE public_id = ?1", args![job_id])?;
    if job.status == JobStatus::InProgress {
        return Ok(Steered::Running);
    }
    let message = "resumed; it waits for its turn".to_string();
    Ok(Steered::Waiting(note(conn, &job, "resumed", message, json!({ "paused": false, "progress": 0.0 }))?))
}

/// Unfinished jobs in the order they run: running, then waiting, each by priority and age; held
/// jobs in their places.
pub fn in_order(conn: &Db<'_>, limit: u32, offset: u32) -> LedgerResult<Vec<JobRow>> {
    conn.query(
        &format!(
            "SELECT {} FROM jobs WHERE status IN ('IN_PROGRESS', 'NOT_STARTED') \
             ORDER BY status = 'IN_PROGRESS' DESC, priority DESC, public_id LIMIT ?1 OFFSET ?2",
            jobs::JOB_COLUMNS
        ),
        args![limit, offset],
        jobs::job_row,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::EventType;
    use crate::ledger::jobs::{claim, NewJob};
    use crate::ledger::{credits, Ledger};

    fn setup() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        ledger.write_blocking(|c| credits::set(c, 100)).unwrap();
        (dir, ledger)
    }

    fn dispatch(ledger: &Ledger, id: &'static str) {
        ledger
            .write_blocking(move |c| {
                jobs::insert(
                    c,
                    &NewJob {
                        public_id: id,
                        job_type: "try-on",
                        request: &json!({}),
                        request_version: 1,
                        credits_cost: 1,
                        request_id: "req",
                        api_key_id: None,
                    },
                )
            })
            .unwrap();
    }

    fn claim_one(ledger: &Ledger) -> Option<String> {
        ledger.write_blocking(|c| claim(c, 1, &crate::ledger::jobs::tests::by())).unwrap().pop().map(|j| j.public_id)
    }

    fn order(ledger: &Ledger) -> Vec<String> {
        ledger.read_blocking(|c| in_order(c, 50, 0)).unwrap().into_iter().map(|j| j.public_id).collect()
    }

    #[test]
    fn the_claim_takes_priority_first_then_age_and_skips_held_jobs() {
        let (_dir, ledger) = setup();
        for id in ["01A", "01B", "01C", "01D"] {
            dispatch(&ledger, id);
        }
        ledger.write_blocking(|c| set_priority(c, "01C", 5)).unwrap();
        ledger.write_blocking(|c| pause(c, "01A")).unwrap();
        assert_eq!(order(&ledger), ["01C", "01A", "01B", "01D"], "held jobs keep their place in the list");
        assert_eq!(claim_one(&ledger).as_deref(), Some("01C"));
        assert_eq!(claim_one(&ledger).as_deref(), Some("01B"), "the held 01A is skipped");
        assert_eq!(order(&ledger), ["01C", "01B", "01A", "01D"], "running first");
        ledger.write_blocking(|c| resume(c, "01A")).unwrap();
        assert_eq!(claim_one(&ledger).as_deref(), Some("01A"));
        assert_eq!(claim_one(&ledger).as_deref(), Some("01D"));
        assert_eq!(claim_one(&ledger), None);
    }

    #[test]
    fn steering_a_waiting_job_is_on_its_timeline_with_contiguous_seqs() {
        let (_dir, ledger) = setup();
        dispatch(&ledger, "01A");
        assert_eq!(ledger.write_blocking(|c| set_priority(c, "01A", 3)).unwrap(), Steered::Waiting(2));
        assert_eq!(ledger.write_blocking(|c| set_priority(c, "01A", 3)).unwrap(), Steered::Unchanged);
        assert_eq!(ledger.write_blocking(|c| pause(c, "01A")).unwrap(), Steered::Waiting(3));
        assert_eq!(ledger.write_blocking(|c| pause(c, "01A")).unwrap(), Steered::Unchanged);
        assert_eq!(ledger.write_blocking(|c| resume(c, "01A")).unwrap(), Steered::Waiting(4));
        let events = ledger.read_blocking(|c| jobs::events_since(c, "01A", 0, 50)).unwrap();
        let stages: Vec<_> = events.iter().map(|e| (e.seq, e.event_type, e.stage.clone())).collect();
        assert_eq!(
            stages,
            [
                (1, EventType::Queued, None),
                (2, EventType::Stage, Some("priority".into())),
                (3, EventType::Stage, Some("paused".into())),
                (4, EventType::Stage, Some("resumed".into())),
            ]
        );
        let job = ledger.read_blocking(|c| jobs::get(c, "01A")).unwrap().unwrap();
        assert_eq!((job.latest_seq, job.priority, job.paused), (4, 3, false));
    }

    #[test]
    fn a_running_job_is_flagged_and_set_aside_held_by_its_worker() {
        let (_dir, ledger) = setup();
        dispatch(&ledger, "01A");
        claim_one(&ledger).unwrap();
        assert_eq!(ledger.read_blocking(|c| jobs::requested(c, "01A", 1)).unwrap(), jobs::Requested::Nothing);
        assert_eq!(ledger.write_blocking(|c| pause(c, "01A")).unwrap(), Steered::Running);
        assert_eq!(ledger.read_blocking(|c| jobs::requested(c, "01A", 1)).unwrap(), jobs::Requested::Pause);
        ledger.write_blocking(|c| jobs::set_aside(c, "01A")).unwrap();
        let job = ledger.read_blocking(|c| jobs::get(c, "01A")).unwrap().unwrap();
        assert_eq!((job.status, job.paused, job.recoveries), (JobStatus::NotStarted, true, 0), "not a crash");
        let last = ledger.read_blocking(|c| jobs::event(c, "01A", job.latest_seq)).unwrap().unwrap();
        assert_eq!(last.stage.as_deref(), Some("paused"));
        assert_eq!(claim_one(&ledger), None, "held until resumed");
        ledger.write_blocking(|c| resume(c, "01A")).unwrap();
        assert_eq!(claim_one(&ledger).as_deref(), Some("01A"));
    }

    #[test]
    fn finished_jobs_refuse_to_be_steered_and_unknown_ones_are_not_found() {
        let (_dir, ledger) = setup();
        dispatch(&ledger, "01A");
        ledger.write_blocking(|c| jobs::request_cancel(c, "01A")).unwrap();
        for steer in [pause, resume] {
            let err = ledger.write_blocking(move |c| steer(c, "01A")).unwrap_err();
            assert!(matches!(err, LedgerError::Rejected(ref e) if e.code == ErrorCode::JobFinished), "{err}");
        }
        let err = ledger.write_blocking(|c| set_priority(c, "01A", 1)).unwrap_err();
        assert!(matches!(err, LedgerError::Rejected(ref e) if e.code == ErrorCode::JobFinished));
        let err = ledger.write_blocking(|c| pause(c, "01Z")).unwrap_err();
        assert!(matches!(err, LedgerError::Rejected(ref e) if e.code == ErrorCode::JobNotFound));
    }
}
