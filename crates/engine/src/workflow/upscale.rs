//! `upscale` (an extension of the hosted API, issue 29): a photo or a render enlarged ×2 or ×4
//! by Real-ESRGAN x4plus in overlapping tiles ([`figur_pixels::vision::upscale`]). Stages:
//! decode → upscale (a durable event per band of tiles; a cancel lands between tiles) → finish.
//! Filed as a render, `origin: edit`. What is too large for the limits is refused at dispatch
//! ([`refusal`], a 422 naming the field and the limit), and again here should the budget of the
//! process that runs it be smaller.
//!
//! [`enlarge_to`] is the same step inside the generators: what a diffusion model drew at its
//! own size enlarged by the model towards the asked `resolution` before it is framed.

use image::{DynamicImage, RgbImage};
use serde_json::{json, Value};

use super::models::{Model, ModelKind};
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::domain::catalog::RenderOrigin;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{exactly_one_source, source_references, Reference, Source, UpscaleRequest};
use crate::error::FieldError;
use crate::failure::{FailureCode, JobError};
use figur_pixels::vision::upscale::{upscale, TileModel, Tiling, BYTES_PER_OUTPUT_PIXEL, MAX_OUTPUT_PIXELS};

/// The upscaler's own working memory: one 128² tile's activations, which ONNX Runtime's arena
/// keeps (a 1K→4K run peaked at 864 MB resident here, 320 MB of it the picture's sums).
pub const MODEL_BYTES: u64 = 512 << 20;

/// The scale the model itself enlarges by.
const MODEL_SCALE: u32 = 4;

/// `upscale`: a picture enlarged by the learned upscaler.
#[derive(Debug)]
pub struct Upscale;

impl Workflow for Upscale {
    type Request = UpscaleRequest;
    const CLASS: OpClass = OpClass::Edit;
    const PRICE: i64 = 2;
    const STAGES: &'static [Stage] = &[Stage::Decode, Stage::Upscale, Stage::Finish];

    fn structure(r: &Self::Request) -> Vec<FieldError> {
        let mut problems = exactly_one_source(&r.source_image_s3_key, &r.source_render_public_id);
        if let Some(scale) = r.scale.filter(|s| *s != 2 && *s != 4) {
            problems.push(FieldError::new("body", "scale", format!("{scale}: the scale is 2 or 4"), "value_error"));
        }
        problems
    }

    fn references(r: &Self::Request) -> Vec<Reference> {
        let mut refs = source_references(&r.source_image_s3_key, &r.source_render_public_id);
        let scale = r.scale.unwrap_or(MODEL_SCALE);
        if let Some(key) = &r.source_image_s3_key {
            refs.push(Reference::Enlarged {
                path: "source_image_s3_key".into(),
                image: Source::Upload(key.clone()),
                scale,
            });
        }
        if let Some(id) = &r.source_render_public_id {
            refs.push(Reference::Enlarged {
                path: "source_render_public_id".into(),
                image: Source::Render(id.clone()),
                scale,
            });
        }
        refs
    }

    fn run(ctx: &mut JobContext, r: Self::Request) -> Result<Output, JobError> {
        let scale = r.scale.unwrap_or(MODEL_SCALE);
        ctx.stage(Stage::Decode, "reading the picture")?;
        let key = match (&r.source_image_s3_key, &r.source_render_public_id) {
            (Some(key), _) => key.clone(),
            (None, Some(render)) => ctx.render_image_key(render)?,
            (None, None) => return Err(JobError::internal("no source")),
        };
        let image = ctx.read_image(&key)?;
        let (w, h) = image.dimensions();
        if let Some(why) = refusal(w, h, scale, ctx.memory_capacity()) {
            return Err(FailureCode::InputTooLarge.with(why));
        }
        let purpose = format!("enlarging {w}×{h} ×{scale}");
        let (big, provenance) = enlarge(ctx, &image, scale, Stage::Upscale, &purpose)?;
        drop(image);
        ctx.stage(Stage::Finish, format!("encoding {}×{}", big.width(), big.height()))?;
        let render =
            ctx.save_png(&DynamicImage::ImageRgb8(big), "render", ArtifactRole::Final, format!("Upscale ×{scale}"))?;
        let mut extra = serde_json::Map::new();
        extra.insert("scale".into(), json!(scale));
        extra.insert("source_size".into(), json!([w, h]));
        extra.insert("provenance".into(), json!({ "upscale": provenance }));
        Ok(Output {
            finals: vec![render],
            filing: Filing::Render { origin: RenderOrigin::Edit, category: None },
            extra,
        })
    }
}

