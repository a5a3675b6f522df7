//! The client's reading of answers, over real HTTP from a small axum server on a free port.
//! The full round trip against `figur serve` is in `tests/api/client.rs`.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use serde_json::json;

use super::*;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn refusals_carry_the_envelopes_code_and_fields() {
    let refusal = json!({"error": {"code": "VALIDATION_ERROR", "message": "bad", "details": [
        {"loc": ["body", "items", 0, "trial_image"], "msg": "no such upload", "type": "unknown_upload"}]}});
    let router = axum::Router::new()
        .route("/v1/try-on", post(move || async move { (StatusCode::UNPROCESSABLE_ENTITY, Json(refusal)) }))
        .route("/v1/credits", get(|| async { (StatusCode::BAD_GATEWAY, "<html>proxy</html>") }));
    let studio = Client::new(&format!("{}/v1/", serve(router).await), "sk_test").unwrap();
    let e = studio.dispatch("try-on", &json!({})).await.unwrap_err();
    assert_eq!(e.code(), Some("VALIDATION_ERROR"));
    assert_eq!(e.to_string(), "VALIDATION_ERROR: bad (items.0.trial_image: no such upload)");
    assert!(matches!(e, Error::Refused { status: 422, .. }));
    let e = studio.credits().await.unwrap_err();
    assert!(matches!(e, Error::Unexpected(ref why) if why.contains("502")), "{e}");
}

#[tokio::test]
async fn answers_read_as_the_engines_types_and_nobody_home_is_unreachable() {
    let router =
        axum::Router::new().route("/v1/credits", get(|| async { Json(json!({"balance": 7, "currency": "credits"})) }));
    let studio = Client::new(&serve(router).await, "sk_test").unwrap();
    assert_eq!(studio.credits().await.unwrap().balance, 7);
    let nobody = Client::new("http://127.0.0.1:9", "sk_test").unwrap();
    assert!(matches!(nobody.credits().await.unwrap_err(), Error::Unreachable { .. }));
}
