//! Where a command works and what every command shares: the data folder and ledger it opens
//! (`--data-dir`, `--ledger`, `--store`), the realm, JSON output, the shutdown signal. Below
//! every command module; it names none of them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use figur_engine::{EngineConfig, LedgerLocation, Mode};

#[derive(Debug, Args)]
pub struct DataDir {
    /// Where the studio keeps its ledger and images [default: $XDG_DATA_HOME/figur-studio]
    #[arg(long, global = true, env = "FIGUR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The ledger: `sqlite` (a file in the data folder, one machine) or a shared PostgreSQL
    /// database, `postgres://user@host:port/db` (farm mode) [default: sqlite]
    #[arg(long, global = true, env = "FIGUR_LEDGER")]
    pub ledger: Option<String>,
    /// Farm mode: the folder every machine mounts (NAS, NFS, SMB) for uploads, renders, the
    /// catalog's images and the signing secret; the same as --data-dir, named for its use.
    #[arg(long, global = true, env = "FIGUR_STORE", conflicts_with = "data_dir")]
    pub store: Option<PathBuf>,
}

/// Which realm a command works on.
#[derive(Debug, Args, Clone, Copy)]
pub struct RealmArg {
    /// Work on the isolated test realm (what sk_test_ keys see).
    #[arg(long)]
    pub test: bool,
}

/// How long a shutdown waits for running jobs to reach a check point and be requeued.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where a command's studio lives: its data folder (in farm mode, the shared store) and its
/// ledger.
#[derive(Debug, Clone)]
pub struct Place {
    pub dir: PathBuf,
    pub ledger: LedgerLocation,
}

impl Place {
    pub(crate) fn from(data: DataDir) -> Result<Place> {
        let ledger = LedgerLocation::parse(data.ledger.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)
            .context("--ledger")?;
        let named = data.store.is_some();
        let dir = match data.store.or(data.data_dir) {
            Some(dir) => refuse_urls(dir, if named { "--store" } else { "--data-dir" })?,
            None if ledger.is_shared() => bail!("a shared ledger needs --store DIR: the folder every machine mounts"),
            None => figur_engine::engine::default_data_dir()
                .context("no --data-dir, FIGUR_DATA_DIR, XDG_DATA_HOME or HOME to place the studio's data in")?,
        };
        Ok(Place { dir, ledger })
    }

    /// An engine configuration for this place (on the system's defaults otherwise).
    pub fn config(&self) -> EngineConfig {
        let mut config = EngineConfig::new(&self.dir);
        config.ledger = self.ledger.clone();
        config
    }

    /// How `figur` names it in messages.
    pub fn describe(&self) -> String {
        match &self.ledger {
            LedgerLocation::Sqlite => format!("data in {}", self.dir.display()),
            LedgerLocation::Postgres { .. } => format!("shared ledger, store in {}", self.dir.display()),
        }
    }
}

/// The engine for a long-running process (a server, a worker): a shared ledger that does not
/// answer yet is waited for — said once, then tried again with a growing pause (at most 30 s)
/// until it answers or Ctrl-C — rather than the process exiting (and a supervisor restarting
/// it in a loop). Anything else fails at once.
pub(crate) async fn open_waiting(place: &Place, config: EngineConfig) -> Result<std::sync::Arc<figur_engine::Engine>> {
    let mut pause = Duration::from_secs(1);
    loop {
        let attempt = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || figur_engine::Engine::open(config)).await?
        };
        match attempt {
            Ok(engine) => return Ok(engine),
            Err(e) if e.is_unreachable() && place.ledger.is_shared() => {
                eprintln!("figur: the shared ledger is not answering ({e}); trying again in {} s", pause.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = tokio::signal::ctrl_c() => bail!("stopped while waiting for the shared ledger"),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e).with_context(|| format!("opening the studio ({})", place.describe())),
        }
    }
}

/// `dir` if it is a folder: a URL (`s3://bucket/prefix`, `https://…`) would otherwise be taken
/// as a relative folder named `s3:` — on a farm, each machine would keep its own images.
fn refuse_urls(dir: PathBuf, flag: &str) -> Result<PathBuf> {
    let text = dir.to_string_lossy();
    match text.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            bail!(
                "{flag} {text}: this build keeps its store in a folder (a local disk, or the mount every \
                 machine of a farm shares); `{scheme}://` stores are not served"
            )
        }
        _ => Ok(dir),
    }
}

pub(crate) fn mode(realm: RealmArg) -> Mode {
    if realm.test {
        Mode::Test
    } else {
        Mode::Live
    }
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}

/// The model cache every command shares (`FIGUR_CACHE_DIR`, else the user's cache folder).
pub fn cache() -> Result<figur_models::Cache> {
    let dir = figur_engine::engine::default_cache_dir()
        .context("no FIGUR_CACHE_DIR, XDG_CACHE_HOME or HOME for the model cache")?;
    Ok(figur_models::Cache::new(dir))
}

/// Runs `work` on a blocking thread with a flag that Ctrl-C sets (long model runs from the
/// shell stop at their next checkpoint instead of being killed mid-write).
pub async fn until_ctrl_c<T: Send + 'static>(
    work: impl FnOnce(std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<T> + Send + 'static,
) -> Result<T> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    tokio::task::spawn_blocking(move || work(stop)).await?
}

/// The execution providers a command was given (`--providers`), else `FIGUR_PROVIDERS`, else auto.
pub fn providers(asked: Option<&str>) -> Result<figur_models::Providers> {
    match asked {
        Some(list) => figur_models::Providers::parse(list),
        None => figur_models::Providers::from_env(),
    }
    .map_err(anyhow::Error::msg)
}
