//! Dispatch, read, wait on and cancel jobs.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Engine;
use crate::auth::{Caller, Capability, Mode};
use crate::domain::garments;
use crate::domain::job::{DispatchAccepted, JobDetail, JobEvent, JobEvents, JobList, JobStatus};
use crate::domain::operation::{OperationInfo, OperationList};
use crate::domain::requests::{ModelNeed, Reference, Source};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::ids::is_ulid;
use crate::ledger::jobs::{self as job_rows, CancelOutcome};
use crate::ledger::{catalog, idempotency, renders, uploads, webhooks, LedgerError};
use crate::store::KeyError;
use crate::time::now_unix_ms;
use crate::workflow::WorkflowRequest;
use crate::workflow::{upscale, Operation};

/// Longest `?wait=` a long-poll may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Longest a waiter sleeps between ledger reads.
const POLL_STEP: Duration = Duration::from_secs(1);
/// Most events one page of `GET /v1/jobs/{id}/events` returns.
const EVENTS_PAGE: u32 = 1000;

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub limit: u32,
    pub offset: u32,
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
}

pub(super) fn require(caller: &Caller, capability: Capability) -> Result<(), ApiError> {
    if caller.can(capability) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, format!("this API key lacks the `{}` capability", capability.as_str())))
    }
}

impl Engine {
    pub fn operations(&self) -> OperationList {
        OperationList {
            operations: Operation::ALL
                .into_iter()
                .map(|op| OperationInfo {
                    name: op.name().into(),
                    op_class: op.class(),
                    credits_cost: self.price(op),
                    enabled: self.is_enabled(op),
                })
                .collect(),
        }
    }

    /// Validates, debits and records a job — durable when this returns — and wakes the scheduler.
    ///
    /// Order of checks: capability (403), body (422), references (422), availability (503,
    /// nothing charged), the workflow's own vocabulary (422), idempotency, balance (402).
    pub async fn dispatch(
        &self,
        caller: &Caller,
        op: Operation,
        mut body: Value,
        request_id: &str,
        idempotency_key: Option<&str>,
    ) -> Result<DispatchAccepted, ApiError> {
        require(caller, Capability::JobsCreate)?;
        let started = std::time::Instant::now();
        let answer = async {
            // Only an idempotent dispatch needs the body's fingerprint (the webhook's URL included).
            let body_sha256 = idempotency_key.map(|_| hex::encode(Sha256::digest(body.to_string().as_bytes())));
            let webhook = super::webhooks::take_webhook_url(&mut body)?;
            let request = WorkflowRequest::parse(op, body)?;
            self.dispatch_request(caller, request, request_id, idempotency_key.zip(body_sha256), webhook).await
        }
        .await;
        observe_dispatch(op, started, &answer);
        answer
    }

    /// Dispatches a typed request (the desktop's commands), checked as a parsed body is.
    pub async fn dispatch_typed(
        &self,
        caller: &Caller,
        request: WorkflowRequest,
        request_id: &str,
    ) -> Result<DispatchAccepted, ApiError> {
        require(caller, Capability::JobsCreate)?;
        let (op, started) = (request.operation(), std::time::Instant::now());
        let answer = async { self.dispatch_request(caller, request.checked()?, request_id, None, None).await }.await;
        observe_dispatch(op, started, &answer);
        answer
    }

    /// The checks after the body's, and the durable write. `idempotency`: the key and the
    /// fingerprint of the body it was sent with; `webhook`: where the job's end is POSTed.
    /// This process's metrics in Prometheus' text format, the gauges read from the ledger now.
    pub async fn metrics_text(&self) -> Result<String, ApiError> {
        use crate::ledger::leases;
        let m = &crate::metrics::METRICS;
        m.queue_depth.reset();
        m.jobs_running.reset();
        for mode in [Mode::Live, Mode::Test] {
            let (waiting, running) = self
                .realm(mode)
                .ledger
                .read(|c| Ok((leases::queue_by_priority(c)?, leases::running_by_type(c)?)))
                .await?;
            let workflow = |job_type: &str| {
                Operation::from_job_type(job_type).map_or(job_type.to_string(), |o| o.name().to_string())
            };
            for (job_type, priority, n) in waiting {
                m.queue_depth.with_label_values(&[mode.as_str(), &workflow(&job_type), &priority.to_string()]).set(n);
            }
            for (job_type, n) in running {
                m.jobs_running.with_label_values(&[mode.as_str(), &workflow(&job_type)]).set(n);
            }
        }
        m.read_gpus();
        m.workers.reset();
        if self.realm(Mode::Live).ledger.is_shared() {
            for w in self.realm(Mode::Live).ledger.read(leases::workers).await? {
                m.workers.with_label_values(&[&w.state]).inc();
            }
        }
        Ok(m.text())
    }

