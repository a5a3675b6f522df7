//! Refinement on the oracle export (its picture is the target whatever it starts from, so
//! where the model repainted is known exactly) after a try-on with the fake person models.

use std::sync::Arc;

use figur_models::tiny::diffusion::Oracle;
use serde_json::json;

use super::*;
use crate::domain::requests::{RenderParams, Resolution, TryOnItem, TryOnRequest};
use crate::workflow::background_generator::generation_size;
use crate::workflow::fakes::{self, FakeModels, TestJob, WithExport};
use crate::workflow::try_on::{Session, TryOn};
use crate::workflow::Operation;
use crate::workflow::Workflow;

pub(crate) const FIGURE: (f32, f32, f32, f32) = (100.0, 30.0, 200.0, 450.0);
const REPAINT: [u8; 3] = [200, 60, 40];

fn request(job: &TestJob, refine: serde_json::Value) -> TryOnRequest {
    request_with(job, json!({ "refine": refine }))
}

/// A try-on of the fake figure in a navy product-shot top at 0.5K, with `config` as its
/// `runtime_config`.
pub(crate) fn request_with(job: &TestJob, config: serde_json::Value) -> TryOnRequest {
    let user_image = job.upload("person.png", &fakes::person_photo((400, 512), FIGURE));
    let trial_image = job.upload("shirt.png", &fakes::product_shot());
    TryOnRequest {
        user_image,
        user_category: None,
        items: vec![TryOnItem { trial_image, trial_item_category: "top".into() }],
        runtime_config: config.as_object().cloned(),
        render_params: Some(RenderParams { resolution: Some(Resolution::Half) }),
    }
}

fn read(job: &TestJob, key: &str) -> image::RgbImage {
    image::load_from_memory(&job.realm.store.read(key).unwrap()).unwrap().to_rgb8()
}

/// The intermediate artifact of `kind` the job filed.
pub(crate) fn filed(job: &TestJob, kind: &str) -> image::DynamicImage {
    let art = job
        .events()
        .iter()
        .flat_map(|e| e.artifacts.clone())
        .find(|a| a.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} artifact was filed"));
    image::load_from_memory(&job.realm.store.read(&art.key).unwrap()).unwrap()
}

/// An oracle whose picture is `colour` at the size a pass over `mask` draws at (its native
/// side is the picture's height, 64; the mask's box must be taller than wide).
pub(crate) fn oracle_painting(
    mask: &image::GrayImage,
    colour: [u8; 3],
) -> (tempfile::TempDir, Arc<figur_models::diffusion::Export>) {
    let (_, _, bw, bh) = mask_box(mask, mask.width().max(mask.height()) / 16).expect("a mask with pixels set");
    assert!(bh > bw, "a portrait box: {bw}×{bh}");
    let (gw, gh) = generation_size(64, 8, (bw, bh));
    assert_eq!(gh, 64);
    let picture = image::RgbImage::from_pixel(gw, gh, image::Rgb(colour));
    let oracle = Oracle { picture: Some((gw as i64, gh as i64, picture.into_raw())), text_gain: 0.0, ..Oracle::new() };
    crate::diffusion::tests::open(&oracle)
}

#[test]
fn asks_read_as_written_and_defaults_fill_only_what_is_unsaid_or_true() {
    let config = |v: serde_json::Value| Some(json!({ "refine": v }).as_object().unwrap().clone());
    assert_eq!(ask(config(json!(false)).as_ref(), "refine").unwrap(), Ask::Off);
    assert_eq!(ask(config(json!(true)).as_ref(), "refine").unwrap(), Ask::Default);
    assert_eq!(ask(config(json!(" sd ")).as_ref(), "refine").unwrap(), Ask::Model("sd".into()));
    assert_eq!(ask(None, "refine").unwrap(), Ask::Unsaid);
    let bad = problems(config(json!(3)).as_ref(), "refine");
    assert_eq!(serde_json::to_value(&bad[0].loc).unwrap(), json!(["body", "runtime_config", "refine"]));

    let defaults = ModelDefaults([(ModelUse::Refine, "inpaint".to_string())].into_iter().collect());
    let mut unsaid = None;
    with_default(&mut unsaid, "refine", ModelUse::Refine, &|| defaults.clone());
    assert_eq!(chosen(unsaid.as_ref(), "refine").as_deref(), Some("inpaint"));
    // Off or naming a model: the settings are not even read.
    let mut named = config(json!("sd"));
    with_default(&mut named, "refine", ModelUse::Refine, &|| panic!("not read when a model is named"));
    assert_eq!(chosen(named.as_ref(), "refine").as_deref(), Some("sd"));
    let mut off = config(json!(false));
    with_default(&mut off, "refine", ModelUse::Refine, &|| defaults.clone());
    assert_eq!(chosen(off.as_ref(), "refine"), None);
    // Harmonising is opt-in: unsaid stays off, `true` takes the default.
    let harmonize = ModelDefaults([(ModelUse::Harmonize, "sd".to_string())].into_iter().collect());
    let mut unsaid = None;
    with_default(&mut unsaid, "harmonize", ModelUse::Harmonize, &|| harmonize.clone());
    assert_eq!(unsaid, None);
    let mut yes = Some(json!({ "harmonize": true }).as_object().unwrap().clone());
    with_default(&mut yes, "harmonize", ModelUse::Harmonize, &|| harmonize.clone());
    assert_eq!(chosen(yes.as_ref(), "harmonize").as_deref(), Some("sd"));
    // `true` with no default is a reference to no model (dispatch refuses it, naming the field).
    let refs = reference(config(json!(true)).as_ref(), "refine");
    assert!(
        matches!(&refs, Some(Reference::ImageModel { name, path, .. }) if name.is_empty() && path == "runtime_config.refine")
    );
}

