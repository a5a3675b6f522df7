//! The try-on pipeline over a brought CatVTON-layout export (issue 28), following CatVTON's
//! `model/pipeline.py`: the mask binarised at 0.5; the person masked as
//! `image × (mask < 0.5)` in [−1, 1] (the masked part mid grey, not black); the masked person
//! and the garment encoded by the VAE (its mean, times the config's scaling factor) and
//! stacked in height, person on top; the mask brought to latent size by nearest neighbour and
//! stacked over zeros for the garment half; the UNet fed `x_t | mask | masked` (9 channels) with
//! no text; classifier-free guidance whose unconditional branch has the garment's latents
//! zeroed (one batched call where the graph takes two); DDIM at η = 1 with the seeded noise;
//! the top half of the final latents decoded.
//!
//! CatVTON samples the VAE's latent distribution; this takes its mean, so a seed gives the same
//! picture every time (the difference is within the VAE's own noise).

use figur_models::diffusion::Export;
use image::{GrayImage, RgbImage};

use super::noise::gaussian;
use super::pipeline::{
    binary_mask, decode_latents, denoise, encode_pixels, failed, scheduler_of, to_planar, Denoise, Generated, Latents,
    Progress,
};
use super::schedule::SchedulerConfig;
use super::scheduler::{Ddim, Scheduler};
use crate::failure::{FailureCode, JobError};

/// CatVTON's defaults (its `inference.py` and demo): 50 DDIM steps, guidance 2.5, 768×1024.
pub const STEPS: usize = 50;
pub const GUIDANCE: f32 = 2.5;
pub const SIZE: (u32, u32) = (768, 1024);

/// A try-on to run: the person, the garment and the mask all at `width`×`height` (see
/// [`prepare`] for pictures of other sizes).
#[derive(Debug, Clone)]
pub struct Dress {
    pub person: RgbImage,
    /// The garment: an in-shop photo, or a photo of someone wearing it.
    pub garment: RgbImage,
    /// White where the garment goes (repainted), black where the person stays.
    pub mask: GrayImage,
    pub steps: usize,
    /// Classifier-free guidance; at 1 or below the unconditional branch is not run.
    pub guidance: f32,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
}

/// The size a try-on runs at on `export`: the graph's when it fixes one, else [`SIZE`].
pub fn size_of(export: &Export) -> (u32, u32) {
    match export.fixed_latents() {
        Some((w, h2)) => ((w * export.vae_scale) as u32, (h2 / 2 * export.vae_scale) as u32),
        None => SIZE,
    }
}

/// Why a try-on cannot run on this export.
pub fn check(export: &Export, req: &Dress) -> Result<(), String> {
    if !export.is_try_on() {
        return Err(format!(
            "{} is not a try-on model: a garment photo needs an export in the CatVTON layout",
            export.name()
        ));
    }
    let multiple = 8 * export.vae_scale as u32;
    if req.width == 0 || req.height == 0 || !req.width.is_multiple_of(multiple) || !req.height.is_multiple_of(multiple)
    {
        return Err(format!("size {}x{}: width and height must be multiples of {multiple}", req.width, req.height));
    }
    if let Some(fixed) = export.fixed_latents().map(|_| size_of(export)) {
        if fixed != (req.width, req.height) {
            return Err(format!(
                "size {}x{}: this export's graph is fixed at {}x{}",
                req.width, req.height, fixed.0, fixed.1
            ));
        }
    }
    if req.steps == 0 || req.steps > 1000 {
        return Err(format!("steps {}: 1 to 1000", req.steps));
    }
    if !req.guidance.is_finite() || !(0.0..=50.0).contains(&req.guidance) {
        return Err(format!("guidance {}: 0 to 50", req.guidance));
    }
    let sizes = [req.person.dimensions(), req.garment.dimensions(), req.mask.dimensions()];
    if sizes.iter().any(|&s| s != (req.width, req.height)) {
        return Err(format!("person, garment and mask must all be {}x{}: {sizes:?}", req.width, req.height));
    }
    Ok(())
}

