//! The upscale workflow and the generators' use of the upscaler, on an upscaler whose output
//! is known exactly (every pixel repeated 4×4): the picture made, an event per band of tiles,
//! a cancel between tiles, the limits, provenance, and `runtime_config.upscale: false`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::workflow::fakes::{person_photo, FakeModels, NearestUpscaler, Plus, TestJob, WithExport};
use crate::workflow::{JobControl, Operation};

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 11 % 256) as u8, ((x + y) * 5 % 256) as u8]))
}

fn upscaler(cancel_at: Option<(usize, Arc<JobControl>)>) -> Arc<NearestUpscaler> {
    Arc::new(NearestUpscaler { runs: Default::default(), cancel_at })
}

fn request(key: &str, scale: Option<u32>) -> UpscaleRequest {
    UpscaleRequest { source_image_s3_key: Some(key.into()), source_render_public_id: None, scale }
}

#[test]
fn a_photo_is_enlarged_tile_by_tile_with_an_event_per_band() {
    for scale in [4, 2] {
        let job = TestJob::new(Operation::Upscale);
        let photo = picture(300, 200);
        let key = job.upload("photo.png", &photo);
        let model = upscaler(None);
        let mut ctx = job
            .context(Operation::Upscale, Arc::new(Plus(FakeModels::default_set(), ModelKind::Upscaler, model.clone())));
        let out = Upscale::run(&mut ctx, request(&key, Some(scale))).unwrap();

        // 128² tiles overlapping by 24: three columns, two rows.
        assert_eq!(model.runs.load(Ordering::SeqCst), 6);
        let made = image::load_from_memory(&job.realm.store.read(&out.finals[0].key).unwrap()).unwrap().to_rgb8();
        assert_eq!(made.dimensions(), (300 * scale, 200 * scale));
        for (x, y, p) in made.enumerate_pixels() {
            assert_eq!(p, photo.get_pixel(x / scale, y / scale), "×{scale} at {x},{y}");
        }
        let events = job.events();
        let bands: Vec<String> = events
            .iter()
            .filter(|e| e.stage.as_deref() == Some("upscale") && e.extra["step"].is_number())
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(bands, ["band 1 of 2 (3 of 6 tiles)", "band 2 of 2 (6 of 6 tiles)"]);
        let start = events.iter().find(|e| e.stage.as_deref() == Some("upscale")).unwrap();
        assert!(start.message.contains("enlarging 300×200") && start.message.contains("realesrgan-x4plus on fake"));
        assert_eq!(out.extra["provenance"]["upscale"]["model"], "realesrgan-x4plus");
        assert_eq!(out.extra["provenance"]["upscale"]["tiles"], 6);
        assert_eq!((out.extra["scale"].clone(), out.extra["source_size"].clone()), (json!(scale), json!([300, 200])));
        assert!(ctx.models_ran().iter().any(|m| m.id == "realesrgan-x4plus" && m.sha256 == "fake-upscaler"));
        assert!(matches!(out.filing, Filing::Render { origin: RenderOrigin::Edit, .. }));
    }
}

#[test]
fn a_cancel_lands_between_tiles() {
    let job = TestJob::new(Operation::Upscale);
    let key = job.upload("photo.png", &picture(300, 200));
    let control = Arc::new(JobControl::leased(1));
    let model = upscaler(Some((2, control.clone())));
    let store = Arc::new(Plus(FakeModels::default_set(), ModelKind::Upscaler, model.clone()));
    let mut ctx = job.context_with(Operation::Upscale.stages(), store, control);
    let err = Upscale::run(&mut ctx, request(&key, None)).unwrap_err();
    assert!(matches!(err, JobError::Cancelled), "{err:?}");
    assert_eq!(model.runs.load(Ordering::SeqCst), 2, "no tile after the cancel");
}

