//! Dispatch latency while 4K renders fill every core — `cargo bench --bench dispatch_under_load`.
//!
//! A real `figur serve` (concurrency = cores) takes an open-loop stream of 4K
//! background-generator dispatches at 8/s and then 12/s; every job runs, so the render threads
//! keep all cores busy while the API answers. Run side by side in one go: the baseline with job
//! threads at the server's own priority (`FIGUR_WORKER_NICE=0`, what the studio did before)
//! and the studio as it ships (job threads at nice 10). Printed: p50/p99 of the 202s at each
//! rate, and the ratio of the p99s.
//!
//! Rates and the seconds per rate: FIGUR_BENCH_RATES (default "8,12"), FIGUR_BENCH_SECONDS (15).

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// (rate, p50, p99) for each rate, against a fresh server whose job threads run at `nice`.
fn measure(nice: &str, rates: &[f64], seconds: f64) -> Vec<(f64, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let figur = env!("CARGO_BIN_EXE_figur");
    let key = Command::new(figur)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["keys", "create", "--name", "bench"])
        .output()
        .unwrap();
    let key = String::from_utf8_lossy(&key.stdout).lines().last().unwrap().trim().to_string();
    Command::new(figur).arg("--data-dir").arg(dir.path()).args(["credits", "set", "100000000"]).output().unwrap();
    let mut server = Command::new(figur)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .env("FIGUR_WORKER_NICE", nice)
        .env("FIGUR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "figur serve exited");
        if let Some(at) = line.find("http://127.0.0.1:") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let results = rt.block_on(async {
        let http = reqwest::Client::new();
        let body = serde_json::json!({"scene_type": "studio_sweep", "mood": "soft", "resolution": "4K", "aspect_ratio": "3:4"});
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
                    let r = http.post(format!("{base}/v1/background-generator")).bearer_auth(&key).json(&body).send().await.unwrap();
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
        results
    });
    let _ = server.kill();
    let _ = server.wait();
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
    println!("dispatch latency under load — {cores} cores, 4K background jobs running on all of them");
    let before = measure("0", &rates, seconds);
    let after = measure("10", &rates, seconds);
    for ((rate, p50, p99), (_, p50n, p99n)) in before.iter().zip(&after) {
        println!(
            "  {rate:>4.0} dispatches/s  baseline (jobs at normal priority): p50 {p50:>6.1} ms  p99 {p99:>6.1} ms"
        );
        println!(
            "  {rate:>4.0} dispatches/s  jobs at nice 10 (as shipped) ......: p50 {p50n:>6.1} ms  p99 {p99n:>6.1} ms"
        );
        println!("  {rate:>4.0} dispatches/s  ratio p99 shipped / baseline ......: {:>6.2}", p99n / p99);
    }
}
