//! `background-swap-with-image` and `background-swap-with-spec`: the subject of a photo (or of a
//! render) on a new background — a catalog background, or one built by the background
//! generator's own code from an inline spec. Stages: decode → matte (the person-matte model) →
//! refine (guided filter at full resolution) → background → composite (harmonised colour,
//! contact shadow) → finish (framed to `output_preset`). Filed as a render, `origin: edit`.

use std::sync::Arc;

use image::{DynamicImage, GrayImage, RgbImage};
use serde_json::json;

use super::{Filing, JobContext, Output, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::RenderOrigin;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::Operation;
use crate::domain::requests::{OutputPreset, WorkflowRequest};
use crate::error::{FieldError, JobError};
use crate::render::{backdrop, color};
use crate::vision::composite;
use crate::vision::matte::{refine, segment, ModelSegmenter};
use crate::workflow::background_generator::validate_spec;
use crate::workflow::subject::{self, PERSON_SHARE};

pub const MATTE_MODEL: &str = "person-matte";
/// Working resolution cap: photos are matted and composited at most this long a side.
const MAX_WORKING_SIDE: u32 = 4096;
/// Below this share of the frame nobody is there.
const MIN_COVERAGE: f32 = 0.005;

#[derive(Debug)]
pub struct BackgroundSwap {
    op: Operation,
    models: Arc<figur_models::Sessions>,
}

impl BackgroundSwap {
    pub fn new(op: Operation, models: Arc<figur_models::Sessions>) -> Self {
        BackgroundSwap { op, models }
    }
}

/// What both swaps share, read from either request.
struct Swap<'a> {
    source_key: Option<&'a str>,
    source_render: Option<&'a str>,
    preset: OutputPreset,
    backdrop: Backdrop<'a>,
}

enum Backdrop<'a> {
    Catalog(&'a str),
    Spec { scene: &'a str, mood: &'a str, colors: &'a [String] },
}

fn swap(r: &WorkflowRequest) -> Result<Swap<'_>, JobError> {
    match r {
        WorkflowRequest::BackgroundSwapWithImage(r) => Ok(Swap {
            source_key: r.source_image_s3_key.as_deref(),
            source_render: r.source_render_public_id.as_deref(),
            preset: r.output_preset,
            backdrop: Backdrop::Catalog(&r.background_image_public_id),
        }),
        WorkflowRequest::BackgroundSwapWithSpec(r) => Ok(Swap {
            source_key: r.source_image_s3_key.as_deref(),
            source_render: r.source_render_public_id.as_deref(),
            preset: r.output_preset,
            backdrop: Backdrop::Spec {
                scene: &r.scene_type,
                mood: &r.mood,
                colors: r.dominant_colors.as_deref().unwrap_or(&[]),
            },
        }),
        _ => Err(JobError::internal("a background swap was handed another workflow's request")),
    }
}

fn gray(alpha: &crate::vision::guided::Plane) -> GrayImage {
    GrayImage::from_fn(alpha.width as u32, alpha.height as u32, |x, y| {
        image::Luma([(alpha.at(x as usize, y as usize) * 255.0).round() as u8])
    })
}

/// Scales a photo down to the working size cap (never up).
pub(crate) fn working_copy(img: RgbImage) -> RgbImage {
    let long = img.width().max(img.height());
    if long <= MAX_WORKING_SIDE {
        return img;
    }
    let s = MAX_WORKING_SIDE as f32 / long as f32;
    let (w, h) = (((img.width() as f32 * s).round() as u32).max(1), ((img.height() as f32 * s).round() as u32).max(1));
    image::imageops::resize(&img, w, h, image::imageops::FilterType::CatmullRom)
}

impl Workflow for BackgroundSwap {
    fn operation(&self) -> Operation {
        self.op
    }

