//! Workflows drawing with a diffusion model the user added (issue 15): the tiny export in
//! Optimum's layout installed in the server's cache, run end to end through `/v1`.

use serde_json::{json, Value};

use crate::generate::cache_with;
use crate::support::{assert_timeline, Server};

async fn server_with_tiny_sd(view: &str) -> (Server, String) {
    let cache = cache_with(view, "tiny-sd", |d| figur_models::tiny::diffusion::tiny_sd(d, 8));
    let digest = figur_models::brought::find(&figur_models::Cache::new(&cache), "tiny-sd").unwrap().digest();
    let env = [("FIGUR_CACHE_DIR", cache.to_str().unwrap()), ("FIGUR_PROVIDERS", "cpu")];
    (Server::start_with(&[], &env).await, digest)
}

async fn run(server: &Server, op: &str, body: Value) -> Vec<Value> {
    let r = server.post(&format!("/v1/{op}"), body).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    assert_timeline(&events);
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{op}: {last}");
    events
}

#[tokio::test]
async fn a_backdrop_drawn_by_an_added_model() {
    let (server, digest) = server_with_tiny_sd("generative-backdrop").await;
    let body = json!({"scene_type": "raw concrete loft", "mood": "moody", "dominant_colors": ["charcoal"],
                      "image_model": "tiny-sd", "resolution": "0.5K", "aspect_ratio": "4:3", "seed": 3});
    let events = run(&server, "background-generator", body.clone()).await;
    let steps: Vec<&Value> =
        events.iter().filter(|e| e["stage"] == "denoise" && e["extra"]["step"].is_number()).collect();
    assert_eq!(steps.len(), 25, "an event per denoising step");
    assert!(steps.iter().any(|e| !e["artifacts"].as_array().unwrap().is_empty()), "previews along the way");
    assert!(!events.iter().any(|e| e["stage"] == "palette"), "the procedural stages did not run");
    let last = events.last().unwrap();
    let art = &last["artifacts"][0];
    assert_eq!((art["meta"]["width"].clone(), art["meta"]["height"].clone()), (json!(512), json!(384)), "{art}");
    let provenance = &last["extra"]["provenance"];
    assert_eq!(provenance["generator"], "tiny-sd");
    assert_eq!(provenance["generated_size"], json!([512, 384]));
    assert_eq!(provenance["steps"], 25);
    assert_eq!(provenance["scheduler"], "PNDMScheduler");
    assert!(
        provenance["prompt"].as_str().unwrap().contains("raw concrete loft, moody mood, in charcoal"),
        "{provenance}"
    );
    assert!(provenance["negative_prompt"].as_str().unwrap().starts_with("people, person"));
    let models = last["extra"]["provenance"]["models"].as_array().cloned().unwrap_or_default();
    let recorded = models.iter().find(|m| m["id"] == "tiny-sd").unwrap_or_else(|| panic!("{last}"));
    assert_eq!(
        (recorded["sha256"].as_str().unwrap(), recorded["provider"].as_str().unwrap()),
        (digest.as_str(), "cpu")
    );

    // The same request, the same picture.
    let again = run(&server, "background-generator", body).await;
    assert_eq!(again.last().unwrap()["artifacts"][0]["meta"]["sha256"], art["meta"]["sha256"]);

    // No model named: the procedural generator, as before.
    let events =
        run(&server, "background-generator", json!({"scene_type": "paper", "mood": "warm", "resolution": "0.5K"}))
            .await;
    assert!(events.iter().any(|e| e["stage"] == "palette") && !events.iter().any(|e| e["stage"] == "denoise"));

    // A model that is not there: 422 naming the field and what is available.
    let r = server
        .post("/v1/background-generator", json!({"scene_type": "paper", "mood": "warm", "image_model": "sd15"}))
        .await;
    assert_eq!(r.status, 422);
    let detail = &r.body["error"]["details"][0];
    assert_eq!(detail["loc"], json!(["body", "image_model"]));
    let msg = detail["msg"].as_str().unwrap();
    assert!(msg.contains("figur-procedural-backdrop-1, tiny-sd"), "{msg}");
}

#[tokio::test]
async fn a_model_generator_whose_draws_show_no_person_is_rejected_and_refunded() {
    let (server, _) = server_with_tiny_sd("generative-model").await;
    let before = server.balance().await;
    let r = server
        .post(
            "/v1/model-generator",
            json!({"gender": "MALE", "ethnicity": "", "body_type": "athletic", "age_range": "30s",
                   "image_model": "tiny-sd", "resolution": "0.5K", "seed": 1}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last["event_type"].clone(), last["extra"]["error"]["code"].clone()),
        (json!("failed"), json!("GENERATION_REJECTED")),
        "{last}"
    );
    assert!(last["extra"]["error"]["message"].as_str().unwrap().contains("in 4 tries"), "{last}");
    assert_eq!(events.iter().filter(|e| e["stage"] == "pose").count(), 4, "four draws checked");
    assert_eq!(server.balance().await, before, "refunded");
}
