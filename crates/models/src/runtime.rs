//! ONNX Runtime: fetched from the PyPI wheel into the cache, loaded once per process.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::fetch::{self, Cache, FetchError};
use crate::manifest;
use crate::ModelError;

/// The shared library's path in the cache (present or not).
pub fn library_path(cache: &Cache) -> PathBuf {
    let m = manifest::runtime();
    cache.runtime_dir(&m.version).join(&m.library)
}

pub fn is_installed(cache: &Cache) -> bool {
    let m = manifest::runtime();
    let dir = cache.runtime_dir(&m.version);
    m.members.iter().all(|member| dir.join(member.rsplit('/').next().unwrap_or(member)).is_file())
}

/// Installs the runtime library (idempotent; offline once the wheel is in the cache).
pub fn fetch(cache: &Cache, log: &mut dyn FnMut(&str)) -> Result<PathBuf, FetchError> {
    let m = manifest::runtime();
    if is_installed(cache) {
        return Ok(library_path(cache));
    }
    let wheel = fetch::package(cache, &m.source, log)?;
    let dir = cache.runtime_dir(&m.version);
    for member in &m.members {
        let name = member.rsplit('/').next().unwrap_or(member);
        fetch::extract(&wheel, m.source.registry, member, &dir.join(name))?;
    }
    log(&format!("ONNX Runtime {} installed in {}", m.version, dir.display()));
    Ok(library_path(cache))
}

static LOADED: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from the cache (once per process) and returns its environment.
/// `ORT_DYLIB_PATH` overrides the library's path.
pub fn init(cache: &Cache) -> Result<&'static ort::environment::Environment, ModelError> {
    let result = LOADED.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).unwrap_or_else(|| library_path(cache));
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
