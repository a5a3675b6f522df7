//! The denoising loop over a brought export: text to image, image to image (`strength`) and
//! inpainting (a 9-channel inpainting UNet, or latent blending with a 4-channel one), with
//! classifier-free guidance (one batched UNet call a step where the graph allows). It reports
//! each step and checks for a stop before every UNet call, through [`Progress`]: a job's
//! context writes events and honours cancels, the CLI draws a bar.

use figur_models::diffusion::Export;
use figur_models::ModelError;
use image::{GrayImage, RgbImage};

use super::noise::gaussian;
use super::sampler::{Kind, Sampler};
use super::schedule::SchedulerConfig;
use crate::failure::{FailureCode, JobError};

/// What to make.
#[derive(Debug, Clone)]
pub struct Generate {
    pub prompt: String,
    pub negative: String,
    pub steps: usize,
    /// Classifier-free guidance scale; at 1 or below the negative prompt is not run.
    pub guidance: f32,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// Image to image: the starting picture and how much of it to repaint (0 keeps it, 1
    /// repaints it all).
    pub init: Option<(RgbImage, f32)>,
    /// Inpainting (with `init`): white is repainted, black kept (as in diffusers).
    pub mask: Option<GrayImage>,
}

/// Where a run reports.
pub trait Progress {
    /// Before every UNet call: an error (a cancel) stops the run there.
    fn checkpoint(&mut self) -> Result<(), JobError>;
    /// After step `done` (1-based) of `total`; `preview` decodes where the run is heading,
    /// cheaply, when called.
    fn stepped(&mut self, done: usize, total: usize, preview: &mut dyn FnMut() -> RgbImage) -> Result<(), JobError>;
}

/// What a run made, and what it had to change to make it.
#[derive(Debug)]
pub struct Generated {
    pub image: RgbImage,
    pub steps_run: usize,
    /// Said in the job's event: a prompt cut to the text encoder's length, for example.
    pub notes: Vec<String>,
}

/// Why a request cannot run on this export (a 4xx where a workflow checks it first).
pub fn check(export: &Export, req: &Generate) -> Result<(), String> {
    let multiple = 8 * export.vae_scale as u32;
    if req.width == 0 || req.height == 0 || !req.width.is_multiple_of(multiple) || !req.height.is_multiple_of(multiple)
    {
        return Err(format!(
            "size {}x{}: width and height must be multiples of {multiple} for this model",
            req.width, req.height
        ));
    }
    if req.steps == 0 || req.steps > 1000 {
        return Err(format!("steps {}: 1 to 1000", req.steps));
    }
    if !req.guidance.is_finite() || !(0.0..=50.0).contains(&req.guidance) {
        return Err(format!("guidance {}: 0 to 50", req.guidance));
    }
    if let Some((_, strength)) = &req.init {
        if !(0.0..=1.0).contains(strength) {
            return Err(format!("strength {strength}: 0 to 1"));
        }
        if !export.can_encode() {
            return Err(format!("{} has no vae_encoder, so it cannot start from an image", export.name()));
        }
    }
    if req.mask.is_some() && req.init.is_none() {
        return Err("a mask needs the image it masks (init)".into());
    }
    Ok(())
}

/// A model error as the job's failure: out of GPU memory and missing models keep their codes;
/// anything else the export's graphs did is `MODEL_FAILED`, not a studio bug.
fn failed(e: ModelError) -> JobError {
    match e {
        ModelError::Run(detail) => FailureCode::ModelFailed.with(format!("the model failed: {detail}")),
        other => other.into(),
    }
}

/// Pixels of `image` in [−1, 1], planar [3, H, W].
fn to_planar(image: &RgbImage) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let mut out = vec![0.0; (3 * w * h) as usize];
    for (x, y, p) in image.enumerate_pixels() {
        for c in 0..3 {
            out[(c as u32 * w * h + y * w + x) as usize] = p[c] as f32 / 127.5 - 1.0;
        }
    }
    out
}

/// Planar [3, H, W] in [−1, 1] to an image.
fn from_planar(values: &[f32], w: u32, h: u32) -> RgbImage {
    let plane = (w * h) as usize;
    RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        image::Rgb(std::array::from_fn(|c| ((values[c * plane + i] + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8))
    })
}

fn resized(image: &RgbImage, w: u32, h: u32) -> RgbImage {
    if image.dimensions() == (w, h) {
        return image.clone();
    }
    image::imageops::resize(image, w, h, image::imageops::FilterType::Lanczos3)
}