/// The try-on with refinement off.
fn draft() -> image::RgbImage {
    let job = TestJob::new(Operation::TryOn);
    let mut ctx = job.context(Operation::TryOn, FakeModels::default_set());
    let out = TryOn::run(&mut ctx, request(&job, json!(false))).unwrap();
    assert!(job.events().iter().all(|e| e.stage.as_deref() != Some("denoise")), "off: no denoise stage");
    read(&job, &out.finals[0].key)
}

#[test]
fn refinement_repaints_the_garment_regions_and_leaves_every_other_pixel_and_the_head() {
    let expected_draft = draft();
    let photo = Session::at_resolution(fakes::person_photo((400, 512), FIGURE), Resolution::Half);

    // A first run on any oracle files the mask, whose box sets the size the oracle must draw.
    let job = TestJob::new(Operation::TryOn);
    let probe = crate::diffusion::tests::open(&Oracle::new());
    let mut ctx = job.context(Operation::TryOn, Arc::new(WithExport(FakeModels::default_set(), "oracle", probe.1)));
    // (The probe oracle draws 32², which may or may not be the size asked: its result is not used.)
    let _ = TryOn::run(&mut ctx, request(&job, json!("oracle")));
    let (_cache, export) = oracle_painting(&filed(&job, "refine_mask").to_luma8(), REPAINT);
    let job = TestJob::new(Operation::TryOn);
    let mut ctx = job.context(Operation::TryOn, Arc::new(WithExport(FakeModels::default_set(), "oracle", export)));
    let out = TryOn::run(&mut ctx, request(&job, json!("oracle"))).unwrap();
    let refined = read(&job, &out.finals[0].key);
    let mask = filed(&job, "refine_mask").to_luma8();
    let draft = filed(&job, "draft").to_rgb8();
    assert_eq!(draft, expected_draft, "the draft is the try-on without refinement");

    // Outside the mask: the draft, pixel for pixel; deep inside: the model's picture.
    let mut repainted = 0;
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] == 0 {
            assert_eq!(refined.get_pixel(x, y), draft.get_pixel(x, y), "({x}, {y}) is outside the mask");
        } else if refined.get_pixel(x, y).0 == REPAINT {
            repainted += 1;
        }
    }
    let inside = mask.pixels().filter(|m| m[0] > 0).count();
    assert!(repainted * 2 > inside, "{repainted} of {inside} mask pixels are the model's");
    // The chest is repainted; the head is kept (the fakes find no face, so the disc round the
    // nose guards it; with a face mesh the mesh does, as in the fit).
    assert_eq!(photo.dimensions(), (400, 512), "0.5K: the photo's own size");
    let at = |fx: f32, fy: f32| (FIGURE.0 + fx * FIGURE.2, FIGURE.1 + fy * FIGURE.3);
    let (cx, cy) = at(0.5, 0.33);
    assert_eq!(refined.get_pixel(cx as u32, cy as u32).0, REPAINT, "the chest");
    let head = (at(0.5, 0.07), 0.065 * FIGURE.3);
    let mut head_pixels = 0;
    for (x, y, p) in refined.enumerate_pixels() {
        if (x as f32 + 0.5 - head.0 .0).hypot(y as f32 + 0.5 - head.0 .1) < head.1 {
            head_pixels += 1;
            assert_eq!(p, draft.get_pixel(x, y), "the head at ({x}, {y}) is the draft's");
            assert_eq!(mask.get_pixel(x, y)[0], 0);
        }
    }
    assert!(head_pixels > 1000, "{head_pixels}");

    // Events and provenance: the stage's steps, the draft and mask filed, everything recorded.
    let denoise: Vec<_> = job.events().into_iter().filter(|e| e.stage.as_deref() == Some("denoise")).collect();
    let p = &out.extra["provenance"]["refine"];
    assert_eq!(p["steps"], 15, "the last 60 % of 25 steps");
    assert_eq!(denoise.len(), 1 + 15, "the stage's start and each step");
    let names: Vec<String> = denoise[0].artifacts.iter().map(|a| a.label.clone()).collect();
    assert_eq!(names, ["Warped top", "Fitted draft", "Repainted region"]);
    assert!(denoise[0].message.starts_with("refining the fit (strength 0.6"), "{}", denoise[0].message);
    assert_eq!((p["generator"].clone(), p["strength"].clone()), (json!("oracle"), json!(0.6)));
    assert!(p["prompt"].as_str().unwrap().starts_with("photograph of a person wearing a navy Top"), "{p}");
    let ran: Vec<&str> = ctx.models_ran().iter().map(|m| m.id.as_str()).collect();
    assert!(ran.contains(&"oracle"), "{ran:?}");
    if let Ok(dir) = std::env::var("FIGUR_TEST_OUTPUT") {
        refined.save(format!("{dir}/refined-try-on.png")).unwrap();
        mask.save(format!("{dir}/refine-mask.png")).unwrap();
    }
}
