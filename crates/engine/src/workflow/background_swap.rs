//! `background-swap-with-image` and `background-swap-with-spec`: the subject of a photo (or of a
//! render) on a new background — a catalog background, or one built by the background
//! generator's own code from an inline spec. Stages: decode → matte (the person-matte model) →
//! refine (guided filter at full resolution) → background → composite (harmonised colour,
//! contact shadow) → denoise (with `runtime_config.harmonize`: an added model relights the
//! subject's edge, see [`super::harmonize`]) → finish (framed to `output_preset`). Filed as a
//! render, `origin: edit`.

use image::DynamicImage;
use serde_json::json;

use super::backdrops;
use super::models::ModelKind;
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::CatalogResource;
use crate::domain::catalog::RenderOrigin;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{
    exactly_one_source, source_references, BackgroundSwapWithImageRequest, BackgroundSwapWithSpecRequest, OutputPreset,
    Reference,
};
use crate::error::FieldError;
use crate::failure::{FailureCode, JobError};
use crate::settings::{ModelDefaults, ModelUse};
use crate::workflow::background_generator::{read_spec, validate_spec};
use crate::workflow::models::ModelSegmenter;
use crate::workflow::subject::{self, PERSON_SHARE};
use figur_pixels::vision::composite;
use figur_pixels::vision::decode::working_copy;
use figur_pixels::vision::matte::{refine, segment};

/// Below this share of the frame nobody is there.
const MIN_COVERAGE: f32 = 0.005;

/// `background-swap-with-image`: onto a catalog background.
#[derive(Debug)]
pub struct WithImage;

/// `background-swap-with-spec`: onto a backdrop built from an inline spec.
#[derive(Debug)]
pub struct WithSpec;

const STAGES: &[Stage] =
    &[Stage::Decode, Stage::Matte, Stage::Refine, Stage::Background, Stage::Composite, Stage::Denoise, Stage::Finish];

fn harmonize_problems(config: Option<&serde_json::Map<String, serde_json::Value>>) -> Vec<FieldError> {
    super::refine::problems(config, "harmonize")
}

fn harmonize_defaults(
    config: &mut Option<serde_json::Map<String, serde_json::Value>>,
    defaults: &dyn Fn() -> ModelDefaults,
) {
    super::refine::with_default(config, "harmonize", ModelUse::Harmonize, defaults);
}

impl Workflow for WithImage {
    type Request = BackgroundSwapWithImageRequest;
    const CLASS: OpClass = OpClass::Edit;
    const PRICE: i64 = 5;
    const STAGES: &'static [Stage] = STAGES;

    fn structure(r: &Self::Request) -> Vec<FieldError> {
        let mut problems = exactly_one_source(&r.source_image_s3_key, &r.source_render_public_id);
        problems.extend(harmonize_problems(r.runtime_config.as_ref()));
        problems
    }

    fn defaults(r: &mut Self::Request, defaults: &dyn Fn() -> ModelDefaults) {
        harmonize_defaults(&mut r.runtime_config, defaults);
    }

    fn references(r: &Self::Request) -> Vec<Reference> {
        let mut refs = source_references(&r.source_image_s3_key, &r.source_render_public_id);
        refs.push(Reference::catalog(
            "background_image_public_id",
            CatalogResource::Backgrounds,
            &r.background_image_public_id,
        ));
        refs.extend(super::refine::reference(r.runtime_config.as_ref(), "harmonize"));
        refs
    }

    fn run(ctx: &mut JobContext, r: Self::Request) -> Result<Output, JobError> {
        swap(
            ctx,
            Swap {
                source_key: r.source_image_s3_key.as_deref(),
                source_render: r.source_render_public_id.as_deref(),
                preset: r.output_preset,
                backdrop: Backdrop::Catalog(&r.background_image_public_id),
                harmonize: super::refine::chosen(r.runtime_config.as_ref(), "harmonize"),
            },
        )
    }
}

