//! The runtime on the oracle export (`figur_models::tiny::diffusion::Oracle`): its UNet carries
//! any latents exactly to a known picture and its VAE is exactly invertible, so a correct
//! pipeline's output is known to the pixel. The graphs are real ONNX run by ONNX Runtime
//! (installed by `figur models fetch`, which `./studio test` runs first).

use std::sync::Arc;

use figur_models::diffusion::Export;
use figur_models::tiny::diffusion::{
    oracle_embedding, scheduler_config, Oracle, ORACLE_SCALING, ORACLE_TEXT_GAIN, ORACLE_WIDTH,
};
use figur_models::tiny::{FLOAT, FLOAT16, INT32, INT64};
use figur_models::{brought, Cache, Providers};
use image::{GrayImage, Luma, Rgb, RgbImage};

use super::pipeline::{generate, Generate, Progress};
use crate::failure::{FailureCode, JobError};

/// The oracle written, added as a brought model, and opened on the CPU.
pub(crate) fn open(oracle: &Oracle) -> (tempfile::TempDir, Arc<Export>) {
    open_written(|dir| oracle.write(dir))
}

/// An export `write` makes, added as a brought model called `oracle`, opened on the CPU.
pub(crate) fn open_written(write: impl FnOnce(&std::path::Path)) -> (tempfile::TempDir, Arc<Export>) {
    open_tuned(write, None)
}

/// [`open_written`], its steps and guidance tuned (`figur models tune`) before it is opened.
pub(crate) fn open_tuned(
    write: impl FnOnce(&std::path::Path),
    tuned: Option<(usize, f32)>,
) -> (tempfile::TempDir, Arc<Export>) {
    let root = Cache::default_root().expect("a cache folder");
    figur_models::runtime::init(&Cache::new(root), false)
        .expect("ONNX Runtime is not installed: run `figur models fetch` (./studio test does)");
    let (cache_dir, from) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write(from.path());
    let cache = Cache::new(cache_dir.path());
    brought::add(&cache, "oracle", from.path(), "MIT", &mut |_| {}).unwrap();
    if let Some((steps, guidance)) = tuned {
        brought::tune(&cache, "oracle", Some(steps), Some(guidance)).unwrap();
    }
    let export = Export::open(&cache, "oracle", &Providers::parse("cpu").unwrap()).unwrap();
    (cache_dir, Arc::new(export))
}

/// Counts steps; stops the run (as a cancel would) once `stop_after` steps are done.
#[derive(Default)]
pub(crate) struct Steps {
    pub done: usize,
    pub stop_after: Option<usize>,
    pub checkpoints_after_stop: usize,
}

impl Progress for Steps {
    fn checkpoint(&mut self) -> Result<(), JobError> {
        match self.stop_after {
            Some(n) if self.done >= n => {
                self.checkpoints_after_stop += 1;
                Err(JobError::Cancelled)
            }
            _ => Ok(()),
        }
    }
    fn stepped(&mut self, done: usize, _: usize, _: &mut dyn FnMut() -> RgbImage) -> Result<(), JobError> {
        self.done = done;
        Ok(())
    }
}

fn request(prompt: &str, steps: usize, guidance: f32) -> Generate {
    Generate {
        prompt: prompt.into(),
        negative: String::new(),
        steps,
        guidance,
        seed: 7,
        width: 32,
        height: 32,
        init: None,
        mask: None,
    }
}

/// The mean hidden state the oracle text encoder gives `text`.
fn mean_hidden(export: &Export, text: &str) -> f32 {
    let ids = export.tokenizer.as_ref().unwrap().ids(text).unwrap();
    let sum: f32 = ids.iter().map(|&id| (0..ORACLE_WIDTH).map(|d| oracle_embedding(id, d)).sum::<f32>()).sum();
    sum / (ids.len() * ORACLE_WIDTH) as f32
}

