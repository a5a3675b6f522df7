//! The scheduler: takes waiting jobs oldest first, runs at most N at once, and ends every job
//! it takes in exactly one terminal event — or puts it back in the queue.
//!
//! - **Claiming** is one ledger write (status, `started` event). The loop sleeps until a dispatch
//!   wakes it (or a periodic tick, which also catches jobs dispatched by other processes).
//! - **Workers** run a workflow on the blocking pool. Its result (artifacts, `succeeded` event,
//!   render or catalog row) commits in one write; any error, panic or cancel commits `failed`
//!   with a refund instead.
//! - **Cancel** flips the job's [`JobControl`]; the workflow stops at its next check point.
//! - **Crash recovery** at start-up: jobs left `IN_PROGRESS` by a dead process are requeued with
//!   a `requeued` event, at most [`MAX_RECOVERIES`] times; then failed and refunded, so a job that
//!   crashes the process cannot crash it forever.
//! - **Farm mode** (a shared PostgreSQL ledger): other processes run jobs too, so a running job
//!   is not "left by a dead process" until its lease ends. Each claim is a lease this process
//!   renews while the job runs ([`Scheduler::renew_leases`]); every process requeues jobs whose
//!   lease ended ([`Scheduler::reclaim_expired`]); a run whose lease moved on stops and writes
//!   nothing (its writes are fenced by the lease token).
//! - **Shutdown** stops claiming, asks running jobs to stop, and requeues them (not counted as a
//!   crash) so the next start runs them again.

use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

use crate::budget::MemoryBudget;
use crate::domain::catalog::RenderOrigin;
use crate::failpoints::{FailPoints, FaultPoint};
use crate::failure::{FailureCode, JobError, JobFailure};
use crate::ledger::catalog::CatalogRow;
use crate::ledger::jobs::{self, Claimant, Ending, JobRow};
use crate::ledger::renders::RenderRow;
use crate::ledger::{leases, Db, LedgerError, LedgerResult};
use crate::realm::Realm;
use crate::workflow::models::ModelStore;
use crate::workflow::Operation;
use crate::workflow::WorkflowRequest;
use crate::workflow::{artifact_folder, Filing, JobContext, JobControl, Output};

pub const MAX_RECOVERIES: i64 = 2;
/// How often the loop looks for work nobody woke it for (dispatches from another process).
const TICK: Duration = Duration::from_millis(500);

/// The workflows this studio runs.
pub type Registry = BTreeSet<Operation>;

pub struct Scheduler {
    realm: Arc<Realm>,
    workflows: Arc<Registry>,
    permits: Arc<Semaphore>,
    failpoints: Arc<FailPoints>,
    memory: Arc<MemoryBudget>,
    models: Arc<dyn ModelStore>,
    /// This process as a claimant: its worker name and its leases' length.
    claimant: Claimant,
    /// The ledger is shared with other processes (farm mode): see the module's notes.
    shared: bool,
    running: Mutex<HashMap<String, Arc<JobControl>>>,
    stopping: AtomicBool,
    stopped: Notify,
    idle: Notify,
}

impl Scheduler {
    pub fn new(
        realm: Arc<Realm>,
        workflows: Arc<Registry>,
        permits: Arc<Semaphore>,
        (failpoints, memory, models): (Arc<FailPoints>, Arc<MemoryBudget>, Arc<dyn ModelStore>),
        claimant: Claimant,
    ) -> Self {
        let shared = realm.ledger.is_shared();
        Scheduler {
            realm,
            workflows,
            permits,
            failpoints,
            memory,
            models,
            claimant,
            shared,
            running: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            stopped: Notify::new(),
            idle: Notify::new(),
        }
    }