/// Bytes an enlargement of `w`×`h` by `scale` reserves from the budget.
pub fn memory_needed(w: u32, h: u32, scale: u32) -> u64 {
    MODEL_BYTES + output_pixels(w, h, scale) * BYTES_PER_OUTPUT_PIXEL
}

fn output_pixels(w: u32, h: u32, scale: u32) -> u64 {
    w as u64 * h as u64 * (scale as u64).pow(2)
}

/// Why `w`×`h` cannot be enlarged `scale` times within the limits — the picture's size, or what
/// a memory budget of `capacity` bytes holds — if it cannot.
pub fn refusal(w: u32, h: u32, scale: u32, capacity: u64) -> Option<String> {
    let out = output_pixels(w, h, scale);
    let by_memory = capacity.saturating_sub(MODEL_BYTES) / BYTES_PER_OUTPUT_PIXEL;
    let said = |n: u64| format!("{:.1}", n as f64 / 1e6);
    if out > MAX_OUTPUT_PIXELS {
        Some(format!(
            "{w}×{h} enlarged {scale}× is {} megapixels; the limit is {} megapixels",
            said(out),
            MAX_OUTPUT_PIXELS / 1_000_000
        ))
    } else if out > by_memory {
        Some(format!(
            "{w}×{h} enlarged {scale}× is {} megapixels; this studio's memory budget ({} MiB, \
             FIGUR_MEMORY_BUDGET_MB) holds {} megapixels",
            said(out),
            capacity >> 20,
            said(by_memory)
        ))
    } else {
        None
    }
}

/// The upscaler as the tiling's model.
struct Upscaler(Model);