/// CatVTON's `resize_and_crop`: cut to the size's aspect about the centre, then resize.
pub fn resize_and_crop<P: image::Pixel + 'static>(
    image: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    (tw, th): (u32, u32),
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    let (w, h) = image.dimensions();
    let (nw, nh) = match (w as u64 * th as u64) < (tw as u64 * h as u64) {
        true => (w, (w as u64 * th as u64 / tw as u64) as u32),
        false => ((h as u64 * tw as u64 / th as u64) as u32, h),
    };
    let crop = image::imageops::crop_imm(image, (w - nw) / 2, (h - nh) / 2, nw.max(1), nh.max(1)).to_image();
    image::imageops::resize(&crop, tw, th, image::imageops::FilterType::Lanczos3)
}

/// CatVTON's `resize_and_padding`: fit inside the size, centred on white.
pub fn resize_and_pad(image: &RgbImage, (tw, th): (u32, u32)) -> RgbImage {
    let (w, h) = image.dimensions();
    let (nw, nh) = match (w as u64 * th as u64) < (tw as u64 * h as u64) {
        true => (((w as u64 * th as u64) / h as u64).max(1) as u32, th),
        false => (tw, ((h as u64 * tw as u64) / w as u64).max(1) as u32),
    };
    let fitted = figur_pixels::vision::resample::resize(image, nw, nh, image::imageops::FilterType::CatmullRom);
    let mut out = RgbImage::from_pixel(tw, th, image::Rgb([255, 255, 255]));
    image::imageops::replace(&mut out, &fitted, ((tw - nw) / 2) as i64, ((th - nh) / 2) as i64);
    out
}

/// Pictures of any size made ready as CatVTON's `check_inputs` does: the person and the mask
/// cropped to the size's aspect, the garment fitted inside it on white.
pub fn prepare(
    person: &RgbImage,
    garment: &RgbImage,
    mask: &GrayImage,
    size: (u32, u32),
) -> (RgbImage, RgbImage, GrayImage) {
    (resize_and_crop(person, size), resize_and_pad(garment, size), resize_and_crop(mask, size))
}

/// DDIM at η = 1 (CatVTON's sampler) for a DDIM export, else the scheduler the export names.
fn scheduler_for(export: &Export, steps: usize) -> Result<Box<dyn Scheduler>, JobError> {
    let config: SchedulerConfig = serde_json::from_value(export.scheduler.clone())
        .map_err(|e| FailureCode::ModelFailed.with(format!("scheduler_config.json: {e}")))?;
    let named = export.scheduler.get("_class_name").and_then(|v| v.as_str()).unwrap_or("DDIMScheduler");
    match named {
        "DDIMScheduler" => {
            Ok(Box::new(Ddim::new(&config, steps, 1.0).map_err(|e| FailureCode::ModelFailed.with(e.to_string()))?))
        }
        _ => scheduler_of(export, steps),
    }
}

/// Two latent tensors on `grid` (person's) stacked in height: each channel's rows of `top`,
/// then of `bottom`.
fn stack_rows(top: &[f32], bottom: &[f32], grid: Latents) -> Vec<f32> {
    let plane = grid.plane();
    let mut out = Vec::with_capacity(top.len() + bottom.len());
    for c in 0..grid.channels {
        out.extend_from_slice(&top[c * plane..(c + 1) * plane]);
        out.extend_from_slice(&bottom[c * plane..(c + 1) * plane]);
    }
    out
}

/// The binarised mask brought to latent size as `torch.nn.functional.interpolate(mode =
/// "nearest")` does: latent (x, y) takes pixel (⌊x·W/w⌋, ⌊y·H/h⌋).
fn nearest(full: &[bool], (w, h): (u32, u32), grid: Latents) -> Vec<f32> {
    let mut out = Vec::with_capacity(grid.plane());
    for y in 0..grid.height {
        let sy = (y as u64 * h as u64 / grid.height as u64) as usize;
        for x in 0..grid.width {
            let sx = (x as u64 * w as u64 / grid.width as u64) as usize;
            out.push(if full[sy * w as usize + sx] { 1.0 } else { 0.0 });
        }
    }
    out
}