    fn stages(&self) -> &'static [&'static str] {
        &["decode", "matte", "refine", "background", "composite", "finish"]
    }

    fn validate(&self, r: &WorkflowRequest) -> Vec<FieldError> {
        match r {
            WorkflowRequest::BackgroundSwapWithSpec(r) => {
                validate_spec(&r.scene_type, &r.mood, r.dominant_colors.as_deref())
            }
            _ => Vec::new(),
        }
    }

    fn run(&self, ctx: &mut JobContext, request: &WorkflowRequest) -> Result<Output, JobError> {
        let s = swap(request)?;
        ctx.stage("decode", "reading the photo")?;
        let key = match (s.source_key, s.source_render) {
            (Some(key), _) => key.to_string(),
            (None, Some(render)) => ctx.render_image_key(render)?,
            (None, None) => return Err(JobError::internal("no source")),
        };
        let photo = working_copy(ctx.read_image(&key)?);
        let source_size = photo.dimensions();
        let target = composite::preset_size(s.preset, source_size);
        let pixels = source_size.0 as u64 * source_size.1 as u64;
        let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL + target.0 as u64 * target.1 as u64 * 16)?;

        let model = self.models.get(MATTE_MODEL).map_err(|e| JobError::new(e.code(), e.to_string()))?;
        ctx.stage_with(
            "matte",
            format!("finding the person ({MATTE_MODEL} on {})", model.provider.name()),
            Vec::new(),
            json!({ "model": MATTE_MODEL, "provider": model.provider.name(), "model_sha256": model.sha256 }),
        )?;
        let seg = segment(&photo, &ModelSegmenter(model.clone()))?;

        let message = match seg.people {
            0 | 1 => "refining the edge at full resolution".to_string(),
            n => format!("{n} people found; the largest is used. Refining its edge at full resolution"),
        };
        ctx.stage_with("refine", message, Vec::new(), json!({ "people": seg.people }))?;
        let mut check = || ctx.checkpoint();
        let matte = refine(&photo, &seg, &mut check)?;
        // Not a person? A product shot: the product matte (learned if installed, else colour).
        let mut alpha = matte.alpha;
        let mut product = None;
        if matte.coverage < PERSON_SHARE {
            let learned = subject::learned_model(&self.models)?;
            if let Some(found) = subject::product_alpha(&photo, &learned)? {
                let share = found.data.iter().filter(|a| **a > 0.5).count() as f32 / found.data.len().max(1) as f32;
                if share >= MIN_COVERAGE {
                    product = Some(subject::describe(&learned));
                    alpha = found;
                }
            }
            if product.is_none() && matte.coverage < MIN_COVERAGE {
                return Err(JobError::new(
                    "NO_SUBJECT_FOUND",
                    "no person, and no product on a plain background, was found in the photo",
                ));
            }
        }
        let (kind, label) =
            if product.is_some() { ("product_mask", "Product matte") } else { ("person_mask", "Person matte") };
        let mask = ctx.save_png(&DynamicImage::ImageLuma8(gray(&alpha)), kind, ArtifactRole::Intermediate, label)?;
        let subject_kind = if product.is_some() { "product" } else { "person" };

        ctx.stage_with(
            "background",
            format!(
                "{}building the background at {}×{}",
                product.as_ref().map(|how| format!("a product shot, {how}; ")).unwrap_or_default(),
                target.0,
                target.1
            ),
            vec![mask],
            json!({ "subject": subject_kind }),
        )?;
        let background = match s.backdrop {
            Backdrop::Catalog(id) => {
                let key = ctx.catalog_image_key("backgrounds", id)?;
                composite::cover(&ctx.read_image(&key)?, target.0, target.1)
            }
            Backdrop::Spec { scene, mood, colors } => {
                let colors: Vec<_> = colors.iter().filter_map(|c| color::parse(c)).collect();
                let plan = backdrop::plan(scene, mood, &colors, target.0, target.1, ctx.default_seed());
                let mut check = || ctx.checkpoint();
                let mut canvas = backdrop::base(&plan, &mut check)?;
                backdrop::texture(&plan, &mut canvas, &mut check)?;
                backdrop::light(&plan, &mut canvas, &mut check)?;
                backdrop::finish(&plan, &canvas, &mut check)?
            }
        };

        ctx.stage("composite", "placing the subject: colour, shadow, edges")?;
        let boxed =
            composite::subject_box(&alpha).ok_or_else(|| JobError::new("NO_SUBJECT_FOUND", "the matte is empty"))?;
        let placement = composite::place(boxed, source_size, target, s.preset == OutputPreset::Original);
        let out = composite::composite(&photo, &alpha, &background, placement, 0.35);

        ctx.stage("finish", "encoding")?;
        let label = format!(
            "Background swap · {}",
            serde_json::to_value(s.preset).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        );
        let render = ctx.save_png(&DynamicImage::ImageRgb8(out), "render", ArtifactRole::Final, label)?;
        let mut extra = serde_json::Map::new();
        extra.insert("people".into(), json!(matte.people));
        extra.insert("subject".into(), json!(subject_kind));
        extra.insert("standing".into(), json!(placement.standing));
        extra.insert(
            "provenance".into(),
            json!({ "models": [{ "id": MATTE_MODEL, "sha256": model.sha256, "provider": model.provider.name() }] }),
        );
        Ok(Output {
            finals: vec![render],
            filing: Filing::Render { origin: RenderOrigin::Edit, category: None },
            extra,
        })
    }
}