    async fn dispatch_request(
        &self,
        caller: &Caller,
        request: WorkflowRequest,
        request_id: &str,
        idempotency: Option<(&str, String)>,
        webhook: Option<String>,
    ) -> Result<DispatchAccepted, ApiError> {
        let op = request.operation();
        let (idempotency_key, body_sha256) = idempotency.unzip();
        // The default models are written in now, so the stored job keeps the ones it was given.
        let request = request.with_defaults(&|| self.model_defaults());
        self.check_references(caller.mode, &request).await?;
        if !self.is_enabled(op) {
            return Err(ApiError::new(
                ErrorCode::OperationDisabled,
                format!("{} is not available in this build of the studio yet; nothing was charged", op.name()),
            ));
        }
        let problems = request.vocabulary();
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
        if let Some(key) = idempotency_key {
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::field("header", "Idempotency-Key", "must be 1 to 255 characters", "value_error"));
            }
        }

        let realm = self.realm(caller.mode).clone();
        let accepted = DispatchAccepted {
            request_id: request_id.to_string(),
            job_id: realm.ids.next_id(),
            status: JobStatus::NotStarted,
            credits_cost: self.price(op),
        };
        let (key_id, idem) = (caller.key_id.clone(), idempotency_key.map(str::to_string));
        let job_type = op.job_type();
        let stored = request.to_stored();
        let answer = accepted.clone();
        let job = job_rows::OwnedJob {
            public_id: answer.job_id.clone(),
            job_type,
            request: stored,
            request_version: op.version(),
            credits_cost: answer.credits_cost,
            request_id: answer.request_id.clone(),
            api_key_id: Some(key_id.clone()),
        };
        if idem.is_none() && webhook.is_none() {
            // A plain dispatch: its job joins the ledger's next commit group as a row of it.
            realm.ledger.insert_job(job).await.map_err(ApiError::from)?;
            realm.work.notify_one();
            return Ok(answer);
        }
        let result = realm
            .ledger
            .write(move |c| {
                let now = now_unix_ms();
                if let (Some(idem), Some(body_sha256)) = (&idem, &body_sha256) {
                    // Another API server answering the same key at this moment waits here for
                    // this one's commit, then finds its answer.
                    idempotency::lock(c, &key_id, idem)?;
                    if let Some(prior) = idempotency::find(c, &key_id, idem, now)? {
                        if prior.operation != op.name() || &prior.body_sha256 != body_sha256 {
                            return Err(LedgerError::Rejected(ApiError::field(
                                "header",
                                "Idempotency-Key",
                                "this key was used with another request body in the last 24 hours",
                                "idempotency_conflict",
                            )));
                        }
                        return Ok(serde_json::from_str::<DispatchAccepted>(&prior.response_json)?);
                    }
                }
                job_rows::insert(c, &job.as_new())?;
                if let Some(url) = &webhook {
                    webhooks::register(c, &answer.job_id, url, &crate::time::now_rfc3339())?;
                }
                if let (Some(idem), Some(body_sha256)) = (&idem, body_sha256) {
                    let remembered = idempotency::Remembered {
                        operation: op.name().into(),
                        body_sha256,
                        response_json: serde_json::to_string(&answer)?,
                    };
                    idempotency::remember(c, &key_id, idem, &remembered, now)?;
                }
                Ok(answer)
            })
            .await
            .map_err(ApiError::from)?;
        if result.job_id == accepted.job_id {
            realm.work.notify_one();
        }
        Ok(result)
    }

    /// Every upload key, catalog id, render id and garment category a request names must exist.
    async fn check_references(&self, mode: Mode, request: &WorkflowRequest) -> Result<(), ApiError> {
        let (models, refs): (Vec<_>, Vec<_>) =
            request.references().into_iter().partition(|r| matches!(r, Reference::ImageModel { .. }));
        let mut model_problems = Vec::new();
        for r in models {
            if let Reference::ImageModel { path, name, builtin, need } = r {
                let cache = self.config.models.cache();
                if !builtin.is_empty() && name == builtin {
                    continue;
                }
                let added = figur_models::brought::list(cache);
                let suitable: Vec<String> =
                    added.iter().filter(|m| need.unmet(m).is_none()).map(|m| m.name.clone()).collect();
                let available = match (builtin, suitable.is_empty()) {
                    ("", true) => "none (add one with `figur models add`)".to_string(),
                    ("", false) => format!("{} (add others with `figur models add`)", suitable.join(", ")),
                    (builtin, _) => {
                        format!(
                            "{} (add one with `figur models add`)",
                            [vec![builtin.to_string()], suitable].concat().join(", ")
                        )
                    }
                };
                let msg = match added.iter().find(|m| m.name == name) {
                    _ if name.is_empty() => {
                        format!("no default model is set for this and none is named; available: {available}")
                    }
                    None if need == ModelNeed::TryOn => format!("no try-on model `{name}`; available: {available}"),
                    None => format!("no image model `{name}`; available: {available}"),
                    Some(m) => match need.unmet(m) {
                        Some(why) => format!("{why}; available: {available}"),
                        None => continue,
                    },
                };
                model_problems.push(FieldError::new("body", &path, msg, "reference_error"));
            }
        }
        if !model_problems.is_empty() {
            return Err(ApiError::validation(model_problems));
        }
        if refs.is_empty() {
            return Ok(());
        }
        let realm = self.realm(mode).clone();
        let memory = self.config.memory.capacity();
        let problems = realm
            .ledger
            .read({
                let realm = realm.clone();
                move |c| {
                    let (mut problems, mut shape_problems) = (Vec::new(), Vec::new());
                    for r in refs {
                        let problem = match &r {
                            Reference::Upload { path, key } => match realm.store.check(key) {
                                Err(KeyError::Missing) => {
                                    Some((path.clone(), format!("no upload has the key `{key}`")))
                                }
                                // The key's shape is a rule `openapi.json` states (a pattern);
                                // everything else here is about what exists.
                                Err(e @ KeyError::Invalid(_)) => {
                                    shape_problems.push(FieldError::new("body", path, e.to_string(), "value_error"));
                                    None
                                }
                                Err(e) => Some((path.clone(), e.to_string())),
                                Ok(_) if uploads::get(c, key)?.is_none() => {
                                    Some((path.clone(), format!("`{key}` is not an uploaded image")))
                                }
                                Ok(_) => None,
                            },
                            Reference::Catalog { path, resource, id } => {
                                match catalog::get(c, resource.as_str(), id)? {
                                    None => {
                                        Some((path.clone(), format!("no catalog {resource} entry has the id `{id}`")))
                                    }
                                    Some(entry) if entry.status == "archived" => {
                                        Some((path.clone(), format!("catalog entry `{id}` is archived")))
                                    }
                                    Some(_) => None,
                                }
                            }
                            Reference::Render { path, id } => renders::get(c, id)?
                                .is_none()
                                .then(|| (path.clone(), format!("no render has the id `{id}`"))),
                            Reference::GarmentCategoryKey { path, key } => garments::by_key(key).is_none().then(|| {
                                (
                                    path.clone(),
                                    format!("unknown garment category `{key}`; one of {}", garments::keys().join(", ")),
                                )
                            }),
                            Reference::GarmentCategoryId { path, id } => garments::by_id(id)
                                .is_none()
                                .then(|| (path.clone(), format!("no garment category has the id `{id}`"))),
                            Reference::ImageModel { .. } => None, // checked above, outside the ledger
                            Reference::Enlarged { path, image, scale } => {
                                // A missing source is said by its own reference.
                                let size = match image {
                                    Source::Upload(key) => uploads::get(c, key)?.map(|u| (u.width, u.height)),
                                    Source::Render(id) => renders::get(c, id)?.map(|r| (r.meta.width, r.meta.height)),
                                };
                                if let Some(why) = size.and_then(|(w, h)| upscale::refusal(w, h, *scale, memory)) {
                                    shape_problems.push(FieldError::new("body", path, why, "too_large"));
                                }
                                None
                            }
                        };
                        if let Some((path, msg)) = problem {
                            problems.push(FieldError::new("body", &path, msg, "reference_error"));
                        }
                    }
                    shape_problems.extend(problems);
                    Ok(shape_problems)
                }
            })
            .await?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(problems))
        }
    }

    pub async fn job(&self, mode: Mode, job_id: &str) -> Result<JobDetail, ApiError> {
        if !is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let id = job_id.to_string();
        let found = self
            .realm(mode)
            .ledger
            .read(move |c| {
                let Some(job) = job_rows::get(c, &id)? else { return Ok(None) };
                let latest = job_rows::event(c, &id, job.latest_seq)?;
                Ok(Some((job, latest)))
            })
            .await?;
        let (job, latest) = found.ok_or_else(|| ApiError::job_not_found(job_id))?;
        Ok(self.job_detail(mode, job, latest))
    }

    pub async fn list_jobs(&self, mode: Mode, filter: JobFilter) -> Result<JobList, ApiError> {
        let f = filter.clone();
        let jobs =
            self.details(mode, move |c| job_rows::list(c, f.limit, f.offset, f.status, f.job_type.as_deref())).await?;
        Ok(JobList { count: jobs.len(), jobs, limit: filter.limit, offset: filter.offset })
    }

    /// The jobs `select` reads, each with its latest event, as the API shows them.
    pub(super) async fn details(
        &self,
        mode: Mode,
        select: impl FnOnce(&crate::ledger::Db<'_>) -> crate::ledger::LedgerResult<Vec<job_rows::JobRow>> + Send + 'static,
    ) -> Result<Vec<JobDetail>, ApiError> {
        let rows = self
            .realm(mode)
            .ledger
            .read(move |c| {
                select(c)?
                    .into_iter()
                    .map(|job| {
                        let latest = job_rows::event(c, &job.public_id, job.latest_seq)?;
                        Ok((job, latest))
                    })
                    .collect::<Result<Vec<_>, LedgerError>>()
            })
            .await?;
        Ok(rows.into_iter().map(|(job, latest)| self.job_detail(mode, job, latest)).collect())
    }

    /// Events with `seq > since`. With `wait`, returns as soon as one exists or after `wait`.
    pub async fn job_events(
        &self,
        mode: Mode,
        job_id: &str,
        since: i64,
        wait: Option<Duration>,
    ) -> Result<JobEvents, ApiError> {
        if !is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let realm = self.realm(mode);
        // Subscribe before reading: a commit between the read and the wait still wakes us.
        let mut woken = wait.map(|_| realm.bus.subscribe(job_id));
        let deadline = wait.map(|w| tokio::time::Instant::now() + w.min(self.config.max_wait));
        loop {
            let id = job_id.to_string();
            let found = realm
                .ledger
                .read(move |c| {
                    let Some(job) = job_rows::get(c, &id)? else { return Ok(None) };
                    Ok(Some((job.latest_seq, job_rows::events_since(c, &id, since, EVENTS_PAGE)?)))
                })
                .await?;
            let (latest_seq, events) = found.ok_or_else(|| ApiError::job_not_found(job_id))?;
            let keep_waiting = match (&mut woken, deadline) {
                (Some(rx), Some(deadline)) if events.is_empty() && tokio::time::Instant::now() < deadline => {
                    // Woken by our own commits at once; changes made by another process (the
                    // CLI) are seen by re-reading at least every POLL_STEP.
                    let step = deadline.min(tokio::time::Instant::now() + POLL_STEP);
                    if let Ok(Err(_)) = tokio::time::timeout_at(step, rx.changed()).await {
                        // The job's channel closed (it ended); wait out the step on a fresh one.
                        *rx = realm.bus.subscribe(job_id);
                        tokio::time::sleep_until(step).await;
                    }
                    true
                }
                _ => false,
            };
            if !keep_waiting {
                return Ok(JobEvents {
                    public_id: job_id.to_string(),
                    events: events.iter().map(|e| self.event(mode, e)).collect(),
                    latest_seq,
                });
            }
        }
    }

    /// Follows a job from after `since` to its end: `on_event` sees every event once, in order;
    /// returns the terminal one. What the desktop, `figur jobs events --follow` and the tools
    /// that run jobs in-process all do.
    pub async fn follow(
        &self,
        mode: Mode,
        job_id: &str,
        mut since: i64,
        mut on_event: impl FnMut(&JobEvent),
    ) -> Result<JobEvent, ApiError> {
        loop {
            let page = self.job_events(mode, job_id, since, Some(MAX_WAIT)).await?;
            for event in page.events {
                since = event.seq;
                on_event(&event);
                if event.event_type.is_terminal() {
                    return Ok(event);
                }
            }
        }
    }

    /// Cancels a job that has not finished: a waiting job ends at once; a running one at its
    /// next check point. Either way it ends `failed` with `JOB_CANCELLED` and a refund.
    pub async fn cancel(&self, caller: &Caller, job_id: &str) -> Result<JobDetail, ApiError> {
        require(caller, Capability::JobsCreate)?;
        if !is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let realm = self.realm(caller.mode).clone();
        let id = job_id.to_string();
        let outcome = realm.ledger.write(move |c| job_rows::request_cancel(c, &id)).await.map_err(ApiError::from)?;
        let detail = self.job(caller.mode, job_id).await?;
        match outcome {
            CancelOutcome::EndedNow => {
                realm.bus.publish(job_id, detail.latest_event.as_ref().map(|e| e.seq).unwrap_or(0), true)
            }
            CancelOutcome::Requested => {
                self.scheduler(caller.mode).cancel(job_id);
            }
        }
        Ok(detail)
    }
}

/// A dispatch's outcome and time, in the metrics.
fn observe_dispatch(op: Operation, started: std::time::Instant, answer: &Result<DispatchAccepted, ApiError>) {
    let m = &crate::metrics::METRICS;
    let outcome = match answer {
        Ok(_) => "accepted",
        Err(e) => e.code.as_str(),
    };
    m.dispatches.with_label_values(&[op.name(), outcome]).inc();
    if answer.is_ok() {
        m.dispatch_seconds.with_label_values(&[op.name()]).observe(started.elapsed().as_secs_f64());
    }
}
