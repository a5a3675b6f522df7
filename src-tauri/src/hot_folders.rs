//! Hot folders from the desktop app: each configured folder is watched by a `figur watch`
//! process talking to this window's engine through its local API (with a key made for it), so
//! the folder's jobs show in the gallery like any other. The list lives in
//! `<data dir>/hot-folders.json`; watches restart with the app and stop when it closes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use specta::Type;

/// One watched folder as Settings shows it.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct HotFolder {
    pub path: String,
    pub workflow: String,
    pub running: bool,
    pub done: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    path: String,
    workflow: String,
}

/// The recipe a new hot folder starts with (editable in the folder afterwards): the engine's
/// own one-photo form of the workflow (`Workflow::ONE_PHOTO`), as `figur watch` reads it.
/// `None` for a workflow that cannot run on one photo alone.
pub fn recipe_for(workflow: &str) -> Option<String> {
    let op: figur_engine::Operation = serde_json::from_value(serde_json::Value::from(workflow)).ok()?;
    let how = op.one_photo()?;
    let body: serde_json::Map<String, serde_json::Value> = serde_json::from_str(how.body).ok()?;
    let mut text = format!("workflow = \"{workflow}\"\ninput = \"{}\"\n[body]\n", how.input);
    for (field, value) in body {
        // Flat JSON scalars are TOML values as written.
        text.push_str(&format!("{field} = {value}\n"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_folder_gets_the_workflows_one_photo_recipe() {
        let text = super::recipe_for("background-swap-with-spec").unwrap();
        assert!(
            text.starts_with("workflow = \"background-swap-with-spec\"\ninput = \"source_image_s3_key\"\n[body]\n"),
            "{text}"
        );
        assert!(text.contains("scene_type = \"studio_sweep\"\n"), "{text}");
        assert_eq!(super::recipe_for("extract").unwrap(), "workflow = \"extract\"\ninput = \"trial_image\"\n[body]\n");
        assert_eq!(super::recipe_for("try-on"), None, "try-on needs a garment as well as the photo");
        assert_eq!(super::recipe_for("no-such-workflow"), None);
    }
}

#[derive(Default)]
pub struct HotFolders {
    running: Mutex<HashMap<String, Child>>,
}

impl std::fmt::Debug for HotFolders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HotFolders")
    }
}

fn config(data_dir: &Path) -> PathBuf {
    data_dir.join("hot-folders.json")
}

fn entries(data_dir: &Path) -> Vec<Entry> {
    std::fs::read_to_string(config(data_dir)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save(data_dir: &Path, list: &[Entry]) -> std::io::Result<()> {
    let tmp = config(data_dir).with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(list).unwrap_or_default())?;
    std::fs::rename(tmp, config(data_dir))
}

/// The `figur` binary: `FIGUR_BIN`, else beside this app's executable.
fn figur_bin() -> PathBuf {
    std::env::var_os("FIGUR_BIN").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().map(|p| p.with_file_name("figur")).unwrap_or_else(|_| PathBuf::from("figur"))
    })
}

impl HotFolders {
    fn start(&self, path: &str, api_base: &str, key: &str) -> Result<(), String> {
        let child = Command::new(figur_bin())
            .args(["watch", path, "--server", api_base])
            .env("FIGUR_API_KEY", key)
            .env("FIGUR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start `figur watch` ({}): {e}", figur_bin().display()))?;
        self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_string(), child);
        Ok(())
    }

    /// Starts the configured watches (at app start).
    pub fn resume(&self, data_dir: &Path, api_base: &str, key: &str) {
        for e in entries(data_dir) {
            if let Err(why) = self.start(&e.path, api_base, key) {
                tracing::warn!(folder = %e.path, error = %why, "hot folder not started");
            }
        }
    }

    pub fn add(&self, data_dir: &Path, api_base: &str, key: &str, path: &str, workflow: &str) -> Result<(), String> {
        let folder = Path::new(path);
        if !folder.is_dir() {
            return Err(format!("{path} is not a folder"));
        }
        let recipe = folder.join("recipe.toml");
        if !recipe.exists() {
            let text = recipe_for(workflow).ok_or_else(|| format!("no hot-folder recipe for {workflow}"))?;
            std::fs::write(&recipe, text).map_err(|e| format!("cannot write {}: {e}", recipe.display()))?;
        }
        let mut list = entries(data_dir);
        if list.iter().any(|e| e.path == path) {
            return Err(format!("{path} is already watched"));
        }
        list.push(Entry { path: path.to_string(), workflow: workflow.to_string() });
        save(data_dir, &list).map_err(|e| e.to_string())?;
        self.start(path, api_base, key)
    }

    pub fn remove(&self, data_dir: &Path, path: &str) -> Result<(), String> {
        let list: Vec<Entry> = entries(data_dir).into_iter().filter(|e| e.path != path).collect();
        save(data_dir, &list).map_err(|e| e.to_string())?;
        if let Some(mut child) = self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(path) {
            let _ = child.kill();
            let _ = child.wait();
        }
        Ok(())
    }

    pub fn list(&self, data_dir: &Path) -> Vec<HotFolder> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        entries(data_dir)
            .into_iter()
            .map(|e| {
                let alive = running.get_mut(&e.path).is_some_and(|c| matches!(c.try_wait(), Ok(None)));
                let ledger: serde_json::Map<String, serde_json::Value> =
                    std::fs::read_to_string(Path::new(&e.path).join(".figur-watch.json"))
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default();
                let count = |s: &str| ledger.values().filter(|v| v["status"] == s).count() as u32;
                HotFolder {
                    running: alive,
                    done: count("succeeded"),
                    failed: count("failed"),
                    path: e.path,
                    workflow: e.workflow,
                }
            })
            .collect()
    }

    /// Stops every watch (the app is closing).
    pub fn stop_all(&self) {
        for (_, mut child) in self.running.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
