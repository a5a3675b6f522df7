//! The model fetch step and its checks, through the real `figur` command on the real cache
//! (`./studio test` fetches the default set first; fetching again here is a no-op).

use std::process::Command;

use crate::support::FIGUR;

fn figur(args: &[&str], cache: Option<&std::path::Path>) -> (bool, String) {
    let mut cmd = Command::new(FIGUR);
    cmd.args(args).env("FIGUR_LOG", "warn").env("RUST_BACKTRACE", "0");
    if let Some(dir) = cache {
        cmd.env("FIGUR_CACHE_DIR", dir);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn fetch_is_idempotent_and_verify_runs_the_golden_check() {
    let (ok, out) = figur(&["models", "fetch"], None);
    assert!(ok, "{out}");
    let (ok, out) = figur(&["models", "verify"], None);
    assert!(ok, "{out}");
    assert!(out.contains("face-detector    ok"), "{out}");
    assert!(out.contains("person-matte     ok"), "{out}");
    assert!(out.contains("pose-landmarks   ok"), "{out}");
    let (ok, out) = figur(&["doctor"], None);
    assert!(ok, "{out}");
    assert!(out.contains("onnxruntime:  1.31.1 loaded"), "{out}");
    assert!(out.contains("face-detector    ready on"), "{out}");
}

#[test]
fn damaged_models_and_unavailable_providers_are_reported_not_hidden() {
    let (ok, out) = figur(&["models", "fetch"], None);
    assert!(ok, "{out}");
    // A private copy of the cache whose model file has one byte changed.
    let home = figur_engine::engine::default_cache_dir().unwrap();
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(home.join("runtime"))
        .arg(home.join("models"))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    let model = copy.path().join("models/face-detector/model.onnx");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&model, bytes).unwrap();
    let (ok, out) = figur(&["models", "verify", "face-detector"], Some(copy.path()));
    assert!(!ok, "verify must fail on a damaged file: {out}");
    assert!(out.contains("DAMAGED"), "{out}");

    // Asking for CUDA explicitly on a machine without it is an error, not a quiet CPU run.
    let (_, out) = figur(&["doctor", "--providers", "cuda"], None);
    assert!(out.contains("cannot load") && out.contains("cuda"), "{out}");

    // An empty cache: every model is missing, and the runtime error names the fetch command.
    let empty = tempfile::tempdir().unwrap();
    let (_, out) = figur(&["doctor"], Some(empty.path()));
    assert!(out.contains("NOT LOADED") && out.contains("figur models fetch"), "{out}");
    assert!(out.contains("face-detector    missing"), "{out}");
}

#[test]
fn an_opt_in_model_shows_its_licence_and_needs_acceptance() {
    let (ok, out) = figur(&["models", "fetch", "isnet"], Some(tempfile::tempdir().unwrap().path()));
    assert!(!ok, "{out}");
    assert!(out.contains("AGPL-3.0") && out.contains("--accept-license"), "{out}");
    let (_, list) = figur(&["models", "list"], None);
    assert!(list.lines().any(|l| l.starts_with("isnet") && l.contains("opt-in")), "{list}");
}

#[test]
fn a_brought_export_is_added_listed_verified_and_removed_from_the_shell() {
    let (cache, from) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    figur_models::tiny::optimum_export(from.path(), 4, true);
    let from_arg = from.path().to_str().unwrap();

    let (ok, out) = figur(&["models", "add", "tiny-sd", "--from", from_arg, "--license", "MIT"], Some(cache.path()));
    assert!(ok && out.contains("added tiny-sd: text-to-image + image to image, EulerDiscreteScheduler"), "{out}");
    let (_, list) = figur(&["models", "list"], Some(cache.path()));
    assert!(
        list.lines().any(|l| l.starts_with("tiny-sd") && l.contains("MIT") && l.contains("text-to-image")),
        "{list}"
    );
    let (ok, out) = figur(&["models", "verify", "tiny-sd"], Some(cache.path()));
    assert!(ok && out.contains("tiny-sd") && out.contains("sha256 intact"), "{out}");

    let weights = cache.path().join("brought/tiny-sd/unet/model.onnx_data");
    let mut bytes = std::fs::read(&weights).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let (ok, out) = figur(&["models", "verify", "tiny-sd"], Some(cache.path()));
    assert!(!ok && out.contains("DAMAGED") && out.contains("unet/model.onnx_data"), "{out}");

    // A folder that is not an export is refused, naming what is missing; the name stays free.
    let empty = tempfile::tempdir().unwrap();
    let (ok, out) = figur(
        &["models", "add", "other", "--from", empty.path().to_str().unwrap(), "--license", "MIT"],
        Some(cache.path()),
    );
    assert!(!ok && out.contains("model_index.json is missing"), "{out}");

    let (ok, out) = figur(&["models", "remove", "tiny-sd"], Some(cache.path()));
    assert!(ok && out.contains("removed tiny-sd"), "{out}");
    let (_, list) = figur(&["models", "list"], Some(cache.path()));
    assert!(!list.contains("tiny-sd"), "{list}");
}

#[test]
fn a_catvton_layout_is_added_as_a_try_on_model_and_kept_from_prompt_pipelines() {
    let (cache, from) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    figur_models::tiny::catvton_export(from.path());
    let from_arg = from.path().to_str().unwrap();
    let (ok, out) =
        figur(&["models", "add", "catvton", "--from", from_arg, "--license", "CC-BY-NC-SA-4.0"], Some(cache.path()));
    assert!(ok && out.contains("added catvton: try-on (CatVTON layout), DDIMScheduler"), "{out}");
    assert!(out.contains("at 50 (default) steps, guidance 2.5 (default)"), "CatVTON's own defaults: {out}");
    let (_, list) = figur(&["models", "list"], Some(cache.path()));
    assert!(
        list.lines().any(|l| l.starts_with("catvton") && l.contains("CC-BY-NC-SA-4.0") && l.contains("try-on")),
        "{list}"
    );
    let (ok, out) = figur(&["models", "verify", "catvton"], Some(cache.path()));
    assert!(ok && out.contains("sha256 intact"), "{out}");
    // The prompt pipeline does not take it for one of its own.
    let (ok, out) = figur(
        &["generate", "catvton", "--prompt", "a shirt", "--out", "/dev/null", "--size", "64x64"],
        Some(cache.path()),
    );
    assert!(!ok && out.contains("catvton is a try-on model"), "{out}");
    // A UNet that takes text is not this layout.
    let bad = tempfile::tempdir().unwrap();
    figur_models::tiny::catvton_export(bad.path());
    let unet = figur_models::tiny::pass_through(
        &[("sample", vec![2, 9, 16, 8]), ("timestep", vec![1]), ("encoder_hidden_states", vec![2, 77, 8])],
        &[],
        &[("out_sample", vec![2, 4, 16, 8])],
        false,
    );
    figur_models::tiny::export_component(bad.path(), "unet", &unet);
    let (ok, out) = figur(
        &["models", "add", "other", "--from", bad.path().to_str().unwrap(), "--license", "MIT"],
        Some(cache.path()),
    );
    assert!(!ok && out.contains("takes no text"), "{out}");
}
