//! The resolution sweep of `cargo bench --bench vision`: the real background-swap job (the
//! workflow as `figur serve` runs it, its own `timings_ms` and `inference_ms`) on the same photo
//! at 1K, 2K and 4K, set against its floor — what decoding the photo, running the model and
//! encoding the render must cost.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use figur_engine::Operation;
use figur_engine::{Caller, Engine, EngineConfig, Mode};
use serde_json::{json, Value};

/// One size's medians, in milliseconds.
pub struct Row {
    pub side: u32,
    /// The job's own stage timings, summed: claim to result.
    pub end_to_end: f64,
    pub model: f64,
    pub decode_encode: f64,
    pub stages: Vec<(String, f64)>,
    /// VmHWM after this size (sizes run in ascending order: the peak of the largest so far).
    pub peak_rss_mib: u64,
    /// PNG settings on this size's render: (name, ms, bytes).
    pub encoders: Vec<(String, f64, usize)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_hwm_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0u64)
        / 1024
}

/// The photo scaled to `side`² and stored as a camera would: JPEG, quality 92.
fn photo_at(source: &image::RgbImage, side: u32) -> Vec<u8> {
    let big = image::imageops::resize(source, side, side, image::imageops::FilterType::CatmullRom);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92).encode_image(&big).unwrap();
    jpeg
}

async fn run_job(engine: &Arc<Engine>, body: Value) -> (Value, String) {
    let owner = Caller::owner(Mode::Live);
    let op = Operation::BackgroundSwapWithSpec;
    let accepted = engine.dispatch(&owner, op, body, &figur_engine::ids::new_id(), None).await.unwrap();
    let event = engine.follow(Mode::Live, &accepted.job_id, 0, |_| {}).await.unwrap();
    assert_eq!(event.event_type, figur_engine::domain::job::EventType::Succeeded, "{}", event.message);
    let url = &event.artifacts[0].image_url;
    let key = url.split("/v1/artifacts/live/").nth(1).and_then(|k| k.split('?').next()).unwrap().to_string();
    (event.extra, key)
}

/// Runs the sweep over `sides`, `runs` jobs per size, in a studio of its own under `work`.
pub fn sweep(work: &Path, photo: &image::RgbImage, sides: &[u32], runs: usize) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir_in(work).unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::new(dir.path().join("studio"));
        config.concurrency = 1;
        config.initial_credits = 1_000_000;
        let engine = Engine::open(config).unwrap();
        engine.start().await.unwrap();
        engine.set_public_base("");
        let owner = Caller::owner(Mode::Live);
        let mut rows = Vec::new();
        for &side in sides {
            let jpeg = photo_at(photo, side);
            let upload = engine.upload(&owner, "sweep.jpg", jpeg.clone()).await.unwrap();
            let body = json!({"source_image_s3_key": upload.upload_key, "output_preset": "original",
                              "scene_type": "studio_sweep", "mood": "soft", "dominant_colors": ["sky"]});
            run_job(&engine, body.clone()).await; // warm: the session, the caches, the allocator
            let (mut totals, mut models, mut floors) = (Vec::new(), Vec::new(), Vec::new());
            let mut stages: Vec<(String, Vec<f64>)> = Vec::new();
            let mut last_render = None;
            for _ in 0..runs {
                let (extra, key) = run_job(&engine, body.clone()).await;
                let timings = extra["timings_ms"].as_object().unwrap();
                totals.push(timings.values().filter_map(Value::as_f64).sum());
                models.push(extra["inference_ms"].as_f64().unwrap());
                for (name, ms) in timings {
                    match stages.iter_mut().find(|(n, _)| n == name) {
                        Some((_, v)) => v.push(ms.as_f64().unwrap()),
                        None => stages.push((name.clone(), vec![ms.as_f64().unwrap()])),
                    }
                }
                // The floor: this photo decoded, this render encoded, as the engine does both.
                let render = image::open(dir.path().join("studio/live/store").join(&key)).unwrap();
                let t = Instant::now();
                std::hint::black_box(figur_pixels::vision::decode::decode(&jpeg).unwrap());
                let decode = t.elapsed();
                let t = Instant::now();
                std::hint::black_box(
                    figur_pixels::vision::encode::png(&render, figur_pixels::vision::encode::Use::Final).unwrap(),
                );
                floors.push((decode + t.elapsed()).as_secs_f64() * 1000.0);
                last_render = Some(render);
            }
            rows.push(Row {
                side,
                end_to_end: median(totals),
                model: median(models),
                decode_encode: median(floors),
                stages: stages.into_iter().map(|(n, v)| (n, median(v))).collect(),
                peak_rss_mib: rss_hwm_mib(),
                encoders: last_render.map(|r| encoders(&r)).unwrap_or_default(),
            });
        }
        engine.shutdown(Duration::from_secs(5)).await;
        rows
    })
}

/// The PNG encoder's settings on one render: what each costs in time and bytes.
fn encoders(render: &image::DynamicImage) -> Vec<(String, f64, usize)> {
    use image::codecs::png::{CompressionType as C, FilterType as F, PngEncoder};
    let settings = [
        ("fast, adaptive filter", C::Fast, F::Adaptive),
        ("fast, Up filter", C::Fast, F::Up),
        ("fast, Paeth filter", C::Fast, F::Paeth),
        ("balanced, adaptive filter", C::Default, F::Adaptive),
    ];
    settings
        .iter()
        .map(|(name, c, f)| {
            let t = Instant::now();
            let mut bytes = Vec::new();
            render.write_with_encoder(PngEncoder::new_with_quality(&mut bytes, *c, *f)).unwrap();
            (name.to_string(), t.elapsed().as_secs_f64() * 1000.0, bytes.len())
        })
        .collect()
}

/// Prints the rows: each size's end to end, model, decode + encode, and the ratio to the floor.
pub fn print(rows: &[Row]) {
    println!("  resolution sweep: the background-swap job (studio_sweep, original size), median");
    println!("    size   end to end      model  decode+encode  ratio e2e/(decode+model+encode)  peak RSS");
    for r in rows {
        let floor = r.model + r.decode_encode;
        println!(
            "    {:>4}²  {:>8.0} ms  {:>6.0} ms  {:>10.0} ms  {:>8.2}                         {:>5} MiB",
            r.side,
            r.end_to_end,
            r.model,
            r.decode_encode,
            r.end_to_end / floor,
            r.peak_rss_mib
        );
        let stages: Vec<String> = r.stages.iter().map(|(n, ms)| format!("{n} {ms:.0}")).collect();
        println!("           stages (ms): {}", stages.join(", "));
        // The issue's own yardstick: the job's decode, matte and finish stages as the floor.
        let stage = |name: &str| r.stages.iter().find(|(n, _)| n == name).map(|(_, ms)| *ms).unwrap_or(0.0);
        let codec_stages = stage("decode") + stage("matte") + stage("finish");
        println!(
            "           ratio e2e / (decode + matte + finish stages) = {:.2}",
            r.end_to_end / codec_stages.max(1e-9)
        );
    }
    if let Some(largest) = rows.last() {
        println!("  PNG settings on the {}² render:", largest.side);
        for (name, ms, bytes) in &largest.encoders {
            println!("    {name:<28} {ms:>7.0} ms  {:>7.1} MiB", *bytes as f64 / (1 << 20) as f64);
        }
    }
}
