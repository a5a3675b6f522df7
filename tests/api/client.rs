//! The one Rust `/v1` client (`figur-client`) against a real `figur serve`: what the CLI's
//! `--server`, the desktop's imports and these tests speak through.

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn the_client_uploads_dispatches_follows_and_downloads() {
    let server = Server::start().await;
    let studio = server.client();
    let before = studio.credits().await.unwrap().balance;

    let up = studio.upload("product.png", crate::support::product_shot()).await.unwrap();
    assert!(up.upload_key.starts_with("uploads/"), "{}", up.upload_key);
    assert_eq!(up.mime, "image/png");

    let body = json!({"scene_type": "studio_sweep", "mood": "soft", "resolution": "0.5K", "seed": 3});
    let job = studio.dispatch("background-generator", &body).await.unwrap();
    assert_eq!(job.credits_cost, 5);
    let mut seen = Vec::new();
    let done = studio.follow(&job.job_id, &mut |e| seen.push(e.event_type)).await.unwrap();
    assert_eq!(seen.first().map(|t| t.as_str()), Some("queued"));
    assert_eq!(done.event_type.as_str(), "succeeded");

    let out = server.dir.path().join("downloaded");
    let saved = studio.download(&done, &out, &job.job_id).await.unwrap();
    assert_eq!(saved.len(), done.artifacts.len());
    let first = std::fs::read(&saved[0]).unwrap();
    assert!(first.starts_with(b"\x89PNG"), "a PNG was saved");
    assert_eq!(studio.credits().await.unwrap().balance, before - 5);
}

#[tokio::test]
async fn refusals_and_failures_come_back_with_their_codes() {
    let server = Server::start().await;
    let studio = server.client();
    let e = studio.dispatch("background-swap-with-spec", &json!({"scene_type": "studio_sweep"})).await.unwrap_err();
    assert_eq!(e.code(), Some("VALIDATION_ERROR"), "{e}");
    assert!(e.to_string().contains("(output_preset: missing field"), "the field is named: {e}");

    let e = studio.upload("notes.txt", b"not an image".to_vec()).await.unwrap_err();
    assert_eq!(e.code(), Some("UNSUPPORTED_MEDIA_TYPE"), "{e}");

    let stranger = server.client_as("sk_live_not_a_key");
    assert_eq!(stranger.credits().await.unwrap_err().code(), Some("UNAUTHORIZED"));

    let e = studio.events("01JNOTAJOB0000000000000000", 0, 0).await.unwrap_err();
    assert_eq!(e.code(), Some("JOB_NOT_FOUND"), "{e}");
}
