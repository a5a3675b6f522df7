//! `figur watch FOLDER`: a hot folder. Every image that lands in it becomes a job of the
//! folder's recipe (`FOLDER/recipe.toml`, or `--recipe`); results go to `FOLDER/out/`, failures
//! to `FOLDER/failed/` (the image moved there, beside a `.error.txt` saying why). A file is taken
//! only once its size has stopped changing (a copy in progress is not picked up early), and the
//! folder's own ledger (`.figur-watch.json`, by content hash) makes sure nothing is processed
//! twice, across restarts too. Removing the folder stops the watch cleanly.
//!
//! The recipe is the batch recipe plus the workflow:
//! `workflow = "background-swap-with-spec"`, `input = "source_image_s3_key"`, `[body]` …

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use notify::{RecursiveMode, Watcher};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::run::Connection;

#[derive(Debug, Args)]
pub struct WatchArgs {
    pub folder: PathBuf,
    /// The recipe [default: FOLDER/recipe.toml].
    #[arg(long)]
    pub recipe: Option<PathBuf>,
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long, env = "FIGUR_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Stop after this many seconds without new files (scripts and tests); default: run until
    /// the folder is removed or the process is stopped.
    #[arg(long)]
    pub idle_exit: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Recipe {
    workflow: String,
    input: String,
    #[serde(default)]
    body: toml::Table,
}

const LEDGER: &str = ".figur-watch.json";

/// An image file that is not hidden (editors and copy tools write dotfiles while working).
fn is_candidate(p: &Path) -> bool {
    let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
    p.is_file() && !hidden && figur_engine::files::is_image(p)
}

/// How long a file must have been left alone before it is taken: a copy that is still being
/// written (or stalls briefly) is not picked up half-done.
const QUIET: Duration = Duration::from_secs(2);

/// Files untouched for [`QUIET`] whose size is the same now as `settle` ago: fully written.
async fn settled(folder: &Path, settle: Duration) -> Vec<PathBuf> {
    let sizes = |f: &Path| -> BTreeMap<PathBuf, u64> {
        std::fs::read_dir(f)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_candidate(p))
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m)))
            .filter(|(_, m)| m.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age >= QUIET))
            .map(|(p, m)| (p, m.len()))
            .collect()
    };
    let before = sizes(folder);
    tokio::time::sleep(settle).await;
    let after = sizes(folder);
    after.into_iter().filter(|(p, n)| *n > 0 && before.get(p) == Some(n)).map(|(p, _)| p).collect()
}

pub async fn watch(place: crate::place::Place, args: WatchArgs) -> Result<()> {
    let folder = args.folder.canonicalize().with_context(|| format!("{} is not a folder", args.folder.display()))?;
    let recipe_path = args.recipe.clone().unwrap_or_else(|| folder.join("recipe.toml"));
    let recipe_text =
        std::fs::read_to_string(&recipe_path).with_context(|| format!("the recipe {}", recipe_path.display()))?;
    let recipe: Recipe =
        toml::from_str(&recipe_text).with_context(|| format!("{} is not a valid recipe", recipe_path.display()))?;
    let template = serde_json::to_value(&recipe.body)?;
    let (out, failed, ledger_path) = (folder.join("out"), folder.join("failed"), folder.join(LEDGER));
    let mut ledger: BTreeMap<String, Value> =
        std::fs::read_to_string(&ledger_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();

    // Wake-ups from the file system; a periodic rescan covers anything a notification missed.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })?;
    watcher.watch(&folder, RecursiveMode::NonRecursive)?;
    let conn = Connection::open(&place, args.server.as_deref(), args.key.clone(), false).await?;
    eprintln!("watching {} ({} → out/, failures → failed/)", folder.display(), recipe.workflow);
    let mut idle_since = std::time::Instant::now();
    let result: Result<()> = async {
        loop {
            if !folder.is_dir() {
                eprintln!("{} was removed; the watch stops", folder.display());
                return Ok(());
            }
            let mut worked = false;
            for file in settled(&folder, Duration::from_millis(600)).await {
                let bytes = match std::fs::read(&file) {
                    Ok(b) => b,
                    Err(_) => continue, // Gone meanwhile.
                };
                let hash = format!("{:x}", Sha256::digest(&bytes));
                if ledger.contains_key(&hash) {
                    continue;
                }
                worked = true;
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_string();
                eprintln!("{name}: picked up");
                let outcome: Result<Vec<PathBuf>> = async {
                    let key = conn.client.upload_file(&file).await?.upload_key;
                    let mut body = template.clone();
                    body.as_object_mut()
                        .ok_or_else(|| anyhow!("the recipe's body is not a table"))?
                        .insert(recipe.input.clone(), json!(key));
                    let job = conn.client.dispatch(&recipe.workflow, &body).await?.job_id;
                    let done = conn.client.follow(&job, &mut |_| {}).await?;
                    Ok(conn.client.download(&done, &out, &job).await?)
                }
                .await;
                let entry = match outcome {
                    Ok(saved) => {
                        eprintln!(
                            "{name}: done → {}",
                            saved.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                        );
                        json!({ "file": name, "status": "succeeded", "outputs": saved })
                    }
                    Err(e) => {
                        eprintln!("{name}: FAILED {e:#}");
                        std::fs::create_dir_all(&failed)?;
                        let _ = std::fs::rename(&file, failed.join(&name));
                        std::fs::write(failed.join(format!("{name}.error.txt")), format!("{e:#}\n"))?;
                        json!({ "file": name, "status": "failed", "error": format!("{e:#}") })
                    }
                };
                ledger.insert(hash, entry);
                // Written after every file: a restart never runs it again.
                let tmp = ledger_path.with_extension("json.tmp");
                std::fs::write(&tmp, serde_json::to_string_pretty(&ledger)?)?;
                std::fs::rename(&tmp, &ledger_path)?;
            }
            if worked {
                idle_since = std::time::Instant::now();
            } else if args.idle_exit.is_some_and(|s| idle_since.elapsed() >= Duration::from_secs(s)) {
                return Ok(());
            }
            // Until something changes, or a few seconds pass.
            let _ = tokio::time::timeout(Duration::from_secs(3), rx.recv()).await;
            while rx.try_recv().is_ok() {}
        }
    }
    .await;
    drop(watcher);
    conn.close().await;
    if let Err(e) = result {
        bail!("the watch stopped: {e:#}");
    }
    Ok(())
}