/// Runs the try-on `req` on `export`: the model's picture at `width`×`height` (the whole
/// crop; pasting it back inside the mask is the caller's).
pub fn dress(export: &Export, req: &Dress, progress: &mut dyn Progress) -> Result<Generated, JobError> {
    check(export, req).map_err(|e| FailureCode::ModelFailed.with(e))?;
    let mut scheduler = scheduler_for(export, req.steps)?;
    let (w, h) = (req.width, req.height);
    let half = Latents::of(export, w, h);
    let grid = Latents { height: 2 * half.height, ..half };

    // The person with the mask's part mid grey (0 in [−1, 1]), and the garment, encoded.
    let full = binary_mask(&req.mask, w, h);
    let mut masked = to_planar(&req.person);
    let plane = (w * h) as usize;
    for (i, _) in full.iter().enumerate().filter(|(_, &repaint)| repaint) {
        (0..3).for_each(|c| masked[c * plane + i] = 0.0);
    }
    progress.checkpoint()?;
    let masked_latents = encode_pixels(export, masked, w, h)?;
    progress.checkpoint()?;
    let garment_latents = encode_pixels(export, to_planar(&req.garment), w, h)?;
    let mask_latent = nearest(&full, (w, h), Latents { channels: 1, ..half });

    // Channels 4 (mask over zeros) and 5–8 (masked person over garment) of the UNet's input;
    // the unconditional branch has the garment zeroed.
    let mask_concat = [mask_latent.as_slice(), &vec![0.0; half.plane()]].concat();
    let extra = |garment: &[f32]| [mask_concat.as_slice(), &stack_rows(&masked_latents, garment, half)].concat();
    let cond_extra = extra(&garment_latents);
    let uncond_extra = (req.guidance > 1.0).then(|| extra(&vec![0.0; half.len()]));

    let noise = gaussian(req.seed, 0, grid.len());
    let latents: Vec<f32> = noise.iter().map(|v| v * scheduler.init_noise_sigma() as f32).collect();
    let run = Denoise { seed: req.seed, grid, noise: &noise, keep_outside: None, preview_rows: half.height };
    let total = scheduler.steps().len();
    let shape = [1, export.unet_channels, grid.height, grid.width];
    let (len, guidance) = (grid.len(), req.guidance);
    let batched = export.unet_batch() >= 2;
    let mut predict = |_: usize, input: Vec<f32>, timestep: f64, progress: &mut dyn Progress| {
        let with = |extra: &[f32]| [input.as_slice(), extra].concat();
        let Some(uncond_extra) = &uncond_extra else {
            return export.unet(&with(&cond_extra), shape, timestep, None).map_err(failed);
        };
        let (u, c) = match batched {
            true => {
                let both = [input.as_slice(), uncond_extra, &input, &cond_extra].concat();
                let mut out = export.unet(&both, [2, shape[1], shape[2], shape[3]], timestep, None).map_err(failed)?;
                let c = out.split_off(len);
                (out, c)
            }
            false => {
                let u = export.unet(&with(uncond_extra), shape, timestep, None).map_err(failed)?;
                progress.checkpoint()?;
                (u, export.unet(&with(&cond_extra), shape, timestep, None).map_err(failed)?)
            }
        };
        Ok::<_, JobError>(u.iter().zip(&c).map(|(u, c)| u + guidance * (c - u)).collect())
    };
    let latents = denoise(export, scheduler.as_mut(), latents, &run, &mut predict, progress)?;

    progress.checkpoint()?;
    let person_half = super::pipeline::top_rows(&latents, grid, half.height);
    let image = decode_latents(export, &person_half, half, w, h)?;
    Ok(Generated { image, steps_run: total, notes: Vec::new() })
}

#[cfg(test)]
#[path = "try_on_tests.rs"]
mod tests;
