//! ONNX Runtime: fetched from the PyPI wheel into the cache, loaded once per process.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::fetch::{self, Cache, FetchError};
use crate::manifest::{self, RuntimeManifest};
use crate::ModelError;

/// The shared library's path in the cache (present or not).
pub fn library_path(cache: &Cache, m: &RuntimeManifest) -> PathBuf {
    cache.runtime_dir(&m.name, &m.version).join(&m.library)
}

pub fn is_installed(cache: &Cache, m: &RuntimeManifest) -> bool {
    let dir = cache.runtime_dir(&m.name, &m.version);
    m.members.iter().all(|member| dir.join(member.rsplit('/').next().unwrap_or(member)).is_file())
}

/// Installs a runtime's libraries (idempotent; offline once the wheel is in the cache).
pub fn fetch(cache: &Cache, m: &RuntimeManifest, log: &mut dyn FnMut(&str)) -> Result<PathBuf, FetchError> {
    if is_installed(cache, m) {
        return Ok(library_path(cache, m));
    }
    let wheel = fetch::package(cache, &m.source, log)?;
    let dir = cache.runtime_dir(&m.name, &m.version);
    for member in &m.members {
        let name = member.rsplit('/').next().unwrap_or(member);
        fetch::extract(&wheel, m.source.registry, member, &dir.join(name))?;
    }
    log(&format!("{} {} installed in {}", m.name, m.version, dir.display()));
    Ok(library_path(cache, m))
}

/// The library a process loads: `ORT_DYLIB_PATH` if set; else the GPU build when it is
/// installed and a GPU provider may be used (or when it is the only build installed); else
/// the CPU build.
pub fn chosen_library(cache: &Cache, gpu_wanted: bool) -> PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(path);
    }
    let (gpu, cpu) = (manifest::runtime_gpu(), manifest::runtime());
    // The GPU build runs CPU sessions too: it serves when it is the only one installed.
    if is_installed(cache, &gpu) && (gpu_wanted || !is_installed(cache, &cpu)) {
        return library_path(cache, &gpu);
    }
    library_path(cache, &cpu)
}

static LOADED: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from the cache (once per process: the first caller's `gpu_wanted`
/// decides which build) and returns its environment.
pub fn init(cache: &Cache, gpu_wanted: bool) -> Result<&'static ort::environment::Environment, ModelError> {
    let result = LOADED.get_or_init(|| {
        let path = chosen_library(cache, gpu_wanted);
        if !path.is_file() {
            return Err(format!("ONNX Runtime is not installed ({} is missing)", path.display()));
        }
        let builder = ort::init_from(&path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        let env = builder.with_name("figur").build().map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
        tracing::info!(path = %path.display(), "ONNX Runtime loaded");
        Ok(env)
    });
    match result {
        Ok(env) => Ok(env),
        Err(why) => Err(ModelError::RuntimeMissing(why.clone())),
    }
}
