//! Try-on with a try-on model, on the try-on oracle (its picture is the masked person plus the
//! mask times the garment, so where and what the model drew is known) after the fake person
//! models: the stages, the masks and raw pictures filed, the paste inside the mask only, and
//! provenance.

use std::sync::Arc;

use figur_models::tiny::diffusion::TryOnOracle;
use serde_json::json;

use super::*;
use crate::workflow::fakes::{self, FakeModels, TestJob, WithExport};
use crate::workflow::refine::tests::{filed, request_with, FIGURE};
use crate::workflow::try_on::TryOn;
use crate::workflow::{Operation, Workflow};

fn navy(p: &image::Rgb<u8>) -> bool {
    p[2] as i32 > p[0] as i32 + 40
}

#[test]
fn the_model_draws_inside_its_mask_and_the_rest_of_the_photo_is_the_photo_s_own() {
    // A 48×64 try-on export, tuned to 4 steps without guidance (its picture is then exactly
    // the masked person plus the garment inside the mask).
    let (_cache, export) =
        crate::diffusion::tests::open_tuned(|dir| TryOnOracle::new(48, 64).write(dir), Some((4, 1.0)));
    let job = TestJob::new(Operation::TryOn);
    let models = Arc::new(WithExport(FakeModels::default_set(), "oracle", export.clone()));
    let mut ctx = job.context(Operation::TryOn, models);
    let output = TryOn::run(&mut ctx, request_with(&job, json!({ "try_on_model": "oracle" }))).unwrap();

    let mut stages: Vec<String> =
        job.events().iter().filter_map(|e| e.stage.clone()).filter(|s| s != "started").collect();
    stages.dedup();
    let expected: Vec<String> = TryOn::STAGES.iter().map(|s| s.as_str().to_string()).collect();
    assert_eq!(stages, expected, "every stage, the model's steps as the denoise stage's");
    let events = job.events();
    let fit = events.iter().find(|e| e.stage.as_deref() == Some("fit")).unwrap();
    assert!(fit.message.contains("top (upper)"), "{}", fit.message);
    let drawing = events.iter().find(|e| e.stage.as_deref() == Some("denoise")).unwrap();
    assert!(
        drawing.message.contains("dressing with oracle") && drawing.message.contains("licence MIT"),
        "{}",
        drawing.message
    );
    let steps = events.iter().filter(|e| e.stage.as_deref() == Some("denoise") && e.extra["step"].is_number()).count();
    assert_eq!(steps, 4, "an event per step");

    let photo = fakes::person_photo((400, 512), FIGURE);
    let render = image::load_from_memory(&job.realm.store.read(&output.finals[0].key).unwrap()).unwrap().to_rgb8();
    let mask = filed(&job, "try_on_mask").to_luma8();
    let raw = filed(&job, "try_on_raw").to_rgb8();
    assert_eq!((mask.dimensions(), raw.dimensions()), ((400, 512), (48, 64)));
    if let Ok(dir) = std::env::var("FIGUR_TEST_OUTPUT") {
        render.save(format!("{dir}/fake-try-on-with-model.png")).unwrap();
        mask.save(format!("{dir}/fake-try-on-with-model-mask.png")).unwrap();
    }
    let (mut inside, mut navy_inside) = (0, 0);
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] == 0 {
            assert_eq!(render.get_pixel(x, y), photo.get_pixel(x, y), "({x}, {y}) is outside the mask");
        } else {
            inside += 1;
            navy_inside += navy(render.get_pixel(x, y)) as usize;
        }
    }
    assert!(inside > 10_000, "the torso and arms: {inside} pixels");
    assert!(navy_inside * 5 > inside, "the shirt drawn inside: {navy_inside} of {inside}");
    // The head (above the collar line) is never inside.
    let head_row = (FIGURE.1 + 0.1 * FIGURE.3) as u32;
    assert!((0..400).all(|x| mask.get_pixel(x, head_row)[0] == 0));

    let provenance = &output.extra["provenance"]["try_on"];
    assert_eq!((provenance["model"].clone(), provenance["steps"].clone()), (json!("oracle"), json!(4)));
    assert_eq!(provenance["digest"], json!(export.digest));
    assert_eq!(provenance["items"][0]["category"], "top");
    assert_eq!(provenance["items"][0]["cover"], "upper");
    assert_eq!(provenance["items"][0]["mask_box"].as_array().unwrap().len(), 4);
    assert!(output.extra["provenance"].get("refine").is_none(), "no refinement after the model");
    assert!(ctx.models_ran().iter().any(|m| m.id == "oracle" && m.sha256 == export.digest));
}

