//! The command line, as clap types.

pub use crate::place::{DataDir, RealmArg};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "figur", version, about = "Figur Studio: local fashion imagery engine and /v1 API")]
pub struct Cli {
    #[command(flatten)]
    pub data: DataDir,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one workflow: upload files, dispatch, follow the stages, download the results.
    Run(crate::run::RunArgs),
    /// Run a workflow over many images (files and folders) with a recipe; resumable.
    Batch(crate::batch::BatchArgs),
    /// Watch a hot folder: every image dropped in becomes a job of its recipe.
    Watch(crate::watch::WatchArgs),
    /// Serve the /v1 API (loopback only unless --allow-remote).
    Serve(ServeArgs),
    /// Farm mode: run jobs from a shared ledger without serving HTTP (`--ledger postgres://…
    /// --store DIR`); SIGTERM drains (running jobs go back to the queue).
    Worker(WorkerArgs),
    /// Farm mode: the workers, their leases and jobs, the queue by workflow, throughput.
    #[command(subcommand)]
    Farm(FarmCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect and cancel jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Show or set the credit balance.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// The catalog: add owned model photos (an extension of the /v1 API).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Install, check and remove the models and ONNX Runtime.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Make a picture with a diffusion model you added (`figur models add`): checks an export.
    Generate(crate::generate::GenerateArgs),
    /// Enlarge a picture 2× or 4× with Real-ESRGAN (`figur models fetch realesrgan-x4plus`).
    Upscale(crate::upscale::UpscaleArgs),
    /// The studio's settings: the default model each use takes (`figur config set
    /// default-model.background-generator sd15`); without a subcommand, lists them.
    Config {
        #[command(subcommand)]
        command: Option<ConfigCommand>,
    },
    /// Report the runtime, execution providers and each model's state.
    Doctor {
        /// Execution providers to check, e.g. `cuda,cpu` [default: FIGUR_PROVIDERS, else auto]
        #[arg(long)]
        providers: Option<String>,
    },
    /// Fetch the sample photos (tests, benchmarks, contact sheet) and print where they are.
    Samples,
    /// Render every workflow on real photos into one PNG to look at.
    ContactSheet {
        /// Where to write the sheet.
        #[arg(long, default_value = "contact-sheet.png")]
        out: PathBuf,
        /// Photos to use [default: the sample photos, see `figur samples`].
        photos: Vec<PathBuf>,
    },
    /// Render every technical flat (category × pattern × material) into one PNG to look at.
    FlatSheet {
        #[arg(long, default_value = "flats.png")]
        out: PathBuf,
        /// Tile width in pixels.
        #[arg(long, default_value_t = 64)]
        tile: u32,
    },
    /// Print the OpenAPI 3.1 document.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// How workflows call an added model, where it differs from Stable Diffusion's 25 steps at
/// guidance 7.5.
#[derive(Debug, Args)]
pub struct Tuning {
    /// Denoising steps workflows run with this model (refinement runs the last share of them).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Classifier-free guidance workflows use with this model (≤ 1: no negative prompt).
    #[arg(long)]
    pub guidance: Option<f32>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting and its value.
    List,
    /// One setting's value.
    Get { key: String },
    /// Sets `default-model.<background-generator|model-generator|refine|harmonize>` to an added
    /// model (checked: added, and with a VAE encoder for refine and harmonize).
    Set { key: String, value: String },
    /// Clears a setting.
    Unset { key: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8686")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (and any Host header). Needs --tls-cert and
    /// --tls-key, or --insecure-http on purpose.
    #[arg(long)]
    pub allow_remote: bool,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve other machines over plain HTTP anyway (a trusted network, or a proxy in front that
    /// ends TLS): keys and images cross the network readable.
    #[arg(long, requires = "allow_remote", conflicts_with = "tls_cert")]
    pub insecure_http: bool,
    /// Jobs run at once [default: the number of cores, at most 8].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Requests per second per API key, and per client address for requests without a valid key
    /// (bursts of twice that); 0 turns the limit off.
    #[arg(long, default_value_t = 100)]
    pub rate_limit: u32,
    /// Accept and queue jobs without running them (for measuring dispatch alone).
    #[arg(long)]
    pub paused: bool,
    /// Serve the API and leave the jobs to `figur worker`s on the same shared ledger.
    #[arg(long, conflicts_with = "paused")]
    pub no_run: bool,
    /// How long a claimed job's lease lasts unless renewed, in seconds (farm mode): a worker
    /// that dies has its jobs requeued this long after its last renewal.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
    /// The longest a long-poll (`?wait=`) holds, in seconds, at most 30; a lower bound answers
    /// sooner (generated-request tests use it so that long-polls never stall them).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub max_wait: u64,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once [default: the number of cores, at most 8].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// This worker's name in the farm [default: host-pid].
    #[arg(long)]
    pub name: Option<String>,
    /// How long a claimed job's lease lasts unless renewed, in seconds.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
    /// Serve this worker's metrics (Prometheus' text format, `GET /metrics`, no key) on this
    /// address, e.g. `127.0.0.1:9464` (or the farm's private network).
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum FarmCommand {
    /// Workers (alive, silent, stopped), running jobs with their leases, queue depth by
    /// workflow and jobs finished in the last minutes.
    Status {
        #[command(flatten)]
        realm: RealmArg,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; the key itself is printed as the last line, and shown only once.
    Create {
        #[command(flatten)]
        realm: RealmArg,
        /// Comma-separated: jobs:create, jobs:read.
        #[arg(long, value_delimiter = ',', default_value = "jobs:create,jobs:read")]
        capabilities: Vec<String>,
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (prefixes only; keys themselves are never stored).
    List,
    /// Revoke a key by id or by its printed prefix.
    Revoke { key: String },
    /// Print the secret webhook receivers check signatures with (`whsec_…`, Standard Webhooks;
    /// every server on this data folder or shared store signs with it).
    WebhookSecret,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        #[command(flatten)]
        realm: RealmArg,
        /// NOT_STARTED, IN_PROGRESS, SUCCESS or FAILURE.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show a job as JSON.
    Show {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// A job's webhook and its delivery attempts, as JSON.
    Webhooks {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// Print a job's events; --follow waits for new ones until the job ends.
    Events {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
        #[arg(long, default_value_t = 0)]
        since: i64,
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a job that has not finished (a running server stops it within a second).
    Cancel {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// The queue in the order it runs: running jobs, then waiting ones by priority and age.
    Queue {
        #[command(flatten)]
        realm: RealmArg,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Give a waiting job a priority from -100 to 100 (higher runs first; every job starts at 0).
    Priority {
        id: String,
        #[arg(allow_hyphen_values = true)]
        priority: i64,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// Hold a job: a waiting one is not started until resumed; a running one stops within a
    /// second and waits, held (it starts again from the beginning when resumed).
    Pause {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// Let a held job go; it runs in its turn.
    Resume {
        id: String,
        #[command(flatten)]
        realm: RealmArg,
    },
    /// Dispatch a job's request again with new seeds, COUNT times (1–8); prints the new job ids.
    Vary {
        id: String,
        #[arg(long, default_value_t = 3)]
        count: u32,
        #[command(flatten)]
        realm: RealmArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Print the balance.
    Show {
        #[command(flatten)]
        realm: RealmArg,
    },
    /// Set the balance.
    Set {
        balance: i64,
        #[command(flatten)]
        realm: RealmArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Add a photo you own as a catalog model (one person, full or three-quarter body).
    AddModel {
        photo: PathBuf,
        /// The name shown in the catalog.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// MALE or FEMALE.
        #[arg(long)]
        gender: Option<String>,
        #[command(flatten)]
        realm: RealmArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the models, their licences and whether each is installed.
    List,
    /// Install ONNX Runtime and models (the default set when no id is given); idempotent.
    Fetch {
        ids: Vec<String>,
        /// Accept the licence of an opt-in model (shown when it is needed).
        #[arg(long)]
        accept_license: bool,
        /// Also fetch ONNX Runtime's GPU build (CUDA provider; 255 MB download).
        #[arg(long)]
        gpu: bool,
    },
    /// Re-hash each installed model and run it against its golden output.
    Verify {
        ids: Vec<String>,
        /// Print the golden lines for a manifest instead of comparing (when adding a model).
        #[arg(long)]
        print_golden: bool,
    },
    /// Add a model you bring: a diffusers → ONNX export in Optimum's layout
    /// (`optimum-cli export onnx --model …`), checked, copied into the cache and hashed.
    Add {
        /// The name workflows and `figur generate` will use (a-z, 0-9, '.', '_', '-').
        name: String,
        /// The export's folder.
        #[arg(long, required_unless_present = "from_hub", conflicts_with = "from_hub")]
        from: Option<PathBuf>,
        /// Download the export from a Hugging Face-compatible hub (FIGUR_HUB_URL, default the
        /// public hub; a token from HF_TOKEN): OWNER/REPO or OWNER/REPO@REVISION. Resumable.
        #[arg(long, value_name = "OWNER/REPO[@REV]")]
        from_hub: Option<String>,
        /// The folder inside the hub repository that holds the export.
        #[arg(long, requires = "from_hub")]
        subfolder: Option<String>,
        /// The model's licence, as you were given it (shown by `figur models list`); from the
        /// hub, the model card's licence when this is not given.
        #[arg(long)]
        license: Option<String>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Set an added model's own steps and guidance (SD-Turbo: `--steps 4 --guidance 0`).
    Tune {
        name: String,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Remove an installed or added model.
    Remove { id: String },
}
