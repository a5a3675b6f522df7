//! Provenance is what ran: every workflow's `succeeded` event lists in `provenance.models` the
//! models the job really used — recorded by the job context when a workflow asks for a model,
//! never assembled by hand. Checked for all eleven workflows, on a studio with the opt-in product
//! matte installed (a stand-in in ISNet's exact layout, built by `figur_models::tiny`) and one
//! without, with a photographed catalog model and a drawn one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use figur_engine::domain::garments;
use serde_json::{json, Value};

use crate::photos::sample;
use crate::support::{assert_timeline, astronaut, default_set_view, product_shot, Server};

const MATTE: &str = "person-matte";
const POSE: &str = "pose-landmarks";
const FACE: &str = "face-detector";
const MESH: &str = "face-mesh";
const ISNET: &str = "isnet";
const U2NETP: &str = "u2netp";

/// The default model set plus the ISNet stand-in, installed as `figur models fetch` would.
fn cache_with_isnet_stand_in() -> PathBuf {
    let dir = default_set_view("isnet-stand-in-cache");
    std::fs::create_dir_all(dir.join("models/isnet")).unwrap();
    let onnx = figur_models::tiny::isnet_stand_in().to_onnx();
    let sha = figur_models::fetch::sha256_bytes(&onnx);
    std::fs::write(dir.join("models/isnet/model.onnx"), &onnx).unwrap();
    let record = json!({"sha256": sha, "bytes": onnx.len(), "source_sha256": "built by figur_models::tiny"});
    std::fs::write(dir.join("models/isnet/installed.json"), record.to_string()).unwrap();
    dir
}

