//! Durable dispatch benchmark — `cargo bench --bench dispatch`.
//!
//! In one run, on the same disk, with the same durability settings (WAL, synchronous=FULL):
//! 1. the baseline: raw SQLite single-row transactional inserts (BEGIN; INSERT; COMMIT), one
//!    after another — what one durable write per request costs;
//! 2. durable dispatches through HTTP: concurrent clients POST /v1/background-generator to a
//!    real server (jobs are queued, not run, so only dispatch is measured); each 202 means the
//!    job, its `queued` event and its debit are on disk;
//! 3. the ratio of the two;
//! 4. long-poll wake-up: a client waits on `GET /v1/jobs/{id}/events?wait=30`; the time from the
//!    cancel that commits the job's next event to the client's answer (commit included).
//!
//! Sizes can be changed with FIGUR_BENCH_N (dispatches) and FIGUR_BENCH_CLIENTS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use figur_engine::{Caller, Engine, EngineConfig, Mode};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn raw_inserts(dir: &std::path::Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE jobs (public_id TEXT PRIMARY KEY, job_type TEXT, status TEXT, request_json TEXT, created_at TEXT) WITHOUT ROWID;",
    )
    .unwrap();
    let body = r#"{"scene_type":"studio_sweep","mood":"soft","resolution":"0.5K","seed":1}"#;
    let start = Instant::now();
    for _ in 0..n {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute(
            "INSERT INTO jobs VALUES (?1, 'BACKGROUND_GENERATOR', 'NOT_STARTED', ?2, '2026-01-01T00:00:00Z')",
            rusqlite::params![figur_engine::ids::new_id(), body],
        )
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let n = env_usize("FIGUR_BENCH_N", 6000);
    let clients = env_usize("FIGUR_BENCH_CLIENTS", 64);
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(&base).unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("durable dispatch benchmark — {cores} cores, data on the same disk under {}", base.display());

    let raw = raw_inserts(dir.path(), n.min(4000));
    println!("  baseline: raw SQLite single-row transactional inserts ........ {raw:>8.0} /s");

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::new(dir.path().join("studio"));
        config.run_jobs = false;
        config.initial_credits = i64::MAX / 2;
        config.cache_dir = Some(base.join("figur-cache"));
        let engine = Engine::open(config).unwrap();
        engine.start().await.unwrap();
        let (_, key) = engine.create_key(Mode::Live, &figur_engine::Capability::ALL, "bench").await.unwrap();
        let server = figur_http::ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), allow_remote: false, rate_limit: 0, ..Default::default() };
        let bound = figur_http::bind(engine.clone(), &server).await.unwrap();
        let url = bound.base_url();
        tokio::spawn(bound.serve(std::future::pending()));
        let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
        let body = serde_json::json!({"scene_type": "studio_sweep", "mood": "soft", "resolution": "0.5K", "seed": 1});

        // Warm-up: connections, caches, the first WAL growth.
        for _ in 0..200 {
            http.post(format!("{url}/v1/background-generator")).bearer_auth(&key).json(&body).send().await.unwrap();
        }

        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (http, url, key, body, next) = (http.clone(), url.clone(), key.clone(), body.clone(), next.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                        let t = Instant::now();
                        let r = http.post(format!("{url}/v1/background-generator")).bearer_auth(&key).json(&body).send().await.unwrap();
                        assert_eq!(r.status(), 202);
                        r.bytes().await.unwrap();
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "  durable dispatches through HTTP ({clients} clients) .............. {rate:>8.0} /s   (p50 {:.1} ms, p99 {:.1} ms)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        println!("  ratio dispatch / raw insert ................................. {:>8.2}      (target ≥ 0.50; ≥ 2000 /s)", rate / raw);

        // Wake-up latency: commit → waiting long-poll answered.
        let owner = Caller::owner(Mode::Live);
        let mut wake = Vec::new();
        for _ in 0..300 {
            let r: serde_json::Value = http
                .post(format!("{url}/v1/background-generator"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let job = r["job_id"].as_str().unwrap().to_string();
            let waiter = {
                let (http, url, key, job) = (http.clone(), url.clone(), key.clone(), job.clone());
                tokio::spawn(async move {
                    let r = http.get(format!("{url}/v1/jobs/{job}/events?since=1&wait=30")).bearer_auth(&key).send().await.unwrap();
                    let body: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(body["events"][0]["event_type"], "failed");
                    Instant::now()
                })
            };
            tokio::time::sleep(Duration::from_millis(15)).await; // the waiter is parked on the bus
            let t0 = Instant::now();
            engine.cancel(&owner, &job).await.unwrap();
            let answered = waiter.await.unwrap();
            wake.push(answered.duration_since(t0).as_secs_f64() * 1000.0);
        }
        wake.sort_by(f64::total_cmp);
        println!(
            "  long-poll wake-up, commit → answer (300 waits) ........ p50 {:>5.2} ms, p99 {:>5.2} ms  (target p99 ≤ 10 ms)",
            percentile(&wake, 0.5),
            percentile(&wake, 0.99)
        );
        engine.shutdown(Duration::from_secs(1)).await;
    });
}
