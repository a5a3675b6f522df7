//! The try-on family drawing with a try-on model the studio brought (issue 28), end to end
//! through `/v1` on the try-on oracle (an export in the CatVTON layout whose picture is known:
//! the person outside the mask, the garment inside) and the real person, pose and face models
//! on a real photo.

use serde_json::{json, Value};

use crate::generate::{cache_with, figur};
use crate::generative::{artifact, picture, run};
use crate::support::{astronaut, product_shot, Server};

#[tokio::test]
async fn a_try_on_drawn_by_a_try_on_model_keeps_every_pixel_outside_its_mask() {
    let cache = cache_with("try-on-model", "catvton-oracle", |d| {
        figur_models::tiny::diffusion::TryOnOracle::new(48, 64).write(d)
    });
    let (ok, out) = figur(&["models", "tune", "catvton-oracle", "--steps", "4", "--guidance", "1"], &cache);
    assert!(ok, "{out}");
    let digest = figur_models::brought::find(&figur_models::Cache::new(&cache), "catvton-oracle").unwrap().digest();
    let env = [("FIGUR_CACHE_DIR", cache.to_str().unwrap()), ("FIGUR_PROVIDERS", "cpu")];
    let server = Server::start_with(&[], &env).await;

    // The photo at the size the render is made at (0.5K), so the render's pixels outside the
    // mask can be compared with it byte for byte.
    let photo = image::load_from_memory(&astronaut()).unwrap().to_rgb8();
    let long = photo.width().max(photo.height());
    let photo = image::imageops::resize(
        &photo,
        photo.width() * 512 / long,
        photo.height() * 512 / long,
        image::imageops::FilterType::Triangle,
    );
    let mut png = Vec::new();
    photo.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let person = server.upload_key("astronaut.png", png).await;
    let shirt = server.upload_key("shirt.png", product_shot()).await;
    let try_on = |config: Value| {
        json!({"user_image": person, "items": [{"trial_image": shirt, "trial_item_category": "top"}],
               "render_params": {"resolution": "0.5K"}, "runtime_config": config})
    };

    // Nothing said: the studio's only try-on model draws (the first added, with no default set).
    let events = run(&server, "try-on", try_on(json!({}))).await;
    let drawing = events.iter().find(|e| e["stage"] == "denoise").unwrap();
    let message = drawing["message"].as_str().unwrap();
    assert!(message.contains("dressing with catvton-oracle") && message.contains("licence MIT"), "{message}");
    let steps = events.iter().filter(|e| e["stage"] == "denoise" && e["extra"]["step"].is_number()).count();
    assert_eq!(steps, 4);
    let mask = picture(artifact(&events, "try_on_mask")).await.to_luma8();
    let raw = picture(artifact(&events, "try_on_raw")).await.to_rgb8();
    assert_eq!(raw.dimensions(), (48, 64), "the model's own size");
    let last = events.last().unwrap();
    let render = picture(&last["artifacts"][0]).await.to_rgb8();
    assert_eq!((render.dimensions(), mask.dimensions()), (photo.dimensions(), photo.dimensions()));
    let inside = mask.pixels().filter(|m| m[0] > 0).count();
    assert!(inside > 2_000 && inside < mask.len() / 2, "the upper body: {inside} pixels");
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] == 0 {
            assert_eq!(render.get_pixel(x, y), photo.get_pixel(x, y), "({x}, {y}) is outside the mask");
        }
    }
    assert_ne!(render, photo, "the model drew inside the mask");
    if let Ok(dir) = std::env::var("FIGUR_TEST_OUTPUT") {
        mask.save(format!("{dir}/astronaut-try-on-model-mask.png")).unwrap();
        render.save(format!("{dir}/astronaut-try-on-model.png")).unwrap();
    }
    let provenance = &last["extra"]["provenance"]["try_on"];
    assert_eq!(provenance["model"], "catvton-oracle", "{last}");
    assert_eq!((provenance["digest"].clone(), provenance["licence"].clone()), (json!(digest), json!("MIT")));
    assert_eq!((provenance["steps"].clone(), provenance["guidance"].clone()), (json!(4), json!(1.0)));
    assert_eq!(provenance["items"][0]["category"], "top");
    let models = last["extra"]["provenance"]["models"].as_array().unwrap();
    assert!(models.iter().any(|m| m["id"] == "catvton-oracle" && m["sha256"] == digest.as_str()), "{models:?}");

    // `false` keeps the fit; a model that is not added, or a prompt model, is a 422 on the field.
    let events = run(&server, "try-on", try_on(json!({"try_on_model": false}))).await;
    assert!(events.last().unwrap()["extra"]["provenance"].get("try_on").is_none());
    let r = server.post("/v1/try-on", try_on(json!({"try_on_model": "catvton-mix"}))).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "runtime_config", "try_on_model"])), "{:?}", r.body);
    assert!(r.body["error"]["details"][0]["msg"].as_str().unwrap().contains("no try-on model `catvton-mix`"));
    let r = server.post("/v1/try-on", try_on(json!({"try_on_model": 3}))).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "runtime_config", "try_on_model"])), "{:?}", r.body);

    // The rest of the family draws with it too: product-to-model onto a catalog model, and
    // model swap with the garments worn in the source photo.
    let messi = server.upload_key("messi5.jpg", crate::photos::sample("messi5.jpg")).await;
    let added = server.post("/v1/catalog/models", json!({"upload_key": messi, "display_name": "Sample"})).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let model = added.body["public_id"].as_str().unwrap().to_string();
    let product = json!({"product_image_s3_key": shirt, "product_garment_category_public_id": "01JGC0GARMENTCATEG0RY00001",
                         "model_image_public_id": model});
    let events = run(&server, "product-to-model-direct", product).await;
    assert_eq!(events.last().unwrap()["extra"]["provenance"]["try_on"]["model"], "catvton-oracle");
    let swap = json!({"source_image_s3_key": person, "model_image_public_id": model, "output_preset": "original"});
    let events = run(&server, "model-swap-with-image", swap).await;
    let items = &events.last().unwrap()["extra"]["provenance"]["try_on"]["items"];
    assert!(items.as_array().is_some_and(|i| !i.is_empty()), "{items}");
}
