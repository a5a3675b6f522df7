//! Background swaps on a real photo, end to end through `figur serve` with the real matte model.

use serde_json::{json, Value};

use crate::support::{assert_timeline, astronaut, noisy_png, product_shot, Server};

/// Dispatches and follows a job to its end: (job id, timeline).
async fn run(server: &Server, op: &str, body: Value) -> (String, Vec<Value>) {
    let r = server.post(&format!("/v1/{op}"), body).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_string();
    let events = server.wait_terminal(&job).await;
    assert_timeline(&events);
    (job, events)
}

/// Runs a swap that must fail with `code`, refunding its credits.
async fn expect_failure(server: &Server, key: &str, preset: &str, code: &str) {
    let before = server.balance().await;
    let (_, events) = run(
        server,
        "background-swap-with-spec",
        json!({"source_image_s3_key": key, "output_preset": preset, "scene_type": "gradient", "mood": "cool"}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "failed");
    assert_eq!(last["extra"]["error"]["code"], code, "{last}");
    assert_eq!(server.balance().await, before, "refunded");
}

async fn image_at(url: &str) -> image::DynamicImage {
    image::load_from_memory(&reqwest::get(url).await.unwrap().bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn both_swaps_run_on_a_real_photo_and_chain_through_renders() {
    let server = Server::start().await;
    let key = server.upload_key("astronaut.png", astronaut()).await;

    let (job, events) = run(
        &server,
        "background-swap-with-spec",
        json!({"source_image_s3_key": key, "output_preset": "lookbook", "scene_type": "studio_sweep", "mood": "soft", "dominant_colors": ["sky"]}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    let stages: Vec<&str> = events.iter().filter_map(|e| e["stage"].as_str()).collect();
    assert_eq!(stages, ["started", "decode", "matte", "refine", "background", "composite", "finish"]);
    let matte_event = events.iter().find(|e| e["stage"] == "matte").unwrap();
    assert!(
        ["cpu", "cuda"].contains(&matte_event["extra"]["provider"].as_str().unwrap()),
        "the provider that ran is reported"
    );

    // The matte: the face is in, the wall behind is out.
    let mask_url =
        events.iter().flat_map(|e| e["artifacts"].as_array().unwrap()).find(|a| a["kind"] == "person_mask").unwrap()
            ["image_url"]
            .as_str()
            .unwrap()
            .to_string();
    let mask = image_at(&mask_url).await.to_luma8();
    assert_eq!(mask.dimensions(), (512, 512));
    assert!(mask.get_pixel(224, 100)[0] > 200, "face: {}", mask.get_pixel(224, 100)[0]);
    let golden = image::load_from_memory(include_bytes!("../golden/astronaut-person-mask.png")).unwrap().to_luma8();
    let (mut both, mut either) = (0u32, 0u32);
    for (a, b) in mask.pixels().zip(golden.pixels()) {
        let (a, b) = (a[0] > 127, b[0] > 127);
        both += (a && b) as u32;
        either += (a || b) as u32;
    }
    let iou = both as f64 / either as f64;
    assert!(iou >= 0.97, "mask IoU to the golden is {iou:.4}");
    assert!(mask.get_pixel(470, 30)[0] < 40, "wall: {}", mask.get_pixel(470, 30)[0]);

    // The render: framed to the preset, in the gallery as an edit, inputs signed.
    let render = server.get(&format!("/v1/renders/{job}")).await;
    assert_eq!(render.status, 200, "{:?}", render.body);
    assert_eq!(render.body["origin"], "edit");
    assert!(render.body["inputs"]["source_image_url"].as_str().unwrap().contains("sig="));
    assert!(render.body["inputs"].get("source_image_s3_key").is_none(), "no raw key crosses the API");
    let out = image_at(render.body["image_url"].as_str().unwrap()).await;
    assert_eq!((out.width(), out.height()), (1536, 2048));
    let edits = server.get("/v1/renders?origin=edit").await;
    assert_eq!(edits.body["count"], 1);

    // The render itself is a source: swap it onto a built-in catalog background, keeping framing.
    for _ in 0..300 {
        if server.get("/v1/catalog/backgrounds").await.body.as_array().map(|a| a.len()) == Some(6) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, events) = run(
        &server,
        "background-swap-with-image",
        json!({"source_render_public_id": job, "output_preset": "original", "background_image_public_id": "01JBG0BACKGR0VND0000000005"}),
    )
    .await;
    assert_eq!(events.last().unwrap()["event_type"], "succeeded", "{:?}", events.last());
    let out = image_at(events.last().unwrap()["artifacts"][0]["image_url"].as_str().unwrap()).await;
    assert_eq!((out.width(), out.height()), (1536, 2048), "original keeps the source's size");
}

#[tokio::test]
async fn a_photo_without_a_person_fails_with_its_code_and_a_refund() {
    let server = Server::start().await;
    let key = server.upload_key("texture.png", noisy_png(320, 240)).await;
    expect_failure(&server, &key, "original", "NO_SUBJECT_FOUND").await;
}

#[tokio::test]
async fn a_missing_model_fails_with_model_missing_naming_the_fetch_command() {
    let empty = tempfile::tempdir().unwrap();
    let server = Server::start_with(&[], &[("FIGUR_CACHE_DIR", empty.path().to_str().unwrap())]).await;
    let key = server.upload_key("astronaut.png", astronaut()).await;
    expect_failure(&server, &key, "original", "MODEL_MISSING").await;
    let job = server.get("/v1/jobs?limit=1").await.body["jobs"][0].clone();
    assert!(job["latest_event"]["message"].as_str().unwrap().contains("figur models fetch"), "{job}");
}

#[tokio::test]
async fn tiny_and_huge_photos_end_cleanly() {
    let server = Server::start().await;
    // A 1×1 photo and a 20,000-px-wide strip: accepted as images, and neither holds a person.
    for (name, bytes) in [("dot.png", crate::support::png(1, 1)), ("strip.png", crate::support::png(20_000, 120))] {
        let key = server.upload_key(name, bytes).await;
        expect_failure(&server, &key, "ecommerce_square", "NO_SUBJECT_FOUND").await;
    }
}

#[tokio::test]
async fn a_product_shot_gets_a_new_background_too() {
    let server = Server::start().await;
    let key = server.upload_key("shirt.png", product_shot()).await;
    let (_, events) = run(
        &server,
        "background-swap-with-spec",
        json!({"source_image_s3_key": key, "output_preset": "ecommerce_square", "scene_type": "studio_sweep", "mood": "bright"}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    assert_eq!(last["extra"]["subject"], "product");
    let mask = events.iter().flat_map(|e| e["artifacts"].as_array().unwrap()).find(|a| a["kind"] == "product_mask");
    assert!(mask.is_some(), "the product matte is an intermediate artifact");
    let out = image_at(last["artifacts"][0]["image_url"].as_str().unwrap()).await.to_rgb8();
    assert_eq!(out.dimensions(), (2048, 2048));
    // The navy shirt sits in the middle of the square, on the new (bright, ivory) sweep.
    let centre = out.get_pixel(1024, 1024);
    assert!(centre[2] > centre[0] + 30, "navy at the centre: {centre:?}");
    let corner = out.get_pixel(20, 20);
    assert!(corner[0] > 200 && corner[1] > 200, "bright backdrop in the corner: {corner:?}");
}

#[tokio::test]
async fn with_two_people_the_largest_is_used_and_the_event_says_so() {
    let server = Server::start().await;
    let key = server.upload_key("basketball1.png", crate::photos::sample("basketball1.png")).await;
    let (_, events) = run(
        &server,
        "background-swap-with-spec",
        json!({"source_image_s3_key": key, "output_preset": "original", "scene_type": "studio_sweep", "mood": "soft"}),
    )
    .await;
    assert_eq!(events.last().unwrap()["event_type"], "succeeded");
    let refine = events.iter().find(|e| e["stage"] == "refine").expect("a refine stage");
    assert_eq!(refine["extra"]["people"], 2, "{refine}");
    assert!(refine["message"].as_str().unwrap().contains("2 people found; the largest is used"), "{refine}");
    // The kept person is the nearer one on the right: its matte mask is empty on the left third.
    let mask = events
        .iter()
        .flat_map(|e| e["artifacts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["kind"] == "person_mask")
        .expect("the person matte artifact");
    let mask = image_at(mask["image_url"].as_str().unwrap()).await.to_luma8();
    let left: u64 =
        mask.enumerate_pixels().filter(|(x, _, _)| *x < mask.width() / 3).map(|(_, _, p)| p[0] as u64).sum();
    let right: u64 =
        mask.enumerate_pixels().filter(|(x, _, _)| *x > mask.width() * 2 / 3).map(|(_, _, p)| p[0] as u64).sum();
    assert!(right > 50 * left.max(1), "left {left}, right {right}");
}

#[tokio::test]
async fn a_memory_budget_smaller_than_one_photo_still_runs_every_job_to_the_end() {
    // 1 MiB cannot hold a 512² swap's working set: each job takes the whole budget and runs alone.
    let server = Server::start_with(&["--concurrency", "2"], &[("FIGUR_MEMORY_BUDGET_MB", "1")]).await;
    let key = server.upload_key("astronaut.png", astronaut()).await;
    let body = json!({"source_image_s3_key": key, "output_preset": "original", "scene_type": "paper", "mood": "warm"});
    let (a, b) = tokio::join!(
        run(&server, "background-swap-with-spec", body.clone()),
        run(&server, "extract", json!({"trial_image": key}))
    );
    for (_, events) in [a, b] {
        assert_eq!(events.last().unwrap()["event_type"], "succeeded", "{:?}", events.last());
    }
}
