//! Design tools through `figur serve`: technical flats, fashion figures, looks and their
//! compatibility rules; and a flat worn by a real person through try-on (the product-shot path).

use serde_json::{json, Value};

use crate::photos::sample;
use crate::support::{assert_timeline, astronaut, Server};

const TSHIRT: &str = "01JGC0GARMENTCATEG0RY00002";
const JEANS: &str = "01JGC0GARMENTCATEG0RY0000E";
const SKIRT: &str = "01JGC0GARMENTCATEG0RY0000C";
const SHOES: &str = "01JGC0GARMENTCATEG0RY0000G";

async fn run(server: &Server, op: &str, body: Value) -> Vec<Value> {
    let r = server.post(&format!("/v1/{op}"), body).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    assert_timeline(&events);
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{op}: {}", last["message"]);
    events
}

async fn bytes(url: &Value) -> Vec<u8> {
    reqwest::get(url.as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec()
}

/// Generates a flat, returns (its final artifact, its catalog entry id).
async fn flat(server: &Server, body: Value) -> (Value, String) {
    let events = run(server, "complementary-garment-generator", body).await;
    let last = events.last().unwrap();
    (last["artifacts"][0].clone(), last["extra"]["catalog_public_id"].as_str().unwrap().to_string())
}

fn keep(name: &str, png: &[u8]) {
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name), png).unwrap();
}

