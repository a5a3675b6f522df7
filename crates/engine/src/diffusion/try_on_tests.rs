//! The try-on pipeline on the try-on oracle (`figur_models::tiny::diffusion::TryOnOracle`): its
//! UNet carries any latents to x₀ = masked person + mask × the garment half, its VAE is exactly
//! invertible, so a correct pipeline's picture is known to the pixel — the person outside the
//! mask, the garment (times the guidance, the unconditional branch having no garment) inside.
//! A garment stacked beside the person instead of below, a black instead of grey masked part,
//! a mask not stacked over zeros or a guidance branch with the garment all show.

use figur_models::tiny::diffusion::{Oracle, TryOnOracle};
use image::{GrayImage, Luma, Rgb, RgbImage};

use super::*;
use crate::diffusion::tests::{open, open_written, worst, Steps};

const W: u32 = 16;
const H: u32 = 24;

fn person() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| Rgb([(x * 15) as u8, (y * 10) as u8, 200]))
}

/// Near mid grey, so guidance 2.5 times it stays inside [−1, 1].
fn garment() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| Rgb([100 + 40 * (y % 2) as u8, 150, 110 + 3 * x as u8]))
}

fn mask() -> GrayImage {
    GrayImage::from_fn(W, H, |x, y| Luma([if (4..12).contains(&x) && (6..18).contains(&y) { 255 } else { 0 }]))
}

fn request(steps: usize, guidance: f32) -> Dress {
    Dress { person: person(), garment: garment(), mask: mask(), steps, guidance, seed: 11, width: W, height: H }
}

/// The oracle's picture: outside the mask the person; inside it the masked part's grey (0)
/// plus guidance × the garment, in [−1, 1].
fn expected(req: &Dress) -> RgbImage {
    let unit = |v: u8| v as f32 / 127.5 - 1.0;
    RgbImage::from_fn(W, H, |x, y| {
        let inside = req.mask.get_pixel(x, y)[0] >= 128;
        Rgb(std::array::from_fn(|c| {
            let v = match inside {
                true => req.guidance.max(1.0) * unit(req.garment.get_pixel(x, y)[c]),
                false => unit(req.person.get_pixel(x, y)[c]),
            };
            ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
        }))
    })
}

fn oracle() -> TryOnOracle {
    TryOnOracle::new(W as i64, H as i64)
}

#[test]
fn the_picture_is_the_person_outside_the_mask_and_the_garment_inside() {
    let (_cache, export) = open_written(|dir| oracle().write(dir));
    for (steps, guidance) in [(4, 1.0), (6, 2.5)] {
        let req = request(steps, guidance);
        let mut progress = Steps::default();
        let made = dress(&export, &req, &mut progress).unwrap();
        assert_eq!((made.steps_run, progress.done), (steps, steps));
        let off = worst(&made.image, &expected(&req));
        assert!(off <= 1, "{steps} steps, guidance {guidance}: off by {off}/255");
    }
    // Guidance moved the garment away from its own colours (so the branch without it ran).
    let plain = dress(&export, &request(4, 1.0), &mut Steps::default()).unwrap().image;
    let guided = dress(&export, &request(4, 2.5), &mut Steps::default()).unwrap().image;
    assert!(worst(&plain, &guided) > 20);
}

#[test]
fn fp16_and_batch_one_graphs_give_the_same_answer() {
    for oracle in [TryOnOracle { half: true, ..oracle() }, TryOnOracle { batch: 1, ..oracle() }] {
        let (_cache, export) = open_written(|dir| oracle.write(dir));
        let req = request(5, 2.5);
        let made = dress(&export, &req, &mut Steps::default()).unwrap();
        // fp16 keeps 11 bits of each latent: one more 255th of slack.
        let slack = if oracle.half { 2 } else { 1 };
        let off = worst(&made.image, &expected(&req));
        assert!(off <= slack, "half {} batch {}: off by {off}", oracle.half, oracle.batch);
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_a_cancel_stops_before_the_next_unet_call() {
    let (_cache, export) = open_written(|dir| oracle().write(dir));
    let req = request(5, 2.5);
    let a = dress(&export, &req, &mut Steps::default()).unwrap().image;
    let b = dress(&export, &req, &mut Steps::default()).unwrap().image;
    assert_eq!(a.as_raw(), b.as_raw());
    let mut progress = Steps { stop_after: Some(2), ..Steps::default() };
    assert!(matches!(dress(&export, &req, &mut progress), Err(crate::failure::JobError::Cancelled)));
    assert_eq!(progress.done, 2, "stopped at the checkpoint after step 2");
}

#[test]
fn a_prompt_model_a_wrong_size_or_mismatched_pictures_are_refused_with_why() {
    let (_cache, text_model) = open(&Oracle::new());
    let err = check(&text_model, &request(4, 1.0)).unwrap_err();
    assert!(err.contains("not a try-on model"), "{err}");
    let (_cache, export) = open_written(|dir| oracle().write(dir));
    // The graph fixes the size (a try-on UNet over 2 × 24 rows of 16).
    assert_eq!(size_of(&export), (W, H));
    let mut wrong = request(4, 1.0);
    (wrong.width, wrong.height) = (24, 24);
    assert!(check(&export, &wrong).unwrap_err().contains("fixed at 16x24"));
    let mut small = request(4, 1.0);
    small.garment = RgbImage::new(8, 8);
    assert!(check(&export, &small).unwrap_err().contains("must all be 16x24"));
    // And the text-to-image pipeline refuses the try-on model.
    let generate = crate::diffusion::pipeline::Generate {
        prompt: "a shirt".into(),
        negative: String::new(),
        steps: 4,
        guidance: 1.0,
        seed: 1,
        width: W,
        height: H,
        init: None,
        mask: None,
    };
    let err = crate::diffusion::pipeline::check(&export, &generate).unwrap_err();
    assert!(err.contains("try-on model"), "{err}");
}

#[test]
fn pictures_of_other_sizes_are_cropped_and_padded_as_catvton_does() {
    // A wide person is cut to the size's aspect about the centre; a wide garment fits inside
    // on white, centred.
    let wide = RgbImage::from_fn(64, 24, |x, _| Rgb([if x < 32 { 0 } else { 255 }, 0, 0]));
    let (p, g, m) = prepare(&wide, &wide, &GrayImage::new(64, 24), (W, H));
    assert_eq!((p.dimensions(), g.dimensions(), m.dimensions()), ((W, H), (W, H), (W, H)));
    assert_eq!(g.get_pixel(8, 0).0, [255, 255, 255], "padded with white above");
    assert_eq!(g.get_pixel(0, 12)[1], 0, "the garment spans the width");
    // The crop kept the middle: half dark, half red.
    assert!(p.get_pixel(1, 12)[0] < 40 && p.get_pixel(14, 12)[0] > 215);
}
