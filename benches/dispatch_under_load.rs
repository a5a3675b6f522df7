//! Dispatch latency while 4K renders fill every core — `cargo bench --bench dispatch_under_load`.
//!
//! A real `figur serve` (concurrency = cores) takes an open-loop stream of dispatches at 8/s and
//! then 12/s; every job is a background swap of a 4K photo (person matte on ONNX Runtime, then
//! full-resolution refinement and compositing), so render threads keep all cores busy while
//! the API answers. Side by side in one run:
//! - a reference with nothing rendering (`--paused`: jobs queue, none runs): the cost of a
//!   durable dispatch alone (fsync, the writer queue);
//! - the baseline: job threads at the server's own priority (`FIGUR_WORKER_NICE=0`, what the
//!   studio did before);
//! - as shipped: job threads at nice 10.
//!
//! The cause reads off the three: what the paused reference already shows is fsync and the
//! writer; what only the baseline adds is CPU starvation of the HTTP runtime by render threads.
//!
//! FIGUR_BENCH_RATES (default "8,12"), FIGUR_BENCH_SECONDS per rate (default 15).

#[path = "common/server.rs"]
mod server;

use std::process::Command;

use server::BenchServer;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A 4K (3840×3840) PNG of the sample astronaut, made once.
fn photo_4k() -> Vec<u8> {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let path = figur_models::samples::astronaut(&cache).expect("the sample photos (`figur samples`)");
    let img = image::open(path).unwrap().resize_exact(3840, 3840, image::imageops::FilterType::CatmullRom);
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// (rate, p50, p99) for each rate, against a fresh server whose job threads run at `nice`
/// (`None`: paused, no job runs).
fn measure(nice: Option<&str>, photo: &[u8], rates: &[f64], seconds: f64) -> Vec<(f64, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let figur = env!("CARGO_BIN_EXE_figur");
    Command::new(figur).arg("--data-dir").arg(dir.path()).args(["credits", "set", "100000000"]).output().unwrap();
    let server = match nice {
        Some(nice) => BenchServer::start(dir.path(), &[], &[("FIGUR_WORKER_NICE", nice)]),
        None => BenchServer::start(dir.path(), &["--paused"], &[]),
    };
    let (base, key) = (server.base.clone(), server.key.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let results = rt.block_on(async {
        let http = reqwest::Client::new();
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(photo.to_vec()).file_name("astronaut-4k.png"));
        let up: serde_json::Value =
            http.post(format!("{base}/v1/uploads")).bearer_auth(&key).multipart(form).send().await.unwrap().json().await.unwrap();
        let body = serde_json::json!({
            "source_image_s3_key": up["upload_key"], "output_preset": "original", "scene_type": "studio_sweep", "mood": "soft"
        });
        let mut results = Vec::new();
        for &rate in rates {
            let n = (rate * seconds) as usize;
            let start = Instant::now();
            let mut sent = Vec::new();
            for i in 0..n {
                // Open loop: the i-th request leaves at i / rate, whatever the answers do.
                tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate)).into()).await;
                let (http, base, key, body) = (http.clone(), base.clone(), key.clone(), body.clone());
                sent.push(tokio::spawn(async move {
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}/v1/background-swap-with-spec"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 202, "{:?}", r.text().await);
                    t.elapsed().as_secs_f64() * 1000.0
                }));
            }
            let mut latencies = Vec::new();
            for s in sent {
                latencies.push(s.await.unwrap());
            }
            latencies.sort_by(f64::total_cmp);
            results.push((rate, percentile(&latencies, 0.5), percentile(&latencies, 0.99)));
        }
        // What the render threads did meanwhile (the newest 200 jobs).
        let jobs: serde_json::Value =
            http.get(format!("{base}/v1/jobs?limit=200")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let mut by_status = std::collections::BTreeMap::<String, usize>::new();
        for job in jobs["jobs"].as_array().unwrap() {
            *by_status.entry(job["status"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
        println!("    jobs at nice {}: {by_status:?}", nice.unwrap_or("- (paused)"));
        results
    });
    drop(server);
    results
}

fn main() {
    let rates: Vec<f64> = std::env::var("FIGUR_BENCH_RATES")
        .unwrap_or_else(|_| "8,12".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: f64 = std::env::var("FIGUR_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(15.0);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("dispatch latency under load — {cores} cores; every job a background swap of a 3840×3840 photo");
    let photo = photo_4k();
    let idle = measure(None, &photo, &rates, seconds);
    let before = measure(Some("0"), &photo, &rates, seconds);
    let after = measure(Some("10"), &photo, &rates, seconds);
    for (((rate, p50i, p99i), (_, p50, p99)), (_, p50n, p99n)) in idle.iter().zip(&before).zip(&after) {
        println!(
            "  {rate:>4.0}/s  reference, nothing rendering (paused) .....: p50 {p50i:>6.1} ms  p99 {p99i:>6.1} ms"
        );
        println!("  {rate:>4.0}/s  baseline, jobs at normal priority .........: p50 {p50:>6.1} ms  p99 {p99:>6.1} ms");
        println!(
            "  {rate:>4.0}/s  as shipped, jobs at nice 10 ................: p50 {p50n:>6.1} ms  p99 {p99n:>6.1} ms"
        );
        println!("  {rate:>4.0}/s  ratio p99 shipped / baseline ...............: {:>6.2}", p99n / p99);
    }
}
