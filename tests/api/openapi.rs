//! The OpenAPI document is generated from the Rust types; the checked-in copy must not drift.
//! After an intended API change: `FIGUR_BLESS=1 cargo test --test api openapi` rewrites it.

use crate::support::Server;

#[tokio::test]
async fn checked_in_openapi_matches_the_code_and_the_server() {
    let generated = figur_http::openapi::document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("FIGUR_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi.json is out of date with the code; run `FIGUR_BLESS=1 cargo test --test api openapi` and commit it"
    );

    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in figur_engine::Operation::ALL {
        assert!(doc["paths"][format!("/v1/{}", op.name())]["post"].is_object(), "{}", op.name());
    }
    assert!(doc["components"]["schemas"]["TryOnRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let server = Server::start_with(&["--paused"], &[]).await;
    let served = reqwest::get(server.url("/v1/openapi.json")).await.unwrap().text().await.unwrap();
    assert_eq!(served, generated);
}