    /// Requeues or gives up the jobs a dead process left running. Run before the loop starts.
    /// On a shared ledger only jobs whose lease has ended are left by a dead process.
    pub fn recover(&self) -> LedgerResult<Vec<(String, &'static str)>> {
        if self.shared {
            return self.reclaim_expired();
        }
        let realm = self.realm.clone();
        let outcomes = self.realm.ledger.write_blocking(move |c| {
            let mut outcomes = Vec::new();
            for (id, recoveries) in jobs::interrupted(c)? {
                if recoveries >= MAX_RECOVERIES {
                    let error = JobFailure {
                        code: FailureCode::Internal,
                        message: format!(
                            "the studio stopped unexpectedly {} times while running this job; it was given up",
                            recoveries + 1
                        ),
                    };
                    jobs::fail(c, &id, &error, json!({ "recoveries": recoveries }))?;
                    outcomes.push((id, "failed"));
                } else {
                    let message = format!(
                        "the studio stopped unexpectedly while this job ran; requeued (recovery {} of {MAX_RECOVERIES})",
                        recoveries + 1
                    );
                    jobs::requeue(c, &id, &message, true, json!({}))?;
                    outcomes.push((id, "requeued"));
                }
            }
            Ok(outcomes)
        })?;
        for (id, what) in &outcomes {
            tracing::warn!(realm = realm.mode.as_str(), job = %id, what, "recovered an interrupted job");
            if *what == "requeued" {
                crate::metrics::METRICS.requeues.with_label_values(&["crash"]).inc();
            }
        }
        Ok(outcomes)
    }

    /// Requeues (or gives up) the jobs whose lease ended: their worker died, hangs or lost the
    /// network. Any process may do it; the jobs' rows are locked while it does.
    pub fn reclaim_expired(&self) -> LedgerResult<Vec<(String, &'static str)>> {
        let reclaimed = self.realm.ledger.write_blocking(|c| leases::reclaim_expired(c, MAX_RECOVERIES))?;
        let mut outcomes = Vec::with_capacity(reclaimed.len());
        for r in reclaimed {
            tracing::warn!(
                realm = self.realm.mode.as_str(),
                job = %r.job,
                worker = r.worker.as_deref().unwrap_or("?"),
                what = r.outcome,
                "a job's lease ended"
            );
            if r.outcome == "requeued" {
                crate::metrics::METRICS.requeues.with_label_values(&["lease_ended"]).inc();
            }
            outcomes.push((r.job, r.outcome));
        }
        if !outcomes.is_empty() {
            self.realm.work.notify_one();
        }
        Ok(outcomes)
    }

    /// Extends the leases of the jobs running here; a job whose lease moved on (this process was
    /// too slow, e.g. paused or cut off) is told to stop without writing.
    pub fn renew_leases(&self) -> LedgerResult<usize> {
        let held: Vec<(String, i64)> =
            self.lock_running().iter().map(|(id, control)| (id.clone(), control.lease())).collect();
        if held.is_empty() {
            return Ok(0);
        }
        let lease_ms = self.claimant.lease_ms;
        let renewed = held.len() as u64;
        let lost = self.realm.ledger.write_blocking(move |c| leases::renew(c, &held, lease_ms))?;
        crate::metrics::METRICS.lease_renewals.with_label_values(&[self.realm.mode.as_str()]).inc_by(renewed);
        for id in &lost {
            if let Some(control) = self.lock_running().get(id) {
                tracing::warn!(job = %id, "this worker's lease on the job was taken over; stopping it");
                control.lose();
            }
        }
        Ok(lost.len())
    }