#[test]
fn a_prompt_model_named_as_the_try_on_model_fails_clearly() {
    let (_cache, export) = crate::diffusion::tests::open(&figur_models::tiny::diffusion::Oracle::new());
    let job = TestJob::new(Operation::TryOn);
    let models = Arc::new(WithExport(FakeModels::default_set(), "oracle", export));
    let mut ctx = job.context(Operation::TryOn, models);
    match TryOn::run(&mut ctx, request_with(&job, json!({ "try_on_model": "oracle" }))) {
        Err(JobError::Failed(f)) => {
            assert_eq!(f.code, FailureCode::ModelFailed);
            assert!(f.message.contains("not a try-on model"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dispatch_writes_the_default_try_on_model_and_checks_what_a_request_names() {
    let defaults = ModelDefaults([(ModelUse::TryOn, "catvton".to_string())].into_iter().collect());
    let mut unsaid = None;
    with_defaults(&mut unsaid, &|| defaults.clone());
    assert_eq!(refine::chosen(unsaid.as_ref(), KEY).as_deref(), Some("catvton"));
    let mut off = Some(json!({ "try_on_model": false }).as_object().unwrap().clone());
    with_defaults(&mut off, &|| defaults.clone());
    assert_eq!(refine::chosen(off.as_ref(), KEY), None);
    let named = json!({ "try_on_model": "mine" });
    let refs = references(named.as_object());
    assert!(refs.iter().any(|r| matches!(r, Reference::ImageModel { name, need: ModelNeed::TryOn, path, .. }
        if name == "mine" && path == "runtime_config.try_on_model")));
    let bad = problems(json!({ "try_on_model": 3 }).as_object());
    assert_eq!(serde_json::to_value(&bad[0].loc).unwrap(), json!(["body", "runtime_config", "try_on_model"]));
}

#[test]
fn the_crop_keeps_the_model_s_aspect_and_the_paste_stays_inside_the_mask() {
    let person_box = (10u32, 20u32, 30u32, 40u32);
    let crop = crop_padded(&image::GrayImage::from_pixel(50, 60, image::Luma([7])), (-5, -5, 20, 20));
    assert_eq!((crop.dimensions(), crop.get_pixel(0, 0)[0]), ((20, 20), 7), "the edge repeated");
    let mut mask = image::GrayImage::new(50, 60);
    for y in person_box.1..person_box.1 + person_box.3 {
        for x in person_box.0..person_box.0 + person_box.2 {
            mask.put_pixel(x, y, image::Luma([255]));
        }
    }
    let photo = image::RgbImage::from_pixel(50, 60, image::Rgb([10, 10, 10]));
    let drawn = image::RgbImage::from_pixel(24, 32, image::Rgb([250, 250, 250]));
    let out = paste(photo.clone(), &drawn, &mask, (-10, 0, 60, 80));
    for (x, y, p) in out.enumerate_pixels() {
        match mask.get_pixel(x, y)[0] {
            0 => assert_eq!(p, photo.get_pixel(x, y)),
            _ if (15..35).contains(&x) && (30..50).contains(&y) => assert_eq!(p.0, [250, 250, 250]),
            _ => {}
        }
    }
}
