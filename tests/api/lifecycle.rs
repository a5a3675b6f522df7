//! The seed's lifecycle — dispatch → poll events → fetch the result — with background-generator.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{assert_timeline, Server};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn background_generator_lifecycle_matches_the_contract() {
    let server = Server::start().await;
    let balance = server.balance().await;

    let r = server
        .dispatch_backdrop(json!({"dominant_colors": ["sage", "#1F2A44"], "aspect_ratio": "3:4", "seed": 7, "display_name": "Sage test"}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let mut keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["credits_cost", "job_id", "request_id", "status"]);
    assert_eq!(r.body["status"], "NOT_STARTED");
    assert_eq!(r.body["credits_cost"], 5);
    assert_eq!(r.headers["x-request-id"].to_str().unwrap(), r.body["request_id"].as_str().unwrap());
    let job = r.body["job_id"].as_str().unwrap().to_string();
    assert_eq!(job.len(), 26);

    let events = server.wait_terminal(&job).await;
    assert_timeline(&events);
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last:?}");
    let stages: Vec<&str> = events.iter().filter_map(|e| e["stage"].as_str()).collect();
    assert_eq!(stages, ["started", "palette", "base", "texture", "light", "finish", "catalog"]);
    // Progress rises stage by stage.
    let progress: Vec<f64> = events.iter().filter_map(|e| e["extra"]["progress"].as_f64()).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    // The palette stage carries an intermediate artifact.
    let palette = events.iter().find(|e| e["stage"] == "palette").unwrap();
    assert_eq!(palette["artifacts"][0]["role"], "intermediate");

    // Cursors: `since` is exclusive.
    let tail = server.get(&format!("/v1/jobs/{job}/events?since=3")).await;
    assert_eq!(tail.body["events"][0]["seq"], 4);
    assert_eq!(tail.body["latest_seq"], events.len() as i64);

    let detail = server.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["status"], "SUCCESS");
    assert_eq!(detail.body["job_type"], "BACKGROUND_GENERATOR");
    assert_eq!(detail.body["request"]["seed"], 7);
    assert_eq!(detail.body["latest_event"]["seq"], last["seq"]);
    let result = &detail.body["result"][0];
    assert_eq!(result["kind"], "background");
    assert_eq!(result["role"], "final");
    assert_eq!((result["meta"]["width"].as_u64(), result["meta"]["height"].as_u64()), (Some(384), Some(512)));

    // The signed URL serves the image without the API key; the bytes match the recorded hash.
    let url = result["image_url"].as_str().unwrap();
    assert!(url.starts_with(&server.base) && url.contains("sig="), "{url}");
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(sha256_hex(&bytes), result["meta"]["sha256"].as_str().unwrap());
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (384, 512));
    // A tampered signature is refused.
    let forged = url.replace("sig=", "sig=00");
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 403);

    // Filed as a catalog background that names its job.
    let catalog_id = last["extra"]["catalog_public_id"].as_str().unwrap();
    let entry = server.get(&format!("/v1/catalog/backgrounds/{catalog_id}")).await;
    assert_eq!(entry.status, 200, "{:?}", entry.body);
    assert_eq!(entry.body["generation_job_public_id"], job.as_str());
    assert_eq!(entry.body["display_name"], "Sage test");
    assert_eq!(entry.body["status"], "active");

    // Generators make no render.
    assert_eq!(server.get(&format!("/v1/renders/{job}")).await.code(), "RESOURCE_NOT_FOUND");

    // Credits and usage.
    assert_eq!(server.balance().await, balance - 5);
    let usage = server.get("/v1/usage?limit=1").await;
    assert_eq!(usage.body["usage"][0]["job_id"], job.as_str());
    assert_eq!(usage.body["usage"][0]["credits"], -5);
    assert_eq!(usage.body["usage"][0]["kind"], "debit");

    // The job list shows it, newest first.
    let list = server.get("/v1/jobs?limit=5").await;
    assert_eq!(list.body["jobs"][0]["public_id"], job.as_str());
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["limit"], 5);
}

