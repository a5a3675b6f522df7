//! The denoising loop over a brought export: text to image, image to image (`strength`) and
//! inpainting (a 9-channel inpainting UNet, or latent blending with a 4-channel one), with
//! classifier-free guidance (one batched UNet call a step where the graph allows). It reports
//! each step and checks for a stop before every UNet call, through [`Progress`]: a job's
//! context writes events and honours cancels, the CLI draws a bar.

use figur_models::diffusion::Export;
use figur_models::ModelError;
use image::{GrayImage, RgbImage};

use super::noise::gaussian;
use super::schedule::SchedulerConfig;
use super::scheduler::{self, Scheduler};
use crate::failure::{FailureCode, JobError};

/// Steps and guidance for a brought model unless it was tuned: the values diffusers' Stable
/// Diffusion pipelines default to (a try-on model's are in [`super::try_on`]).
pub const STEPS: usize = 25;
pub const GUIDANCE: f32 = 7.5;

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
    if export.is_try_on() {
        return Err(format!(
            "{} is a try-on model (CatVTON layout): it dresses a person in a garment photo and draws \
             nothing from a prompt",
            export.name()
        ));
    }
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
pub(crate) fn failed(e: ModelError) -> JobError {
    match e {
        ModelError::Run(detail) => FailureCode::ModelFailed.with(format!("the model failed: {detail}")),
        other => other.into(),
    }
}

/// Pixels of `image` in [−1, 1], planar [3, H, W].
pub(crate) fn to_planar(image: &RgbImage) -> Vec<f32> {
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

pub(crate) fn resized(image: &RgbImage, w: u32, h: u32) -> RgbImage {
    if image.dimensions() == (w, h) {
        return image.clone();
    }
    image::imageops::resize(image, w, h, image::imageops::FilterType::Lanczos3)
}

/// The mask at `w`×`h`, binarized: true where the picture is repainted.
pub(crate) fn binary_mask(mask: &GrayImage, w: u32, h: u32) -> Vec<bool> {
    let mask = match mask.dimensions() == (w, h) {
        true => mask.clone(),
        false => image::imageops::resize(mask, w, h, image::imageops::FilterType::Triangle),
    };
    mask.pixels().map(|p| p[0] >= 128).collect()
}

/// The latent grid of a run: its size and channels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latents {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl Latents {
    pub fn of(export: &Export, w: u32, h: u32) -> Latents {
        Latents {
            width: w as usize / export.vae_scale,
            height: h as usize / export.vae_scale,
            channels: export.latent_channels,
        }
    }

    pub fn plane(&self) -> usize {
        self.width * self.height
    }

    pub fn len(&self) -> usize {
        self.channels * self.plane()
    }

    pub fn shape(&self) -> [usize; 4] {
        [1, self.channels, self.height, self.width]
    }
}

/// The export's scheduler (`scheduler_config.json`) for `steps` steps.
pub(crate) fn scheduler_of(export: &Export, steps: usize) -> Result<Box<dyn Scheduler>, JobError> {
    let config: SchedulerConfig = serde_json::from_value(export.scheduler.clone())
        .map_err(|e| FailureCode::ModelFailed.with(format!("scheduler_config.json: {e}")))?;
    scheduler::for_config(&config, steps).map_err(|e| FailureCode::ModelFailed.with(e.to_string()))
}

/// The text states a run's UNet calls take: the prompt's, the negative prompt's when guidance
/// needs it, and both batched (negative first) for a graph that takes two at once.
struct Text {
    cond: Vec<f32>,
    uncond: Option<Vec<f32>>,
    shape: [usize; 3],
}

/// The prompt (and the negative prompt, when guided) through the text encoder.
fn encode_prompt(export: &Export, req: &Generate, notes: &mut Vec<String>) -> Result<Text, JobError> {
    let tokenizer = export
        .tokenizer
        .as_ref()
        .ok_or_else(|| FailureCode::ModelFailed.with(format!("{} reads no prompt", export.name())))?;
    let words = tokenizer.count(&req.prompt);
    if words > tokenizer.length {
        notes.push(format!("the prompt is {words} tokens; the model reads the first {}", tokenizer.length));
    }
    let ids = |text: &str| tokenizer.ids(text).map_err(|e| FailureCode::ModelFailed.with(e));
    let (shape, cond) = export.encode_text(&ids(&req.prompt)?).map_err(failed)?;
    let uncond = match req.guidance > 1.0 {
        true => Some(export.encode_text(&ids(&req.negative)?).map_err(failed)?.1),
        false => None,
    };
    Ok(Text { cond, uncond, shape: [1, shape[1], shape[2]] })
}