    /// Farm bookkeeping until shutdown: renews this process's leases a few times per lease and
    /// requeues jobs whose lease ended. Only on a shared ledger.
    pub async fn maintain_leases(self: Arc<Self>) {
        if !self.shared {
            return;
        }
        let every = Duration::from_millis((self.claimant.lease_ms / 4).clamp(50, 5_000) as u64);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.stopped.notified() => return,
            }
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let me = self.clone();
            let done = tokio::task::spawn_blocking(move || (me.renew_leases(), me.reclaim_expired())).await;
            if let Ok((Err(e), _) | (_, Err(e))) = done {
                tracing::warn!(error = %e, "could not keep the leases; retrying");
            }
        }
    }

    /// The claim loop; returns once [`Scheduler::shutdown`] is called. A permit is taken only
    /// to run a claimed job, never held while idle: the realms share the permits, and an idle
    /// realm must not starve a busy one.
    ///
    /// The loop waits for a permit on the semaphore itself, which queues its waiters and hands
    /// each released permit to the next: a permit another realm's loop took for a look and
    /// gave back, or a finished job's, always reaches a loop with work waiting. (Waiting on a
    /// "freed" signal instead lost that wake-up whenever the other realm held the permit for its
    /// look at that moment, and a lone worker then idled until the next tick between jobs.)
    pub async fn run(self: Arc<Self>) {
        loop {
            let permit = tokio::select! {
                permit = self.permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return, // closed: the engine is gone
                },
                _ = self.stopped.notified() => return,
            };
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            // Register for new work before looking, so a dispatch meanwhile still wakes us.
            let work = self.realm.work.notified();
            tokio::pin!(work);
            work.as_mut().enable();
            let ledger = self.realm.ledger.clone();
            let claimant = self.claimant.clone();
            match ledger.write(move |c| jobs::claim(c, 1, &claimant)).await {
                Ok(mut claimed) if !claimed.is_empty() => {
                    self.spawn_worker(claimed.remove(0), permit);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not claim a job; retrying"),
            }
            // Nothing to run: the permit goes back for the other realm while this one waits.
            drop(permit);
            tokio::select! {
                _ = &mut work => {}
                _ = tokio::time::sleep(TICK) => {}
                _ = self.stopped.notified() => return,
            }
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    fn spawn_worker(self: &Arc<Self>, job: JobRow, permit: tokio::sync::OwnedSemaphorePermit) {
        self.realm.bus.publish(&job.public_id, job.latest_seq, false);
        if let Some(waited) = crate::metrics::since_rfc3339(&job.created_at) {
            crate::metrics::METRICS.claim_seconds.with_label_values(&[&workflow_name(&job.job_type)]).observe(waited);
        }
        let control = Arc::new(JobControl::leased(job.lease_token));
        self.lock_running().insert(job.public_id.clone(), control.clone());
        let me = self.clone();
        let (id, lease) = (job.public_id.clone(), job.lease_token);
        // A thread of its own, at a lower priority (see `priority`), never a pool thread: the
        // blocking pool also serves ledger reads, which must not inherit the lowered priority.
        let run = move || {
            crate::priority::lower_this_thread();
            let id = job.public_id.clone();
            me.execute(job, control);
            me.lock_running().remove(&id);
            drop(permit);
            me.idle.notify_waiters();
        };
        if let Err(e) = std::thread::Builder::new().name("figur-job".into()).spawn(run) {
            // The closure (and with it the permit) is gone: put the job back in the queue,
            // not counted as a crash, to be claimed again when threads can be made.
            tracing::error!(job = %id, error = %e, "could not start a job thread; queued again");
            self.lock_running().remove(&id);
            let again = id.clone();
            self.realm.ledger.write_detached(move |c| {
                let message = "the studio could not start a worker thread; queued again";
                jobs::hold(c, &again, lease)?;
                jobs::requeue(c, &again, message, false, json!({}))
            });
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<JobControl>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signals a running job to stop at its next check point. False if it is not running here.
    pub fn cancel(&self, job_id: &str) -> bool {
        match self.lock_running().get(job_id) {
            Some(control) => {
                control.cancel();
                true
            }
            None => false,
        }
    }

    /// Asks a running job to pause (`true`) or withdraws the request (`false`). False if it is
    /// not running here (another process runs it: it reads the ledger's flag at a check point).
    pub fn pause(&self, job_id: &str, pause: bool) -> bool {
        match self.lock_running().get(job_id) {
            Some(control) if pause => {
                control.pause();
                true
            }
            Some(control) => {
                control.unpause();
                true
            }
            None => false,
        }
    }

    pub fn running(&self) -> usize {
        self.lock_running().len()
    }

    /// Stops claiming, asks running jobs to stop, and waits up to `grace` for them to be requeued.
    pub async fn shutdown(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stopped.notify_waiters();
        for control in self.lock_running().values() {
            control.shutdown();
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.running() > 0 {
            let idle = self.idle.notified();
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                tracing::warn!(
                    running = self.running(),
                    "jobs still running at shutdown; they will be recovered at next start"
                );
                break;
            }
        }
    }

    /// Runs one claimed job to its end (blocking). Every write for it holds its lease: if the
    /// lease moved on meanwhile, nothing is written (the run that holds it now ends the job).
    fn execute(&self, job: JobRow, control: Arc<JobControl>) {
        let id = job.public_id.clone();
        let lease = control.lease();
        let started = std::time::Instant::now();
        let result = self.run_workflow(&job, control);
        observe_run(&job.job_type, started.elapsed(), &result);
        let store = &self.realm.store;
        let seq = match result {
            Ok(output) => {
                let job = job.clone();
                let catalog_id = self.realm.ids.next_id();
                let ended = self.record_end(&id, move |c| finish(c, &job, lease, &output, &catalog_id));
                if matches!(ended, Some((Ending::Cancelled, _))) {
                    store.remove_files(&artifact_folder(&id, lease));
                }
                ended.map(|(_, seq)| seq)
            }
            Err(JobError::ShutDown) => {
                let id2 = id.clone();
                self.record_end(&id, move |c| {
                    jobs::hold(c, &id2, lease)?;
                    let message = "the studio shut down while this job ran; it will run again at next start";
                    jobs::requeue(c, &id2, message, false, json!({}))?;
                    Ok(jobs::get(c, &id2)?.map(|j| j.latest_seq).unwrap_or(0))
                })
            }
            Err(JobError::Paused) => {
                let id2 = id.clone();
                self.record_end(&id, move |c| {
                    jobs::hold(c, &id2, lease)?;
                    jobs::set_aside(c, &id2)?;
                    Ok(jobs::get(c, &id2)?.map(|j| j.latest_seq).unwrap_or(0))
                })
            }
            Err(JobError::Cancelled) => {
                // This run's files go before its end is written: whoever reads the `failed`
                // event finds them gone. (A later run's files, in their own folders, stay.)
                store.remove_files(&artifact_folder(&id, lease));
                let id2 = id.clone();
                self.record_end(&id, move |c| {
                    jobs::hold(c, &id2, lease)?;
                    jobs::fail(c, &id2, &JobFailure::cancelled(), json!({}))
                })
            }
            Err(JobError::Failed(failure)) => {
                tracing::warn!(job = %id, code = %failure.code, message = %failure.message, "job failed");
                let id2 = id.clone();
                self.record_end(&id, move |c| {
                    jobs::hold(c, &id2, lease)?;
                    jobs::fail(c, &id2, &failure, json!({}))
                })
            }
            Err(JobError::Lost) => {
                tracing::warn!(job = %id, lease, "the job's lease was taken over; this run wrote nothing more");
                None
            }
        };
        if let Some(seq) = seq {
            self.realm.bus.publish(&id, seq, true);
        }
    }

    /// Writes a job's end, retrying: a job must not stay running because of a busy disk or a
    /// database restarting. If every attempt fails, the job stays `IN_PROGRESS` and crash
    /// recovery (or, in a farm, its lease ending) ends it later. A fenced write is not retried.
    fn record_end<T: Send + 'static>(
        &self,
        id: &str,
        write: impl Fn(&Db<'_>) -> LedgerResult<T> + Send + Sync + 'static,
    ) -> Option<T> {
        let write = Arc::new(write);
        for attempt in 0..8u32 {
            let write = write.clone();
            match self.realm.ledger.write_blocking(move |c| write(c)) {
                Ok(value) => return Some(value),
                Err(LedgerError::Fenced { .. }) => {
                    tracing::warn!(job = %id, "the job's lease was taken over; its end was not written by this run");
                    return None;
                }
                Err(e) => {
                    tracing::error!(job = %id, attempt, error = %e, "could not record the job's end; retrying");
                    std::thread::sleep(Duration::from_millis(200 << attempt.min(5)));
                }
            }
        }
        None
    }

    fn run_workflow(&self, job: &JobRow, control: Arc<JobControl>) -> Result<Output, JobError> {
        self.failpoints.hit(FaultPoint::Claim, &job.public_id).map_err(JobError::internal)?;
        let op = Operation::from_job_type(&job.job_type)
            .ok_or_else(|| JobError::internal(format!("unknown job type {}", job.job_type)))?;
        if !self.workflows.contains(&op) {
            return Err(FailureCode::OperationDisabled
                .with(format!("{} is switched off in this studio; nothing was charged", op.name())));
        }
        let request = WorkflowRequest::from_stored(op, job.request_version, job.request.clone())?;
        let mut ctx = JobContext::new(
            job.public_id.clone(),
            self.models.clone(),
            self.realm.clone(),
            control,
            self.failpoints.clone(),
            self.memory.clone(),
            op.stages(),
        );
        let output = match catch_unwind(AssertUnwindSafe(|| request.run(&mut ctx))) {
            Ok(result) => result?,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown".into());
                tracing::error!(job = %job.public_id, panic = %what, "a workflow panicked");
                return Err(JobError::internal(format!("the workflow crashed: {what}")));
            }
        };
        // A cancel that arrives during the last stage still wins (the ledger re-checks too).
        ctx.checkpoint()?;
        self.failpoints.hit(FaultPoint::Finish, &job.public_id).map_err(JobError::internal)?;
        Ok(with_context_facts(output, &mut ctx))
    }
}

/// What the context knows of the run, in the result: the time each stage took, the part of it
/// spent inside model calls, and every model the job ran (`provenance.models`, beside what the
/// workflow itself says of its provenance).
fn with_context_facts(mut output: Output, ctx: &mut JobContext) -> Output {
    output.extra.insert("timings_ms".into(), Value::Object(ctx.timings()));
    output.extra.insert("inference_ms".into(), json!(ctx.inference_ms()));
    let provenance = output.extra.entry("provenance").or_insert_with(|| json!({}));
    if let Value::Object(provenance) = provenance {
        provenance.insert("models".into(), json!(ctx.models_ran()));
    }
    output
}

/// The success write: `succeeded` event with the final artifacts, and the render or catalog row.
fn finish(c: &Db<'_>, job: &JobRow, lease: i64, output: &Output, catalog_id: &str) -> LedgerResult<(Ending, i64)> {
    let mut extra = output.extra.clone();
    extra.insert("progress".into(), json!(1.0));
    if matches!(output.filing, Filing::Catalog { .. }) {
        extra.insert("catalog_public_id".into(), json!(catalog_id));
    }
    let ending = jobs::succeed(c, &job.public_id, lease, output.finals.clone(), Value::Object(extra))?;
    if ending == Ending::Succeeded {
        if let Some(image) = output.finals.first() {
            match &output.filing {
                Filing::Render { origin, category } => crate::ledger::renders::insert(
                    c,
                    &RenderRow {
                        public_id: job.public_id.clone(),
                        job_type: job.job_type.clone(),
                        origin: match origin {
                            RenderOrigin::Compose => "compose".into(),
                            RenderOrigin::Edit => "edit".into(),
                        },
                        category: category.clone(),
                        image_key: image.key.clone(),
                        meta: image.meta.clone(),
                        inputs: job.request.clone(),
                        created_at: String::new(),
                    },
                )?,
                Filing::Catalog { resource, display_name, description, spec } => {
                    crate::ledger::catalog::insert(
                        c,
                        &CatalogRow {
                            public_id: catalog_id.to_string(),
                            resource: resource.as_str().to_string(),
                            status: "active".into(),
                            display_name: display_name.clone(),
                            spec: spec.clone(),
                            description: description.clone(),
                            image_key: image.key.clone(),
                            meta: image.meta.clone(),
                            generation_job_public_id: Some(job.public_id.clone()),
                            builtin: false,
                            created_at: String::new(),
                        },
                    )?;
                }
            }
        }
    }
    let seq = jobs::get(c, &job.public_id)?.map(|j| j.latest_seq).unwrap_or(0);
    Ok((ending, seq))
}

/// `TRY_ON` → `try-on` (an unknown job type as it is).
fn workflow_name(job_type: &str) -> String {
    Operation::from_job_type(job_type).map_or_else(|| job_type.to_string(), |op| op.name().to_string())
}

/// A run's time and outcome, and each stage's time for a success, in the metrics.
fn observe_run(job_type: &str, took: Duration, result: &Result<Output, JobError>) {
    let m = &crate::metrics::METRICS;
    let workflow = workflow_name(job_type);
    let outcome = match result {
        Ok(_) => "succeeded",
        Err(JobError::Failed(_)) => "failed",
        Err(JobError::Cancelled) => "cancelled",
        Err(JobError::ShutDown) => "shut_down",
        Err(JobError::Paused) => "paused",
        Err(JobError::Lost) => "lost",
    };
    m.job_seconds.with_label_values(&[&workflow, outcome]).observe(took.as_secs_f64());
    if matches!(result, Err(JobError::ShutDown)) {
        m.requeues.with_label_values(&["shutdown"]).inc();
    }
    if let Ok(output) = result {
        if let Some(Value::Object(stages)) = output.extra.get("timings_ms") {
            for (stage, ms) in stages {
                if let Some(ms) = ms.as_f64() {
                    m.stage_seconds.with_label_values(&[&workflow, stage]).observe(ms / 1000.0);
                }
            }
        }
    }
}