/// The mask at `w`×`h`, binarized: true where the picture is repainted.
fn binary_mask(mask: &GrayImage, w: u32, h: u32) -> Vec<bool> {
    let mask = match mask.dimensions() == (w, h) {
        true => mask.clone(),
        false => image::imageops::resize(mask, w, h, image::imageops::FilterType::Triangle),
    };
    mask.pixels().map(|p| p[0] >= 128).collect()
}

/// Runs `req` on `export`.
pub fn generate(export: &Export, req: &Generate, progress: &mut dyn Progress) -> Result<Generated, JobError> {
    check(export, req).map_err(|e| FailureCode::ModelFailed.with(e))?;
    let config: SchedulerConfig = serde_json::from_value(export.scheduler.clone())
        .map_err(|e| FailureCode::ModelFailed.with(format!("scheduler_config.json: {e}")))?;
    let unsupported = |e: super::schedule::Unsupported| FailureCode::ModelFailed.with(e.to_string());
    let kind = Kind::from_class(&config.class_name).map_err(unsupported)?;
    let mut sampler = Sampler::new(&config, kind, req.steps).map_err(unsupported)?;
    let mut notes = Vec::new();

    // The text, and the negative text when guidance needs it.
    let tokenizer = &export.tokenizer;
    let words = tokenizer.count(&req.prompt);
    if words > tokenizer.length {
        notes.push(format!("the prompt is {words} tokens; the model reads the first {}", tokenizer.length));
    }
    let ids = |text: &str| tokenizer.ids(text).map_err(|e| FailureCode::ModelFailed.with(e));
    let guided = req.guidance > 1.0;
    progress.checkpoint()?;
    let (hidden_shape, cond) = export.encode_text(&ids(&req.prompt)?).map_err(failed)?;
    let uncond = match guided {
        true => Some(export.encode_text(&ids(&req.negative)?).map_err(failed)?.1),
        false => None,
    };
    let hidden_shape = [1, hidden_shape[1], hidden_shape[2]];

    let (w, h) = (req.width, req.height);
    let (lw, lh) = ((w as usize) / export.vae_scale, (h as usize) / export.vae_scale);
    let channels = export.latent_channels;
    let latent_len = channels * lw * lh;
    let shape = [1, channels, lh, lw];
    let noise = gaussian(req.seed, 0, latent_len);
    let sf = export.scaling_factor;

    // The starting picture's latents; the mask at full and at latent resolution.
    let encode = |pixels: Vec<f32>| -> Result<Vec<f32>, JobError> {
        let (_, mean) = export.encode(pixels, [1, 3, h as usize, w as usize]).map_err(failed)?;
        Ok(mean.into_iter().map(|v| v * sf).collect())
    };
    let init = match &req.init {
        Some((image, strength)) => {
            let image = resized(image, w, h);
            progress.checkpoint()?;
            Some((image.clone(), encode(to_planar(&image))?, *strength))
        }
        None => None,
    };
    let mask = req.mask.as_ref().map(|m| (binary_mask(m, w, h), binary_mask(m, lw as u32, lh as u32)));
    // A 9-channel UNet also takes the mask and the latents of the picture with the masked part
    // blanked; for text to image it is given an all-repaint mask.
    let inpaint_extra: Option<Vec<f32>> = match export.unet_channels {
        9 => {
            let repaint: Vec<bool> = match (&mask, &init) {
                (Some((_, small)), _) => small.clone(),
                _ => vec![true; lw * lh],
            };
            let kept_pixels = match (&init, &mask) {
                (Some((image, _, _)), Some((full, _))) => {
                    let mut planar = to_planar(image);
                    let plane = (w * h) as usize;
                    for (i, &r) in full.iter().enumerate() {
                        if r {
                            (0..3).for_each(|c| planar[c * plane + i] = 0.0);
                        }
                    }
                    planar
                }
                _ => vec![0.0; (3 * w * h) as usize],
            };
            let masked = match export.can_encode() {
                true => encode(kept_pixels)?,
                false => vec![0.0; latent_len],
            };
            let mut extra: Vec<f32> = repaint.iter().map(|&r| if r { 1.0 } else { 0.0 }).collect();
            extra.extend(masked);
            Some(extra)
        }
        _ => None,
    };

    let mut latents = match &init {
        Some((_, x0, strength)) => {
            sampler.start_at(*strength as f64);
            sampler.noised_to_start(x0, &noise)
        }
        None => noise.iter().map(|v| v * sampler.init_noise_sigma as f32).collect(),
    };
    let total = sampler.steps().len();
    let plane = lw * lh;
    // The text states as each UNet call takes them, built once.
    let batched_hidden = uncond.as_ref().map(|u| [u.as_slice(), cond.as_slice()].concat());
    let batched_shape = [2, hidden_shape[1], hidden_shape[2]];
    for i in 0..total {
        progress.checkpoint()?;
        let mut input = sampler.model_input(i, &latents);
        if let Some(extra) = &inpaint_extra {
            input.extend_from_slice(extra);
        }
        let unet_shape = [1, export.unet_channels, lh, lw];
        let timestep = sampler.steps()[i].timestep;
        let output = match (&uncond, &batched_hidden) {
            (None, _) => export.unet(&input, unet_shape, timestep, &cond, hidden_shape).map_err(failed)?,
            (Some(uncond), batched) => {
                let (u, c) = match (batched, export.unet_batch() >= 2) {
                    (Some(hidden), true) => {
                        let both = [input.as_slice(), input.as_slice()].concat();
                        let batch_shape = [2, unet_shape[1], lh, lw];
                        let mut out =
                            export.unet(&both, batch_shape, timestep, hidden, batched_shape).map_err(failed)?;
                        let c = out.split_off(latent_len);
                        (out, c)
                    }
                    _ => {
                        let u = export.unet(&input, unet_shape, timestep, uncond, hidden_shape).map_err(failed)?;
                        progress.checkpoint()?;
                        (u, export.unet(&input, unet_shape, timestep, &cond, hidden_shape).map_err(failed)?)
                    }
                };
                let g = req.guidance;
                u.iter().zip(&c).map(|(u, c)| u + g * (c - u)).collect()
            }
        };
        let output = &output[..latent_len];
        let before = latents.clone();
        let step_noise = match sampler.adds_noise() {
            true => gaussian(req.seed, i as u64 + 1, latent_len),
            false => Vec::new(),
        };
        sampler.step(i, &mut latents, output, &step_noise);
        // Latent blending (4-channel UNet): outside the mask, the picture noised to this level.
        if let (Some((_, x0, _)), Some((_, small)), None) = (&init, &mask, &inpaint_extra) {
            let kept = sampler.noised_after(i, x0, &noise);
            for c in 0..channels {
                for (k, &repaint) in small.iter().enumerate() {
                    if !repaint {
                        latents[c * plane + k] = kept[c * plane + k];
                    }
                }
            }
        }
        let mut preview = || preview_image(export, &sampler.predicted_x0(i, &before, output), lw as u32, lh as u32);
        progress.stepped(i + 1, total, &mut preview)?;
    }

    progress.checkpoint()?;
    let decoder_input: Vec<f32> = latents.iter().map(|v| v / sf).collect();
    let (out_shape, pixels) = export.decode(decoder_input, shape).map_err(failed)?;
    let (ow, oh) = (out_shape.get(3).copied().unwrap_or(0) as u32, out_shape.get(2).copied().unwrap_or(0) as u32);
    if (ow, oh) != (w, h) {
        return Err(FailureCode::ModelFailed.with(format!("the VAE decoder made {ow}x{oh} from latents for {w}x{h}")));
    }
    let mut image = from_planar(&pixels, w, h);
    // Outside the mask the picture is the original, pixel for pixel.
    if let (Some((original, _, _)), Some((full, _))) = (&init, &mask) {
        for (i, (out, orig)) in image.pixels_mut().zip(original.pixels()).enumerate() {
            if !full[i] {
                *out = *orig;
            }
        }
    }
    Ok(Generated { image, steps_run: total, notes })
}

/// A cheap look at latents: the export's VAE approximated by one linear map per pixel
/// ([`Export::preview_map`]), at latent resolution.
fn preview_image(export: &Export, x0: &[f32], w: u32, h: u32) -> RgbImage {
    let map = export.preview_map();
    let plane = (w * h) as usize;
    let channels = export.latent_channels;
    let sf = export.scaling_factor;
    RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        image::Rgb(std::array::from_fn(|c| {
            let mut v = map.bias[c];
            for k in 0..channels {
                v += map.weights[k][c] * x0[k * plane + i] / sf;
            }
            ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
        }))
    })
}