#[tokio::test]
async fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let server = Server::start().await;
    let mut hashes = Vec::new();
    for seed in [11, 11, 12] {
        let r = server.dispatch_backdrop(json!({"scene_type": "concrete", "mood": "moody", "seed": seed})).await;
        let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
        hashes.push(events.last().unwrap()["artifacts"][0]["meta"]["sha256"].as_str().unwrap().to_string());
    }
    assert_eq!(hashes[0], hashes[1]);
    assert_ne!(hashes[0], hashes[2]);
}

#[tokio::test]
async fn operations_catalog_and_categories() {
    let server = Server::start().await;
    let ops = server.get("/v1/operations").await;
    let ops = ops.body["operations"].as_array().unwrap().clone();
    // The hosted API's 11 and the upscale extension.
    assert_eq!(ops.len(), 12);
    let enabled: Vec<&str> = ops.iter().filter(|o| o["enabled"] == true).map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(enabled.len(), 12, "every workflow runs in this build: {enabled:?}");
    let class = |name: &str| ops.iter().find(|o| o["name"] == name).unwrap()["op_class"].clone();
    assert_eq!(class("try-on"), "compose");
    assert_eq!(class("look"), "compose");
    assert_eq!(class("extract"), "edit");
    assert_eq!(class("upscale"), "edit");

    // A workflow switched off answers 503 OPERATION_DISABLED and charges nothing.
    let server = Server::start_with(&[], &[("FIGUR_DISABLED_WORKFLOWS", "look")]).await;
    let listed = server.get("/v1/operations").await.body["operations"].clone();
    assert!(listed.as_array().unwrap().iter().any(|o| o["name"] == "look" && o["enabled"] == false));
    let before = server.balance().await;
    let r = server
        .post("/v1/look", json!({"items": [{"trial_image": "uploads/x/y.png", "trial_item_category": "top"}]}))
        .await;
    // Its upload key does not exist, so validation speaks first…
    assert_eq!(r.status, 422);
    let up = server.upload("shirt.png", crate::support::png(64, 64)).await;
    let key = up.body["upload_key"].as_str().unwrap();
    let r = server.post("/v1/look", json!({"items": [{"trial_image": key, "trial_item_category": "top"}]})).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, "OPERATION_DISABLED"));
    assert_eq!(server.balance().await, before);
    assert_eq!(server.get("/v1/jobs").await.body["count"], 0, "no job was made");

    // Garment categories cover the contract's keys.
    let cats = server.get("/v1/garment-categories").await.body;
    let keys: Vec<&str> = cats.as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    for k in ["top", "t-shirt", "dress", "jeans", "shoes", "eyewear"] {
        assert!(keys.contains(&k), "{k}");
    }

    // Built-in backgrounds arrive (rendered in the background on first start).
    let mut backgrounds = Value::Null;
    for _ in 0..300 {
        backgrounds = server.get("/v1/catalog/backgrounds").await.body;
        if backgrounds.as_array().map(|a| a.len()) == Some(6) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let backgrounds = backgrounds.as_array().unwrap();
    assert_eq!(backgrounds.len(), 6);
    assert!(backgrounds.iter().all(|b| b["builtin"] == true && b["generation_job_public_id"].is_null()));
    assert!(server.get("/v1/catalog/models").await.body.as_array().unwrap().is_empty());
    assert_eq!(server.get("/v1/catalog/shoes").await.status, 404);

    // Compatibility: unknown candidates are reported, an unknown product category is 404.
    let dress = cats.as_array().unwrap().iter().find(|c| c["key"] == "dress").unwrap()["public_id"].clone();
    let r = server
        .post("/v1/compatibility/check", json!({"product_garment_category_public_id": dress, "candidate_complementary_image_public_ids": ["01JNOPE0000000000000000000"]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["results"][0]["verdict"], "catalog_ref_missing");
    assert_eq!(r.body["results"][0]["compatible"], false);
    let r = server
        .post("/v1/compatibility/check", json!({"product_garment_category_public_id": "01JNOPE0000000000000000000", "candidate_complementary_image_public_ids": []}))
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn uploads_are_stored_and_served() {
    let server = Server::start().await;
    let r = server.upload("../../My Photo.png", crate::support::png(40, 30)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let key = r.body["upload_key"].as_str().unwrap();
    assert!(key.starts_with("uploads/") && key.ends_with("/My-Photo.png"), "{key}");
    assert_eq!((r.body["width"].as_u64(), r.body["height"].as_u64()), (Some(40), Some(30)));
    let img = reqwest::get(r.body["image_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&img).unwrap().width(), 40);
}

#[tokio::test]
async fn long_poll_wakes_on_the_next_event_and_sse_streams_to_the_end() {
    let server = Server::start_with(&["--concurrency", "1"], &[("FIGUR_FAILPOINTS", "stage=sleep(150)")]).await;
    let r = server.dispatch_backdrop(json!({})).await;
    let job = r.body["job_id"].as_str().unwrap().to_string();

    // A long-poll past the current end returns as soon as the next event commits, well before its wait.
    let start = std::time::Instant::now();
    let first = server.get(&format!("/v1/jobs/{job}/events?since=1&wait=20")).await;
    assert!(!first.body["events"].as_array().unwrap().is_empty());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));

    // SSE: every event from the cursor, in order, ending with the terminal one.
    let resp = server
        .http
        .get(server.url(&format!("/v1/jobs/{job}/events?since=0")))
        .bearer_auth(&server.key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = resp.text().await.unwrap(); // the stream closes after the terminal event
    let events: Vec<Value> =
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    crate::support::assert_timeline(&events);
    assert!(text.contains("event: succeeded"));

    // Resuming with Last-Event-ID gives only what follows.
    let resumed = server
        .http
        .get(server.url(&format!("/v1/jobs/{job}/events")))
        .bearer_auth(&server.key)
        .header("accept", "text/event-stream")
        .header("last-event-id", (events.len() - 1).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(resumed.lines().filter(|l| l.starts_with("data: ")).count(), 1);

    // Waiting on an ended job's end returns empty after the wait, not an error.
    let done = server.get(&format!("/v1/jobs/{job}/events?since={}&wait=1", events.len())).await;
    assert_eq!(done.status, 200);
    assert!(done.body["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn idempotency_key_returns_the_first_answer() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let body = json!({"scene_type": "gradient", "mood": "cool", "resolution": "0.5K"});
    let send = |body: Value| {
        server.send(
            server
                .http
                .post(server.url("/v1/background-generator"))
                .bearer_auth(&server.key)
                .header("idempotency-key", "night-run-42")
                .json(&body),
        )
    };
    let a = send(body.clone()).await;
    let b = send(body.clone()).await;
    assert_eq!(a.status, 202);
    assert_eq!(b.status, 202);
    assert_eq!(a.body["job_id"], b.body["job_id"]);
    assert_eq!(server.get("/v1/jobs").await.body["count"], 1);
    let c = send(json!({"scene_type": "gradient", "mood": "warm"})).await;
    assert_eq!(c.status, 422);
    assert_eq!(c.loc(), json!(["header", "Idempotency-Key"]));
}

#[tokio::test]
async fn test_keys_see_an_isolated_realm() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let test_key = server.create_key(&["--test"]);
    assert!(test_key.starts_with("sk_test_"));
    let live_job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    let test_job = server
        .post_as("/v1/background-generator", json!({"scene_type": "paper", "mood": "bright"}), &test_key)
        .await
        .body["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(server.get_as(&format!("/v1/jobs/{live_job}"), &test_key).await.code(), "JOB_NOT_FOUND");
    assert_eq!(server.get(&format!("/v1/jobs/{test_job}")).await.code(), "JOB_NOT_FOUND");
    assert_eq!(server.get_as("/v1/jobs", &test_key).await.body["count"], 1);
    // Separate balances.
    let live = server.balance().await;
    let test = server.get_as("/v1/credits", &test_key).await.body["balance"].as_i64().unwrap();
    assert_eq!((live, test), (10_000 - 5, 10_000 - 5));
    let test_usage = server.get_as("/v1/usage", &test_key).await;
    assert_eq!(test_usage.body["usage"][0]["job_id"], test_job.as_str());
}

#[tokio::test]
async fn cli_manages_keys_jobs_and_credits() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    assert!(server.cli(&["jobs", "list"]).contains(&job));
    let shown: Value = serde_json::from_str(&server.cli(&["jobs", "show", &job])).unwrap();
    assert_eq!(shown["status"], "NOT_STARTED");
    let events = server.cli(&["jobs", "events", &job]);
    assert!(events.contains("\"queued\""));
    let cancelled: Value = serde_json::from_str(&server.cli(&["jobs", "cancel", &job])).unwrap();
    assert_eq!(cancelled["status"], "FAILURE");
    assert_eq!(cancelled["latest_event"]["extra"]["error"]["code"], "JOB_CANCELLED");

    server.cli(&["credits", "set", "42"]);
    assert!(server.cli(&["credits", "show"]).contains("42"));
    assert_eq!(server.balance().await, 42);

    let key = server.create_key(&["--name", "ci"]);
    assert!(server.cli(&["keys", "list"]).contains(&key[..12]));
    assert_eq!(server.get_as("/v1/credits", &key).await.status, 200);
    server.cli(&["keys", "revoke", &key[..12]]);
    // Revocation reaches the running server within its key cache lifetime (2 s).
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(server.get_as("/v1/credits", &key).await.code(), "UNAUTHORIZED");

    // FIGUR_DATA_DIR works like --data-dir.
    let out = std::process::Command::new(crate::support::FIGUR)
        .args(["credits", "show"])
        .env("FIGUR_DATA_DIR", server.data_dir())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("42"));
}

/// Regression: the realms share the concurrency permits, and an idle realm once held one while
/// waiting for work — with one permit, the live queue stalled after its first job.
#[tokio::test]
async fn one_permit_serves_both_realms_in_turn() {
    let server = Server::start_with(&["--concurrency", "1"], &[]).await;
    let test_key = server.create_key(&["--test"]);
    for round in 0..3 {
        let live =
            server.dispatch_backdrop(json!({ "seed": round })).await.body["job_id"].as_str().unwrap().to_string();
        assert_eq!(server.wait_terminal(&live).await.last().unwrap()["event_type"], "succeeded");
        let test = server
            .post_as(
                "/v1/background-generator",
                json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K"}),
                &test_key,
            )
            .await
            .body["job_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(server.wait_terminal_as(&test, &test_key).await.last().unwrap()["event_type"], "succeeded");
    }
}

#[tokio::test]
async fn signed_images_come_as_cached_thumbnails_too() {
    let server = Server::start().await;
    let up = server.upload("astronaut.png", crate::support::astronaut()).await;
    let url = up.body["image_url"].as_str().unwrap().to_string();
    let get = |u: String| async move {
        let r = reqwest::get(u).await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    };
    let (status, first) = get(format!("{url}&thumb=200")).await;
    assert_eq!(status, 200);
    let thumb = image::load_from_memory(&first).unwrap();
    assert_eq!(thumb.width().max(thumb.height()), 256, "the next size up");
    let (_, second) = get(format!("{url}&thumb=200")).await;
    assert_eq!(first, second, "served from the cache");
    // The signature still rules, cached or not.
    let forged = url.replace("sig=", "sig=00");
    assert_eq!(get(format!("{forged}&thumb=200")).await.0, 403);
}