/// Pixels through the VAE encoder, scaled: the latents of a [1, 3, h, w] picture in [−1, 1].
pub(crate) fn encode_pixels(export: &Export, pixels: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, JobError> {
    let (_, mean) = export.encode(pixels, [1, 3, h as usize, w as usize]).map_err(failed)?;
    Ok(mean.into_iter().map(|v| v * export.scaling_factor).collect())
}

/// Latents through the VAE decoder (unscaled first) to a picture of `w`×`h`.
pub(crate) fn decode_latents(
    export: &Export,
    latents: &[f32],
    grid: Latents,
    w: u32,
    h: u32,
) -> Result<RgbImage, JobError> {
    let sf = export.scaling_factor;
    let decoder_input: Vec<f32> = latents.iter().map(|v| v / sf).collect();
    let (out_shape, pixels) = export.decode(decoder_input, grid.shape()).map_err(failed)?;
    let (ow, oh) = (out_shape.get(3).copied().unwrap_or(0) as u32, out_shape.get(2).copied().unwrap_or(0) as u32);
    if (ow, oh) != (w, h) {
        return Err(FailureCode::ModelFailed.with(format!("the VAE decoder made {ow}x{oh} from latents for {w}x{h}")));
    }
    Ok(from_planar(&pixels, w, h))
}

/// An inpainting mask at the picture's and at the latents' resolution (true: repaint).
struct Mask {
    full: Vec<bool>,
    small: Vec<bool>,
}

/// What a 9-channel inpainting UNet takes after the latents: the mask at latent resolution and
/// the latents of the picture with the masked part blanked (an all-repaint mask and blank
/// latents for text to image).
fn inpaint_inputs(
    export: &Export,
    init: Option<&(RgbImage, Vec<f32>, f32)>,
    mask: Option<&Mask>,
    grid: Latents,
    (w, h): (u32, u32),
) -> Result<Vec<f32>, JobError> {
    let repaint: Vec<bool> = match mask {
        Some(m) => m.small.clone(),
        None => vec![true; grid.plane()],
    };
    let kept_pixels = match (init, mask) {
        (Some((image, _, _)), Some(m)) => {
            let mut planar = to_planar(image);
            let plane = (w * h) as usize;
            for (i, &r) in m.full.iter().enumerate() {
                if r {
                    (0..3).for_each(|c| planar[c * plane + i] = 0.0);
                }
            }
            planar
        }
        _ => vec![0.0; (3 * w * h) as usize],
    };
    let masked = match export.can_encode() {
        true => encode_pixels(export, kept_pixels, w, h)?,
        false => vec![0.0; grid.len()],
    };
    let mut extra: Vec<f32> = repaint.iter().map(|&r| if r { 1.0 } else { 0.0 }).collect();
    extra.extend(masked);
    Ok(extra)
}

/// The model's guided prediction for step `i`, given the scaled latents and the timestep.
pub(crate) type Predict<'a> = dyn FnMut(usize, Vec<f32>, f64, &mut dyn Progress) -> Result<Vec<f32>, JobError> + 'a;

/// What the denoising loop needs besides the scheduler: the model (given the scaled latents
/// and the step's timestep, its guided prediction), the seed for per-step noise, and for
/// latent-blending inpainting the clean latents kept outside the mask.
pub(crate) struct Denoise<'a> {
    pub seed: u64,
    pub grid: Latents,
    pub noise: &'a [f32],
    /// 4-channel inpainting: the picture's clean latents and the latent mask (true: repaint).
    pub keep_outside: Option<(&'a [f32], &'a [bool])>,
    /// Latent rows the previews show, from the top (a try-on's person, not its garment).
    pub preview_rows: usize,
}

/// The denoising loop every pipeline shares: a checkpoint before each model call, the
/// scheduler's step, the blend outside the mask, and progress with a preview after each step.
/// `predict(i, input, timestep, progress)` is the model's guided output for step `i` (a
/// predictor making several calls checks `progress` between them).
pub(crate) fn denoise(
    export: &Export,
    scheduler: &mut dyn Scheduler,
    mut latents: Vec<f32>,
    run: &Denoise<'_>,
    predict: &mut Predict<'_>,
    progress: &mut dyn Progress,
) -> Result<Vec<f32>, JobError> {
    let (grid, len) = (run.grid, run.grid.len());
    let total = scheduler.steps().len();
    for i in 0..total {
        progress.checkpoint()?;
        let input = scheduler.model_input(i, &latents);
        let output = predict(i, input, scheduler.steps()[i].timestep, progress)?;
        let output = &output[..len];
        let before = latents.clone();
        // (Drawn on another thread while the model ran, it was slower on two cores: ONNX
        // Runtime's own threads use both.)
        let step_noise = match scheduler.adds_noise() {
            true => gaussian(run.seed, i as u64 + 1, len),
            false => Vec::new(),
        };
        scheduler.step(i, &mut latents, output, &step_noise);
        // Latent blending (4-channel UNet): outside the mask, the picture noised to this level.
        if let Some((x0, small)) = run.keep_outside {
            let kept = scheduler.noised_after(i, x0, run.noise);
            let plane = grid.plane();
            for c in 0..grid.channels {
                for (k, &repaint) in small.iter().enumerate() {
                    if !repaint {
                        latents[c * plane + k] = kept[c * plane + k];
                    }
                }
            }
        }
        let mut preview = || {
            let x0 = top_rows(&scheduler.predicted_x0(i, &before, output), grid, run.preview_rows);
            preview_image(export, &x0, grid.width as u32, run.preview_rows as u32)
        };
        progress.stepped(i + 1, total, &mut preview)?;
    }
    Ok(latents)
}

