//! The engine: the one door to Figur Studio. Every transport — the `/v1` HTTP API, the desktop
//! app, the CLI, hot folders — calls these plain async methods; none of them holds logic.

mod account;
pub use account::FirstKey;
mod builtins;
mod catalog_models;
mod compare;
mod farm;
pub mod generative;
pub use farm::{FarmStatus, FarmWorker, LeasedJob};
#[cfg(test)]
mod queue_tests;
pub use catalog_models::NewCatalogModel;
mod jobs;
mod library;
mod present;
mod steering;
mod webhooks;
pub use webhooks::{signature as webhook_signature, WebhookPolicy, WEBHOOK_URL_PATTERN};
#[cfg(test)]
mod steering_tests;
#[cfg(test)]
mod webhook_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use jobs::{JobFilter, MAX_WAIT};
pub use library::RenderFilter;

use crate::auth::Mode;
use crate::budget::MemoryBudget;
use crate::failpoints::FailPoints;
use crate::ledger::jobs::Claimant;
use crate::ledger::{credits, LedgerError, LedgerLocation};
use crate::realm::Realm;
use crate::scheduler::{Registry, Scheduler};
use crate::signing::Signer;
use crate::store::{Bucket, BucketError, Store, StoreLocation};
use crate::workflow::Operation;

#[derive(Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Jobs run at once (CPU workers).
    pub concurrency: usize,
    /// False: jobs wait in the queue and nothing runs them (CLI tools, dispatch benchmarks).
    pub run_jobs: bool,
    /// Balance of a new ledger.
    pub initial_credits: i64,
    /// Price overrides; unlisted workflows cost their default.
    pub prices: BTreeMap<Operation, i64>,
    /// Lifetime of signed artifact URLs.
    pub url_ttl: Duration,
    pub failpoints: Arc<FailPoints>,
    /// Working memory heavy stages share (`FIGUR_MEMORY_BUDGET_MB`).
    pub memory: Arc<MemoryBudget>,
    /// The time the realms keep and where their job and catalog ids come from (the system's
    /// clock and ULIDs; tests inject their own).
    pub clock: Arc<dyn crate::time::Clock>,
    pub ids: Arc<dyn crate::ids::IdSource>,
    /// The workflows this studio runs (all but those `FIGUR_DISABLED_WORKFLOWS` names).
    pub enabled: BTreeSet<Operation>,
    /// The model sessions the workflows share (also used to check catalog model photos).
    pub models: Arc<figur_models::Sessions>,
    /// Derived files kept across data folders (rendered built-ins); `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Where the realms' ledgers live: SQLite files in the data folder (one machine), or a
    /// shared PostgreSQL database (farm mode: the data folder is then the shared store).
    pub ledger: LedgerLocation,
    /// Where the realms keep their files: a folder in the data folder (one machine, or a farm's
    /// mount given as the data folder), or an S3-compatible bucket (`--store s3://…`; the data
    /// folder then keeps only this machine's settings and caches).
    pub store: StoreLocation,
    /// This process as a claimant of jobs: its name (`host-pid` unless set) and how long a
    /// lease lasts unless renewed (a dead worker's jobs wait that long to be requeued).
    pub worker: Claimant,
    /// How webhook deliveries are retried.
    pub webhooks: WebhookPolicy,
    /// The longest a long-poll (`?wait=`) holds before answering with no events: [`MAX_WAIT`]
    /// unless a server bounds it lower (`figur serve --max-wait`, for generated-request tests).
    pub max_wait: Duration,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("data_dir", &self.data_dir)
            .field("concurrency", &self.concurrency)
            .field("run_jobs", &self.run_jobs)
            .field("ledger", &self.ledger)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let cache_dir = default_cache_dir();
        let providers = figur_models::Providers::from_env().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "FIGUR_PROVIDERS is invalid; using auto");
            figur_models::Providers::auto()
        });
        let models = std::sync::Arc::new(figur_models::Sessions::new(
            figur_models::Cache::new(cache_dir.clone().unwrap_or_else(|| PathBuf::from(".figur-cache"))),
            providers,
            Duration::from_secs(300),
        ));
        EngineConfig {
            data_dir: data_dir.into(),
            concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8),
            run_jobs: true,
            initial_credits: 10_000,
            prices: BTreeMap::new(),
            url_ttl: Duration::from_secs(3600),
            failpoints: Arc::new(FailPoints::default()),
            memory: MemoryBudget::from_env(),
            clock: Arc::new(crate::time::SystemClock),
            ids: Arc::new(crate::ids::Ulids),
            enabled: enabled_workflows(),
            models,
            cache_dir,
            ledger: LedgerLocation::Sqlite,
            store: StoreLocation::Folder,
            worker: Claimant { worker: default_worker_name(), lease_ms: DEFAULT_LEASE.as_millis() as i64 },
            webhooks: WebhookPolicy::default(),
            max_wait: MAX_WAIT,
        }
    }
}

