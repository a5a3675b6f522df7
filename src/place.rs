//! Where a command works and what every command shares: the data folder and ledger it opens
//! (`--data-dir`, `--ledger`, `--store`), the realm, JSON output, the shutdown signal. Below
//! every command module; it names none of them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use figur_engine::{BucketUrl, EngineConfig, LedgerLocation, Mode, StoreLocation};

#[derive(Debug, Args)]
pub struct DataDir {
    /// Where the studio keeps its ledger and images [default: $XDG_DATA_HOME/figur-studio]
    #[arg(long, global = true, env = "FIGUR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The ledger: `sqlite` (a file in the data folder, one machine) or a shared PostgreSQL
    /// database, `postgres://user@host:port/db` (farm mode) [default: sqlite]
    #[arg(long, global = true, env = "FIGUR_LEDGER")]
    pub ledger: Option<String>,
    /// Farm mode: where uploads, renders, the catalog's images and the signing secret live.
    /// A folder every machine mounts (NAS, NFS, SMB: the same as --data-dir, named for its
    /// use), or an S3-compatible bucket, `s3://bucket/prefix` (endpoint, region and credentials
    /// from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; --data-dir
    /// then keeps this machine's settings)
    #[arg(long, global = true, env = "FIGUR_STORE")]
    pub store: Option<String>,
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
    pub store: StoreLocation,
}

impl Place {
    pub(crate) fn from(data: DataDir) -> Result<Place> {
        let ledger = LedgerLocation::parse(data.ledger.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)
            .context("--ledger")?;
        let default_dir = || {
            figur_engine::engine::default_data_dir()
                .context("no --data-dir, FIGUR_DATA_DIR, XDG_DATA_HOME or HOME to place the studio's data in")
        };
        let (dir, store) = match (data.store, data.data_dir) {
            (Some(store), data_dir) if store.starts_with("s3://") => {
                let url = BucketUrl::parse(&store).map_err(anyhow::Error::msg).context("--store")?;
                let dir = match data_dir {
                    Some(dir) => folder_of(dir, "--data-dir")?,
                    None => default_dir()?,
                };
                (dir, StoreLocation::Bucket(url))
            }
            (Some(_), Some(_)) => {
                bail!("--store DIR is the data folder of a farm: give --store or --data-dir, not both")
            }
            (Some(store), None) => (folder_of(PathBuf::from(store), "--store")?, StoreLocation::Folder),
            (None, Some(dir)) => (folder_of(dir, "--data-dir")?, StoreLocation::Folder),
            (None, None) if ledger.is_shared() => {
                bail!("a shared ledger needs --store: the folder every machine mounts, or s3://bucket/prefix")
            }
            (None, None) => (default_dir()?, StoreLocation::Folder),
        };
        Ok(Place { dir, ledger, store })
    }

    /// An engine configuration for this place (on the system's defaults otherwise).
    pub fn config(&self) -> EngineConfig {
        let mut config = EngineConfig::new(&self.dir);
        config.ledger = self.ledger.clone();
        config.store = self.store.clone();
        config
    }

    /// How `figur` names it in messages.
    pub fn describe(&self) -> String {
        let store = match &self.store {
            StoreLocation::Folder => self.dir.display().to_string(),
            StoreLocation::Bucket(url) => url.to_string(),
        };
        match (&self.ledger, &self.store) {
            (LedgerLocation::Sqlite, StoreLocation::Folder) => format!("data in {store}"),
            (LedgerLocation::Sqlite, StoreLocation::Bucket(_)) => {
                format!("data in {}, store in {store}", self.dir.display())
            }
            (LedgerLocation::Postgres { .. }, _) => format!("shared ledger, store in {store}"),
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
            Err(e) if e.is_unreachable() && (place.ledger.is_shared() || place.store != StoreLocation::Folder) => {
                let what = if matches!(e, figur_engine::OpenError::Store(_)) { "store" } else { "shared ledger" };
                eprintln!("figur: the {what} is not answering ({e}); trying again in {} s", pause.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = tokio::signal::ctrl_c() => bail!("stopped while waiting for the shared ledger and store"),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e).with_context(|| format!("opening the studio ({})", place.describe())),
        }
    }
}

/// The folder `dir` names (`file:///path` is the folder `/path`). A URL is refused
/// (`s3://bucket/prefix`, `https://…`), as is an address missing its `//` (`s3:/bucket`,
/// `s3:bucket`): either would otherwise be taken as a relative folder named `s3:` — on a farm,
/// each machine would keep its own images.
fn folder_of(dir: PathBuf, flag: &str) -> Result<PathBuf> {
    let text = dir.to_string_lossy().into_owned();
    if let Some(path) = text.strip_prefix("file://") {
        if path.starts_with('/') {
            return Ok(PathBuf::from(path));
        }
        bail!("{flag} {text}: a file:// address names a folder of this machine, file:///absolute/path");
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return Ok(dir);
    };
    let scheme_like = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_like {
        return Ok(dir);
    }
    let served = "give a folder (a local disk, or the mount every machine of a farm shares) or, for --store, \
                  s3://bucket/prefix";
    if rest.starts_with("//") {
        if scheme.eq_ignore_ascii_case("s3") && flag == "--store" {
            bail!("{flag} {text}: write the scheme in lowercase, s3://");
        }
        bail!("{flag} {text}: `{scheme}://` is not a store this build serves; {served}");
    }
    // `name:/…`, or a store's scheme without its slashes: a URL mistyped, not a folder.
    const SCHEMES: [&str; 12] =
        ["s3", "gs", "az", "azure", "abfs", "abfss", "http", "https", "file", "ftp", "sftp", "smb"];
    if rest.starts_with('/') || SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)) {
        bail!("{flag} {text}: this looks like an address missing its `//` ({scheme}://…), not a folder; {served}");
    }
    Ok(dir)
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

#[cfg(test)]
mod tests {
    use super::folder_of;
    use std::path::{Path, PathBuf};

    #[test]
    fn folders_pass_and_file_urls_name_their_folder() {
        for folder in ["renders", "/srv/figur", "./shoot:2026", "backup:2026/looks", "C:renders"] {
            assert_eq!(folder_of(PathBuf::from(folder), "--store").unwrap(), Path::new(folder));
        }
        assert_eq!(folder_of(PathBuf::from("file:///srv/figur"), "--store").unwrap(), Path::new("/srv/figur"));
        let relative = folder_of(PathBuf::from("file://nas/figur"), "--store").unwrap_err().to_string();
        assert!(relative.contains("file:///absolute/path"), "{relative}");
    }
}
