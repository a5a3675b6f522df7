//! `extract` on a real on-model photo and on a product shot, through `figur serve`.

use serde_json::{json, Value};

use crate::support::{assert_timeline, astronaut, noisy_png, product_shot, Server};

async fn extract(server: &Server, bytes: Vec<u8>, context: Value) -> (String, Vec<Value>) {
    let up = server.upload("photo.png", bytes).await;
    assert_eq!(up.status, 200, "{:?}", up.body);
    let r =
        server.post("/v1/extract", json!({"trial_image": up.body["upload_key"], "extraction_context": context})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_string();
    let events = server.wait_terminal(&job).await;
    assert_timeline(&events);
    (job, events)
}

async fn cutouts(events: &[Value]) -> Vec<(String, image::RgbaImage)> {
    let mut out = Vec::new();
    for a in events.last().unwrap()["artifacts"].as_array().unwrap() {
        assert_eq!(a["kind"], "garment_cutout");
        let bytes = reqwest::get(a["image_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
        out.push((a["label"].as_str().unwrap().to_string(), image::load_from_memory(&bytes).unwrap().to_rgba8()));
    }
    out
}

#[tokio::test]
async fn an_on_model_photo_gives_region_cutouts() {
    let server = Server::start().await;
    let (job, events) = extract(&server, astronaut(), json!({"max_items": 4})).await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    let stages: Vec<&str> = events.iter().filter_map(|e| e["stage"].as_str()).collect();
    assert_eq!(stages, ["started", "decode", "matte", "pose", "regions", "cutouts"]);
    let items = cutouts(&events).await;
    assert!(items[0].0.starts_with("upper"), "{:?}", items.iter().map(|i| &i.0).collect::<Vec<_>>());
    for (label, img) in &items {
        let corner = img.get_pixel(0, 0)[3];
        let centre = img.get_pixel(img.width() / 2, img.height() / 2)[3];
        assert!(corner < 30 && centre > 200, "{label}: corner alpha {corner}, centre alpha {centre}");
    }
    // The upper cutout holds the torso and not the face: it starts below the chin (y ≈ 150).
    assert!(items[0].1.height() < 512 * 3 / 4);
    let render = server.get(&format!("/v1/renders/{job}")).await;
    assert_eq!((render.status.as_u16(), render.body["origin"].as_str()), (200, Some("edit")));

    let (_, events) = extract(&server, astronaut(), json!({"max_items": 1})).await;
    assert_eq!(events.last().unwrap()["artifacts"].as_array().unwrap().len(), 1, "max_items is honoured");
}

#[tokio::test]
async fn a_product_shot_gives_one_cutout_per_item_named_by_the_product() {
    let server = Server::start().await;
    let (_, events) = extract(&server, product_shot(), json!({"product_name": "Boxy cotton T-shirt"})).await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "succeeded", "{last}");
    let items = cutouts(&events).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, "product · t-shirt (guess)");
    let (_, shirt) = &items[0];
    assert!(shirt.width() > 360 && shirt.width() < 420, "tight crop around the shirt: {}", shirt.width());
    assert!(shirt.get_pixel(shirt.width() / 2, shirt.height() / 2)[3] == 255);
    // The paper between the sleeves and the hem is cut away.
    assert!(shirt.get_pixel(10, shirt.height() - 10)[3] == 0);
    assert_eq!(last["extra"]["on_model"], false);
}

#[tokio::test]
async fn a_photo_with_nothing_to_extract_fails_with_a_refund() {
    let server = Server::start().await;
    let before = server.balance().await;
    let (_, events) = extract(&server, noisy_png(300, 200), json!({})).await;
    let last = events.last().unwrap();
    assert_eq!(last["extra"]["error"]["code"], "NO_SUBJECT_FOUND", "{last}");
    assert_eq!(server.balance().await, before);
}