/// The window a farm's shared rate limit counts requests in: a key may spend twice its
/// per-second rate in any one, across all the API servers.
pub const SHARED_RATE_WINDOW: Duration = Duration::from_secs(2);

/// How long a lease lasts unless renewed; renewed four times as often.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// `host-pid`: unique among the processes of a farm, and says where to look.
fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}

/// The built-in workflows minus those named in `FIGUR_DISABLED_WORKFLOWS` (comma-separated
/// names): a studio can switch workflows off; dispatching one answers 503 `OPERATION_DISABLED`.
fn enabled_workflows() -> BTreeSet<Operation> {
    let off = std::env::var("FIGUR_DISABLED_WORKFLOWS").unwrap_or_default();
    let off: Vec<&str> = off.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    Operation::ALL.into_iter().filter(|op| !off.contains(&op.name())).collect()
}

/// The content type of [`Engine::metrics_text`] (Prometheus' text format).
pub const METRICS_CONTENT_TYPE: &str = crate::metrics::CONTENT_TYPE;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot use the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] BucketError),
}

impl OpenError {
    /// The shared ledger did not answer (down, restarting, refusing connections for now): a
    /// later try may succeed. A refused login or a malformed address is not this.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            OpenError::Ledger(LedgerError::Database { busy: true, .. })
                | OpenError::Store(BucketError { unreachable: true, .. })
        )
    }
}

pub struct Engine {
    config: EngineConfig,
    live: Arc<Realm>,
    test: Arc<Realm>,
    schedulers: [Arc<Scheduler>; 2],
    signer: Signer,
    workflows: Arc<Registry>,
    /// Worker permits the schedulers share; the catalog-model import takes one too (it is a
    /// job's worth of work done inside a request).
    permits: Arc<Semaphore>,
    public_base: RwLock<String>,
    key_cache: account::KeyCache,
    /// The default models resolved from the data folder's `settings.json` and the added models.
    defaults: crate::settings::ResolvedDefaults,
    /// Set at shutdown: the shared ledger's change listeners stop.
    stop_listening: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("data_dir", &self.config.data_dir).finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (creating if needed) the data folder: both realms' ledgers and stores, the install
    /// secret, the starting balance and the built-in catalog. Starts nothing.
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>, OpenError> {
        let dir = &config.data_dir;
        // Private by default: nothing this process writes is readable by other local users,
        // and a folder an earlier version left open is closed now.
        crate::privacy::private_umask();
        crate::privacy::make_private(dir).map_err(|source| OpenError::DataDir { path: dir.clone(), source })?;
        // A bucket is listed once here: one missing, or credentials it refuses, stop the start.
        let bucket = match &config.store {
            StoreLocation::Folder => None,
            StoreLocation::Bucket(url) => Some(Bucket::connect(url)?),
        };
        let signer = Signer::new(match &bucket {
            None => install_secret(dir)?,
            Some(bucket) => bucket.install_secret()?,
        });
        let realm = |mode: Mode, name: &str| {
            let (clock, ids) = (config.clock.clone(), config.ids.clone());
            let store = match &bucket {
                None => Realm::folder_store(&dir.join(name))?,
                Some(bucket) => Store::in_bucket(bucket.realm(name)),
            };
            Realm::open_at(mode, &dir.join(name), &config.ledger, store, clock, ids).map(Arc::new)
        };
        let (live, test) = (realm(Mode::Live, "live")?, realm(Mode::Test, "test")?);
        for realm in [&live, &test] {
            let initial = config.initial_credits;
            realm.ledger.write_blocking(move |c| credits::ensure_initial(c, initial))?;
        }
        let workflows: Arc<Registry> = Arc::new(config.enabled.clone());
        // The realms share the permits: concurrency is per machine.
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let scheduler = |realm: &Arc<Realm>| {
            let models: Arc<dyn crate::workflow::models::ModelStore> = config.models.clone();
            let shared = (config.failpoints.clone(), config.memory.clone(), models);
            let claimant = config.worker.clone();
            Arc::new(Scheduler::new(realm.clone(), workflows.clone(), permits.clone(), shared, claimant))
        };
        let schedulers = [scheduler(&live), scheduler(&test)];
        Ok(Arc::new(Engine {
            live,
            test,
            schedulers,
            signer,
            workflows,
            permits,
            public_base: RwLock::new(String::new()),
            key_cache: account::KeyCache::default(),
            defaults: crate::settings::ResolvedDefaults::default(),
            stop_listening: Arc::default(),
            config,
        }))
    }