#[tokio::test]
async fn flats_are_deterministic_catalogued_and_checked() {
    let server = Server::start().await;
    let body = json!({"garment_category_public_id": TSHIRT, "color": "navy", "pattern": "stripes", "material": "cotton", "seed": 11, "resolution": "0.5K"});
    let (a, id) = flat(&server, body.clone()).await;
    let (b, _) = flat(&server, body.clone()).await;
    assert_eq!(a["meta"]["sha256"], b["meta"]["sha256"], "same seed, same bytes");
    let mut other = body.clone();
    other["seed"] = json!(12);
    other["pattern"] = json!("floral");
    let (c, _) = flat(&server, other).await;
    assert_ne!(a["meta"]["sha256"], c["meta"]["sha256"]);
    let img = image::load_from_memory(&bytes(&a["image_url"]).await).unwrap().to_rgba8();
    assert_eq!((img.width(), img.height()), (427, 512), "5:6, the resolution is the height");
    assert_eq!(img.get_pixel(0, 0)[3], 0, "transparent around the garment");
    let entry = server.get(&format!("/v1/catalog/complementary-garments/{id}")).await;
    assert_eq!(entry.status, 200);
    assert_eq!(entry.body["spec"]["color_hex"], "#1F2A44", "navy is the hex the colour list claims");

    // Named colours map to their hex on the garment itself (a solid, flat-lit cotton).
    let (solid, _) = flat(
        &server,
        json!({"garment_category_public_id": SKIRT, "color": "burgundy", "pattern": "solid", "material": "cotton", "seed": 1, "resolution": "0.5K"}),
    )
    .await;
    let img = image::load_from_memory(&bytes(&solid["image_url"]).await).unwrap().to_rgba8();
    let p = img.get_pixel(img.width() / 2 - 30, img.height() / 2);
    let want = [0x6D, 0x1F, 0x2E];
    for c in 0..3 {
        assert!((p[c] as i32 - want[c]).abs() <= 22, "{p:?} vs burgundy {want:?}");
    }

    // What is refused, each field named: a category with no flat, a colour that names no
    // colour, an empty pattern (a free-text pattern like "paisley" is drawn, not refused).
    let r = server
        .post(
            "/v1/complementary-garment-generator",
            json!({"garment_category_public_id": SHOES, "color": "moss-ish", "pattern": "", "material": "cotton"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let locs: Vec<Value> = r.body["error"]["details"].as_array().unwrap().iter().map(|d| d["loc"][1].clone()).collect();
    assert_eq!(locs, [json!("garment_category_public_id"), json!("color"), json!("pattern")]);
}

/// The hosted API's descriptive fields are free text: a script written for it runs here, each
/// value drawn as the nearest the procedural engines know, and the event says what was drawn.
#[tokio::test]
async fn free_text_as_the_hosted_api_takes_it_is_drawn_and_said() {
    let server = Server::start().await;
    let drawn = |events: &[Value], stage: &str| {
        events.iter().find(|e| e["stage"] == stage).map(|e| e["extra"]["drawn_as"].clone()).unwrap_or_default()
    };
    let events = run(
        &server,
        "background-generator",
        json!({"scene_type": "studio", "mood": "calm", "dominant_colors": ["midnight blue"], "resolution": "0.5K", "seed": 2}),
    )
    .await;
    let d = drawn(&events, "palette");
    assert_eq!(d["scene_type"], json!({"asked": "studio", "drawn": "studio_sweep"}));
    assert_eq!(d["mood"], json!({"asked": "calm", "drawn": "soft"}));
    assert_eq!(d["dominant_colors.0"]["asked"], "midnight blue");
    let palette = events.iter().find(|e| e["stage"] == "palette").unwrap();
    assert!(palette["message"].as_str().unwrap().contains("mood \"calm\" drawn as soft"), "{palette}");

    let events = run(
        &server,
        "model-generator",
        json!({"gender": "FEMALE", "ethnicity": "", "body_type": "petite", "age_range": "25-34", "resolution": "0.5K", "seed": 2}),
    )
    .await;
    let d = drawn(&events, "figure");
    assert_eq!((d["body_type"]["drawn"].clone(), d["age_range"]["drawn"].clone()), (json!("slim"), json!("26-35")));

    let events = run(
        &server,
        "complementary-garment-generator",
        json!({"garment_category_public_id": TSHIRT, "color": "dusty rose", "pattern": "breton stripe",
               "material": "organic cotton", "fit": "oversized", "resolution": "0.5K", "seed": 2}),
    )
    .await;
    let d = drawn(&events, "cut");
    assert_eq!((d["pattern"]["drawn"].clone(), d["fit"]["drawn"].clone()), (json!("stripes"), json!("loose")));
    assert!(d.get("material").is_none_or(|m| m["drawn"] == "cotton"), "{d}");

    // An exact value draws as itself and says nothing.
    let events =
        run(&server, "background-generator", json!({"scene_type": "paper", "mood": "warm", "resolution": "0.5K"}))
            .await;
    assert_eq!(drawn(&events, "palette"), json!({}));

    // Adults only.
    let r = server
        .post(
            "/v1/model-generator",
            json!({"gender": "MALE", "ethnicity": "", "body_type": "slim", "age_range": "12-15"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.body["error"]["details"][0]["loc"][1].clone()), (422, json!("age_range")));
}

#[tokio::test]
async fn figures_looks_and_a_flat_tried_on_a_real_person() {
    let server = Server::start().await;
    // A figure, filed as a catalog model with its landmarks.
    let events = run(
        &server,
        "model-generator",
        json!({"gender": "FEMALE", "ethnicity": "south_asian", "body_type": "curvy", "age_range": "26-35", "seed": 5, "resolution": "1K"}),
    )
    .await;
    let id = events.last().unwrap()["extra"]["catalog_public_id"].as_str().unwrap().to_string();
    let model = server.get(&format!("/v1/catalog/models/{id}")).await.body;
    assert_eq!(model["spec"]["landmarks"].as_array().unwrap().len(), 33);
    let tone = model["spec"]["skin_tone"]["index"].as_u64().unwrap();
    assert!((3..=8).contains(&tone), "south_asian narrows the Monk range to 3–8: {tone}");
    let r = server
        .post("/v1/model-generator", json!({"gender": "MALE", "ethnicity": "", "body_type": "", "age_range": "26-35"}))
        .await;
    assert_eq!((r.status.as_u16(), r.body["error"]["details"][0]["loc"][1].clone()), (422, json!("body_type")));

    // Two flats, uploaded as product shots, worn on a figure as a look board.
    let (tee, _) = flat(&server, json!({"garment_category_public_id": TSHIRT, "color": "white", "pattern": "stripes", "material": "cotton", "seed": 3})).await;
    let (jeans, _) = flat(&server, json!({"garment_category_public_id": JEANS, "color": "blue", "pattern": "solid", "material": "denim", "seed": 3})).await;
    let mut keys = Vec::new();
    for (name, art) in [("tee.png", &tee), ("jeans.png", &jeans)] {
        let png = bytes(&art["image_url"]).await;
        keys.push(server.upload(name, png).await.body["upload_key"].as_str().unwrap().to_string());
    }
    let items = json!([{"trial_image": keys[0], "trial_item_category": "t-shirt"}, {"trial_image": keys[1], "trial_item_category": "jeans"}]);
    let events = run(&server, "look", json!({"user_category": "FEMALE", "items": items})).await;
    let board = &events.last().unwrap()["artifacts"][0];
    keep("look-board.png", &bytes(&board["image_url"]).await);
    assert_eq!(server.get("/v1/renders?origin=compose").await.body["renders"][0]["job_type"], "LOOK");

    // An impossible look is refused at dispatch, naming both items.
    let r = server
        .post("/v1/look", json!({"items": [{"trial_image": keys[0], "trial_item_category": "dress"}, {"trial_image": keys[1], "trial_item_category": "skirt"}]}))
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let detail = &r.body["error"]["details"][0];
    assert_eq!(detail["loc"], json!(["body", "items", 1, "trial_item_category"]));
    assert!(detail["msg"].as_str().unwrap().contains("items 0 (dress) and 1 (skirt)"), "{detail}");

    // The drawn figure as a catalog model for product-to-model: its body is known, no pose model.
    let events = run(
        &server,
        "product-to-model-phased",
        json!({"product_image_s3_key": keys[0], "product_garment_category_public_id": TSHIRT, "model_image_public_id": id}),
    )
    .await;
    let pose = events.iter().find(|e| e["stage"] == "pose").unwrap();
    assert!(pose["message"].as_str().unwrap().contains("drawn figure"), "{pose}");
    keep("figure-product-to-model.png", &bytes(&events.last().unwrap()["artifacts"][0]["image_url"]).await);

    // The flat as a product shot on a real person: try-on's silhouette-landmark path.
    let person = server.upload("astronaut.png", astronaut()).await.body["upload_key"].as_str().unwrap().to_string();
    let events = run(
        &server,
        "try-on",
        json!({"user_image": person, "items": [{"trial_image": keys[0], "trial_item_category": "t-shirt"}]}),
    )
    .await;
    let fit = events.iter().find(|e| e["stage"] == "fit").unwrap();
    assert!(fit["message"].as_str().unwrap().contains("silhouette landmarks"), "{fit}");
    keep("try-on-flat.png", &bytes(&events.last().unwrap()["artifacts"][0]["image_url"]).await);
    let full = server.upload("messi5.jpg", sample("messi5.jpg")).await.body["upload_key"].as_str().unwrap().to_string();
    let events = run(
        &server,
        "try-on",
        json!({"user_image": full, "items": [{"trial_image": keys[1], "trial_item_category": "jeans"}]}),
    )
    .await;
    keep("try-on-jeans.png", &bytes(&events.last().unwrap()["artifacts"][0]["image_url"]).await);
}
