//! `model-generator` with a diffusion model the user added: a photographic full-body model
//! from a prompt of the request's words, checked with the studio's own person models (one
//! person, head to ankles, facing the camera) and drawn again with the next seed up to
//! [`TRIES`] times, else `GENERATION_REJECTED` and a refund. The catalog entry keeps the
//! picture's 33 landmarks.

use serde_json::json;

use super::models::ModelKind;
use super::{denoise, person, prompts, Filing, JobContext, Output, Stage};
use crate::diffusion::pipeline::Generate;
use crate::domain::catalog::CatalogResource;
use crate::domain::job::ArtifactRole;
use crate::domain::requests::{ModelGeneratorRequest, UserCategory};
use crate::failure::{FailureCode, JobError};
use crate::workflow::background_generator::generation_size;
use figur_pixels::vision::pose::{Landmark, VISIBLE};

/// How many pictures are drawn before the job gives up.
pub const TRIES: u64 = 4;

/// Why a drawn picture is not a usable model photo; `None`: it is.
pub fn rejected(landmarks: &[Landmark], people: usize) -> Option<String> {
    if people > 1 {
        return Some(format!("{people} people"));
    }
    let seen = |i: usize| landmarks.get(i).is_some_and(|l| l.visibility >= VISIBLE);
    let missing: Vec<&str> =
        [(0, "head"), (11, "shoulders"), (12, "shoulders"), (23, "hips"), (24, "hips"), (27, "ankles"), (28, "ankles")]
            .into_iter()
            .filter(|(i, _)| !seen(*i))
            .map(|(_, part)| part)
            .collect();
    if let Some(first) = missing.first() {
        return Some(format!("no {first} in the picture"));
    }
    // Facing the camera: the person's left shoulder (11) is on the picture's right, and the
    // shoulders are not seen edge-on (a standing adult's are about a quarter of their height
    // across; side-on, a few hundredths).
    let (l, r) = (&landmarks[11], &landmarks[12]);
    let height = (landmarks[27].y.max(landmarks[28].y) - landmarks[0].y).abs().max(1.0);
    if l.x <= r.x || (l.x - r.x) < 0.08 * height {
        return Some("the person is not facing the camera".into());
    }
    None
}

