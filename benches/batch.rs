//! Batch benchmark — `cargo bench --bench batch` (after `figur models fetch` and `figur samples`).
//!
//! 50 mixed photos (the three samples — square and landscape — at 1K to 4K, JPEG and PNG)
//! through `figur batch background-swap-with-spec` with an e-commerce recipe, as a studio runs a
//! folder: images per hour on this machine. `FIGUR_BASELINE_BIN=/path/to/an/older/figur` runs
//! that binary on the same photos first, side by side, and prints the ratio.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PHOTOS: usize = 50;

/// The mixed folder: each sample in turn, at a long side and shape from a fixed cycle.
fn photos(into: &Path) {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let sources: Vec<image::RgbImage> = figur_models::samples::SAMPLES
        .iter()
        .map(|s| {
            let path = figur_models::samples::get(&cache, s.name).expect("`figur samples`");
            image::open(path).unwrap().to_rgb8()
        })
        .collect();
    let sides = [1024u32, 2048, 3000, 4096, 1600];
    for i in 0..PHOTOS {
        let source = &sources[i % sources.len()];
        let scale = sides[(i / sources.len()) % sides.len()] as f32 / source.width().max(source.height()) as f32;
        let (w, h) = ((source.width() as f32 * scale) as u32, (source.height() as f32 * scale) as u32);
        let img = image::imageops::resize(source, w, h, image::imageops::FilterType::CatmullRom);
        let name = if i % 4 == 3 { format!("photo-{i:02}.png") } else { format!("photo-{i:02}.jpg") };
        img.save(into.join(name)).unwrap();
    }
}

/// Runs `figur batch` over `inputs` in a fresh studio; the wall time in seconds.
fn batch(figur: &Path, work: &Path, inputs: &Path) -> f64 {
    let dir = tempfile::tempdir_in(work).unwrap();
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(
        &recipe,
        "input = \"source_image_s3_key\"\n[body]\noutput_preset = \"ecommerce_square\"\nscene_type = \"studio_sweep\"\nmood = \"bright\"\n",
    )
    .unwrap();
    let start = Instant::now();
    let out = Command::new(figur)
        .arg("--data-dir")
        .arg(dir.path().join("studio"))
        .args(["batch", "background-swap-with-spec", "--recipe"])
        .arg(&recipe)
        .arg(inputs)
        .arg("--out")
        .arg(dir.path().join("out"))
        .env("FIGUR_LOG", "warn")
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "figur batch failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/report.json")).unwrap()).unwrap();
    let done = report["items"].as_array().map(|items| items.iter().filter(|i| i["status"] == "succeeded").count());
    assert_eq!(done, Some(PHOTOS), "every photo rendered: {report}");
    seconds
}

fn main() {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&work).unwrap();
    let inputs = tempfile::tempdir_in(&work).unwrap();
    photos(inputs.path());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "batch benchmark — {PHOTOS} mixed photos (1K–4K) through `figur batch`, ecommerce_square swap, {cores} cores"
    );
    let baseline = std::env::var_os("FIGUR_BASELINE_BIN").map(PathBuf::from);
    let before = baseline.as_deref().map(|bin| batch(bin, &work, inputs.path()));
    let now = batch(Path::new(env!("CARGO_BIN_EXE_figur")), &work, inputs.path());
    let per_hour = |s: f64| PHOTOS as f64 * 3600.0 / s;
    if let Some(before) = before {
        println!("  baseline binary ...... {before:>7.1} s  {:>7.0} images/hour", per_hour(before));
    }
    println!("  this build ........... {now:>7.1} s  {:>7.0} images/hour", per_hour(now));
    if let Some(before) = before {
        println!("  speed-up ............. {:>7.2}x", before / now);
    }
}
