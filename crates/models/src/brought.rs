//! Models users bring (`figur models add NAME --from DIR --license L`): each export is checked
//! ([`crate::bring::inspect`]), copied under `<cache>/brought/<NAME>/`, and recorded with every
//! file's size and sha256 and the licence the user named, so `verify` can tell a damaged file
//! and `list` can show what each model is and may be used for.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bring::{self, LayoutError};
use crate::Cache;

/// What was brought, as `record.json` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub licence: String,
    /// `text-to-image` or `inpainting`.
    pub pipeline: String,
    pub image_to_image: bool,
    pub scheduler: String,
    pub source: String,
    pub files: Vec<FileRecord>,
    /// The model's own steps and guidance, where they differ from Stable Diffusion's (25 and
    /// 7.5): SD-Turbo draws in 1–4 steps without guidance. Workflows use them when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f32>,
}

impl Record {
    /// A try-on model (CatVTON layout): it dresses a person in a garment photo and draws nothing
    /// from a prompt, so no prompt-driven pipeline or use takes it.
    pub fn is_try_on(&self) -> bool {
        self.pipeline == crate::bring::Pipeline::TryOn.as_str()
    }

    /// What the model does, in words, as listings show it: its pipeline, and image to image for
    /// the diffusion kinds that can start from a picture.
    pub fn kind_words(&self) -> String {
        match self.pipeline.as_str() {
            _ if self.is_try_on() => "try-on (CatVTON layout)".to_string(),
            pipeline if self.image_to_image => format!("{pipeline} + image to image"),
            pipeline => pipeline.to_string(),
        }
    }

    /// The sha256 of the file list (each file's sha256 and path, one line each, in the
    /// record's order): one hash that names the whole export, for provenance.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for f in &self.files {
            hasher.update(format!("{} {}\n", f.sha256, f.path));
        }
        hex::encode(hasher.finalize())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("`{0}` cannot name a model: use 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")]
    BadName(String),
    #[error("`{0}` is the name of a built-in model; choose another")]
    Taken(String),
    #[error("a model called `{0}` is already added; `figur models remove {0}` first")]
    Exists(String),
    #[error("--license names the model's licence (for example `CreativeML-OpenRAIL-M`); it cannot be empty")]
    NoLicence,
    #[error("no model `{0}` is added (`figur models list` shows them)")]
    NotAdded(String),
    #[error("{0}")]
    Tuning(String),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the model `name` is kept.
pub fn dir(cache: &Cache, name: &str) -> PathBuf {
    cache.root().join("brought").join(name)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=64).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Checks the export in `from` and installs it as `name`; `log` hears each file as it is copied.
pub fn add(
    cache: &Cache,
    name: &str,
    from: &Path,
    licence: &str,
    log: &mut dyn FnMut(&str),
) -> Result<Record, AddError> {
    if !valid_name(name) {
        return Err(AddError::BadName(name.to_string()));
    }
    if crate::manifest::find(name).is_some() {
        return Err(AddError::Taken(name.to_string()));
    }
    if licence.trim().is_empty() {
        return Err(AddError::NoLicence);
    }
    let target = dir(cache, name);
    if target.join("record.json").is_file() {
        return Err(AddError::Exists(name.to_string()));
    }
    let export = bring::inspect(from)?;
    // Copied into a partial folder, renamed into place only when whole: a crash leaves no model.
    let partial = cache.root().join("brought").join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let mut files = Vec::new();
    for relative in &export.files {
        log(&relative.display().to_string());
        let to = partial.join(relative);
        std::fs::create_dir_all(to.parent().unwrap_or(&partial))?;
        let (bytes, sha256) = copy_hashing(&from.join(relative), &to)?;
        files.push(FileRecord { path: relative.display().to_string(), bytes, sha256 });
    }
    let record = Record {
        name: name.to_string(),
        licence: licence.trim().to_string(),
        pipeline: export.pipeline.as_str().into(),
        image_to_image: export.image_to_image,
        scheduler: export.scheduler,
        source: std::path::absolute(from).unwrap_or_else(|_| from.to_path_buf()).display().to_string(),
        files,
        steps: None,
        guidance: None,
    };
    let text = serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?;
    std::fs::write(partial.join("record.json"), text)?;
    let _ = std::fs::remove_dir_all(&target);
    std::fs::rename(&partial, &target)?;
    Ok(record)
}