/// Runs a workflow to success; returns its last event.
async fn succeed(server: &Server, op: &str, body: Value) -> Value {
    let r = server.post(&format!("/v1/{op}"), body.clone()).await;
    assert_eq!(r.status, 202, "{op}: {:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    assert_timeline(&events);
    let last = events.last().unwrap().clone();
    assert_eq!(last["event_type"], "succeeded", "{op} {body}: {last}");
    last
}

fn models_ran(last: &Value) -> BTreeSet<String> {
    let models = last["extra"]["provenance"]["models"].as_array().expect("provenance.models");
    // The time inside those models, beside the time of each stage: part of it, and not nothing
    // where a model ran.
    let inference = last["extra"]["inference_ms"].as_f64().expect("inference_ms");
    let stages: f64 =
        last["extra"]["timings_ms"].as_object().expect("timings_ms").values().filter_map(Value::as_f64).sum();
    assert!(inference <= stages + 1.0, "{inference} ms of models in {stages} ms of stages");
    assert_eq!(inference > 0.0, !models.is_empty(), "{last}");
    for m in models {
        assert!(m["sha256"].as_str().is_some_and(|s| s.len() == 64), "{m}");
        assert!(m["provider"] == "cpu" || m["provider"] == "cuda", "{m}");
    }
    models.iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Every workflow once; `isnet`: whether the product matte is installed, so product shots use it.
async fn every_workflow_records_what_it_ran(server: &Server, isnet: bool) {
    // ISNet when installed, else u2netp (in the default set).
    let product_matte: &[&str] = if isnet { &[MATTE, ISNET] } else { &[MATTE, U2NETP] };
    let person = server.upload_key("astronaut.png", astronaut()).await;
    let wearer = server.upload_key("messi5.jpg", sample("messi5.jpg")).await;
    let product = server.upload_key("product.png", product_shot()).await;
    let top = garments::by_key("top").unwrap().public_id;

    // Generators draw: no model runs.
    for (op, body) in [
        ("background-generator", json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": 3})),
        (
            "model-generator",
            json!({"gender": "FEMALE", "ethnicity": "any", "body_type": "average", "age_range": "26-35", "resolution": "0.5K", "seed": 3}),
        ),
        (
            "complementary-garment-generator",
            json!({"garment_category_public_id": top, "color": "navy", "material": "cotton", "pattern": "solid", "resolution": "0.5K", "seed": 3}),
        ),
    ] {
        assert_eq!(models_ran(&succeed(server, op, body).await), set(&[]), "{op}");
    }
    let drawn = server.get("/v1/catalog/models").await.body[0]["public_id"].as_str().unwrap().to_string();
    let background = server.get("/v1/catalog/backgrounds").await.body[0]["public_id"].as_str().unwrap().to_string();

    // A person photo, and a garment worn in a photo: matte and pose for both, face for the person.
    let last = succeed(
        server,
        "try-on",
        json!({"user_image": person, "items": [{"trial_image": wearer, "trial_item_category": "top"}], "render_params": {"resolution": "0.5K"}}),
    )
    .await;
    assert_eq!(models_ran(&last), set(&[MATTE, POSE, FACE, MESH]), "try-on, worn garment");
    // A product shot as the garment: the product matte too, when installed.
    let last = succeed(
        server,
        "try-on",
        json!({"user_image": person, "items": [{"trial_image": product, "trial_item_category": "top"}], "render_params": {"resolution": "0.5K"}}),
    )
    .await;
    let mut expected = set(&[MATTE, POSE, FACE, MESH]);
    expected.extend(set(product_matte));
    assert_eq!(models_ran(&last), expected, "try-on, product shot");

    let last = succeed(server, "extract", json!({"trial_image": wearer})).await;
    assert_eq!(models_ran(&last), set(&[MATTE, POSE]), "extract, on a person");
    let last = succeed(server, "extract", json!({"trial_image": product})).await;
    assert_eq!(models_ran(&last), set(product_matte), "extract, a product shot");

    // The look's figure is drawn: only the garment's cut-out runs models.
    let last =
        succeed(server, "look", json!({"items": [{"trial_image": product, "trial_item_category": "top"}]})).await;
    assert_eq!(models_ran(&last), set(product_matte), "look");

    // A drawn catalog model's body is known: no person models for it.
    for op in ["product-to-model-direct", "product-to-model-phased"] {
        let body = json!({"product_image_s3_key": product, "product_garment_category_public_id": top, "model_image_public_id": drawn});
        assert_eq!(models_ran(&succeed(server, op, body).await), set(product_matte), "{op}, drawn model");
    }
    // The swap's garments come off the source photo (matte and pose); the drawn body needs none.
    let body = json!({"source_image_s3_key": wearer, "model_image_public_id": drawn, "output_preset": "original"});
    assert_eq!(models_ran(&succeed(server, "model-swap-with-image", body).await), set(&[MATTE, POSE]), "model swap");

    let swap =
        json!({"source_image_s3_key": person, "output_preset": "original", "background_image_public_id": background});
    assert_eq!(models_ran(&succeed(server, "background-swap-with-image", swap).await), set(&[MATTE]), "swap, image");
    let swap =
        json!({"source_image_s3_key": product, "output_preset": "original", "scene_type": "paper", "mood": "soft"});
    assert_eq!(models_ran(&succeed(server, "background-swap-with-spec", swap).await), set(product_matte), "swap, spec");
}

#[tokio::test]
async fn provenance_lists_the_models_each_workflow_ran_with_the_default_set() {
    let server = Server::start().await;
    every_workflow_records_what_it_ran(&server, false).await;
}

#[tokio::test]
async fn provenance_includes_the_product_matte_when_it_is_installed() {
    let cache = cache_with_isnet_stand_in();
    let server = Server::start_with(&[], &[("FIGUR_CACHE_DIR", cache.to_str().unwrap())]).await;
    every_workflow_records_what_it_ran(&server, true).await;

    // A photographed catalog model: its body is analysed, face included.
    let model = server.upload_key("messi5.jpg", sample("messi5.jpg")).await;
    let added = server.post("/v1/catalog/models", json!({"upload_key": model, "display_name": "Full body"})).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let id = added.body["public_id"].as_str().unwrap();
    let product = server.upload_key("product.png", product_shot()).await;
    let top = garments::by_key("top").unwrap().public_id;
    let body = json!({"product_image_s3_key": product, "product_garment_category_public_id": top, "model_image_public_id": id});
    let ran = models_ran(&succeed(&server, "product-to-model-direct", body).await);
    assert_eq!(ran, set(&[MATTE, POSE, FACE, MESH, ISNET]), "product to a photographed model");
}

#[tokio::test]
async fn the_isnet_stand_in_computes_its_known_answer() {
    let cache = figur_models::Cache::new(cache_with_isnet_stand_in());
    let sessions = figur_models::Sessions::new(
        cache,
        figur_models::Providers::parse("cpu").unwrap(),
        std::time::Duration::from_secs(60),
    );
    let model = sessions.get("isnet").unwrap();
    let n = 1024 * 1024;
    // Channel means: −0.25 (dark garment) → 1.5; 0.4375 (paper) → −1.25; 0 → 0.5.
    let mut input = vec![0f32; 3 * n];
    for c in 0..3 {
        input[c * n] = -0.25;
        input[c * n + 1] = 0.4375;
    }
    let out = model.run_f32(vec![("input".into(), vec![1, 3, 1024, 1024], input)]).unwrap();
    let (name, shape, data) = &out[0];
    assert_eq!((name.as_str(), shape.as_slice()), ("output", &[1i64, 1, 1024, 1024][..]));
    assert_eq!(&data[..3], &[1.5, -1.25, 0.5]);
}
