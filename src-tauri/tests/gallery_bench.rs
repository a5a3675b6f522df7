//! Benchmark, not a test (ignored by default): cold start to an interactive window, and the
//! gallery's frame times while scrolling through 1,000 renders. Run under a display:
//!   xvfb-run -a cargo test --release -p figur-desktop --test gallery_bench -- --ignored --nocapture

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use figur_engine::{Caller, Engine, EngineConfig, Mode};
use serde_json::json;

#[tokio::test]
#[ignore]
async fn cold_start_and_gallery_scroll_with_1000_renders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // 1,000 renders: background swaps of the 512² sample photo (512² renders, so tiles have
    // real images to shrink), made by the engine in-process on the data folder the app opens.
    let mut config = EngineConfig::new(&data);
    config.concurrency = 2;
    let engine = Engine::open(config).unwrap();
    engine.start().await.unwrap();
    let owner = Caller::owner(Mode::Live);
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let photo = std::fs::read(figur_models::samples::astronaut(&cache).unwrap()).unwrap();
    let key = engine.upload(&owner, "a.png", photo).await.unwrap().upload_key;
    let t = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..1000 {
        let mood = ["warm", "cool", "soft"][i % 3];
        let body =
            json!({"source_image_s3_key": key, "output_preset": "original", "scene_type": "paper", "mood": mood});
        let op = figur_engine::Operation::BackgroundSwapWithSpec;
        jobs.push(engine.dispatch(&owner, op, body, "bench", None).await.unwrap().job_id);
    }
    for id in &jobs {
        engine.job_events(Mode::Live, id, 0, Some(Duration::from_secs(1))).await.unwrap();
        while serde_json::to_value(engine.job(Mode::Live, id).await.unwrap().status).unwrap() != "SUCCESS" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("made 1,000 renders in {:.1} s", t.elapsed().as_secs_f64());
    engine.shutdown(Duration::from_secs(5)).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut driver = Command::new("WebKitWebDriver")
        .arg(format!("--port={port}"))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env("FIGUR_DATA_DIR", &data)
        .env("FIGUR_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut caps = serde_json::Map::new();
    caps.insert("webkitgtk:browserOptions".into(), json!({"binary": env!("CARGO_BIN_EXE_figur-studio"), "args": []}));
    let started = Instant::now();
    let client = ClientBuilder::native().capabilities(caps).connect(&format!("http://127.0.0.1:{port}")).await.unwrap();
    client.wait().for_element(Locator::Css("[data-testid=nav-library]")).await.unwrap();
    let cold = started.elapsed();
    client.find(Locator::Css("[data-testid=nav-gallery]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("[data-testid=render]")).await.unwrap();
    // Scroll the gallery 40 px a frame for 3 s, recording every frame's duration: first with
    // thumbnails made as tiles appear, then again over the same renders (thumbnails cached).
    for pass in ["first scroll", "second scroll"] {
        let frames = client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   const g = document.querySelector('[data-testid=gallery]');
                   g.scrollTop = 0;
                   const times = []; let last = performance.now(); const end = last + 3000;
                   function step(now) { times.push(now - last); last = now; g.scrollTop += 40;
                     if (now < end) requestAnimationFrame(step); else done(times); }
                   requestAnimationFrame(step);"#,
                vec![],
            )
            .await
            .unwrap();
        let mut times: Vec<f64> = frames.as_array().unwrap().iter().filter_map(|v| v.as_f64()).skip(1).collect();
        times.sort_by(|a, b| a.total_cmp(b));
        let p95 = times[times.len() * 95 / 100];
        let max = times.last().copied().unwrap_or(0.0);
        eprintln!(
            "cold start to interactive: {} ms (WebDriver session included); gallery {pass} over 1,000 renders: {} frames, p95 {:.1} ms, max {:.1} ms",
            cold.as_millis(),
            times.len(),
            p95,
            max
        );
    }
    client.close().await.unwrap();
    let _ = Command::new("kill").arg(driver.id().to_string()).status();
    let _ = driver.wait();
}