/// Sets the model's own steps and guidance (`None` leaves each as it is); the record is
/// rewritten whole (a temporary file renamed over it). The digest does not change: it names the
/// files, and these are how workflows call them.
pub fn tune(cache: &Cache, name: &str, steps: Option<usize>, guidance: Option<f32>) -> Result<Record, AddError> {
    let mut record = find(cache, name).ok_or_else(|| AddError::NotAdded(name.to_string()))?;
    if let Some(steps) = steps {
        if !(1..=1000).contains(&steps) {
            return Err(AddError::Tuning(format!("--steps {steps}: 1 to 1000")));
        }
        record.steps = Some(steps);
    }
    if let Some(guidance) = guidance {
        if !guidance.is_finite() || !(0.0..=50.0).contains(&guidance) {
            return Err(AddError::Tuning(format!("--guidance {guidance}: 0 to 50")));
        }
        record.guidance = Some(guidance);
    }
    let path = dir(cache, name).join("record.json");
    let temporary = path.with_extension("json.partial");
    std::fs::write(&temporary, serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?)?;
    std::fs::rename(&temporary, &path)?;
    Ok(record)
}

fn copy_hashing(from: &Path, to: &Path) -> std::io::Result<(u64, String)> {
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n])?;
        total += n as u64;
    }
    output.sync_all()?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// The record of the model `name`, if it was brought.
pub fn find(cache: &Cache, name: &str) -> Option<Record> {
    let text = std::fs::read_to_string(dir(cache, name).join("record.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every brought model, by name.
pub fn list(cache: &Cache) -> Vec<Record> {
    let mut all: Vec<Record> = std::fs::read_dir(cache.root().join("brought"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| find(cache, e.file_name().to_str()?))
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// Re-hashes every file against the record: the problems found (empty: intact).
pub fn verify(cache: &Cache, record: &Record) -> Vec<String> {
    let root = dir(cache, &record.name);
    let mut problems = Vec::new();
    for file in &record.files {
        let path = root.join(&file.path);
        match crate::fetch::sha256_file(&path) {
            Ok(found) if found == file.sha256 => {}
            Ok(found) => problems.push(format!("{}: sha256 {found}, added as {}", file.path, file.sha256)),
            Err(e) => problems.push(format!("{}: {e}", file.path)),
        }
    }
    problems
}

/// Removes the model `name`; false if it was not brought.
pub fn remove(cache: &Cache, name: &str) -> std::io::Result<bool> {
    if find(cache, name).is_none() {
        return Ok(false);
    }
    std::fs::remove_dir_all(dir(cache, name))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_is_added_listed_verified_and_removed() {
        let (cache_dir, from) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cache = Cache::new(cache_dir.path());
        crate::tiny::optimum_export(from.path(), 9, true);
        let mut copied = Vec::new();
        let record = add(&cache, "tiny-inpaint", from.path(), "MIT", &mut |f| copied.push(f.to_string())).unwrap();
        assert_eq!((record.pipeline.as_str(), record.image_to_image), ("inpainting", true));
        assert!(copied.contains(&"unet/model.onnx_data".to_string()));
        assert_eq!(list(&cache), std::slice::from_ref(&record));
        assert!(verify(&cache, &record).is_empty());

        // A damaged copy is found; a second add under the same name is refused.
        let weights = cache.root().join("brought/tiny-inpaint/unet/model.onnx_data");
        let mut bytes = std::fs::read(&weights).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&weights, bytes).unwrap();
        let problems = verify(&cache, &record);
        assert!(problems.len() == 1 && problems[0].starts_with("unet/model.onnx_data"), "{problems:?}");
        let again = add(&cache, "tiny-inpaint", from.path(), "MIT", &mut |_| {});
        assert!(matches!(again, Err(AddError::Exists(_))));

        assert!(remove(&cache, "tiny-inpaint").unwrap());
        assert!(list(&cache).is_empty() && !remove(&cache, "tiny-inpaint").unwrap());
    }

    #[test]
    fn names_licences_and_bad_folders_are_refused_before_anything_is_copied() {
        let (cache_dir, from) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cache = Cache::new(cache_dir.path());
        crate::tiny::optimum_export(from.path(), 4, false);
        let mut nothing = |_: &str| {};
        for bad in ["", "Caps", "../up", "-dash", &"x".repeat(65)] {
            assert!(matches!(add(&cache, bad, from.path(), "MIT", &mut nothing), Err(AddError::BadName(_))), "{bad}");
        }
        assert!(matches!(add(&cache, "isnet", from.path(), "MIT", &mut nothing), Err(AddError::Taken(_))));
        assert!(matches!(add(&cache, "ok", from.path(), " ", &mut nothing), Err(AddError::NoLicence)));
        std::fs::remove_file(from.path().join("unet/model.onnx")).unwrap();
        let err = add(&cache, "ok", from.path(), "MIT", &mut nothing).unwrap_err();
        assert!(err.to_string().contains("unet/model.onnx is missing"), "{err}");
        assert!(!cache.root().join("brought").exists(), "nothing was copied");
    }
}