    /// Recovers interrupted jobs, seeds the built-in catalog and starts the schedulers.
    /// Must be called inside a Tokio runtime.
    pub async fn start(self: &Arc<Self>) -> Result<(), LedgerError> {
        // The built-in catalog renders in the background: a few seconds on first start only.
        let (live, test, cache) = (self.live.clone(), self.test.clone(), self.config.cache_dir.clone());
        tokio::task::spawn_blocking(move || match builtins::seed(&[&live, &test], cache.as_deref()) {
            Ok(()) => tracing::debug!("built-in catalog ready"),
            // A short run (one `figur run`) can finish and close the ledger before the seeding
            // does; the next start seeds again, so that is not an error.
            Err(LedgerError::Closed) => tracing::debug!("stopped before the built-in catalog was seeded"),
            Err(e) => tracing::error!(error = %e, "could not seed the built-in catalog"),
        });
        if self.config.ledger.is_shared() {
            self.start_farm_duties();
        }
        self.start_webhook_delivery();
        if !self.config.run_jobs {
            return Ok(());
        }
        for scheduler in &self.schedulers {
            let s = scheduler.clone();
            tokio::task::spawn_blocking(move || s.recover())
                .await
                .map_err(|_| LedgerError::Corrupt("crash recovery panicked".into()))??;
            tokio::spawn(scheduler.clone().run());
        }
        Ok(())
    }

