//! The try-on family end to end through `figur serve` on real photos: try-on, catalog models
//! (the extension endpoint), product-to-model direct and phased, model swap, and their failures.

use std::time::Duration;

use figur_engine::domain::requests::Resolution;
use figur_engine::workflow::person;
use figur_engine::workflow::try_on::Session;
use figur_pixels::vision::dress;
use serde_json::{json, Value};

use crate::photos::sample;
use crate::support::{assert_timeline, astronaut, noisy_png, product_shot, Server};

async fn run(server: &Server, op: &str, body: Value) -> Vec<Value> {
    let r = server.post(&format!("/v1/{op}"), body).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    assert_timeline(&events);
    events
}

async fn fails_with(server: &Server, op: &str, body: Value, code: &str) {
    let before = server.balance().await;
    let events = run(server, op, body.clone()).await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "failed", "{body}: {}", last["message"]);
    assert_eq!(last["extra"]["error"]["code"], code, "{last}");
    assert_eq!(server.balance().await, before, "refunded");
}

fn artifacts(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .flat_map(|e| e["artifacts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["kind"] == kind)
        .collect()
}

async fn image(a: &Value) -> image::RgbImage {
    let bytes = reqwest::get(a["image_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[tokio::test]
async fn the_seed_try_on_runs_on_real_photos_and_keeps_the_face_and_the_background() {
    let server = Server::start().await;
    let person = server.upload_key("astronaut.png", astronaut()).await;
    let garment = server.upload_key("messi5.jpg", sample("messi5.jpg")).await;
    let events = run(
        &server,
        "try-on",
        json!({"user_image": person, "items": [{"trial_image": garment, "trial_item_category": "top"}]}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    let stages: Vec<&str> = events.iter().filter_map(|e| e["stage"].as_str()).collect();
    for stage in ["person", "pose", "face", "garments", "fit", "finish"] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    assert_eq!(artifacts(&events, "pose_overlay").len(), 1);
    assert_eq!(artifacts(&events, "garment_cutout").len(), 1, "the warped garment");
    let finals = last["artifacts"].as_array().unwrap();
    assert_eq!(finals[0]["kind"], "on_model_render");
    let render = image(&finals[0]).await;
    assert_eq!(render.width().max(render.height()), 1024, "1K by default");
    let listed = server.get("/v1/renders?origin=compose").await;
    assert_eq!(listed.body["renders"][0]["job_type"], "TRY_ON");

    // Geometry, against the person photo at the same resolution analysed here.
    let original = Session::at_resolution(image::load_from_memory(&astronaut()).unwrap().to_rgb8(), Resolution::One);
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let models =
        figur_models::Sessions::new(cache, figur_models::Providers::parse("cpu").unwrap(), Duration::from_secs(60));
    let analysis = person::analyse(&mut figur_engine::workflow::models::Direct(&models), &original).unwrap();
    let (w, h) = (original.width() as usize, original.height() as usize);
    let face = analysis.face.as_ref().and_then(|f| f.mesh.as_ref()).expect("her face mesh").mask(w, h);
    let allowed = dress::allowed(&analysis.matte.alpha, w.max(h) / 40);
    let (mut face_px, mut changed, mut outside) = (0, 0, 0);
    for (x, y, p) in render.enumerate_pixels() {
        let k = y as usize * w + x as usize;
        let same = p == original.get_pixel(x, y);
        if face.data[k] > 0.0 {
            face_px += 1;
            assert!(same, "face pixel ({x}, {y}) changed");
        }
        if !same {
            changed += 1;
            if allowed.data[k] <= 0.0 {
                outside += 1;
            }
        }
    }
    assert!(face_px > 5_000, "the face covers {face_px} px");
    assert!(changed > 30_000, "the garment changed only {changed} px");
    assert_eq!(outside, 0, "pixels changed outside the person's silhouette plus its margin");
}

#[tokio::test]
async fn catalog_models_product_to_model_and_model_swap() {
    let server = Server::start().await;
    let messi = server.upload_key("messi5.jpg", sample("messi5.jpg")).await;
    let astro = server.upload_key("astronaut.png", astronaut()).await;
    let two = server.upload_key("basketball1.png", sample("basketball1.png")).await;

    // Product-to-model before any catalog model exists: a clear failure, refunded.
    let top = "01JGC0GARMENTCATEG0RY00001";
    fails_with(
        &server,
        "product-to-model-direct",
        json!({"product_image_s3_key": astro, "product_garment_category_public_id": top}),
        "NO_CATALOG_MODEL",
    )
    .await;

    // The extension: unsuitable photos get a 422 naming upload_key and why.
    for (key, why) in [(&astro, "knees"), (&two, "people"), (&"uploads/nope/x.png".to_string(), "no such upload")] {
        let r = server.post("/v1/catalog/models", json!({"upload_key": key, "display_name": "x"})).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        let detail = &r.body["error"]["details"][0];
        assert_eq!(detail["loc"], json!(["body", "upload_key"]), "{detail}");
        assert!(detail["msg"].as_str().unwrap().contains(why), "{detail}");
    }
    let added = server
        .post("/v1/catalog/models", json!({"upload_key": messi, "display_name": "Full-body sample", "gender": "MALE"}))
        .await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let model_id = added.body["public_id"].as_str().unwrap().to_string();
    assert_eq!(added.body["spec"]["framing"], "full_body");
    let listed = server.get("/v1/catalog/models?gender=MALE").await;
    assert!(listed.body.as_array().unwrap().iter().any(|m| m["public_id"] == model_id));

    // Phased: each phase has its intermediate artifact; the model is named in the result.
    let events = run(
        &server,
        "product-to-model-phased",
        json!({"product_image_s3_key": astro, "product_garment_category_public_id": top, "model_image_public_id": model_id}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    assert_eq!(last["extra"]["model_image_public_id"], model_id);
    assert_eq!(artifacts(&events, "pose_overlay").len(), 1);
    assert_eq!(artifacts(&events, "garment_cutout").len(), 1);
    assert!(artifacts(&events, "on_model_render").len() >= 2, "the dressed preview and the final");

    // Direct, no model named: the engine picks the catalog's and says which; framed to a preset.
    let events = run(
        &server,
        "product-to-model-direct",
        json!({"product_image_s3_key": astro, "product_garment_category_public_id": top, "output_preset": "ecommerce_square"}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    assert_eq!(last["extra"]["model_image_public_id"], model_id);
    assert_eq!(artifacts(&events, "pose_overlay").len(), 0, "direct files only the final");
    assert_eq!(image(&last["artifacts"][0]).await.dimensions(), (2048, 2048));

    // Model swap: the astronaut's garments on the catalog model.
    let events = run(
        &server,
        "model-swap-with-image",
        json!({"source_image_s3_key": astro, "model_image_public_id": model_id, "output_preset": "original"}),
    )
    .await;
    assert_eq!(events.last().unwrap()["event_type"], "succeeded", "{:?}", events.last());
    let swapped = server.get("/v1/renders?origin=edit").await;
    assert_eq!(swapped.body["renders"][0]["job_type"], "MODEL_SWAP_WITH_IMAGE");
}

#[tokio::test]
async fn try_on_failures_are_specific_and_refunded() {
    let server = Server::start().await;
    let person = server.upload_key("astronaut.png", astronaut()).await;
    let nobody = server.upload_key("texture.png", noisy_png(320, 240)).await;
    let product = server.upload_key("product.png", product_shot()).await;
    let item = |image: &str, category: &str| json!([{"trial_image": image, "trial_item_category": category}]);
    // No person in the person photo.
    fails_with(&server, "try-on", json!({"user_image": nobody, "items": item(&product, "top")}), "NO_SUBJECT_FOUND")
        .await;
    // Trousers whose photo shows no two legs.
    fails_with(&server, "try-on", json!({"user_image": person, "items": item(&product, "pants")}), "CATEGORY_MISMATCH")
        .await;
    // Shoes on a half-body photo: the feet are not in it.
    fails_with(
        &server,
        "try-on",
        json!({"user_image": person, "items": item(&product, "shoes")}),
        "REGION_NOT_VISIBLE",
    )
    .await;
    // A garment photo with nothing in it.
    fails_with(&server, "try-on", json!({"user_image": person, "items": item(&nobody, "top")}), "GARMENT_NOT_FOUND")
        .await;
}