impl Workflow for WithSpec {
    type Request = BackgroundSwapWithSpecRequest;
    const CLASS: OpClass = OpClass::Edit;
    const PRICE: i64 = 5;
    const STAGES: &'static [Stage] = STAGES;
    const ONE_PHOTO: Option<super::OnePhoto> = Some(super::OnePhoto {
        input: "source_image_s3_key",
        body: r#"{"output_preset":"ecommerce_square","scene_type":"studio_sweep","mood":"bright"}"#,
        label: "Background swap (white sweep, square)",
    });

    fn structure(r: &Self::Request) -> Vec<FieldError> {
        let mut problems = exactly_one_source(&r.source_image_s3_key, &r.source_render_public_id);
        problems.extend(harmonize_problems(r.runtime_config.as_ref()));
        problems
    }

    fn defaults(r: &mut Self::Request, defaults: &dyn Fn() -> ModelDefaults) {
        harmonize_defaults(&mut r.runtime_config, defaults);
    }

    fn references(r: &Self::Request) -> Vec<Reference> {
        let mut refs = source_references(&r.source_image_s3_key, &r.source_render_public_id);
        refs.extend(super::refine::reference(r.runtime_config.as_ref(), "harmonize"));
        refs
    }

    fn vocabulary(r: &Self::Request) -> Vec<FieldError> {
        validate_spec(&r.scene_type, &r.mood, r.dominant_colors.as_deref())
    }

    fn run(ctx: &mut JobContext, r: Self::Request) -> Result<Output, JobError> {
        swap(
            ctx,
            Swap {
                source_key: r.source_image_s3_key.as_deref(),
                source_render: r.source_render_public_id.as_deref(),
                preset: r.output_preset,
                backdrop: Backdrop::Spec {
                    scene: &r.scene_type,
                    mood: &r.mood,
                    colors: r.dominant_colors.as_deref().unwrap_or(&[]),
                    seed: r.seed,
                },
                harmonize: super::refine::chosen(r.runtime_config.as_ref(), "harmonize"),
            },
        )
    }
}

/// What both swaps share, read from either request.
struct Swap<'a> {
    source_key: Option<&'a str>,
    source_render: Option<&'a str>,
    preset: OutputPreset,
    backdrop: Backdrop<'a>,
    /// The added model that harmonises the subject's edge, if asked.
    harmonize: Option<String>,
}

