//! Golden renders: the background swap, the try-on, the backdrops and the matte + composite on a
//! textured photo, compared with the renders the studio made before its pixel stages were made
//! fast (`fixtures/golden/`). Speed work may change the order of float operations, never the
//! picture: each pixel may move by at most [`TOLERANCE`] levels.
//!
//! `FIGUR_BLESS=1 cargo test -p figur-engine golden` rewrites the goldens — only for a change
//! that means to change the pictures, said in its commit. A failing comparison writes what it
//! got beside the golden under `target/golden-failures/` to look at.

use std::path::PathBuf;

use image::RgbImage;
use serde_json::json;

use super::fakes::{self, FakeModels, TestJob};
use super::Workflow;
use crate::workflow::Operation;
use figur_pixels::plane::Plane;
use figur_pixels::vision::{composite, matte};

/// Levels (of 255) a pixel may move when float operations are reordered.
const TOLERANCE: u8 = 2;

/// The job id every golden job runs as: the seed a workflow derives from it is fixed too.
const JOB_ID: &str = "01JG0000000000000000000000";

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

/// Compares `got` with the golden `name` (or writes it, blessing).
fn check(name: &str, got: &RgbImage) {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("FIGUR_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        got.save(&path).unwrap();
        return;
    }
    let want = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    assert_eq!(got.dimensions(), want.dimensions(), "{name}: size");
    let (mut worst, mut moved) = (0u8, 0usize);
    for (a, b) in got.as_raw().iter().zip(want.as_raw()) {
        let d = a.abs_diff(*b);
        worst = worst.max(d);
        moved += (d > 0) as usize;
    }
    eprintln!("{name}: {moved} channel values moved, the most by {worst}");
    if worst > TOLERANCE {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/golden-failures");
        std::fs::create_dir_all(&out).unwrap();
        got.save(out.join(format!("{name}.png"))).unwrap();
        panic!("{name}: a pixel moved {worst} levels ({moved} channel values differ); got: {}", out.display());
    }
}

fn final_image(job: &TestJob, output: &super::Output) -> RgbImage {
    image::load_from_memory(&job.realm.store.read(&output.finals[0].key).unwrap()).unwrap().to_rgb8()
}

#[test]
fn golden_background_swap() {
    let job = TestJob::with_id(Operation::BackgroundSwapWithSpec, JOB_ID);
    let key = job.upload("person.png", &fakes::person_photo((600, 800), (150.0, 40.0, 300.0, 720.0)));
    // The framing presets' placement is the composite golden's; this one runs the whole job.
    let mut ctx = job.context(Operation::BackgroundSwapWithSpec, FakeModels::default_set());
    // The golden was made when a swap's backdrop took the job's seed.
    let request = serde_json::from_value(json!({
        "source_image_s3_key": key, "output_preset": "original", "scene_type": "studio_sweep", "mood": "soft",
        "dominant_colors": ["sky"], "seed": ctx.default_seed()
    }))
    .unwrap();
    let output = super::background_swap::WithSpec::run(&mut ctx, request).unwrap();
    check("swap-original", &final_image(&job, &output));
}

#[test]
fn golden_try_on() {
    let job = TestJob::with_id(Operation::TryOn, JOB_ID);
    let user_image = job.upload("person.png", &fakes::person_photo((800, 1024), (200.0, 60.0, 400.0, 900.0)));
    let trial_image = job.upload("shirt.png", &fakes::product_shot());
    for (resolution, name) in [("1K", "try-on-1k"), ("2K", "try-on-2k")] {
        let request = serde_json::from_value(json!({
            "user_image": user_image, "items": [{"trial_image": trial_image, "trial_item_category": "top"}],
            "render_params": {"resolution": resolution}
        }))
        .unwrap();
        let mut ctx = job.context(Operation::TryOn, FakeModels::default_set());
        let output = super::try_on::TryOn::run(&mut ctx, request).unwrap();
        check(name, &final_image(&job, &output));
    }
}

