//! What `figur farm status` shows: the workers of a shared ledger, the jobs they hold and for
//! how long, the queue by workflow and the recent throughput.

use std::time::Duration;

use serde::Serialize;

use super::Engine;
use crate::auth::Mode;
use crate::error::ApiError;
use crate::ledger::leases::{self, WorkerRow};

/// A worker silent this long is shown as `silent` (it reports every 2 s).
const SILENT_AFTER_MS: i64 = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct FarmStatus {
    pub workers: Vec<FarmWorker>,
    pub running: Vec<LeasedJob>,
    /// Waiting jobs per job type.
    pub queued: Vec<(String, i64)>,
    pub finished_last_minute: i64,
    pub finished_last_10_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FarmWorker {
    #[serde(flatten)]
    pub row: WorkerRow,
    /// `running`, `silent` (no report for a while: dead, hung or cut off) or `stopped`.
    pub health: &'static str,
    /// The jobs it holds leases on now.
    pub jobs: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeasedJob {
    pub job_id: String,
    pub job_type: String,
    pub worker: Option<String>,
    pub lease_token: i64,
    /// Milliseconds until its lease ends unless renewed (negative: ended, about to be requeued).
    pub lease_left_ms: Option<i64>,
    pub recoveries: i64,
}

impl Engine {
    pub async fn farm_status(&self, mode: Mode) -> Result<FarmStatus, ApiError> {
        let now = self.config.clock.now();
        let minute_ago = crate::time::rfc3339(now - Duration::from_secs(60));
        let ten_ago = crate::time::rfc3339(now - Duration::from_secs(600));
        let (workers, running, queued, last_minute, last_ten) = self
            .realm(mode)
            .ledger
            .read(move |c| {
                Ok((
                    leases::workers(c)?,
                    leases::running(c)?,
                    leases::queue_depth(c)?,
                    leases::finished_since(c, &minute_ago)?,
                    leases::finished_since(c, &ten_ago)?,
                ))
            })
            .await?;
        let running: Vec<LeasedJob> = running
            .into_iter()
            .map(|(job, left)| LeasedJob {
                job_id: job.public_id,
                job_type: job.job_type,
                worker: job.lease_owner,
                lease_token: job.lease_token,
                lease_left_ms: left,
                recoveries: job.recoveries,
            })
            .collect();
        let workers = workers
            .into_iter()
            .map(|row| {
                let health = match (row.state.as_str(), row.silent_ms > SILENT_AFTER_MS) {
                    ("stopped", _) => "stopped",
                    (_, true) => "silent",
                    _ => "running",
                };
                let jobs = running.iter().filter(|j| j.worker.as_deref() == Some(row.id.as_str())).count();
                FarmWorker { row, health, jobs }
            })
            .collect();
        Ok(FarmStatus {
            workers,
            running,
            queued,
            finished_last_minute: last_minute,
            finished_last_10_minutes: last_ten,
        })
    }
}