enum Backdrop<'a> {
    Catalog(&'a str),
    Spec { scene: &'a str, mood: &'a str, colors: &'a [String], seed: Option<u64> },
}

/// Both swaps: the subject matted, the background built or read, the two composited.
fn swap(ctx: &mut JobContext, s: Swap<'_>) -> Result<Output, JobError> {
    ctx.stage(Stage::Decode, "reading the photo")?;
    let key = match (s.source_key, s.source_render) {
        (Some(key), _) => key.to_string(),
        (None, Some(render)) => ctx.render_image_key(render)?,
        (None, None) => return Err(JobError::internal("no source")),
    };
    let photo = working_copy(ctx.read_image(&key)?);
    let source_size = photo.dimensions();
    let target = s.preset.size(source_size);
    let pixels = source_size.0 as u64 * source_size.1 as u64;
    let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL + target.0 as u64 * target.1 as u64 * 16)?;

    let model = ctx.stage_with_model(Stage::Matte, ModelKind::PersonMatte, "finding the person", json!({}))?;
    let seg = segment(&photo, &ModelSegmenter(model.clone()))?;

    let message = match seg.people {
        0 | 1 => "refining the edge at full resolution".to_string(),
        n => format!("{n} people found; the largest is used. Refining its edge at full resolution"),
    };
    ctx.stage_with(Stage::Refine, message, Vec::new(), json!({ "people": seg.people }))?;
    let mut check = || ctx.checkpoint();
    let matte = refine(&photo, &seg, &mut check)?;
    // Not a person? A product shot: the product matte (learned if installed, else colour).
    let mut alpha = matte.alpha;
    let mut product = None;
    if matte.coverage < PERSON_SHARE {
        let learned = subject::product_matte(ctx)?;
        if let Some(found) = subject::product_alpha(&photo, &learned)? {
            let share = found.data.iter().filter(|a| **a > 0.5).count() as f32 / found.data.len().max(1) as f32;
            if share >= MIN_COVERAGE {
                product = Some(subject::describe(&learned));
                alpha = found;
            }
        }
        if product.is_none() && matte.coverage < MIN_COVERAGE {
            return Err(FailureCode::NoSubjectFound
                .with("no person, and no product on a plain background, was found in the photo"));
        }
    }
    let (kind, label) =
        if product.is_some() { ("product_mask", "Product matte") } else { ("person_mask", "Person matte") };
    let mask = ctx.save_png(&DynamicImage::ImageLuma8(alpha.to_gray()), kind, ArtifactRole::Intermediate, label)?;
    let subject_kind = if product.is_some() { "product" } else { "person" };

    // A spec's free text, read for the procedural backdrop, and the seed it is drawn with (the
    // request's, else the spec's own); what is drawn otherwise is said.
    let spec = match &s.backdrop {
        Backdrop::Spec { scene, mood, colors, seed } => {
            let read = read_spec(scene, mood, colors);
            let seed = seed.unwrap_or_else(|| backdrops::spec_seed(&read));
            Some((read, seed))
        }
        Backdrop::Catalog(_) => None,
    };
    let drawn_as = spec.as_ref().map(|(r, _)| r.drawn_as.clone()).unwrap_or_default();
    let note = spec.as_ref().map(|(r, _)| r.drawn_as.suffix()).unwrap_or_default();
    let seed = spec.as_ref().map(|(_, seed)| *seed);
    ctx.stage_with(
        Stage::Background,
        format!(
            "{}the background at {}×{}{note}",
            product.as_ref().map(|how| format!("a product shot, {how}; ")).unwrap_or_default(),
            target.0,
            target.1
        ),
        vec![mask],
        json!({ "subject": subject_kind, "drawn_as": drawn_as, "seed": seed }),
    )?;
    let (background, made) = match (&spec, &s.backdrop) {
        (Some((read, seed)), _) => backdrops::spec_backdrop(ctx, read, target, *seed)?,
        (None, Backdrop::Catalog(id)) => {
            let key = ctx.catalog_image_key(CatalogResource::Backgrounds, id)?;
            backdrops::covered(ctx, &key, target)?
        }
        (None, Backdrop::Spec { .. }) => return Err(JobError::internal("a spec backdrop is read above")),
    };

    ctx.stage(Stage::Composite, "placing the subject: colour, shadow, edges")?;
    let boxed = composite::subject_box(&alpha).ok_or_else(|| FailureCode::NoSubjectFound.with("the matte is empty"))?;
    let placement = composite::place(boxed, source_size, target, s.preset == OutputPreset::Original);
    let mut out = composite::composite(&photo, &alpha, &background, placement, 0.35);
    drop(background);
    let mut extra = serde_json::Map::new();
    if let Some(model) = &s.harmonize {
        let scene = match &s.backdrop {
            Backdrop::Spec { scene, .. } => scene.to_string(),
            Backdrop::Catalog(_) => String::new(),
        };
        let subject = figur_pixels::vision::repaint::placed(&alpha, placement, target);
        let (image, provenance) = super::harmonize::run(ctx, out, &subject, model, &scene, ctx.default_seed())?;
        out = image;
        extra.insert("provenance".into(), json!({ "harmonize": provenance }));
    }

    ctx.stage(Stage::Finish, "encoding")?;
    let label = format!(
        "Background swap · {}",
        serde_json::to_value(s.preset).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    );
    let render = ctx.save_png(&DynamicImage::ImageRgb8(out), "render", ArtifactRole::Final, label)?;
    extra.insert("people".into(), json!(matte.people));
    extra.insert("subject".into(), json!(subject_kind));
    extra.insert("standing".into(), json!(placement.standing));
    // Whether this job drew its background or reused one an earlier job made (see `backdrops`).
    extra.insert("background".into(), json!(made.name()));
    Ok(Output { finals: vec![render], filing: Filing::Render { origin: RenderOrigin::Edit, category: None }, extra })
}
