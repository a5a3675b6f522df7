//! Try-on benchmark — `cargo bench --bench try_on` (after `figur models fetch` and `figur samples`).
//!
//! The try-on pipeline at 2K (`FIGUR_TRY_ON_RESOLUTION=1K` to choose) on the sample photos
//! (astronaut wearing the top off messi5), as the workflow runs it, stage by stage; then each model's bare inference on the same inputs, so
//! the share of time outside model inference is measured, not guessed. Median of 5 runs.

use std::time::{Duration, Instant};

use figur_engine::domain::requests::Resolution;
use figur_engine::workflow::models::Direct;
use figur_engine::workflow::try_on::Session;
use figur_engine::workflow::{person, wear};
use figur_pixels::vision::{encode, face, face_mesh, matte, pose};

#[path = "common/timing.rs"]
mod timing;
use timing::median;

fn main() {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let providers = std::env::var("FIGUR_PROVIDERS").unwrap_or_else(|_| "cpu".into());
    let models = figur_models::Sessions::new(
        cache.clone(),
        figur_models::Providers::parse(&providers).unwrap(),
        Duration::from_secs(600),
    );
    let load = |name: &str| {
        let path = figur_models::samples::get(&cache, name).expect("`figur samples`");
        figur_pixels::vision::decode::decode(&std::fs::read(path).unwrap()).unwrap()
    };
    let (person_photo, garment_photo) = (load("astronaut.png"), load("messi5.jpg"));
    let top = wear::category("top").unwrap();
    let resolution: Resolution = serde_json::from_value(serde_json::Value::String(
        std::env::var("FIGUR_TRY_ON_RESOLUTION").unwrap_or_else(|_| "2K".into()),
    ))
    .expect("FIGUR_TRY_ON_RESOLUTION: 0.5K, 1K, 2K or 4K");
    let stages = ["resize", "analyse person", "prepare garment", "fit + compose", "encode"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    for _ in 0..5 {
        let mut t = Instant::now();
        let mut lap = |i: usize, times: &mut Vec<Vec<f64>>| {
            times[i].push(t.elapsed().as_secs_f64() * 1000.0);
            t = Instant::now();
        };
        let photo = Session::at_resolution(person_photo.clone(), resolution);
        lap(0, &mut times);
        let analysis = person::analyse(&mut Direct(&models), &photo).unwrap();
        lap(1, &mut times);
        let garment = wear::prepare(&mut Direct(&models), &garment_photo, None, top).unwrap();
        lap(2, &mut times);
        let (dressed, _) = wear::dress(&photo, &analysis, &[garment], 1.0, &mut || Ok(())).unwrap();
        lap(3, &mut times);
        let png = encode::png(&image::DynamicImage::ImageRgb8(dressed), encode::Use::Final).unwrap();
        std::hint::black_box(png);
        lap(4, &mut times);
    }
    // Bare inference of every model call the pipeline makes (matte and pose twice: person, garment).
    let photo = Session::at_resolution(person_photo.clone(), resolution);
    let run = |id: &str, name: &str, shape: Vec<usize>, data: Vec<f32>| {
        let m = models.get(id).unwrap();
        let mut v = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            m.run_f32(vec![(name.into(), shape.clone(), data.clone())]).unwrap();
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        median(v)
    };
    let side = matte::MODEL_SIDE;
    let crop = pose::Crop { x0: 0.0, y0: 0.0, side: 512.0 };
    let model_ms = 2.0 * run("person-matte", "input_1", vec![1, side, side, 3], matte::to_model_input(&photo))
        + 2.0
            * run(
                "pose-landmarks",
                "input_1",
                vec![1, pose::CROP_SIDE, pose::CROP_SIDE, 3],
                pose::crop_input(&photo, crop),
            )
        + run("face-detector", "input:0", vec![1, face::INPUT_SIDE, face::INPUT_SIDE, 3], face::input(&photo).0)
        + run(
            "face-mesh",
            "input_1",
            vec![1, face_mesh::INPUT_SIDE, face_mesh::INPUT_SIDE, 3],
            face_mesh::input(&photo, crop),
        );
    let total: f64 = times.iter().map(|t| median(t.clone())).sum();
    println!(
        "try-on benchmark — {} ({}×{}), astronaut wearing the top off messi5, models on {providers}, {} cores",
        serde_json::to_value(resolution).unwrap().as_str().unwrap(),
        photo.width(),
        photo.height(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    for (name, t) in stages.iter().zip(&times) {
        println!("  {name:<18} {:>8.1} ms", median(t.clone()));
    }
    println!("  {:<18} {:>8.1} ms", "end to end", total);
    println!("  {:<18} {:>8.1} ms  (6 model calls, bare)", "model inference", model_ms);
    println!(
        "  outside model inference: {:.1} ms = {:.0} % of the end-to-end time",
        total - model_ms,
        100.0 * (total - model_ms) / total
    );
}
