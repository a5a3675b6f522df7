//! Background-swap harmonisation (`runtime_config.harmonize`): an image-to-image pass at low
//! strength over a band around the subject's edge in the composite, so the subject sits in
//! the new scene's light — its rim, the contact with the floor, the edge colour. The subject's
//! interior and the background beyond the band are kept, pixel for pixel.

use image::RgbImage;
use serde_json::{Map, Value};

use super::refine::{self, Pass};
use super::{prompts, JobContext};
use crate::domain::job::{ArtifactRole, StoredArtifact};
use crate::failure::JobError;
use figur_pixels::plane::Plane;
use figur_pixels::vision::repaint::edge_band as band;

/// Low: the pass relights and blends the edge; it must not redraw the subject.
pub const STRENGTH: f32 = 0.3;

/// Stage `denoise`: the composite harmonised by `model`; the composite before and the band are
/// intermediate artifacts.
pub fn run(
    ctx: &mut JobContext,
    composite: RgbImage,
    subject: &Plane,
    model: &str,
    scene: &str,
    seed: u64,
) -> Result<(RgbImage, Map<String, Value>), JobError> {
    let mask = band(subject);
    let attach: Vec<StoredArtifact> = vec![
        ctx.save_png(
            &image::DynamicImage::ImageRgb8(composite.clone()),
            "draft",
            ArtifactRole::Intermediate,
            "Composite before harmonising",
        )?,
        ctx.save_png(
            &image::DynamicImage::ImageLuma8(mask.clone()),
            "harmonize_mask",
            ArtifactRole::Intermediate,
            "Harmonised edge",
        )?,
    ];
    let pass =
        Pass { model, prompt: prompts::harmonize(scene), strength: STRENGTH, seed, purpose: "harmonising the edge" };
    let done = refine::repaint(ctx, composite, &mask, pass, attach)?;
    Ok((done.image, done.provenance))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use figur_models::tiny::diffusion::Oracle;
    use serde_json::json;

    use crate::domain::requests::BackgroundSwapWithSpecRequest;
    use crate::workflow::background_swap::WithSpec;
    use crate::workflow::fakes::{self, FakeModels, TestJob, WithExport};
    use crate::workflow::refine::tests::{filed, oracle_painting};
    use crate::workflow::Operation;
    use crate::workflow::Workflow;

    const GLOW: [u8; 3] = [250, 200, 40];

    fn swap(job: &TestJob, harmonize: serde_json::Value) -> BackgroundSwapWithSpecRequest {
        let key = job.upload("person.png", &fakes::person_photo((300, 400), (75.0, 20.0, 150.0, 360.0)));
        serde_json::from_value(json!({
            "source_image_s3_key": key, "output_preset": "original", "scene_type": "studio", "mood": "calm",
            "runtime_config": { "harmonize": harmonize }
        }))
        .unwrap()
    }

    fn run(
        job: &TestJob,
        store: Arc<dyn crate::workflow::models::ModelStore>,
        harmonize: serde_json::Value,
    ) -> Result<(image::RgbImage, serde_json::Map<String, serde_json::Value>), crate::failure::JobError> {
        let mut ctx = job.context(Operation::BackgroundSwapWithSpec, store);
        let out = WithSpec::run(&mut ctx, swap(job, harmonize))?;
        let image = image::load_from_memory(&job.realm.store.read(&out.finals[0].key).unwrap()).unwrap().to_rgb8();
        Ok((image, out.extra))
    }

    #[test]
    fn harmonising_repaints_the_edge_band_only() {
        // A probe run files the band, whose box sets the size the oracle must draw (the probe's
        // own oracle draws 32², so its run may fail: only the band is used).
        let probe = crate::diffusion::tests::open(&Oracle::new());
        let job = TestJob::new(Operation::BackgroundSwapWithSpec);
        let _ = run(&job, Arc::new(WithExport(FakeModels::default_set(), "oracle", probe.1)), json!("oracle"));
        let band = filed(&job, "harmonize_mask").to_luma8();
        let (_cache, export) = oracle_painting(&band, GLOW);
        let job = TestJob::new(Operation::BackgroundSwapWithSpec);
        let store = Arc::new(WithExport(FakeModels::default_set(), "oracle", export));
        let (harmonised, extra) = run(&job, store, json!("oracle")).unwrap();
        let plain = filed(&job, "draft").to_rgb8();

        let (mut changed, mut inside) = (0, 0);
        for (x, y, m) in band.enumerate_pixels() {
            if m[0] == 0 {
                assert_eq!(harmonised.get_pixel(x, y), plain.get_pixel(x, y), "({x}, {y}) is off the band");
            } else {
                inside += 1;
                changed += (harmonised.get_pixel(x, y).0 == GLOW) as usize;
            }
        }
        assert!(inside > 0 && changed * 3 > inside, "{changed} of {inside} band pixels repainted");
        // The subject's interior (the chest) and the far background are untouched.
        assert_eq!(harmonised.get_pixel(150, 130), plain.get_pixel(150, 130));
        assert_eq!(harmonised.get_pixel(5, 5), plain.get_pixel(5, 5));
        let steps = job.events().iter().filter(|e| e.stage.as_deref() == Some("denoise")).count();
        let p = &extra["provenance"]["harmonize"];
        assert_eq!((p["steps"].clone(), p["strength"].clone()), (json!(7), json!(0.3)), "the last 30 % of 25 steps");
        assert_eq!(steps, 1 + 7);
    }
}
