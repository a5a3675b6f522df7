//! Workflows drawing with a diffusion model the user added (issue 15): the tiny export in
//! Optimum's layout installed in the server's cache, run end to end through `/v1`.

use serde_json::{json, Value};

use crate::generate::{cache_with, figur};
use crate::support::{assert_timeline, astronaut, product_shot, Server};

async fn server_with_tiny_sd(view: &str) -> (Server, String) {
    let (server, digest, _) = server_and_cache(view).await;
    (server, digest)
}

async fn server_and_cache(view: &str) -> (Server, String, std::path::PathBuf) {
    let cache = cache_with(view, "tiny-sd", |d| figur_models::tiny::diffusion::tiny_sd(d, 8));
    let digest = figur_models::brought::find(&figur_models::Cache::new(&cache), "tiny-sd").unwrap().digest();
    let env = [("FIGUR_CACHE_DIR", cache.to_str().unwrap()), ("FIGUR_PROVIDERS", "cpu")];
    (Server::start_with(&[], &env).await, digest, cache)
}

/// `figur config ARGS…` on the server's data folder (as a user would while it runs).
fn config(server: &Server, cache: &std::path::Path, args: &[&str]) -> (bool, String) {
    let dir = server.dir.path().to_str().unwrap().to_string();
    let mut all = vec!["--data-dir", dir.as_str(), "config"];
    all.extend_from_slice(args);
    figur(&all, cache)
}

pub(crate) fn artifact<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .flat_map(|e| e["artifacts"].as_array().into_iter().flatten())
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} artifact"))
}