    /// On a shared ledger: hear other processes' commits (each realm's `NOTIFY` feed wakes this
    /// process's long-polls, streams and schedulers), keep leases, requeue expired ones — an API
    /// server that runs no jobs does that too, so a farm whose workers all died still recovers —
    /// and, if this process runs jobs, report it as a worker.
    fn start_farm_duties(self: &Arc<Self>) {
        // Both realms' schemas live in one database: one connection hears both channels.
        let mut by_database: std::collections::BTreeMap<String, Vec<(String, Arc<Realm>)>> = Default::default();
        for realm in [&self.live, &self.test] {
            if let Some((url, channel)) = realm.ledger.change_feed() {
                by_database.entry(url).or_default().push((channel, realm.clone()));
            }
        }
        for (url, feeds) in by_database {
            let channels: Vec<String> = feeds.iter().map(|(c, _)| c.clone()).collect();
            let stop = self.stop_listening.clone();
            let listen = move || {
                crate::ledger::listen(&url, &channels, &stop, &|channel: &str, payload: &str| {
                    let Some((_, realm)) = feeds.iter().find(|(c, _)| c == channel) else { return };
                    let mut parts = payload.split(' ');
                    if let (Some(job), Some(Ok(seq)), Some(terminal)) =
                        (parts.next(), parts.next().map(str::parse::<i64>), parts.next())
                    {
                        realm.bus.publish(job, seq, terminal == "1");
                    }
                    // A dispatch, a requeue or a resume elsewhere: there may be work to claim.
                    realm.work.notify_one();
                })
            };
            if let Err(e) = std::thread::Builder::new().name("figur-ledger-feed".into()).spawn(listen) {
                tracing::error!(error = %e, "cannot follow the shared ledger's changes; long-polls fall back to their timeouts");
            }
        }
        for scheduler in &self.schedulers {
            tokio::spawn(scheduler.clone().maintain_leases());
        }
        let me = self.clone();
        tokio::spawn(async move {
            let window_ms = SHARED_RATE_WINDOW.as_millis() as i64;
            while !me.stop_listening.load(std::sync::atomic::Ordering::SeqCst) {
                let forgot = me.live.ledger.write(move |c| crate::ledger::rates::forget_old(c, window_ms)).await;
                if let Err(e) = forgot {
                    tracing::debug!(error = %e, "could not drop old rate-limit windows");
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        if self.config.run_jobs {
            let me = self.clone();
            tokio::spawn(async move { me.report_worker().await });
        }
    }

    /// Says every few seconds that this worker is alive, with its concurrency and providers.
    async fn report_worker(self: Arc<Self>) {
        let name = self.config.worker.worker.clone();
        let host = name.rsplit_once('-').map(|(h, _)| h.to_string()).unwrap_or_else(|| name.clone());
        let providers: Vec<&str> = self.config.models.providers().order.iter().map(|p| p.name()).collect();
        let providers = providers.join(",");
        let concurrency = self.config.concurrency as i64;
        let mut first = true;
        while !self.stop_listening.load(std::sync::atomic::Ordering::SeqCst) {
            let (name, host, providers) = (name.clone(), host.clone(), providers.clone());
            let beat = self
                .live
                .ledger
                .write(move |c| {
                    let report = crate::ledger::leases::Report {
                        id: &name,
                        host: &host,
                        concurrency,
                        providers: &providers,
                        first,
                    };
                    crate::ledger::leases::heartbeat(c, &report)
                })
                .await;
            match beat {
                Ok(()) => first = false,
                Err(e) => tracing::warn!(error = %e, "could not report this worker to the farm"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Stops taking jobs, requeues the running ones (waiting up to `grace`) and flushes the ledgers.
    pub async fn shutdown(&self, grace: Duration) {
        for scheduler in &self.schedulers {
            scheduler.shutdown(grace).await;
        }
        self.stop_listening.store(true, std::sync::atomic::Ordering::SeqCst);
        if self.config.ledger.is_shared() && self.config.run_jobs {
            let name = self.config.worker.worker.clone();
            let said = self.live.ledger.write(move |c| crate::ledger::leases::stopped(c, &name)).await;
            if let Err(e) = said {
                tracing::warn!(error = %e, "could not tell the farm this worker stopped");
            }
        }
        for realm in [&self.live, &self.test] {
            let ledger = realm.ledger.clone();
            let _ = tokio::task::spawn_blocking(move || ledger.close()).await;
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The model sessions the workflows share (the desktop switches their provider).
    pub fn models(&self) -> &Arc<figur_models::Sessions> {
        &self.config.models
    }

    /// Where signed URLs point (e.g. `http://127.0.0.1:8686`); set once the server is bound.
    /// Where signed URLs point now.
    pub fn public_base(&self) -> String {
        self.public_base.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_public_base(&self, base: &str) {
        *self.public_base.write().unwrap_or_else(|p| p.into_inner()) = base.trim_end_matches('/').to_string();
    }

    pub(crate) fn realm(&self, mode: Mode) -> &Arc<Realm> {
        match mode {
            Mode::Live => &self.live,
            Mode::Test => &self.test,
        }
    }

    fn scheduler(&self, mode: Mode) -> &Arc<Scheduler> {
        match mode {
            Mode::Live => &self.schedulers[0],
            Mode::Test => &self.schedulers[1],
        }
    }

    pub fn price(&self, op: Operation) -> i64 {
        self.config.prices.get(&op).copied().unwrap_or_else(|| op.default_credits())
    }

    /// The studio's settings as they are now (`figur config`, the desktop's Settings).
    pub fn studio_settings(&self) -> crate::settings::StudioSettings {
        crate::settings::load_or_default(&self.config.data_dir)
    }

    /// Sets or clears the default model for a use (checked: added, and able to serve it).
    pub fn set_default_model(
        &self,
        use_: crate::settings::ModelUse,
        name: Option<&str>,
    ) -> Result<crate::settings::StudioSettings, String> {
        crate::settings::set_default_model(&self.config.data_dir, self.config.models.cache(), use_, name)
    }

    /// The diffusion exports added to this studio's model cache, by name.
    pub fn added_models(&self) -> Vec<figur_models::brought::Record> {
        figur_models::brought::list(self.config.models.cache())
    }

    /// Checks the export in `from` and adds it as `name` (what `figur models add` does; blocking:
    /// it hashes every file).
    pub fn add_model(&self, name: &str, from: &Path, licence: &str) -> Result<figur_models::brought::Record, String> {
        figur_models::brought::add(self.config.models.cache(), name, from, licence, &mut |_| {})
            .map_err(|e| e.to_string())
    }

    /// Removes an added model, and any default that named it (a default to a model that is gone
    /// would only fail later, at a dispatch).
    pub fn remove_model(&self, name: &str) -> Result<(), String> {
        let settings = self.studio_settings();
        for (use_, model) in &settings.default_models {
            if model == name {
                self.set_default_model(*use_, None)?;
            }
        }
        match figur_models::brought::remove(self.config.models.cache(), name) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("no model `{name}` is added")),
            Err(e) => Err(format!("`{name}` could not be removed: {e}")),
        }
    }

    /// The default model for each use, as far as the models named are still added.
    pub fn model_defaults(&self) -> crate::settings::ModelDefaults {
        self.defaults.defaults(&self.config.data_dir, self.config.models.cache())
    }

    pub fn is_enabled(&self, op: Operation) -> bool {
        self.workflows.contains(&op)
    }
}

/// The platform's data folder for the studio (`$XDG_DATA_HOME/figur-studio`, else
/// `~/.local/share/figur-studio`); `None` with neither set. The CLI and the desktop share it.
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|base| base.join("figur-studio"))
}

/// The model cache ([`figur_models::Cache::default_root`]).
pub fn default_cache_dir() -> Option<PathBuf> {
    figur_models::Cache::default_root()
}

/// The per-install secret that signs artifact URLs, created on first use (owner-only file).
fn install_secret(dir: &Path) -> Result<[u8; 32], OpenError> {
    let path = dir.join("install.secret");
    let err = |source| OpenError::DataDir { path: path.clone(), source };
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(bytes) = hex::decode(text.trim()) {
            if let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(secret);
            }
        }
    }
    // Several processes may open a new shared data folder at once: the secret is written whole
    // to a file of this process's own and linked into place only if none is there yet, then
    // read back, so every process signs with the one that won.
    let secret: [u8; 32] = rand::random();
    let mine = dir.join(format!(".install.secret.{}", crate::ids::new_id()));
    write_private(&mine, hex::encode(secret).as_bytes()).map_err(err)?;
    let linked = std::fs::hard_link(&mine, &path);
    let _ = std::fs::remove_file(&mine);
    match linked {
        Ok(()) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path).map_err(err)?;
            let bytes = hex::decode(text.trim()).unwrap_or_default();
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| err(std::io::Error::new(std::io::ErrorKind::InvalidData, "install.secret is damaged")))
        }
        Err(e) => Err(err(e)),
    }
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
