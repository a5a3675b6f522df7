//! `GET /metrics` (issue 31): Prometheus' text format for a valid key — dispatches by outcome,
//! claim latency, job and stage durations per workflow, and the queue's depth per workflow and
//! priority read from the ledger when scraped.

use serde_json::json;

use crate::support::Server;

async fn scrape(server: &Server) -> String {
    let r = server.http.get(server.url("/metrics")).bearer_auth(&server.key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    r.text().await.unwrap()
}

/// The value of the sample `name{labels}` (labels as the exposition writes them, sorted).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

#[tokio::test]
async fn metrics_count_dispatches_jobs_and_stages_and_read_the_queue() {
    let server = Server::start().await;
    let anonymous = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "a key, as on every route");

    let r = server.dispatch_backdrop(json!({})).await;
    assert_eq!(r.status, 202);
    server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    let bad = server.post("/v1/background-generator", json!({"scene_type": 7})).await;
    assert_eq!(bad.status, 422);

    let text = scrape(&server).await;
    let flow = "workflow=\"background-generator\"";
    assert_eq!(sample(&text, &format!("figur_dispatches_total{{outcome=\"accepted\",{flow}}}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("figur_dispatches_total{{outcome=\"VALIDATION_ERROR\",{flow}}}")), Some(1.0));
    assert_eq!(sample(&text, &format!("figur_dispatch_seconds_count{{{flow}}}")), Some(1.0));
    assert_eq!(sample(&text, &format!("figur_claim_seconds_count{{{flow}}}")), Some(1.0));
    assert_eq!(sample(&text, &format!("figur_job_seconds_count{{outcome=\"succeeded\",{flow}}}")), Some(1.0));
    assert_eq!(sample(&text, &format!("figur_stage_seconds_count{{stage=\"palette\",{flow}}}")), Some(1.0));
    // GPU memory is read through NVML where an NVIDIA driver is installed, and absent elsewhere
    // (never a zero that looks like an idle GPU).
    let nvidia = ["/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "/usr/lib64/libnvidia-ml.so.1"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    assert_eq!(text.contains("figur_gpu_memory_bytes{"), nvidia, "{text}");

    // Jobs queued but not run (a paused studio): the depth per workflow and priority.
    let paused = Server::start_with(&["--paused"], &[]).await;
    for _ in 0..2 {
        assert_eq!(paused.dispatch_backdrop(json!({})).await.status, 202);
    }
    let text = scrape(&paused).await;
    let depth = format!("figur_queue_depth{{priority=\"0\",realm=\"live\",{flow}}}");
    assert_eq!(sample(&text, &depth), Some(2.0), "{text}");
}