pub(crate) async fn picture(a: &Value) -> image::DynamicImage {
    let bytes = reqwest::get(a["image_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap()
}

/// Runs a workflow to success, its timeline checked; returns its events.
pub(crate) async fn run(server: &Server, op: &str, body: Value) -> Vec<Value> {
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
    let (server, digest, cache) = server_and_cache("generative-backdrop").await;
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

    // A model tuned to its own steps and guidance (as SD-Turbo wants) is run with them.
    let (ok, out) = figur(&["models", "tune", "tiny-sd", "--steps", "3", "--guidance", "1"], &cache);
    assert!(ok && out.contains("3 steps, guidance 1"), "{out}");
    let (ok, out) = figur(&["models", "tune", "tiny-sd", "--steps", "0"], &cache);
    assert!(!ok && out.contains("--steps 0: 1 to 1000"), "{out}");
    let events = run(
        &server,
        "background-generator",
        json!({"scene_type": "paper", "mood": "warm", "image_model": "tiny-sd", "resolution": "0.5K"}),
    )
    .await;
    let provenance = &events.last().unwrap()["extra"]["provenance"];
    assert_eq!((provenance["steps"].clone(), provenance["guidance"].clone()), (json!(3), json!(1.0)), "{provenance}");
    let recorded = &provenance["models"].as_array().unwrap()[0];
    assert_eq!(recorded["sha256"], digest.as_str(), "tuning does not change the model's digest");
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

#[tokio::test]
async fn a_try_on_refined_by_an_added_model_changes_only_its_mask_and_defaults_come_from_config() {
    let (server, digest, cache) = server_and_cache("generative-refine").await;
    let person = server.upload_key("astronaut.png", astronaut()).await;
    let shirt = server.upload_key("shirt.png", product_shot()).await;
    let try_on = |config: Value| {
        json!({"user_image": person, "items": [{"trial_image": shirt, "trial_item_category": "top"}],
               "render_params": {"resolution": "0.5K"}, "runtime_config": config})
    };

    // Named in the request: the fit, then the model repaints the garment regions.
    let events = run(&server, "try-on", try_on(json!({"refine": "tiny-sd"}))).await;
    let steps = events.iter().filter(|e| e["stage"] == "denoise" && e["extra"]["step"].is_number()).count();
    assert_eq!(steps, 15, "an event per step: the last 60 % of 25");
    let draft = picture(artifact(&events, "draft")).await.to_rgb8();
    let mask = picture(artifact(&events, "refine_mask")).await.to_luma8();
    let last = events.last().unwrap();
    let render = picture(&last["artifacts"][0]).await.to_rgb8();
    assert_eq!(render.dimensions(), draft.dimensions());
    let outside = mask.pixels().filter(|m| m[0] == 0).count();
    assert!(outside > 0 && outside < mask.len(), "a mask with both sides");
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] == 0 {
            assert_eq!(render.get_pixel(x, y), draft.get_pixel(x, y), "({x}, {y}) is outside the mask");
        }
    }
    assert_ne!(render, draft, "the model repainted inside the mask");
    if let Ok(dir) = std::env::var("FIGUR_TEST_OUTPUT") {
        mask.save(format!("{dir}/astronaut-refine-mask.png")).unwrap();
        render.save(format!("{dir}/astronaut-refined-by-tiny-sd.png")).unwrap();
    }
    let refined = &last["extra"]["provenance"]["refine"];
    assert_eq!((refined["generator"].clone(), refined["strength"].clone()), (json!("tiny-sd"), json!(0.6)), "{last}");
    assert!(refined["prompt"].as_str().unwrap().starts_with("photograph of a person wearing a"), "{refined}");
    let models = last["extra"]["provenance"]["models"].as_array().unwrap();
    assert!(models.iter().any(|m| m["id"] == "tiny-sd" && m["sha256"] == digest.as_str()), "{models:?}");

    // No inpainting model added and no default set: nothing is refined unless asked; `true`
    // then names no model, a 422 on the field.
    let events = run(&server, "try-on", try_on(json!({}))).await;
    assert!(!events.iter().any(|e| e["stage"] == "denoise"));
    let r = server.post("/v1/try-on", try_on(json!({"refine": true}))).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "runtime_config", "refine"])), "{:?}", r.body);
    let r = server.post("/v1/try-on", try_on(json!({"refine": 3}))).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "runtime_config", "refine"])), "{:?}", r.body);
    let r = server.post("/v1/try-on", try_on(json!({"refine": "sd15-inpaint"}))).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["details"][0]["msg"].as_str().unwrap().contains("no image model `sd15-inpaint`"));

    // The studio's default, set with `figur config` while the server runs: taken when the
    // request says nothing; `false` still turns it off.
    let (ok, out) = config(&server, &cache, &["set", "default-model.refine", "tiny-sd"]);
    assert!(ok && out.contains("default-model.refine = tiny-sd"), "{out}");
    let (ok, out) = config(&server, &cache, &["set", "default-model.refine", "sd15"]);
    assert!(!ok && out.contains("no model `sd15` is added"), "{out}");
    let (ok, out) = config(&server, &cache, &["set", "default-model.colour", "tiny-sd"]);
    assert!(!ok && out.contains("default-model.background-generator"), "{out}");
    let events = run(&server, "try-on", try_on(json!({}))).await;
    assert_eq!(events.last().unwrap()["extra"]["provenance"]["refine"]["generator"], "tiny-sd");
    let events = run(&server, "try-on", try_on(json!({"refine": false}))).await;
    assert!(!events.iter().any(|e| e["stage"] == "denoise"));

    // The rest of the family: phased files the draft and mask, direct only the result; model
    // swap refines too, and `false` keeps its draft.
    let messi = server.upload_key("messi5.jpg", crate::photos::sample("messi5.jpg")).await;
    let added = server.post("/v1/catalog/models", json!({"upload_key": messi, "display_name": "Sample"})).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let model = added.body["public_id"].as_str().unwrap().to_string();
    let product = json!({"product_image_s3_key": shirt, "product_garment_category_public_id": "01JGC0GARMENTCATEG0RY00001",
                         "model_image_public_id": model, "runtime_config": {"refine": "tiny-sd"}});
    let events = run(&server, "product-to-model-phased", product.clone()).await;
    artifact(&events, "draft");
    artifact(&events, "refine_mask");
    assert_eq!(events.last().unwrap()["extra"]["provenance"]["refine"]["generator"], "tiny-sd");
    let events = run(&server, "product-to-model-direct", product).await;
    let filed: Vec<&Value> = events.iter().flat_map(|e| e["artifacts"].as_array().into_iter().flatten()).collect();
    assert!(filed.iter().all(|a| a["kind"] != "draft"), "direct files only the result");
    assert!(events.iter().any(|e| e["stage"] == "denoise"));
    let swap = |refine: Value| {
        json!({"source_image_s3_key": person, "model_image_public_id": model, "output_preset": "original",
               "runtime_config": {"refine": refine}})
    };
    let events = run(&server, "model-swap-with-image", swap(json!(true))).await;
    assert_eq!(events.last().unwrap()["extra"]["provenance"]["refine"]["generator"], "tiny-sd", "the default");
    let events = run(&server, "model-swap-with-image", swap(json!(false))).await;
    assert!(!events.iter().any(|e| e["stage"] == "denoise"));

    // The generators' default too: a backdrop request naming no model is drawn by it.
    assert!(config(&server, &cache, &["set", "default-model.background-generator", "tiny-sd"]).0);
    let events =
        run(&server, "background-generator", json!({"scene_type": "studio", "mood": "calm", "resolution": "0.5K"}))
            .await;
    assert_eq!(events.last().unwrap()["extra"]["provenance"]["generator"], "tiny-sd");
    assert!(config(&server, &cache, &["unset", "default-model.background-generator"]).0);
    let events =
        run(&server, "background-generator", json!({"scene_type": "studio", "mood": "calm", "resolution": "0.5K"}))
            .await;
    assert!(events.iter().any(|e| e["stage"] == "palette"), "procedural again");
}

