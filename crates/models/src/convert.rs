//! Conversions to ONNX, run in a private Python venv that the fetch step creates in the cache
//! from pinned requirements (`models/convert/requirements.txt`) and reuses while they match.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fetch::{Cache, FetchError};

const REQUIREMENTS: &str = include_str!("../../../models/convert/requirements.txt");
const TFLITE_SCRIPT: &str = include_str!("../../../models/convert/tflite_to_onnx.py");

fn run(cmd: &mut Command, what: &str) -> Result<(), FetchError> {
    let out = cmd.output().map_err(|e| FetchError::Client { command: what.into(), detail: e.to_string() })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).rev().take(6).collect();
    Err(FetchError::Client { command: what.into(), detail: tail.into_iter().rev().collect::<Vec<_>>().join(" | ") })
}

/// The venv's python, created (or rebuilt when the pinned requirements changed) on demand.
pub fn venv(cache: &Cache, log: &mut dyn FnMut(&str)) -> Result<PathBuf, FetchError> {
    let dir = cache.root().join("convert-venv");
    let python = dir.join("bin").join("python");
    let marker = dir.join("figur-requirements.txt");
    if python.is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(REQUIREMENTS) {
        return Ok(python);
    }
    log("creating the conversion environment (tensorflow-cpu, tf2onnx; a few minutes, once)");
    let _ = std::fs::remove_dir_all(&dir);
    run(Command::new("python3").args(["-m", "venv"]).arg(&dir), "python3 -m venv")?;
    let requirements = dir.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS)?;
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        "pip install -r models/convert/requirements.txt",
    )?;
    std::fs::write(&marker, REQUIREMENTS)?;
    Ok(python)
}

/// TFLite → ONNX with the committed script.
pub fn tflite(cache: &Cache, source: &Path, out: &Path, log: &mut dyn FnMut(&str)) -> Result<(), FetchError> {
    let python = venv(cache, log)?;
    let script = cache.root().join("convert-venv").join("tflite_to_onnx.py");
    std::fs::write(&script, TFLITE_SCRIPT)?;
    let tmp = out.with_extension(format!("converting-{}", std::process::id()));
    log(&format!("converting {} to ONNX", source.file_name().and_then(|n| n.to_str()).unwrap_or("model")));
    let result = run(
        Command::new(&python).arg(&script).arg(source).arg(&tmp).env("TF_CPP_MIN_LOG_LEVEL", "3"),
        "tflite_to_onnx.py",
    );
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    std::fs::rename(&tmp, out)?;
    Ok(())
}
