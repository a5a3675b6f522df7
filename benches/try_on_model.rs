//! Try-on model benchmark — `cargo bench --bench try_on_model` (after `figur models fetch`).
//!
//! On a tiny export in the CatVTON layout (`figur_models::tiny::diffusion::tiny_try_on`: random
//! weights, a VAE that scales by 8) at 768×1024 (96×128 latents a half, 96×256 stacked),
//! guidance 2.5 (one batched UNet call a step), on the CPU provider or `FIGUR_PROVIDERS`, in one
//! run and alternating:
//! 1. the UNet's bare `session.run` on a step's inputs (batch 2, 9 channels), from Rust;
//! 2. the engine's try-on pipeline, per step (the time between step reports: the inputs
//!    stacked, the UNet call through the export's adapters, guidance, DDIM η = 1 and its noise)
//!    — its overhead outside the UNet is 2 − 1 (target ≤ 3 % of the UNet's time);
//! 3. the studio's own work outside the model for one garment on a 768×1024 photo: the agnostic
//!    mask, the crop and resizes into the model's frame, the masking and stacking of the VAE's
//!    inputs and outputs (the pipeline's time less its model calls), and the paste back with
//!    its feather (target ≤ 150 ms on this machine's CPU).
//!
//! Prints ratios; a number means something only beside its baseline from the same run.

use std::time::Instant;

use figur_engine::diffusion::try_on::{dress, Dress};
use figur_engine::workflow::try_on_model::{frame, paste};
use figur_models::diffusion::Export;
use figur_models::{brought, Cache, Providers};
use figur_pixels::plane::Plane;
use figur_pixels::vision::agnostic::{self, Cover};
use figur_pixels::vision::pose::Landmark;

#[path = "common/timing.rs"]
mod timing;
use timing::{median, Clock};

const SIZE: (u32, u32) = (768, 1024);
const STEPS: usize = 10;
/// The tiny UNet's channels: wide enough that a step does real work.
const WIDTH: i64 = 64;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A standing person in a `w`×`h` photo: a matte and the pose's landmarks (as the studio's
/// models would give them).
fn person(w: u32, h: u32) -> (image::RgbImage, Plane, Vec<Landmark>) {
    let (fw, fh) = (w as f32, h as f32);
    let mut lm = vec![Landmark { x: fw / 2.0, y: fh * 0.1, visibility: 0.9 }; 33];
    for (i, x, y) in [
        (11, 0.62, 0.22),
        (12, 0.38, 0.22),
        (13, 0.66, 0.38),
        (14, 0.34, 0.38),
        (15, 0.67, 0.52),
        (16, 0.33, 0.52),
        (23, 0.57, 0.52),
        (24, 0.43, 0.52),
        (25, 0.56, 0.72),
        (26, 0.44, 0.72),
        (27, 0.555, 0.9),
        (28, 0.445, 0.9),
    ] {
        lm[i] = Landmark { x: x * fw, y: y * fh, visibility: 0.9 };
    }
    let mut matte = Plane::new(w as usize, h as usize);
    for y in (h / 25)..(h * 24 / 25) {
        for x in (w * 3 / 10)..(w * 7 / 10) {
            matte.data[(y * w + x) as usize] = 1.0;
        }
    }
    let photo = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 120]));
    (photo, matte, lm)
}