impl TileModel for Upscaler {
    type Error = JobError;
    fn scale(&self) -> u32 {
        MODEL_SCALE
    }
    fn enlarge(&self, pixels: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, JobError> {
        let outputs = self.0.run_f32(vec![("input".into(), vec![1, 3, h as usize, w as usize], pixels)])?;
        outputs
            .into_iter()
            .find(|(name, _, _)| name == "output")
            .map(|(_, _, data)| data)
            .ok_or_else(|| JobError::internal("the upscaler gave no `output`"))
    }
}

/// `image` enlarged `scale` times (2 or 4) as stage `stage` ("{purpose} (realesrgan-x4plus on
/// cpu)"): its memory reserved first, an event per band of tiles, a cancel between tiles.
/// Returns the picture and what its provenance keeps.
pub fn enlarge(
    ctx: &mut JobContext,
    image: &RgbImage,
    scale: u32,
    stage: Stage,
    purpose: &str,
) -> Result<(RgbImage, Value), JobError> {
    let (w, h) = image.dimensions();
    let tiling = Tiling::default();
    let (columns, tiles) = (tiling.starts(w).len(), tiling.count(w, h));
    let facts = json!({ "scale": scale, "tiles": tiles, "tile_side": tiling.side, "overlap": tiling.overlap });
    let model = ctx.stage_with_model(stage, ModelKind::Upscaler, purpose, facts.clone())?;
    let _memory = ctx.reserve_memory(memory_needed(w, h, scale))?;
    let mut progress = |done: usize, total: usize| {
        ctx.checkpoint()?;
        if done.is_multiple_of(columns) || done == total {
            let band = done.div_ceil(columns);
            let bands = total.div_ceil(columns);
            ctx.stage_step(
                stage,
                done,
                total,
                format!("band {band} of {bands} ({done} of {total} tiles)"),
                Vec::new(),
            )?;
        }
        Ok(())
    };
    let big = upscale(image, &Upscaler(model), scale, tiling, &mut progress)?;
    let mut provenance = facts;
    provenance["model"] = json!(ModelKind::Upscaler.id());
    Ok((big, provenance))
}

/// What a generator drew (`drawn`) brought to `target` for framing: enlarged by the upscaler
/// first when the target is larger than what was drawn — ×2 or ×4, the least that reaches it —
/// unless `runtime_config.upscale` is `false` or the model is not installed (then resampled, and
/// the event says why). Returns the picture to frame and a sentence and provenance saying which.
pub fn enlarge_to(
    ctx: &mut JobContext,
    drawn: RgbImage,
    target: (u32, u32),
    asked: bool,
    stage: Stage,
) -> Result<(RgbImage, Value), JobError> {
    let (w, h) = drawn.dimensions();
    // The factor framing (cover) will enlarge by.
    let factor = (target.0 as f64 / w as f64).max(target.1 as f64 / h as f64);
    if factor <= 1.0 {
        return Ok((drawn, json!({ "used": "none", "why": "the picture drawn covers the size asked" })));
    }
    let scale = if factor <= 2.0 { 2 } else { 4 };
    let resampled = |why: String| json!({ "used": "resample", "why": why });
    if !asked {
        let why = "runtime_config.upscale is false: resampled (Catmull-Rom)".to_string();
        ctx.stage_with(stage, why.clone(), Vec::new(), json!({ "upscaler": "resample" }))?;
        return Ok((drawn, resampled(why)));
    }
    if refusal(w, h, scale, ctx.memory_capacity()).is_some() {
        let why = format!("{w}×{h} ×{scale} is beyond the upscaler's limits: resampled (Catmull-Rom)");
        ctx.stage_with(stage, why.clone(), Vec::new(), json!({ "upscaler": "resample" }))?;
        return Ok((drawn, resampled(why)));
    }
    if ctx.optional_model(ModelKind::Upscaler)?.is_none() {
        let why = format!(
            "the upscaler is not installed (`figur models fetch {}`): resampled (Catmull-Rom)",
            ModelKind::Upscaler.id()
        );
        ctx.stage_with(stage, why.clone(), Vec::new(), json!({ "upscaler": "resample" }))?;
        return Ok((drawn, resampled(why)));
    }
    let purpose = format!("enlarging the {w}×{h} picture drawn ×{scale} towards {}×{}", target.0, target.1);
    let (big, mut provenance) = enlarge(ctx, &drawn, scale, stage, &purpose)?;
    provenance["used"] = json!("upscaler");
    Ok((big, provenance))
}

/// Whether a generator's `runtime_config.upscale` leaves the upscaler on (absent: on).
pub fn asked(config: Option<&serde_json::Map<String, Value>>) -> bool {
    !matches!(config.and_then(|c| c.get("upscale")), Some(Value::Bool(false)))
}

/// The 422 for a `runtime_config.upscale` that is not a boolean.
pub fn config_problems(config: Option<&serde_json::Map<String, Value>>) -> Vec<FieldError> {
    match config.and_then(|c| c.get("upscale")) {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Vec::new(),
        Some(_) => vec![FieldError::new("body", "runtime_config.upscale", "true or false", "type_error")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_said_in_the_refusal() {
        let gib = 1u64 << 30;
        assert_eq!(refusal(1024, 1024, 4, 4 * gib), None);
        let big = refusal(4096, 4096, 4, 64 * gib).unwrap();
        assert!(big.contains("268.4 megapixels") && big.contains("limit is 64 megapixels"), "{big}");
        let tight = refusal(2048, 1024, 4, gib).unwrap();
        assert!(tight.contains("memory budget (1024 MiB") && tight.contains("holds 28.3 megapixels"), "{tight}");
        assert_eq!(refusal(2048, 1024, 2, gib), None, "×2 needs a quarter of ×4's memory");
    }
}

#[cfg(test)]
#[path = "upscale_tests.rs"]
mod workflow_tests;