pub fn run(
    ctx: &mut JobContext,
    r: &ModelGeneratorRequest,
    model: &str,
    seed: u64,
    height: u32,
) -> Result<Output, JobError> {
    let female = r.gender == UserCategory::Female;
    let prompt = prompts::fashion_model(female, &r.ethnicity, &r.body_type, &r.age_range);
    let export = ctx.diffusion_model(model)?;
    let multiple = 8 * export.vae_scale as u32;
    let width = height / 2;
    let (gw, gh) = generation_size(export.native_size.unwrap_or(512), multiple, (width, height));
    let scheduler = export.record.scheduler.clone();
    let (steps, guidance) = denoise::tuned(&export);
    drop(export);

    let mut reasons = Vec::new();
    for attempt in 0..TRIES {
        let draw_seed = seed.wrapping_add(attempt);
        let request = Generate {
            prompt: prompt.prompt.clone(),
            negative: prompt.negative.clone(),
            steps,
            guidance,
            seed: draw_seed,
            width: gw,
            height: gh,
            init: None,
            mask: None,
        };
        let made = denoise::run(ctx, Stage::Denoise, model, &request, 5, denoise::Intro::plain())?;
        let photo = figur_pixels::vision::composite::cover(&made.image, width, height);
        ctx.stage(
            Stage::Pose,
            format!("checking draw {} of {TRIES}: one person, head to ankles, facing the camera", attempt + 1),
        )?;
        let matte_model = ctx.model(ModelKind::PersonMatte)?;
        let found = match person::find_person(&photo, matte_model, "picture", &mut || ctx.checkpoint()) {
            Ok(matte) => {
                let pose = ctx.model(ModelKind::Pose)?;
                match person::landmarks(&*pose, &photo, &matte.alpha) {
                    Ok(landmarks) => match rejected(&landmarks, matte.people) {
                        None => Some(landmarks),
                        Some(why) => {
                            reasons.push(format!("seed {draw_seed}: {why}"));
                            None
                        }
                    },
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.code() == Some(FailureCode::NoSubjectFound) => {
                reasons.push(format!("seed {draw_seed}: no person"));
                None
            }
            Err(e) => return Err(e),
        };
        let Some(landmarks) = found else { continue };
        // The accepted draw enlarged before it is framed (the same framing: its landmarks hold).
        let asked = super::upscale::asked(r.runtime_config.as_ref());
        let (drawn, upscale) =
            super::upscale::enlarge_to(ctx, made.image.clone(), (width, height), asked, Stage::Upscale)?;
        let photo = if upscale["used"] == "upscaler" {
            figur_pixels::vision::composite::cover(&drawn, width, height)
        } else {
            photo
        };
        drop(drawn);

        ctx.stage(Stage::Finish, "encoding")?;
        let gender = if female { "female" } else { "male" };
        let label = format!("Model · {gender}, {}, {}", r.body_type.trim(), r.age_range.trim());
        let art = ctx.save_png(&image::DynamicImage::ImageRgb8(photo), "catalog_image", ArtifactRole::Final, &label)?;
        ctx.stage(Stage::Catalog, "filing the model in the catalog")?;
        let mut spec = serde_json::to_value(r).unwrap_or_default();
        spec["generator"] = json!(model);
        spec["seed"] = json!(draw_seed);
        spec["framing"] = json!("full_body");
        // Each landmark as [x, y, visibility] in the filed picture's pixels: product-to-model
        // and model swap dress this model on them without running the pose model again.
        let round = |v: f32| (v * 100.0).round() / 100.0;
        spec["landmarks"] =
            json!(landmarks.iter().map(|l| [round(l.x), round(l.y), round(l.visibility)]).collect::<Vec<_>>());
        let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
        let description = format!("A photograph drawn by {model}: {gender}, {width}×{height}, seed {draw_seed}");
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), json!(draw_seed));
        let mut provenance = denoise::provenance(model, &scheduler, &request, &made);
        provenance.insert("tries".into(), json!(attempt + 1));
        provenance.insert("rejected".into(), json!(reasons));
        provenance.insert("upscale".into(), upscale);
        extra.insert("provenance".into(), json!(provenance));
        return Ok(Output {
            finals: vec![art],
            filing: Filing::Catalog { resource: CatalogResource::Models, display_name, description, spec },
            extra,
        });
    }
    Err(FailureCode::GenerationRejected
        .with(format!("{model} drew no usable model photo in {TRIES} tries ({})", reasons.join("; "))))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use figur_models::diffusion::Export;
    use figur_models::tiny::diffusion::Oracle;

    use super::*;
    use crate::workflow::fakes::{person_photo, FakeModels, TestJob, WithExport};
    use crate::workflow::{Operation, Workflow};

    fn request() -> ModelGeneratorRequest {
        serde_json::from_value(json!({"gender": "FEMALE", "ethnicity": "", "body_type": "petite", "age_range": "25-34",
            "image_model": "oracle", "resolution": "0.5K", "seed": 7}))
        .unwrap()
    }

    /// An oracle whose picture is `photo` (128×256), whatever the prompt says.
    fn oracle_drawing(photo: image::RgbImage) -> (tempfile::TempDir, Arc<Export>) {
        let oracle = Oracle { picture: Some((128, 256, photo.into_raw())), text_gain: 0.0, ..Oracle::new() };
        crate::diffusion::tests::open(&oracle)
    }

    #[test]
    fn a_drawn_person_is_checked_and_filed_with_their_landmarks() {
        let (_cache, export) = oracle_drawing(person_photo((128, 256), (24.0, 8.0, 80.0, 240.0)));
        let job = TestJob::new(Operation::ModelGenerator);
        let mut ctx =
            job.context(Operation::ModelGenerator, Arc::new(WithExport(FakeModels::default_set(), "oracle", export)));
        let out = crate::workflow::model_generator::ModelGenerator::run(&mut ctx, request()).unwrap();
        let Filing::Catalog { resource, spec, .. } = &out.filing else { panic!("filed in the catalog") };
        assert_eq!(*resource, CatalogResource::Models);
        assert_eq!((spec["generator"].clone(), spec["framing"].clone()), (json!("oracle"), json!("full_body")));
        let landmarks = spec["landmarks"].as_array().unwrap();
        assert_eq!(landmarks.len(), 33);
        assert!(landmarks.iter().all(|l| l.as_array().unwrap().len() == 3), "x, y and visibility");
        assert_eq!(out.extra["provenance"]["tries"], 1);
        assert!(out.extra["provenance"]["prompt"]
            .as_str()
            .unwrap()
            .contains("woman fashion model, age 25-34, petite build"));
        let ran: Vec<&str> = ctx.models_ran().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ran, ["oracle", "person-matte", "pose-landmarks"]);
    }

    #[test]
    fn a_model_whose_every_draw_fails_the_check_ends_rejected() {
        let (_cache, export) = oracle_drawing(image::RgbImage::from_pixel(128, 256, image::Rgb([250, 250, 250])));
        let job = TestJob::new(Operation::ModelGenerator);
        let mut ctx =
            job.context(Operation::ModelGenerator, Arc::new(WithExport(FakeModels::default_set(), "oracle", export)));
        let err = crate::workflow::model_generator::ModelGenerator::run(&mut ctx, request()).unwrap_err();
        assert_eq!(err.code(), Some(FailureCode::GenerationRejected));
        assert!(
            err.message().contains("in 4 tries") && err.message().contains("seed 10: no person"),
            "{}",
            err.message()
        );
        let draws = job.events().iter().filter(|e| e.stage.as_deref() == Some("pose")).count();
        assert_eq!(draws, TRIES as usize);
    }

    fn body() -> Vec<Landmark> {
        // A front-facing person 400 px tall: their left shoulder on the picture's right.
        let mut l = vec![Landmark { x: 0.0, y: 0.0, visibility: 0.9 }; 33];
        let mut at = |i: usize, x: f32, y: f32| l[i] = Landmark { x, y, visibility: 0.9 };
        at(0, 100.0, 40.0);
        at(11, 140.0, 100.0);
        at(12, 60.0, 100.0);
        at(23, 125.0, 230.0);
        at(24, 75.0, 230.0);
        at(27, 120.0, 440.0);
        at(28, 80.0, 440.0);
        l
    }

    #[test]
    fn a_whole_person_facing_the_camera_passes() {
        assert_eq!(rejected(&body(), 1), None);
        assert_eq!(rejected(&body(), 2).as_deref(), Some("2 people"));
        let mut cut = body();
        cut[27].visibility = 0.1;
        cut[28].visibility = 0.2;
        assert_eq!(rejected(&cut, 1).as_deref(), Some("no ankles in the picture"));
        let mut back = body();
        (back[11].x, back[12].x) = (60.0, 140.0);
        assert_eq!(rejected(&back, 1).as_deref(), Some("the person is not facing the camera"));
        let mut side = body();
        side[11].x = 105.0;
        side[12].x = 95.0;
        assert_eq!(rejected(&side, 1).as_deref(), Some("the person is not facing the camera"));
    }
}
