//! Steering the queue (extensions): the queue in run order, a job's priority, pause and resume;
//! and variations of a job (the same request again with new seeds).
//! The rules live in `ledger::queue`; here a change is written, then the parties it concerns are
//! woken — the job's followers, the scheduler (a resumed or re-prioritised job may now be next),
//! and a running job's worker.

use super::jobs::require;
use super::Engine;
use crate::auth::{Caller, Capability, Mode};
use crate::domain::job::{DispatchAccepted, JobDetail, JobList};
use crate::error::ApiError;
use crate::ids::is_ulid;
use crate::ledger::queue::{self, Steered, PRIORITIES};
use crate::ledger::{jobs as job_rows, LedgerResult};
use crate::workflow::Operation;
use crate::workflow::WorkflowRequest;

/// At most this many variations per request.
pub const MAX_VARIATIONS: u32 = 8;

/// One steering change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Steer {
    Priority(i32),
    Pause,
    Resume,
}

impl Engine {
    /// Unfinished jobs in the order they run: running first, then waiting by priority and age
    /// (held jobs in their places, marked `paused`).
    pub async fn queue(&self, mode: Mode, limit: u32, offset: u32) -> Result<JobList, ApiError> {
        let jobs = self.details(mode, move |c| queue::in_order(c, limit, offset)).await?;
        Ok(JobList { count: jobs.len(), jobs, limit, offset })
    }

    /// Gives a job a priority (-100 to 100; higher runs first, 0 is every dispatch's).
    pub async fn set_priority(&self, caller: &Caller, job_id: &str, priority: i64) -> Result<JobDetail, ApiError> {
        let priority = i32::try_from(priority).ok().filter(|p| PRIORITIES.contains(p)).ok_or_else(|| {
            ApiError::field(
                "body",
                "priority",
                format!("priority must be a whole number from {} to {}", PRIORITIES.start(), PRIORITIES.end()),
                "value_error",
            )
        })?;
        self.steer(caller, job_id, Steer::Priority(priority)).await
    }

    /// Holds a job: a waiting one is not started until resumed; a running one stops at its next
    /// check point and goes back to the queue, held (it starts again from the beginning).
    pub async fn pause(&self, caller: &Caller, job_id: &str) -> Result<JobDetail, ApiError> {
        self.steer(caller, job_id, Steer::Pause).await
    }

    /// Lets a held job go; it runs in its turn.
    pub async fn resume(&self, caller: &Caller, job_id: &str) -> Result<JobDetail, ApiError> {
        self.steer(caller, job_id, Steer::Resume).await
    }

    /// Dispatches `count` new jobs with the request of `job_id` (finished or not), each with a
    /// new random seed where the workflow takes one; workflows without a `seed` field draw from
    /// their job's own id, so a new job is a new draw there too. Each is charged as a dispatch.
    pub async fn vary(
        &self,
        caller: &Caller,
        job_id: &str,
        count: u32,
        request_id: &str,
    ) -> Result<Vec<DispatchAccepted>, ApiError> {
        require(caller, Capability::JobsCreate)?;
        if !(1..=MAX_VARIATIONS).contains(&count) {
            let problem = format!("count must be from 1 to {MAX_VARIATIONS}");
            return Err(ApiError::field("body", "count", problem, "value_error"));
        }
        if !is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let id = job_id.to_string();
        let job = self.realm(caller.mode).ledger.read(move |c| job_rows::get(c, &id)).await?;
        let job = job.ok_or_else(|| ApiError::job_not_found(job_id))?;
        let op = Operation::from_job_type(&job.job_type)
            .ok_or_else(|| ApiError::internal(format!("job {job_id} has an unknown type {}", job.job_type)))?;
        let base = WorkflowRequest::from_stored(op, job.request_version, job.request)
            .map_err(|e| {
                ApiError::new(
                    crate::error::ErrorCode::BadRequest,
                    format!("job {job_id} cannot be varied: {}", e.message()),
                )
            })?
            .to_stored();
        // Seeds below 2^32: scripts in languages whose numbers are doubles read them exactly.
        let seeded = |seed: u32| {
            let mut body = base.clone();
            if let Some(fields) = body.as_object_mut() {
                fields.insert("seed".into(), seed.into());
            }
            body
        };
        // No `seed` in this workflow's request: each new job's id is its new draw.
        let takes_seed = WorkflowRequest::parse(op, seeded(0)).is_ok();
        let mut accepted = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let body = if takes_seed { seeded(rand::random::<u32>()) } else { base.clone() };
            let request = WorkflowRequest::parse(op, body)?;
            accepted.push(self.dispatch_typed(caller, request, request_id).await?);
        }
        Ok(accepted)
    }

    async fn steer(&self, caller: &Caller, job_id: &str, steer: Steer) -> Result<JobDetail, ApiError> {
        require(caller, Capability::JobsCreate)?;
        if !is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let realm = self.realm(caller.mode).clone();
        let id = job_id.to_string();
        let write = move |c: &crate::ledger::Db<'_>| -> LedgerResult<Steered> {
            match steer {
                Steer::Priority(p) => queue::set_priority(c, &id, p),
                Steer::Pause => queue::pause(c, &id),
                Steer::Resume => queue::resume(c, &id),
            }
        };
        let steered = realm.ledger.write(write).await.map_err(ApiError::from)?;
        match steered {
            Steered::Waiting(seq) => {
                realm.bus.publish(job_id, seq, false);
                realm.work.notify_one();
            }
            Steered::Running => {
                // Running here: tell its worker now; elsewhere it reads the ledger's flag.
                if matches!(steer, Steer::Pause | Steer::Resume) {
                    self.scheduler(caller.mode).pause(job_id, steer == Steer::Pause);
                }
            }
            Steered::Unchanged => {}
        }
        self.job(caller.mode, job_id).await
    }
}
