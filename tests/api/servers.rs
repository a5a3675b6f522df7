//! Two servers over one engine, as the desktop runs them: a private one that signs the image
//! URLs and takes only the app's own key, and the API for scripts, which takes any key and
//! leaves the signed URLs pointing at the private one.

use std::sync::Arc;

use figur_engine::{Capability, Engine, EngineConfig, Mode};

#[tokio::test]
async fn a_private_server_takes_only_its_key_and_a_second_server_leaves_urls_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.run_jobs = false;
    let engine = Engine::open(config).unwrap();
    engine.start().await.unwrap();
    let (app_row, app_key) = engine.create_key(Mode::Live, &Capability::ALL, "app").await.unwrap();
    let (_, script_key) = engine.create_key(Mode::Live, &Capability::ALL, "script").await.unwrap();
    let serve = |config: figur_http::ServerConfig| {
        let engine = Arc::clone(&engine);
        async move {
            let bound = figur_http::bind(engine, &config).await.unwrap();
            let base = bound.base_url();
            tokio::spawn(bound.serve(std::future::pending()));
            base
        }
    };
    let loopback = || "127.0.0.1:0".parse().unwrap();
    let private = serve(figur_http::ServerConfig {
        listen: loopback(),
        only_key: Some(app_row.id.clone()),
        ..Default::default()
    })
    .await;
    let public = serve(figur_http::ServerConfig { listen: loopback(), signs_urls: false, ..Default::default() }).await;

    let http = reqwest::Client::new();
    let status = |base: &str, key: &str| {
        let req = http.get(format!("{base}/v1/credits")).bearer_auth(key);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(status(&private, &app_key).await.status(), 200);
    let refused = status(&private, &script_key).await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body.to_string().contains("Settings"), "the refusal says where to turn the API on: {body}");
    assert_eq!(status(&public, &script_key).await.status(), 200);
    assert_eq!(status(&public, &app_key).await.status(), 200);
    assert_eq!(engine.public_base(), private, "signed URLs still point at the private server");
    engine.shutdown(std::time::Duration::from_secs(5)).await;
}

/// A store given as a URL this build does not serve is refused at start, naming it — never
/// taken as a relative folder called `s3:` (on a farm each machine would keep its own images).
#[test]
fn a_store_url_is_refused_at_start_not_taken_as_a_folder() {
    let cwd = tempfile::tempdir().unwrap();
    for (flag, url) in [
        ("--store", "gs://bucket/prefix"),
        ("--data-dir", "https://example.com/studio"),
        ("--data-dir", "s3://bucket/prefix"),
        ("--store", "s3:/bucket/prefix"),
        ("--store", "s3:bucket"),
        ("--data-dir", "https:/example.com/studio"),
        ("--store", "S3://bucket/prefix"),
    ] {
        let out = std::process::Command::new(crate::support::FIGUR)
            .args(["serve", "--listen", "127.0.0.1:0", flag, url])
            .current_dir(cwd.path())
            .env("FIGUR_LOG", "warn")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {url} was accepted");
        let refused = ["is not a store this build serves", "missing its `//`", "in lowercase"];
        assert!(said.contains(url) && refused.iter().any(|r| said.contains(r)), "{said}");
    }
    // An s3:// address that cannot name a bucket is refused before anything is asked of it.
    for (url, says) in [("s3://Studio_Renders/x", "is not a bucket name"), ("s3://renders/a/../b", "the prefix")] {
        let out = std::process::Command::new(crate::support::FIGUR)
            .args(["serve", "--listen", "127.0.0.1:0", "--store", url])
            .current_dir(cwd.path())
            .env("FIGUR_LOG", "warn")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && said.contains("--store") && said.contains(says), "{url}: {said}");
    }
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "no folder was made for the URL");
}
