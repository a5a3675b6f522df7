//! What a running job sees: stage reporting, cancellation checks and artifact storage.

use crate::domain::catalog::CatalogResource;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::models::{Model, ModelKind, ModelSource, ModelStore, ModelUse, Timed};
use super::Stage;
use crate::budget::{MemoryBudget, Reservation};
use crate::domain::job::{ArtifactMeta, ArtifactRole, StoredArtifact};
use crate::failpoints::{FailPoints, FaultPoint};
use crate::failure::{FailureCode, JobError};
use crate::ledger::jobs::{self, NewEvent};
use crate::realm::Realm;
use figur_models::diffusion::Export;
use figur_pixels::vision::{decode, encode};
use image::RgbImage;

/// How often a running job re-reads its cancel flag from the ledger (a cancel from another
/// process, such as `figur jobs cancel`, arrives that way).
pub(crate) const LEDGER_CANCEL_POLL: Duration = Duration::from_millis(200);

/// How long a stage's event waits for a busy or restarting ledger before the job fails.
const LEDGER_BUSY_PATIENCE: Duration = Duration::from_secs(30);

/// A running job's stop signal, set by a cancel, a pause, a shutdown or a lost lease.
#[derive(Debug)]
pub struct JobControl {
    state: AtomicU8,
    /// The token of the lease this run holds (see `ledger::jobs::hold`): its writes carry it.
    lease: i64,
}

impl Default for JobControl {
    /// A run under the first lease a job is given (its first claim).
    fn default() -> Self {
        JobControl::leased(1)
    }
}

impl JobControl {
    const RUN: u8 = 0;
    const CANCEL: u8 = 1;
    const SHUTDOWN: u8 = 2;
    const PAUSE: u8 = 3;
    const LOST: u8 = 4;

    /// The control of a run holding lease `token`.
    pub fn leased(token: i64) -> Self {
        JobControl { state: AtomicU8::new(Self::RUN), lease: token }
    }

    pub fn lease(&self) -> i64 {
        self.lease
    }

    pub fn cancel(&self) {
        let _ = self.state.compare_exchange(Self::RUN, Self::CANCEL, Ordering::SeqCst, Ordering::SeqCst);
    }
    pub fn shutdown(&self) {
        let _ = self.state.compare_exchange(Self::RUN, Self::SHUTDOWN, Ordering::SeqCst, Ordering::SeqCst);
    }
    /// Asks the job to stop and go back to the queue, held (see `ledger::queue`).
    pub fn pause(&self) {
        let _ = self.state.compare_exchange(Self::RUN, Self::PAUSE, Ordering::SeqCst, Ordering::SeqCst);
    }
    /// Withdraws a pause the job has not acted on yet.
    pub fn unpause(&self) {
        let _ = self.state.compare_exchange(Self::PAUSE, Self::RUN, Ordering::SeqCst, Ordering::SeqCst);
    }
    /// The lease has moved on: stop without writing, whatever else was asked.
    pub fn lose(&self) {
        self.state.store(Self::LOST, Ordering::SeqCst);
    }
    fn state(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
    }
}

pub struct JobContext {
    job_id: String,
    models: Arc<dyn ModelStore>,
    ran: Vec<ModelUse>,
    seed_hint: u64,
    realm: Arc<Realm>,
    control: Arc<JobControl>,
    failpoints: Arc<FailPoints>,
    memory: Arc<MemoryBudget>,
    stages: &'static [Stage],
    current: Option<(String, Instant)>,
    timings: serde_json::Map<String, Value>,
    /// Time spent inside model calls, shared with every model handed out (see [`Timed`]).
    inference: Arc<AtomicU64>,
    artifacts: u32,
    /// When the ledger was last read for a cancel, on the realm's clock.
    last_ledger_check: std::time::SystemTime,
}

impl ModelSource for JobContext {
    fn model(&mut self, kind: ModelKind) -> Result<Model, JobError> {
        JobContext::model(self, kind)
    }

    fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Model>, JobError> {
        JobContext::optional_model(self, kind)
    }

    fn checkpoint(&mut self) -> Result<(), JobError> {
        JobContext::checkpoint(self)
    }
}

impl JobContext {
    pub(crate) fn new(
        job_id: String,
        models: Arc<dyn ModelStore>,
        realm: Arc<Realm>,
        control: Arc<JobControl>,
        failpoints: Arc<FailPoints>,
        memory: Arc<MemoryBudget>,
        stages: &'static [Stage],
    ) -> Self {
        let last_ledger_check = realm.clock.now();
        let digest = Sha256::digest(job_id.as_bytes());
        let seed_hint = u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]));
        JobContext {
            job_id,
            models,
            ran: Vec::new(),
            seed_hint,
            realm,
            control,
            failpoints,
            memory,
            stages,
            current: None,
            timings: serde_json::Map::new(),
            inference: Arc::default(),
            artifacts: 0,
            last_ledger_check,
        }
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// A seed derived from the job id: stable across crash recovery, distinct per job.
    pub fn default_seed(&self) -> u64 {
        self.seed_hint
    }

    /// The model of `kind`, opened on the configured provider; recorded in the job's provenance.
    pub fn model(&mut self, kind: ModelKind) -> Result<Model, JobError> {
        let opening = Instant::now();
        let model = self.models.get(kind)?;
        observe_open(kind, opening);
        self.record(kind, &model);
        Ok(self.timed(model))
    }

    /// `model`, its calls counted in the job's `inference_ms`.
    fn timed(&self, model: Model) -> Model {
        Arc::new(Timed { model, total_us: self.inference.clone() })
    }

    /// Milliseconds spent inside model calls so far: the part of a job a faster CPU path cannot
    /// shorten, reported beside `timings_ms`.
    pub fn inference_ms(&self) -> f64 {
        self.inference.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Opens the model of `kind` and begins `stage` saying which model runs where —
    /// "`doing` (`id` on `provider`)" — with `model`, `provider` and `model_sha256` added to
    /// `extra`.
    pub fn stage_with_model(
        &mut self,
        stage: Stage,
        kind: ModelKind,
        doing: &str,
        mut extra: Value,
    ) -> Result<Model, JobError> {
        let model = self.model(kind)?;
        let (id, provider) = (kind.id(), model.provider());
        if let Value::Object(facts) = &mut extra {
            facts.insert("model".into(), id.into());
            facts.insert("provider".into(), provider.into());
            facts.insert("model_sha256".into(), model.sha256().into());
        }
        self.stage_with(stage, format!("{doing} ({id} on {provider})"), Vec::new(), extra)?;
        Ok(model)
    }

    /// An opt-in model: `None` when it is not installed (other errors are errors).
    pub fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Model>, JobError> {
        let opening = Instant::now();
        let model = self.models.get_installed(kind)?;
        if model.is_some() {
            observe_open(kind, opening);
        }
        if let Some(model) = &model {
            self.record(kind, model);
        }
        Ok(model.map(|m| self.timed(m)))
    }

    /// The diffusion export the user added as `name`, opened on the configured provider;
    /// recorded in provenance under its name with the digest of its files.
    pub fn diffusion_model(&mut self, name: &str) -> Result<Arc<Export>, JobError> {
        let export = self.models.export(name)?;
        if !self.ran.iter().any(|m| m.id == name) {
            self.ran.push(ModelUse {
                id: name.to_string(),
                sha256: export.digest.clone(),
                provider: export.provider.name().to_string(),
            });
        }
        Ok(export)
    }

    fn record(&mut self, kind: ModelKind, model: &Model) {
        if !self.ran.iter().any(|m| m.id == kind.id()) {
            self.ran.push(ModelUse {
                id: kind.id().to_string(),
                sha256: model.sha256().to_string(),
                provider: model.provider().to_string(),
            });
        }
    }

    /// Every model this job has run, in the order first used.
    pub fn models_ran(&self) -> &[ModelUse] {
        &self.ran
    }

    /// Reserves working memory for a heavy stage from the budget all running jobs share, waiting
    /// (cancellably) while other jobs hold it. Keep the reservation alive for the stage.
    pub fn reserve_memory(&mut self, bytes: u64) -> Result<Reservation, JobError> {
        let started = Instant::now();
        let mut logged = false;
        loop {
            self.checkpoint()?;
            if let Some(held) = self.memory.reserve(bytes, LEDGER_CANCEL_POLL) {
                if logged {
                    let waited = started.elapsed().as_millis() as u64;
                    self.timings.insert("memory_wait_ms".into(), json!(waited));
                }
                return Ok(held);
            }
            if !logged {
                logged = true;
                tracing::info!(job = %self.job_id, need_mib = bytes >> 20, in_use_mib = self.memory.in_use() >> 20,
                    budget_mib = self.memory.capacity() >> 20, "waiting for memory other jobs hold");
            }
        }
    }

    /// The whole memory budget the running jobs share, in bytes.
    pub fn memory_capacity(&self) -> u64 {
        self.memory.capacity()
    }

    /// Reads an image from the store and decodes it to RGB, its peak memory (see
    /// [`decode::decode_cost`]) reserved from the shared budget first.
    pub fn read_image(&mut self, key: &str) -> Result<RgbImage, JobError> {
        let bytes = self.read_store(key)?;
        let _memory = self.reserve_memory(decode::decode_cost(&bytes))?;
        Ok(decode::decode(&bytes)?)
    }

    /// Stops here if the job was cancelled or paused or the studio is shutting down. Cheap: call
    /// it often.
    pub fn checkpoint(&mut self) -> Result<(), JobError> {
        match self.control.state() {
            JobControl::CANCEL => return Err(JobError::Cancelled),
            JobControl::SHUTDOWN => return Err(JobError::ShutDown),
            JobControl::PAUSE => return Err(JobError::Paused),
            JobControl::LOST => return Err(JobError::Lost),
            _ => {}
        }
        let now = self.realm.clock.now();
        if now.duration_since(self.last_ledger_check).unwrap_or_default() >= LEDGER_CANCEL_POLL {
            // Another process (the CLI, another server) may have asked through the ledger.
            self.last_ledger_check = now;
            let id = self.job_id.clone();
            let lease = self.control.lease();
            let asked = self.realm.ledger.read_blocking(|c| jobs::requested(c, &id, lease));
            match asked.unwrap_or(jobs::Requested::Nothing) {
                jobs::Requested::Cancel => {
                    self.control.cancel();
                    return Err(JobError::Cancelled);
                }
                jobs::Requested::Pause => {
                    self.control.pause();
                    return Err(JobError::Paused);
                }
                jobs::Requested::Lost => {
                    self.control.lose();
                    return Err(JobError::Lost);
                }
                jobs::Requested::Nothing => {}
            }
        }
        Ok(())
    }

    /// Begins stage `name`: a durable `stage` event with progress, after a cancellation check.
    pub fn stage(&mut self, name: Stage, message: impl Into<String>) -> Result<(), JobError> {
        self.stage_with(name, message, Vec::new(), json!({}))
    }

    /// Like [`JobContext::stage`], attaching intermediate artifacts and extra facts.
    pub fn stage_with(
        &mut self,
        stage: Stage,
        message: impl Into<String>,
        artifacts: Vec<StoredArtifact>,
        extra: Value,
    ) -> Result<(), JobError> {
        self.close_stage();
        self.checkpoint()?;
        self.failpoints.hit(FaultPoint::AnyStage, &self.job_id).map_err(JobError::internal)?;
        self.failpoints.hit(FaultPoint::Stage(stage), &self.job_id).map_err(JobError::internal)?;
        self.append_stage_event(stage, 0.0, message.into(), artifacts, extra)?;
        self.current = Some((stage.as_str().to_string(), Instant::now()));
        Ok(())
    }

    /// Progress within the current stage (`done` of `total`: a denoising step), after a
    /// cancellation check: a durable `stage` event of the same name whose `progress` moves
    /// between the stage's start and the next's, with `step` and `steps` in its extra.
    pub fn stage_step(
        &mut self,
        stage: Stage,
        done: usize,
        total: usize,
        message: impl Into<String>,
        artifacts: Vec<StoredArtifact>,
    ) -> Result<(), JobError> {
        self.checkpoint()?;
        let fraction = done as f64 / total.max(1) as f64;
        self.append_stage_event(stage, fraction, message.into(), artifacts, json!({"step": done, "steps": total}))
    }

    fn append_stage_event(
        &mut self,
        stage: Stage,
        within: f64,
        message: String,
        artifacts: Vec<StoredArtifact>,
        extra: Value,
    ) -> Result<(), JobError> {
        let name = stage.as_str();
        debug_assert!(self.stages.contains(&stage), "stage {name} is not in the workflow's STAGES");
        let index = self.stages.iter().position(|s| *s == stage).unwrap_or(self.stages.len());
        let mut extra = match extra {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let count = self.stages.len().max(1) as f64;
        extra.insert("progress".into(), json!((index as f64 + within.clamp(0.0, 1.0)) / count));
        extra.insert("stage_index".into(), json!(index));
        extra.insert("stage_count".into(), json!(self.stages.len()));
        let event = NewEvent::stage(name, message, Value::Object(extra));
        let event = NewEvent { artifacts, ..event };
        let (id, lease) = (self.job_id.clone(), self.control.lease());
        // A database restarting (farm mode) is waited out, as long as a lease lasts at most;
        // anything else fails the job at once.
        let mut waited = Duration::ZERO;
        let seq = loop {
            let (id, event) = (id.clone(), event.clone());
            match self.realm.ledger.write_blocking(move |c| jobs::append_stage(c, &id, lease, &event)) {
                Err(crate::ledger::LedgerError::Database { busy: true, .. }) if waited < LEDGER_BUSY_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(250));
                    waited += Duration::from_millis(250);
                }
                other => break other.map_err(ledger_failure)?,
            }
        };
        self.realm.bus.publish(&self.job_id, seq, false);
        Ok(())
    }

    fn close_stage(&mut self) {
        if let Some((name, start)) = self.current.take() {
            self.timings.insert(name, json!(start.elapsed().as_secs_f64() * 1000.0));
        }
    }

    /// Milliseconds per stage so far, closing the current one.
    pub fn timings(&mut self) -> serde_json::Map<String, Value> {
        self.close_stage();
        self.timings.clone()
    }

    /// The bytes of a store file of this job's realm (an upload, a render, a catalog image).
    pub fn read_store(&self, key: &str) -> Result<Vec<u8>, JobError> {
        self.realm.store.read(key).map_err(|e| FailureCode::InputUnreadable.with(format!("cannot read {key}: {e}")))
    }

    /// Writes a file of the realm's store that is no artifact of this job (a cache file).
    pub fn store_put(&self, key: &str, bytes: &[u8]) -> Result<(), crate::store::StoreError> {
        self.realm.store.put(key, bytes)
    }

    /// The realm's store folder: what tells two studios' caches apart in one process.
    pub fn store_label(&self) -> String {
        self.realm.store.describe()
    }

    /// The store key of a render's image.
    pub fn render_image_key(&self, id: &str) -> Result<String, JobError> {
        let id = id.to_string();
        let row = self.realm.ledger.read_blocking(|c| crate::ledger::renders::get(c, &id)).map_err(ledger_failure)?;
        row.map(|r| r.image_key).ok_or_else(|| FailureCode::InputUnreadable.with("the source render no longer exists"))
    }

    /// The store key of a catalog entry's image.
    pub fn catalog_image_key(&self, resource: CatalogResource, id: &str) -> Result<String, JobError> {
        self.catalog_entry(resource, id).map(|(_, key)| key)
    }

    /// A catalog entry's spec and image key.
    pub fn catalog_entry(&self, resource: CatalogResource, id: &str) -> Result<(serde_json::Value, String), JobError> {
        let (resource_owned, id_owned) = (resource.to_string(), id.to_string());
        let row = self
            .realm
            .ledger
            .read_blocking(|c| crate::ledger::catalog::get(c, &resource_owned, &id_owned))
            .map_err(ledger_failure)?;
        row.map(|r| (r.spec, r.image_key))
            .ok_or_else(|| FailureCode::InputUnreadable.with(format!("catalog {resource} entry {id} no longer exists")))
    }

    /// The newest active catalog model (studio-added before built-in): `(public_id, image key)`.
    pub fn default_catalog_model(&self) -> Result<Option<(String, String)>, JobError> {
        let rows = self
            .realm
            .ledger
            .read_blocking(|c| {
                crate::ledger::catalog::list(c, CatalogResource::Models.as_str(), Some("active"), None, 1, 0)
            })
            .map_err(ledger_failure)?;
        Ok(rows.into_iter().next().map(|r| (r.public_id, r.image_key)))
    }

    /// Encodes `image` as PNG into the store as this job's next artifact.
    pub fn save_png(
        &mut self,
        image: &image::DynamicImage,
        kind: &str,
        role: ArtifactRole,
        label: impl Into<String>,
    ) -> Result<StoredArtifact, JobError> {
        let use_ = match role {
            ArtifactRole::Final => encode::Use::Final,
            ArtifactRole::Intermediate => encode::Use::Intermediate,
        };
        let bytes = encode::png(image, use_)
            .map_err(|e| JobError::internal(format!("could not encode the {kind} image: {e}")))?;
        self.artifacts += 1;
        let folder = artifact_folder(&self.job_id, self.control.lease());
        let key = format!("{folder}/{}-{}.png", self.artifacts, kind.replace('_', "-"));
        // Hashing a 4K render takes as long as writing it: both at once.
        let (sha256, stored) =
            rayon::join(|| hex::encode(Sha256::digest(&bytes)), || self.realm.store.put_new(&key, &bytes));
        stored.map_err(|e| {
            if e.is_disk_full() {
                FailureCode::DiskFull.with("the studio's disk is full; free some space and run the job again")
            } else if e.is_remote() {
                FailureCode::StoreUnavailable.with(format!("the image store did not take the {kind} image: {e}"))
            } else {
                JobError::internal(format!("could not store the {kind} image: {e}"))
            }
        })?;
        Ok(StoredArtifact {
            key,
            kind: kind.to_string(),
            role,
            label: label.into(),
            meta: ArtifactMeta { width: image.width(), height: image.height(), mime: "image/png".into(), sha256 },
        })
    }
}

/// The time a model took to open (loaded the first time, found loaded after), in the metrics.
fn observe_open(kind: ModelKind, since: Instant) {
    crate::metrics::METRICS.model_open_seconds.with_label_values(&[kind.id()]).observe(since.elapsed().as_secs_f64());
}

pub(crate) fn ledger_failure(e: crate::ledger::LedgerError) -> JobError {
    if let crate::ledger::LedgerError::Fenced { .. } = e {
        JobError::Lost
    } else if e.is_disk_full() {
        FailureCode::DiskFull.with("the studio's disk is full; free some space and run the job again")
    } else {
        JobError::internal(format!("the ledger refused a write: {e}"))
    }
}

/// Where the run of `job_id` under lease `token` keeps its files: `artifacts/<job>` for its first
/// run, `artifacts/<job>/run-<token>` for a later one (after a lost lease, a requeue or a pause),
/// so an earlier run still writing never meets a later one's files, and a stored artifact is
/// never overwritten.
pub fn artifact_folder(job_id: &str, token: i64) -> String {
    match token {
        ..=1 => format!("artifacts/{job_id}"),
        n => format!("artifacts/{job_id}/run-{n}"),
    }
}