#[test]
fn a_picture_beyond_the_limit_fails_too_large_before_any_tile() {
    let job = TestJob::new(Operation::Upscale);
    let key = job.upload("big.png", &picture(2100, 2000));
    let model = upscaler(None);
    let mut ctx =
        job.context(Operation::Upscale, Arc::new(Plus(FakeModels::default_set(), ModelKind::Upscaler, model.clone())));
    let err = Upscale::run(&mut ctx, request(&key, Some(4))).unwrap_err();
    assert_eq!(err.code(), Some(FailureCode::InputTooLarge));
    assert!(err.message().contains("2100×2000 enlarged 4× is 67.2 megapixels"), "{}", err.message());
    assert_eq!(model.runs.load(Ordering::SeqCst), 0);
}

#[test]
fn the_request_takes_one_source_and_a_scale_of_2_or_4() {
    let parse = |body| crate::workflow::WorkflowRequest::parse(Operation::Upscale, body);
    assert!(parse(json!({"source_image_s3_key": "uploads/a/b.png"})).is_ok());
    assert!(parse(json!({"source_render_public_id": "01J0000000000000000000000", "scale": 2})).is_ok());
    let problems = |body| match parse(body) {
        Err(e) => serde_json::to_value(&e.details).unwrap().to_string(),
        Ok(_) => String::new(),
    };
    assert!(problems(json!({"source_image_s3_key": "uploads/a/b.png", "scale": 3})).contains("the scale is 2 or 4"));
    assert!(problems(json!({"scale": 4})).contains("source_image_s3_key"));
    assert!(problems(json!({"source_image_s3_key": "uploads/a/b.png", "quality": "max"})).contains("quality"));
}

/// The model generator's accepted draw, 128×256, framed at 0.5K (256×512): ×2 by the upscaler,
/// or resampled when `runtime_config.upscale` is `false`; provenance and the event say which.
#[test]
fn a_generator_enlarges_what_its_model_drew_unless_asked_not_to() {
    use figur_models::tiny::diffusion::Oracle;
    let drawing = person_photo((128, 256), (24.0, 8.0, 80.0, 240.0));
    let oracle = Oracle { picture: Some((128, 256, drawing.into_raw())), text_gain: 0.0, ..Oracle::new() };
    let (_cache, export) = crate::diffusion::tests::open(&oracle);
    for upscale in [None, Some(false)] {
        let job = TestJob::new(Operation::ModelGenerator);
        let model = upscaler(None);
        let store = Arc::new(Plus(
            Arc::new(WithExport(FakeModels::default_set(), "oracle", export.clone())),
            ModelKind::Upscaler,
            model.clone(),
        ));
        let mut ctx = job.context(Operation::ModelGenerator, store);
        let mut body = json!({"gender": "FEMALE", "ethnicity": "", "body_type": "petite", "age_range": "25-34",
            "image_model": "oracle", "resolution": "0.5K", "seed": 7});
        if let Some(on) = upscale {
            body["runtime_config"] = json!({ "upscale": on });
        }
        let r = serde_json::from_value(body).unwrap();
        let out = crate::workflow::model_generator::ModelGenerator::run(&mut ctx, r).unwrap();
        let said = &out.extra["provenance"]["upscale"];
        let event = job.events().into_iter().find(|e| e.stage.as_deref() == Some("upscale")).unwrap();
        let made = image::load_from_memory(&job.realm.store.read(&out.finals[0].key).unwrap()).unwrap().to_rgb8();
        assert_eq!(made.dimensions(), (256, 512));
        if upscale.is_none() {
            assert_eq!((said["used"].clone(), said["scale"].clone()), (json!("upscaler"), json!(2)));
            assert!(event.message.contains("enlarging the 128×256 picture drawn ×2"), "{}", event.message);
            assert!(model.runs.load(Ordering::SeqCst) > 0);
            // Nearest ×2 of the drawing, framed to its own size: every pixel in 2×2 blocks.
            for (x, y, p) in made.enumerate_pixels() {
                assert_eq!(p, made.get_pixel(x & !1, y & !1), "at {x},{y}");
            }
        } else {
            assert_eq!(said["used"], "resample");
            assert!(event.message.contains("runtime_config.upscale is false"), "{}", event.message);
            assert_eq!(model.runs.load(Ordering::SeqCst), 0);
        }
    }
}