/// The picture a correct run makes: the oracle's target moved by the guided text mean.
fn expected(oracle: &Oracle, export: &Export, req: &Generate) -> RgbImage {
    let cond = mean_hidden(export, &req.prompt);
    let h = match req.guidance > 1.0 {
        true => {
            let uncond = mean_hidden(export, &req.negative);
            uncond + req.guidance * (cond - uncond)
        }
        false => cond,
    };
    let shift = ORACLE_TEXT_GAIN * h / (2.0 * ORACLE_SCALING);
    RgbImage::from_fn(oracle.side as u32, oracle.side as u32, |x, y| {
        Rgb(std::array::from_fn(|c| {
            ((oracle.pixel(x as i64, y as i64, c) + shift) * 255.0).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// How many pixels' channels are clipped at 0 or 255 (a check stays meaningful only if few).
fn clipped(image: &RgbImage) -> usize {
    image.pixels().flat_map(|p| p.0).filter(|&v| v == 0 || v == 255).count()
}

/// The largest difference of any channel of any pixel, in 255ths.
pub(crate) fn worst(a: &RgbImage, b: &RgbImage) -> u8 {
    a.pixels().zip(b.pixels()).flat_map(|(p, q)| (0..3).map(move |c| p[c].abs_diff(q[c]))).max().unwrap()
}

#[test]
fn every_scheduler_and_prediction_type_reaches_the_oracle_s_picture() {
    for (class, spacing) in [
        ("DDIMScheduler", "leading"),
        ("PNDMScheduler", "trailing"),
        ("EulerDiscreteScheduler", "linspace"),
        ("EulerDiscreteScheduler", "trailing"),
        ("EulerAncestralDiscreteScheduler", "trailing"),
        ("DPMSolverMultistepScheduler", "leading"),
    ] {
        for prediction in ["epsilon", "v_prediction"] {
            let oracle = Oracle {
                scheduler: scheduler_config(class, prediction, spacing),
                timestep: (FLOAT, true),
                ..Oracle::new()
            };
            let (_cache, export) = open(&oracle);
            for steps in [4, 12] {
                let mut req = request("red hat", steps, 3.0);
                req.negative = "blue".into();
                let mut progress = Steps::default();
                let made = generate(&export, &req, &mut progress).unwrap();
                assert_eq!((made.steps_run, progress.done), (steps, steps));
                let want = expected(&oracle, &export, &req);
                let off = worst(&made.image, &want);
                assert!(off <= 2, "{class} {spacing} {prediction}, {steps} steps: off by {off}/255");
            }
        }
    }
}

#[test]
fn the_text_moves_the_picture_as_guidance_says() {
    let oracle = Oracle::new();
    let (_cache, export) = open(&oracle);
    // The oracle's picture does depend on the text (else guidance could not be checked).
    let moved = |text: &str| ORACLE_TEXT_GAIN * mean_hidden(&export, text) / (2.0 * ORACLE_SCALING) * 255.0;
    assert!(moved("red hat").abs() > 3.0 && (moved("red hat") - moved("blue")).abs() > 3.0, "{}", moved("red hat"));
    let run = |req: &Generate| generate(&export, req, &mut Steps::default()).unwrap().image;
    // Guidance 1 is no guidance: the same bytes as a guided run whose negative is the prompt
    // (both are the prompt's prediction alone).
    let plain = run(&request("red hat", 6, 1.0));
    assert!(worst(&plain, &expected(&oracle, &export, &request("red hat", 6, 1.0))) <= 2);
    let empty = request("", 6, 1.0);
    assert!(worst(&run(&empty), &expected(&oracle, &export, &empty)) <= 2, "the empty prompt");
    let mut same = request("red hat", 6, 5.0);
    same.negative = "red hat".into();
    assert_eq!(plain.as_raw(), run(&same).as_raw());
    // Guided, against a negative prompt: the known mix.
    let mut guided = request("red hat", 6, 3.0);
    guided.negative = "blue".into();
    let image = run(&guided);
    assert!(worst(&image, &expected(&oracle, &export, &guided)) <= 2);
    assert_eq!(clipped(&image), 0);
    assert!(worst(&image, &plain) > 2, "guidance changed the picture");
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let oracle = Oracle {
        scheduler: scheduler_config("EulerAncestralDiscreteScheduler", "epsilon", "linspace"),
        timestep: (FLOAT, true),
        ..Oracle::new()
    };
    let (_cache, export) = open(&oracle);
    let req = request("red hat", 5, 3.0);
    let a = generate(&export, &req, &mut Steps::default()).unwrap().image;
    let b = generate(&export, &req, &mut Steps::default()).unwrap().image;
    assert_eq!(a.as_raw(), b.as_raw());
}

#[test]
fn each_declared_tensor_form_is_adapted_to() {
    // fp16 tensors, int32 input ids, a scalar int64 timestep (DDIM's are whole), the VAE
    // encoder's `latent_parameters`, a UNet fixed at batch 1 (guidance runs it twice a step).
    let forms = [
        Oracle { half: true, ..Oracle::new() },
        Oracle { ids: INT32, timestep: (INT64, false), ..Oracle::new() },
        Oracle { timestep: (FLOAT16, true), encoder: Some("latent_parameters"), batch: 1, ..Oracle::new() },
    ];
    for oracle in forms {
        let (_cache, export) = open(&oracle);
        let mut req = request("red hat", 5, 2.0);
        req.negative = "blue".into();
        let made = generate(&export, &req, &mut Steps::default()).unwrap().image;
        // fp16 rounds the latents to 11 bits: one more 255th of slack.
        let slack = if oracle.half { 3 } else { 2 };
        let off = worst(&made, &expected(&oracle, &export, &req));
        assert!(off <= slack, "{oracle:?}: off by {off}");
        // Image to image through the encoder's form.
        let mut img2img = request("red hat", 5, 1.0);
        img2img.init = Some((photo(), 0.0));
        let back = generate(&export, &img2img, &mut Steps::default()).unwrap().image;
        assert!(worst(&back, &photo()) < slack, "{oracle:?}: strength 0 changed the picture");
    }
}

/// A starting picture unlike the oracle's target.
fn photo() -> RgbImage {
    RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 128]))
}

/// White (repaint) in the right half.
fn right_half() -> GrayImage {
    GrayImage::from_fn(32, 32, |x, _| Luma([if x >= 16 { 255 } else { 0 }]))
}

#[test]
fn image_to_image_keeps_the_picture_at_strength_0_and_repaints_it_at_1() {
    let oracle = Oracle::new();
    let (_cache, export) = open(&oracle);
    let mut req = request("red hat", 10, 1.0);
    req.init = Some((photo(), 0.0));
    let mut progress = Steps::default();
    let kept = generate(&export, &req, &mut progress).unwrap();
    assert_eq!((kept.steps_run, progress.done), (0, 0));
    assert!(worst(&kept.image, &photo()) <= 1, "strength 0 returns the input");

    req.init = Some((photo(), 0.5));
    let half = generate(&export, &req, &mut Steps::default()).unwrap();
    assert_eq!(half.steps_run, 5, "half the steps");
    assert!(worst(&half.image, &expected(&oracle, &export, &req)) <= 2, "the oracle still lands on its picture");
}

#[test]
fn inpainting_leaves_every_pixel_outside_the_mask_unchanged() {
    for channels in [9, 4] {
        for class in ["DDIMScheduler", "EulerDiscreteScheduler"] {
            let oracle = Oracle {
                channels,
                scheduler: scheduler_config(class, "epsilon", "leading"),
                timestep: (FLOAT, true),
                ..Oracle::new()
            };
            let (_cache, export) = open(&oracle);
            let mut req = request("red hat", 8, 3.0);
            req.init = Some((photo(), 1.0));
            req.mask = Some(right_half());
            let made = generate(&export, &req, &mut Steps::default()).unwrap().image;
            let want = expected(&oracle, &export, &req);
            for (x, y, p) in made.enumerate_pixels() {
                if x < 16 {
                    assert_eq!(p, photo().get_pixel(x, y), "{channels} channels, {class}: ({x}, {y}) kept");
                } else {
                    let q = want.get_pixel(x, y);
                    let off = (0..3).map(|c| p[c].abs_diff(q[c])).max().unwrap();
                    assert!(off <= 2, "{channels} channels, {class}: ({x}, {y}) repainted, off by {off}");
                }
            }
        }
    }
}

#[test]
fn a_stop_ends_the_run_before_the_next_unet_call() {
    let (_cache, export) = open(&Oracle::new());
    let mut progress = Steps { stop_after: Some(3), ..Steps::default() };
    let err = generate(&export, &request("red hat", 10, 7.5), &mut progress).unwrap_err();
    assert!(matches!(err, JobError::Cancelled));
    assert_eq!((progress.done, progress.checkpoints_after_stop), (3, 1), "no UNet call after the stop");
}

#[test]
fn requests_the_export_cannot_run_are_refused_with_what_is_wrong() {
    let oracle = Oracle { encoder: None, ..Oracle::new() };
    let (_cache, export) = open(&oracle);
    let refused = |req: Generate| match generate(&export, &req, &mut Steps::default()) {
        Err(JobError::Failed(f)) if f.code == FailureCode::ModelFailed => f.message,
        other => panic!("{other:?}"),
    };
    let mut odd = request("a", 4, 1.0);
    odd.width = 30;
    assert!(refused(odd).contains("multiples of 8"));
    let mut img2img = request("a", 4, 1.0);
    img2img.init = Some((photo(), 0.5));
    assert!(refused(img2img).contains("no vae_encoder"));
    let mut mask_alone = request("a", 4, 1.0);
    mask_alone.mask = Some(right_half());
    assert!(refused(mask_alone).contains("needs the image"));
    // A size the UNet was not made for: the graph's own error, as the model's failure.
    let mut big = request("a", 2, 1.0);
    (big.width, big.height) = (64, 64);
    assert!(refused(big).contains("the model failed"));
}