#[test]
fn golden_backdrops() {
    use figur_pixels::color;
    use figur_pixels::render::backdrop;
    let tiles: Vec<RgbImage> = [
        ("studio_sweep", "bright", "ivory"),
        ("gradient", "soft", "sage"),
        ("paper", "dramatic", "charcoal"),
        ("concrete", "cool", "stone"),
        ("linen", "warm", "sand"),
    ]
    .iter()
    .map(|(scene, mood, colour)| {
        let colours = [color::parse(colour).unwrap()];
        backdrop::render(&backdrop::plan(scene, mood, &colours, 192, 256, 7))
    })
    .collect();
    let mut strip = RgbImage::new(192 * tiles.len() as u32, 256);
    for (i, tile) in tiles.iter().enumerate() {
        image::imageops::replace(&mut strip, tile, 192 * i as i64, 0);
    }
    check("backdrops", &strip);
}

/// A photo with texture everywhere (so every pixel of the guided filter and the edge solve
/// matters): a warm figure with a ragged, hairy outline on a mottled wall.
fn textured_photo(w: u32, h: u32) -> RgbImage {
    use figur_pixels::render::noise::{fbm, value};
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let ragged = 0.03 * (fbm(u * 12.0, v * 12.0, 5, 3) - 0.5) + 0.01 * (value(u * 300.0, v * 40.0, 9) - 0.5);
        let body = ((u - 0.5) / 0.22).powi(2) + ((v - 0.55) / 0.42).powi(2) < 1.0 + ragged * 20.0;
        let grain = (value(x as f32 * 0.7, y as f32 * 0.7, 3) * 30.0) as u8;
        if body {
            image::Rgb([180 + grain / 2, 110 + grain, 80 + grain / 3])
        } else {
            let wall = (fbm(u * 4.0, v * 4.0, 11, 4) * 80.0) as u8;
            image::Rgb([60 + wall, 90 + wall, 70 + wall / 2 + grain])
        }
    })
}

/// The model's view of [`textured_photo`]: a soft ellipse at 256², as a real matte looks.
struct SoftEllipse;

impl matte::Segmenter for SoftEllipse {
    type Error = crate::failure::JobError;
    fn person_probability(&self, _: &[f32]) -> Result<Vec<f32>, crate::failure::JobError> {
        let side = matte::MODEL_SIDE;
        Ok((0..side * side)
            .map(|k| {
                let (u, v) = ((k % side) as f32 / side as f32, (k / side) as f32 / side as f32);
                let d = (((u - 0.5) / 0.22).powi(2) + ((v - 0.55) / 0.42).powi(2)).sqrt();
                (1.0 - (d - 0.92) / 0.16).clamp(0.0, 1.0)
            })
            .collect())
    }
}

#[test]
fn golden_matte_and_composite() {
    let photo = textured_photo(900, 1200);
    let seg = matte::segment(&photo, &SoftEllipse).unwrap();
    let refined = matte::refine(&photo, &seg, &mut || Ok::<(), crate::failure::JobError>(())).unwrap();
    let alpha = gray(&refined.alpha);
    check("matte", &image::DynamicImage::ImageLuma8(alpha).to_rgb8());

    let background = RgbImage::from_fn(1000, 1000, |x, y| image::Rgb([200, (x / 4) as u8, (y / 4) as u8]));
    let boxed = composite::subject_box(&refined.alpha).unwrap();
    for (keep, name) in [(true, "composite-kept"), (false, "composite-placed")] {
        let at = composite::place(boxed, photo.dimensions(), (1000, 1000), keep);
        check(name, &composite::composite(&photo, &refined.alpha, &background, at, 0.35));
    }
}

fn gray(alpha: &Plane) -> image::GrayImage {
    image::GrayImage::from_fn(alpha.width as u32, alpha.height as u32, |x, y| {
        image::Luma([(alpha.at(x as usize, y as usize) * 255.0).round() as u8])
    })
}