fn main() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let providers = Providers::parse(&std::env::var("FIGUR_PROVIDERS").unwrap_or_else(|_| "cpu".into())).unwrap();
    let env = figur_models::runtime::init(&Cache::new(&real), providers.order.contains(&figur_models::Provider::Cuda))
        .expect("ONNX Runtime: run `figur models fetch` first");
    let work = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-try-on-model");
    let _ = std::fs::remove_dir_all(&work);
    let (export_dir, cache_dir) = (work.join("export"), work.join("cache"));
    figur_models::tiny::diffusion::tiny_try_on(&export_dir, WIDTH);
    let cache = Cache::new(&cache_dir);
    brought::add(&cache, "tiny-try-on", &export_dir, "MIT", &mut |_| {}).unwrap();
    let export = Export::open(&cache, "tiny-try-on", &providers).unwrap();
    let (w, h) = SIZE;
    println!(
        "try-on model pipeline, tiny CatVTON-layout export (UNet {WIDTH} channels) at {w}×{h}, {STEPS} steps, guidance 2.5, on {}",
        export.provider.name()
    );

    // 1. The bare UNet, on the inputs a guided step gives it.
    let mut unet =
        ort::session::Session::builder(env).unwrap().commit_from_file(export_dir.join("unet/model.onnx")).unwrap();
    let (lw, lh) = ((w / 8) as usize, (2 * h / 8) as usize);
    let sample = vec![0.5f32; 2 * 9 * lw * lh];
    let mut bare_run = || {
        let start = Instant::now();
        let inputs = ort::inputs![
            "sample" => ort::value::Tensor::from_array((vec![2usize, 9, lh, lw], sample.clone())).unwrap(),
            "timestep" => ort::value::Tensor::from_array((vec![1usize], vec![500i64])).unwrap(),
        ];
        let out = unet.run(inputs).unwrap();
        std::hint::black_box(out["out_sample"].try_extract_tensor::<f32>().unwrap().1[0]);
        ms(start)
    };

    // 2. The pipeline, per step; and its whole time, for 3.
    let (photo, matte, landmarks) = person(w, h);
    let keep = Plane::new(w as usize, h as usize);
    let garment = image::RgbaImage::from_fn(600, 400, |x, y| {
        let shirt = (170..430).contains(&x) && (90..360).contains(&y);
        image::Rgba(if shirt { [32, 52, 110, 255] } else { [240, 238, 232, 0] })
    });
    let mask = agnostic::mask(&matte, &landmarks, &keep, Cover::Upper).unwrap();
    let framed = frame(&photo, &matte, &mask, &garment, SIZE).unwrap();
    let request = Dress {
        person: framed.person.clone(),
        garment: framed.garment.clone(),
        mask: framed.mask.clone(),
        steps: STEPS,
        guidance: 2.5,
        seed: 1,
        width: w,
        height: h,
    };
    let pipeline_run = || {
        let mut clock = Clock(vec![Instant::now()]);
        let start = Instant::now();
        let made = dress(&export, &request, &mut clock).unwrap();
        let total = ms(start);
        std::hint::black_box(made.image.get_pixel(0, 0));
        // Steps after the first (the first also carries the two VAE encodes).
        (clock.0.windows(2).skip(1).map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0).collect::<Vec<_>>(), total)
    };
    // The VAE's own calls, for 3: two encodes of a half, one decode of a half.
    let vae_calls = || {
        let start = Instant::now();
        let pixels = vec![0.1f32; (3 * w * h) as usize];
        for _ in 0..2 {
            std::hint::black_box(export.encode(pixels.clone(), [1, 3, h as usize, w as usize]).unwrap());
        }
        std::hint::black_box(export.decode(vec![0.1; 4 * lw * lh / 2], [1, 4, lh / 2, lw]).unwrap());
        ms(start)
    };

    // The UNet through the export's adapters (the same call the pipeline makes).
    let adapted_run = || {
        let start = Instant::now();
        std::hint::black_box(export.unet(&sample, [2, 9, lh, lw], 500.0, None).unwrap());
        ms(start)
    };

    let _ = bare_run();
    let _ = adapted_run();
    let _ = pipeline_run();
    let (mut bare, mut steps, mut totals, mut vae) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut adapted = Vec::new();
    for _ in 0..3 {
        // Each in a run of its own: two sessions' thread pools interleaved slow each other.
        for _ in 0..STEPS {
            bare.push(bare_run());
        }
        for _ in 0..STEPS {
            adapted.push(adapted_run());
        }
        let (s, total) = pipeline_run();
        steps.extend(s);
        totals.push(total);
        vae.push(vae_calls());
    }
    let (bare, step) = (median(bare), median(steps));
    println!("  bare UNet session.run (batch 2, 9 channels) .... {bare:>9.3} ms");
    println!("  the same through the export's adapters ......... {:>9.3} ms", median(adapted));
    println!("  try-on pipeline, per step ...................... {step:>9.3} ms");
    println!(
        "  overhead outside the UNet ...................... {:>9.3} ms  = {:.1} % of the UNet's time (target ≤ 3 %)",
        step - bare,
        (step - bare) / bare * 100.0
    );

    // 3. The studio's own work around the model for one garment.
    let (mut masks, mut frames, mut pastes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        std::hint::black_box(agnostic::mask(&matte, &landmarks, &keep, Cover::Upper).unwrap());
        masks.push(ms(start));
        let start = Instant::now();
        std::hint::black_box(frame(&photo, &matte, &mask, &garment, SIZE).unwrap());
        frames.push(ms(start));
        let start = Instant::now();
        std::hint::black_box(paste(photo.clone(), &framed.person, &mask, framed.crop));
        pastes.push(ms(start));
    }
    let (mask_ms, frame_ms, paste_ms) = (median(masks), median(frames), median(pastes));
    let inside = median(totals) - STEPS as f64 * bare - median(vae);
    println!("  agnostic mask (upper) .......................... {mask_ms:>9.3} ms");
    println!("  crop and resizes into the model's frame ........ {frame_ms:>9.3} ms");
    println!("  pipeline less its model calls (inputs, stacking) {inside:>9.3} ms");
    println!("  paste back with the feather .................... {paste_ms:>9.3} ms");
    println!(
        "  outside the model, one garment ................. {:>9.3} ms (target ≤ 150 ms)",
        mask_ms + frame_ms + inside.max(0.0) + paste_ms
    );
}