#[tokio::test]
async fn a_background_swap_harmonised_by_an_added_model_keeps_all_but_the_edge_band() {
    let (server, _, _) = server_and_cache("generative-harmonize").await;
    let person = server.upload_key("astronaut.png", astronaut()).await;
    let swap = |harmonize: Value| {
        json!({"source_image_s3_key": person, "output_preset": "original", "scene_type": "warm studio",
               "mood": "calm", "runtime_config": {"harmonize": harmonize}})
    };
    let plain = run(&server, "background-swap-with-spec", swap(json!(false))).await;
    assert!(!plain.iter().any(|e| e["stage"] == "denoise"), "off unless asked");
    let events = run(&server, "background-swap-with-spec", swap(json!("tiny-sd"))).await;
    let plain = picture(artifact(&events, "draft")).await.to_rgb8();
    let band = picture(artifact(&events, "harmonize_mask")).await.to_luma8();
    let last = events.last().unwrap();
    let harmonised = picture(&last["artifacts"][0]).await.to_rgb8();
    for (x, y, m) in band.enumerate_pixels() {
        if m[0] == 0 {
            assert_eq!(harmonised.get_pixel(x, y), plain.get_pixel(x, y), "({x}, {y}) is off the band");
        }
    }
    assert_ne!(harmonised, plain);
    let h = &last["extra"]["provenance"]["harmonize"];
    assert_eq!((h["generator"].clone(), h["strength"].clone()), (json!("tiny-sd"), json!(0.3)), "{last}");
    assert!(h["prompt"].as_str().unwrap().contains("in a warm studio setting"), "{h}");
    let r = server.post("/v1/background-swap-with-spec", swap(json!(true))).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "runtime_config", "harmonize"])), "{:?}", r.body);
}

/// Settings → Generative models through a studio server: the added models and each use's
/// default, read and changed over `/v1` (what a connected desktop shows), checked as
/// `figur config` checks them; a later dispatch takes the default.
#[tokio::test]
async fn the_generative_models_and_their_defaults_through_the_api() {
    let (server, _, cache) = server_and_cache("generative-settings-api").await;
    let view = server.get("/v1/generative-models").await;
    assert_eq!(view.status, 200, "{:?}", view.body);
    assert_eq!(view.body["models"][0]["name"], "tiny-sd", "{}", view.body);
    let uses: Vec<&str> =
        view.body["defaults"].as_array().unwrap().iter().map(|d| d["key"].as_str().unwrap()).collect();
    assert_eq!(uses, ["background-generator", "model-generator", "refine", "harmonize", "try-on"]);
    let backdrops = &view.body["defaults"][0];
    assert_eq!(backdrops["model"], Value::Null);
    assert_eq!(backdrops["choices"][0]["name"], "tiny-sd");

    let put =
        |path: &str, body: Value| server.send(server.http.put(server.url(path)).bearer_auth(&server.key).json(&body));
    let set = put("/v1/generative-models/defaults/background-generator", json!({"model": "tiny-sd"})).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["defaults"][0]["model"], "tiny-sd");
    // The server's settings file says so (what `figur config` reads).
    let (ok, out) = config(&server, &cache, &["get", "default-model.background-generator"]);
    assert!(ok && out.contains("tiny-sd"), "{out}");
    // A dispatch naming no model draws with it.
    let body = json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": 1});
    let events = run(&server, "background-generator", body).await;
    let provenance = &events.last().unwrap()["extra"]["provenance"];
    assert!(provenance.to_string().contains("tiny-sd"), "{provenance}");

    // Refused, named: a model not added, a use that does not exist.
    let wrong = put("/v1/generative-models/defaults/refine", json!({"model": "sd15"})).await;
    assert_eq!(wrong.status, 422, "{:?}", wrong.body);
    assert_eq!(wrong.body["error"]["details"][0]["loc"], json!(["body", "model"]));
    let nowhere = put("/v1/generative-models/defaults/colour", json!({"model": "tiny-sd"})).await;
    assert_eq!(nowhere.status, 404, "{:?}", nowhere.body);
    // `null` clears it.
    let cleared = put("/v1/generative-models/defaults/background-generator", json!({"model": null})).await;
    assert_eq!(cleared.body["defaults"][0]["model"], Value::Null);
}
