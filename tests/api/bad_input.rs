//! Every bad input of the issue, each answered with its code and the field named.

use serde_json::json;

use crate::support::{png, png_bomb, Server};

#[tokio::test]
async fn malformed_bodies_fields_and_enums() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let post_raw = |body: &'static str, ctype: &'static str| {
        server.send(
            server
                .http
                .post(server.url("/v1/background-generator"))
                .bearer_auth(&server.key)
                .header("content-type", ctype)
                .body(body),
        )
    };

    let r = post_raw("{\"scene_type\": ", "application/json").await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "BAD_REQUEST"));
    // Every error carries the envelope with the request id that is also in the header.
    assert_eq!(r.body["error"]["request_id"].as_str().unwrap(), r.headers["x-request-id"].to_str().unwrap());
    assert!(r.body["error"]["message"].as_str().unwrap().contains("JSON"));

    let r = post_raw("scene_type=gradient", "application/x-www-form-urlencoded").await;
    assert_eq!((r.status.as_u16(), r.code()), (415, "UNSUPPORTED_MEDIA_TYPE"));

    let r = server.post("/v1/background-generator", json!({"mood": "soft"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"));
    assert_eq!(r.loc(), json!(["body", "scene_type"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "missing");

    let r =
        server.post("/v1/background-generator", json!({"scene_type": "paper", "mood": "soft", "colour": "red"})).await;
    assert_eq!(r.loc(), json!(["body", "colour"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "extra_forbidden");

    let r = server
        .post("/v1/background-generator", json!({"scene_type": "paper", "mood": "soft", "resolution": "8K"}))
        .await;
    assert_eq!(r.loc(), json!(["body", "resolution"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "enum");

    // Free text, as the hosted API takes it: an empty or over-long value is refused (the schema's
    // minLength and maxLength), any other is drawn as something (tests/api/design.rs checks what).
    let r = server.post("/v1/background-generator", json!({"scene_type": "", "mood": "soft"})).await;
    assert_eq!(r.loc(), json!(["body", "scene_type"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "too_short");
    let r = server.post("/v1/background-generator", json!({"scene_type": "paper", "mood": "x".repeat(201)})).await;
    assert_eq!(r.loc(), json!(["body", "mood"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "too_long");

    let r = server
        .post(
            "/v1/background-generator",
            json!({"scene_type": "paper", "mood": "soft", "dominant_colors": ["sage", "not-a-colour"]}),
        )
        .await;
    assert_eq!(r.loc(), json!(["body", "dominant_colors", 1]));

    let r = server.post("/v1/background-generator", json!({"scene_type": "paper", "mood": "soft", "seed": -1})).await;
    assert_eq!(r.loc(), json!(["body", "seed"]));

    let r = server.post("/v1/try-on", json!({"user_image": "uploads/x/y.png", "items": [{"trial_image": "uploads/x/y.png", "trial_item_category": "cape"}]})).await;
    let locs: Vec<_> = r.body["error"]["details"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
    assert!(locs.contains(&json!(["body", "items", 0, "trial_item_category"])), "{locs:?}");

    let r = server.get("/v1/jobs?limit=500").await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["query", "limit"])));
    let r = server.get("/v1/jobs?status=DONE").await;
    assert_eq!(r.loc(), json!(["query", "status"]));
    let r = server.get("/v1/jobs/01JJOBJOBJOBJOBJOBJOBJOB00/events?wait=31").await;
    assert_eq!(r.loc(), json!(["query", "wait"]));

    // Nothing above made a job or spent a credit.
    assert_eq!(server.get("/v1/jobs").await.body["count"], 0);
    assert_eq!(server.balance().await, 10_000);
}

#[tokio::test]
async fn upload_keys_cannot_reach_outside_the_store() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let secret = server.data_dir().join("install.secret");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("photo.png"), png(8, 8)).unwrap();
    let uploads = server.data_dir().join("live/store/uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::os::unix::fs::symlink(outside.path(), uploads.join("01JLINK0000000000000000000")).unwrap();

    for (key, why) in [
        ("uploads/01JNOPE0000000000000000000/x.png", "unknown"),
        ("uploads/../../install.secret", "dot-dot"),
        (secret.to_str().unwrap(), "absolute"),
        ("uploads/01JLINK0000000000000000000/photo.png", "symlink"),
        ("artifacts/../uploads/x.png", "dot-dot"),
    ] {
        let r = server
            .post(
                "/v1/background-swap-with-spec",
                json!({"source_image_s3_key": key, "output_preset": "lookbook", "scene_type": "paper", "mood": "soft"}),
            )
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"), "{why}: {:?}", r.body);
        assert_eq!(r.loc(), json!(["body", "source_image_s3_key"]), "{why}");
        assert!(
            !r.body.to_string().contains(&std::fs::read_to_string(&secret).unwrap()),
            "nothing read outside the store"
        );
    }

    // Both or neither source: the field is named.
    let r = server
        .post(
            "/v1/background-swap-with-spec",
            json!({"output_preset": "lookbook", "scene_type": "paper", "mood": "soft"}),
        )
        .await;
    assert_eq!(r.loc(), json!(["body", "source_image_s3_key"]));
    // An unknown render id.
    let r = server
        .post("/v1/model-swap-with-image", json!({"source_render_public_id": "01JNOPE0000000000000000000", "output_preset": "original", "model_image_public_id": "01JNOPE0000000000000000001"}))
        .await;
    let locs: Vec<_> = r.body["error"]["details"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
    assert_eq!(locs, [json!(["body", "source_render_public_id"]), json!(["body", "model_image_public_id"])]);
}

#[tokio::test]
async fn oversized_corrupt_bomb_and_foreign_uploads() {
    let server = Server::start_with(&["--paused"], &[]).await;

    let r = server.upload("huge.png", vec![0x89; 27 * 1024 * 1024]).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, "PAYLOAD_TOO_LARGE"));

    let mut big = png(16, 16);
    big.resize(25 * 1024 * 1024 + 10, 0);
    let r = server.upload("big.png", big).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, "PAYLOAD_TOO_LARGE"));

    let mut truncated = png(300, 300);
    truncated.truncate(truncated.len() / 2);
    let r = server.upload("cut.png", truncated).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"));
    assert_eq!(r.loc(), json!(["body", "file"]));

    let r = server.upload("bomb.png", png_bomb(100_000, 100_000)).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("100000×100000"));

    let r = server.upload("doc.png", b"%PDF-1.7 not an image".to_vec()).await;
    assert_eq!((r.status.as_u16(), r.code()), (415, "UNSUPPORTED_MEDIA_TYPE"));

    let r = server.upload("empty.png", Vec::new()).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "file"])));

    let r = server
        .send(server.http.post(server.url("/v1/uploads")).bearer_auth(&server.key).json(&json!({"file": "x"})))
        .await;
    assert_eq!(r.code(), "UNSUPPORTED_MEDIA_TYPE");

    // Nothing refused was stored.
    let stored = std::fs::read_dir(server.data_dir().join("live/store/uploads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn unknown_jobs_finished_jobs_keys_capabilities_and_balance() {
    let server = Server::start().await;

    let r = server.get("/v1/jobs/01JJOBJOBJOBJOBJOBJOBJOB00").await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JOB_NOT_FOUND"));
    assert_eq!(server.get("/v1/jobs/nonsense/events").await.code(), "JOB_NOT_FOUND");
    assert_eq!(server.post("/v1/jobs/01JJOBJOBJOBJOBJOBJOBJOB00/cancel", json!({})).await.code(), "JOB_NOT_FOUND");
    assert_eq!(server.get("/v1/renders/01JJOBJOBJOBJOBJOBJOBJOB00").await.code(), "RESOURCE_NOT_FOUND");
    assert_eq!(server.get("/v1/no-such-endpoint").await.code(), "RESOURCE_NOT_FOUND");

    // Cancelling a finished job is a conflict.
    let job = server.dispatch_backdrop(serde_json::json!({})).await.body["job_id"].as_str().unwrap().to_string();
    server.wait_terminal(&job).await;
    let r = server.post(&format!("/v1/jobs/{job}/cancel"), json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "JOB_NOT_CANCELLABLE"));

    // Missing, malformed and unknown keys.
    let r = server.send(server.http.get(server.url("/v1/jobs"))).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "UNAUTHORIZED"));
    assert_eq!(server.get_as("/v1/jobs", "hunter2").await.code(), "UNAUTHORIZED");
    assert_eq!(
        server.get_as("/v1/jobs", "sk_live_0000000000000000000000000000000000000000").await.code(),
        "UNAUTHORIZED"
    );
    // A live key presented with the test prefix is not a key.
    let forged = server.key.replacen("sk_live_", "sk_test_", 1);
    assert_eq!(server.get_as("/v1/jobs", &forged).await.code(), "UNAUTHORIZED");

    // A read-only key reads but cannot dispatch, cancel or upload.
    let reader = server.create_key(&["--capabilities", "jobs:read"]);
    assert_eq!(server.get_as("/v1/jobs", &reader).await.status, 200);
    let r = server.post_as("/v1/background-generator", json!({"scene_type": "paper", "mood": "soft"}), &reader).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "FORBIDDEN"));
    let r = server.post_as(&format!("/v1/jobs/{job}/cancel"), json!({}), &reader).await;
    assert_eq!(r.code(), "FORBIDDEN");
    let writer = server.create_key(&["--capabilities", "jobs:create"]);
    assert_eq!(server.get_as("/v1/jobs", &writer).await.code(), "FORBIDDEN");

    // An empty balance: 402 and no job.
    server.cli(&["credits", "set", "4"]);
    let jobs_before = server.get("/v1/jobs").await.body["count"].clone();
    let r = server.dispatch_backdrop(json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (402, "INSUFFICIENT_BALANCE"));
    assert_eq!(server.get("/v1/jobs").await.body["count"], jobs_before);
    assert_eq!(server.balance().await, 4);
}

#[tokio::test]
async fn foreign_host_and_origin_are_refused_and_rate_limits_answer_429() {
    let server = Server::start_with(&["--paused", "--rate-limit", "2"], &[]).await;

    let r = server.send(server.http.get(server.url("/v1/health")).header("host", "evil.example:8686")).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "FORBIDDEN"));
    let r = server
        .send(
            server
                .http
                .get(server.url("/v1/credits"))
                .bearer_auth(&server.key)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "FORBIDDEN"));
    // The studio's own origins pass, with CORS headers.
    let r = server.send(server.http.get(server.url("/v1/health")).header("origin", "http://localhost:5173")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["access-control-allow-origin"], "http://localhost:5173");

    // 2 per second, bursts of 4: the fifth quick request is limited, with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = server.get("/v1/credits").await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert_eq!(r.code(), "RATE_LIMITED");
            assert!(r.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test]
async fn non_loopback_listen_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::support::FIGUR)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}