/// Runs `req` on `export`.
pub fn generate(export: &Export, req: &Generate, progress: &mut dyn Progress) -> Result<Generated, JobError> {
    check(export, req).map_err(|e| FailureCode::ModelFailed.with(e))?;
    let mut scheduler = scheduler_of(export, req.steps)?;
    let mut notes = Vec::new();
    progress.checkpoint()?;
    let text = encode_prompt(export, req, &mut notes)?;

    let (w, h) = (req.width, req.height);
    let grid = Latents::of(export, w, h);
    let noise = gaussian(req.seed, 0, grid.len());

    // The starting picture and its latents; the mask at full and at latent resolution.
    let init = match &req.init {
        Some((image, strength)) => {
            let image = resized(image, w, h);
            progress.checkpoint()?;
            let latents = encode_pixels(export, to_planar(&image), w, h)?;
            Some((image, latents, *strength))
        }
        None => None,
    };
    let mask = req
        .mask
        .as_ref()
        .map(|m| Mask { full: binary_mask(m, w, h), small: binary_mask(m, grid.width as u32, grid.height as u32) });
    let inpaint_extra = match export.unet_channels {
        9 => Some(inpaint_inputs(export, init.as_ref(), mask.as_ref(), grid, (w, h))?),
        _ => None,
    };

    let latents = match &init {
        Some((_, x0, strength)) => {
            scheduler.start_at(*strength as f64);
            scheduler.noised_to_start(x0, &noise)
        }
        None => noise.iter().map(|v| v * scheduler.init_noise_sigma() as f32).collect(),
    };
    let keep_outside = match (&init, &mask, &inpaint_extra) {
        (Some((_, x0, _)), Some(m), None) => Some((x0.as_slice(), m.small.as_slice())),
        _ => None,
    };
    let run = Denoise { seed: req.seed, grid, noise: &noise, keep_outside, preview_rows: grid.height };
    let total = scheduler.steps().len();

    // Classifier-free guidance: one batched call where the graph takes two, else two calls.
    let unet_shape = [1, export.unet_channels, grid.height, grid.width];
    let batched_hidden = text.uncond.as_ref().map(|u| [u.as_slice(), text.cond.as_slice()].concat());
    let batched_shape = [2, text.shape[1], text.shape[2]];
    let guidance = req.guidance;
    let len = grid.len();
    let mut predict = |_: usize, mut input: Vec<f32>, timestep: f64, progress: &mut dyn Progress| {
        if let Some(extra) = &inpaint_extra {
            input.extend_from_slice(extra);
        }
        let Some(uncond) = &text.uncond else {
            return export.unet(&input, unet_shape, timestep, Some((&text.cond, text.shape))).map_err(failed);
        };
        let (u, c) = match (&batched_hidden, export.unet_batch() >= 2) {
            (Some(hidden), true) => {
                let both = [input.as_slice(), input.as_slice()].concat();
                let batch_shape = [2, unet_shape[1], grid.height, grid.width];
                let mut out =
                    export.unet(&both, batch_shape, timestep, Some((hidden, batched_shape))).map_err(failed)?;
                let c = out.split_off(len);
                (out, c)
            }
            _ => {
                let u = export.unet(&input, unet_shape, timestep, Some((uncond, text.shape))).map_err(failed)?;
                progress.checkpoint()?;
                (u, export.unet(&input, unet_shape, timestep, Some((&text.cond, text.shape))).map_err(failed)?)
            }
        };
        Ok::<_, JobError>(u.iter().zip(&c).map(|(u, c)| u + guidance * (c - u)).collect())
    };
    let latents = denoise(export, scheduler.as_mut(), latents, &run, &mut predict, progress)?;

    progress.checkpoint()?;
    let mut image = decode_latents(export, &latents, grid, w, h)?;
    // Outside the mask the picture is the original, pixel for pixel.
    if let (Some((original, _, _)), Some(m)) = (&init, &mask) {
        for (i, (out, orig)) in image.pixels_mut().zip(original.pixels()).enumerate() {
            if !m.full[i] {
                *out = *orig;
            }
        }
    }
    Ok(Generated { image, steps_run: total, notes })
}

/// The first `rows` rows of each channel of latents on `grid`.
pub(crate) fn top_rows(latents: &[f32], grid: Latents, rows: usize) -> Vec<f32> {
    if rows >= grid.height {
        return latents.to_vec();
    }
    let (plane, keep) = (grid.plane(), rows * grid.width);
    (0..grid.channels).flat_map(|c| latents[c * plane..c * plane + keep].iter().copied()).collect()
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
