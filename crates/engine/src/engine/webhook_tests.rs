//! Webhooks end to end in-process: a real engine, a real HTTP receiver on a loopback port that
//! answers what each test scripts, and the signature checked the way a receiver would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::queue_tests::{balance, config, ended, owner, start, LIMIT};
use super::{Engine, WebhookPolicy};
use crate::auth::Mode;
use crate::error::ErrorCode;
use crate::failpoints::FailPoints;
use crate::workflow::Operation;

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A receiver answering the n-th POST with `answers[n]` (the last one from then on).
async fn receiver(answers: Vec<u16>) -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/figur?team=a", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let headers: Vec<(String, String)> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length: usize =
                headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            while buf.len() < head_end + length {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[head_end..].to_vec();
            let n = {
                let mut log = seen.lock().unwrap();
                log.push(Received { headers, body });
                log.len()
            };
            let status = answers[(n - 1).min(answers.len() - 1)];
            let reply = format!("HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    (url, log)
}

fn quick(backoff_ms: &[u64]) -> WebhookPolicy {
    WebhookPolicy {
        backoff: backoff_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    }
}

async fn studio(dir: &std::path::Path, policy: WebhookPolicy, run_jobs: bool) -> Arc<Engine> {
    let mut config = config(dir, 1, &Arc::new(FailPoints::default()));
    config.webhooks = policy;
    config.run_jobs = run_jobs;
    let engine = start(config).await;
    // As `figur serve` does once bound: only a process with an address delivers.
    engine.set_public_base("http://127.0.0.1:8686");
    engine
}

async fn dispatch_with(engine: &Engine, webhook_url: Value) -> Result<String, crate::error::ApiError> {
    let body =
        json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": 3, "webhook_url": webhook_url});
    engine.dispatch(&owner(), Operation::BackgroundGenerator, body, "test", None).await.map(|a| a.job_id)
}

/// Waits until the job's delivery is no longer `waiting`.
async fn settled(engine: &Engine, job: &str) -> crate::ledger::webhooks::WebhookDeliveries {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let d = engine.webhook_deliveries(Mode::Live, job).await.unwrap();
        if d.state != "waiting" {
            return d;
        }
        assert!(tokio::time::Instant::now() < deadline, "the webhook of {job} never settled: {d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a receiver does: recompute the signature from the secret `figur keys webhook-secret`
/// prints, over the id, the timestamp and the raw body.
fn verify(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let key: [u8; 32] = key.try_into().unwrap();
    let timestamp: i64 = r.header("webhook-timestamp").parse().unwrap();
    let expected = super::webhook_signature(&key, r.header("webhook-id"), timestamp, &r.body);
    r.header("webhook-signature") == expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_is_posted_signed_retried_until_accepted_and_every_attempt_listed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = studio(dir.path(), quick(&[30, 30, 30]), true).await;
    let (url, log) = receiver(vec![500, 503, 204]).await;
    let job = dispatch_with(&engine, json!(url)).await.unwrap();
    ended(&engine, &job).await;
    let d = settled(&engine, &job).await;

    assert_eq!((d.state.as_str(), d.webhook_url.as_deref()), ("delivered", Some(url.as_str())));
    let statuses: Vec<_> = d.attempts.iter().map(|a| (a.attempt, a.status_code)).collect();
    assert_eq!(statuses, vec![(1, Some(500)), (2, Some(503)), (3, Some(204))]);
    assert!(d.attempts[0].error.as_deref().unwrap().contains("500"), "{:?}", d.attempts[0]);
    assert_eq!(d.attempts[2].error, None);

    let posts = log.lock().unwrap().clone();
    assert_eq!(posts.len(), 3, "one POST per attempt, none after the 2xx");
    let secret = engine.webhook_secret();
    for post in &posts {
        assert_eq!(post.header("webhook-id"), job, "retries carry the same id to deduplicate by");
        assert!(verify(&secret, post), "the signature checks out");
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body["type"], "job.succeeded");
        assert_eq!(body["data"]["public_id"], job.as_str());
        assert_eq!(body["data"]["status"], "SUCCESS");
        let image = body["data"]["result"][0]["image_url"].as_str().unwrap_or_default();
        assert!(image.starts_with("http://127.0.0.1:8686/v1/artifacts/live/"), "a signed URL: {image}");
    }
    // A changed byte, or another install's secret, does not verify.
    let mut forged = posts[2].clone();
    forged.body[10] ^= 1;
    assert!(!verify(&secret, &forged));
    let other = tempfile::tempdir().unwrap();
    let stranger = studio(other.path(), quick(&[]), false).await;
    assert!(!verify(&stranger.webhook_secret(), &posts[2]));
    engine.shutdown(Duration::from_secs(5)).await;
    stranger.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_gives_up_after_its_retries_or_at_once_on_410_and_a_failed_job_is_posted_too() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs are not run: a cancelled job is the failed job here.
    let engine = studio(dir.path(), quick(&[20]), false).await;

    let (always_500, log_500) = receiver(vec![500]).await;
    let (gone, log_gone) = receiver(vec![410]).await;
    // A port nobody listens on: the attempt records why there was no answer.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let mut jobs = Vec::new();
    for url in [&always_500, &gone, &closed] {
        let job = dispatch_with(&engine, json!(url)).await.unwrap();
        engine.cancel(&owner(), &job).await.unwrap();
        jobs.push(job);
    }
    let d500 = settled(&engine, &jobs[0]).await;
    assert_eq!(d500.state, "failed");
    assert_eq!(d500.attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(), vec![Some(500), Some(500)]);
    assert_eq!(log_500.lock().unwrap().len(), 2, "one try and one retry, then it gives up");
    let body: Value = serde_json::from_slice(&log_500.lock().unwrap()[0].body).unwrap();
    assert_eq!(body["type"], "job.failed");

    let dgone = settled(&engine, &jobs[1]).await;
    assert_eq!((dgone.state.as_str(), dgone.attempts.len()), ("failed", 1));
    assert_eq!(log_gone.lock().unwrap().len(), 1);

    let dclosed = settled(&engine, &jobs[2]).await;
    assert_eq!(dclosed.state, "failed");
    assert_eq!(dclosed.attempts[0].status_code, None);
    assert!(dclosed.attempts[0].error.as_deref().unwrap_or("").to_lowercase().contains("connect"), "{dclosed:?}");
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_webhook_url_is_a_422_on_the_field_and_charges_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = studio(dir.path(), quick(&[]), false).await;
    let before = balance(&engine).await;
    let long = format!("https://example.com/{}", "a".repeat(2100));
    for (bad, kind) in [
        (json!("ftp://example.com/x"), "value_error"),
        (json!("not a url"), "value_error"),
        (json!("http://"), "value_error"),
        (json!(long), "value_error"),
        (json!(12), "type_error"),
        (json!({"url": "https://example.com"}), "type_error"),
    ] {
        let err = dispatch_with(&engine, bad.clone()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError, "{bad}");
        let detail = serde_json::to_value(&err.details[0]).unwrap();
        assert_eq!(detail["loc"], json!(["body", "webhook_url"]), "{bad}: {detail}");
        assert_eq!(detail["type"], kind, "{bad}");
    }
    assert_eq!(balance(&engine).await, before);

    // No webhook (absent or null): nothing to deliver, and the listing says so.
    let plain = dispatch_with(&engine, Value::Null).await.unwrap();
    let d = engine.webhook_deliveries(Mode::Live, &plain).await.unwrap();
    assert_eq!((d.state.as_str(), d.webhook_url, d.attempts.len()), ("none", None, 0));
    let unknown = engine.webhook_deliveries(Mode::Live, "01J00000000000000000000000").await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::JobNotFound);
    engine.shutdown(Duration::from_secs(5)).await;
}
