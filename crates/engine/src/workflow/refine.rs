//! Try-on refinement: after the fit, an added inpainting model repaints the old garment's
//! region and the new garment's region — dilated, never the face or the hands — starting
//! from the geometric draft at [`STRENGTH`], with a prompt naming each garment by its colour
//! and category. The old clothes go where the new garment does not cover them, and the garment
//! gains folds and drape. Every pixel outside the mask is the draft's, and the face and hands
//! are outside it, so they stay the photo's own, pixel for pixel.
//!
//! The model runs at its own size over the mask's box (with a margin for context) and the
//! result is scaled back and blended in with a feather that ends inside the mask.
//!
//! Which model: `runtime_config.refine` names one, `false` turns refinement off; absent or
//! `true` takes the studio's default (settings, else the first added inpainting model), which
//! dispatch writes into the stored request ([`super::Workflow::defaults`]).

use image::{GrayImage, RgbImage, RgbaImage};
use serde_json::{json, Map, Value};

use super::background_generator::generation_size;
use super::denoise::{self, Intro};
use super::person::Analysis;
use super::{prompts, JobContext, Stage};
use crate::diffusion::pipeline::Generate;
use crate::domain::garments::{GarmentCategory, Region};
use crate::domain::job::{ArtifactRole, StoredArtifact};
use crate::domain::requests::{ModelNeed, Reference};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::settings::{ModelDefaults, ModelUse};
use figur_pixels::plane::Plane;
use figur_pixels::vision::pose::VISIBLE;
use figur_pixels::vision::regions;
use figur_pixels::vision::repaint::{self, blend, mask_box, model_mask};

/// How much of the draft the model repaints inside the mask: enough to replace the old
/// clothes and draw folds, little enough to keep the fitted garment's colour and shape.
pub const STRENGTH: f32 = 0.6;

/// What `runtime_config.refine` (or `.harmonize`) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// `false`.
    Off,
    /// Absent.
    Unsaid,
    /// `true`: the studio's default model.
    Default,
    Model(String),
}

pub fn ask(config: Option<&Map<String, Value>>, key: &str) -> Result<Ask, FieldError> {
    match config.and_then(|c| c.get(key)) {
        None | Some(Value::Null) => Ok(Ask::Unsaid),
        Some(Value::Bool(false)) => Ok(Ask::Off),
        Some(Value::Bool(true)) => Ok(Ask::Default),
        // Any text names a model (checked against the added ones at dispatch); `openapi.json`
        // says `minLength: 1`, so only the empty string is malformed.
        Some(Value::String(name)) if !name.is_empty() => Ok(Ask::Model(name.trim().to_string())),
        Some(_) => Err(FieldError::new(
            "body",
            &format!("runtime_config.{key}"),
            "true, false or the name of a model added with `figur models add`",
            "type_error",
        )),
    }
}

/// The 422 for a `runtime_config.<key>` that is neither a boolean nor a model name.
pub fn problems(config: Option<&Map<String, Value>>, key: &str) -> Vec<FieldError> {
    ask(config, key).err().into_iter().collect()
}

/// At dispatch: writes the default model into `runtime_config.<key>` where the request asks
/// for it (`true`) or, for refinement, says nothing. Without a default it stays as asked.
pub fn with_default(
    config: &mut Option<Map<String, Value>>,
    key: &str,
    use_: ModelUse,
    defaults: &dyn Fn() -> ModelDefaults,
) {
    let take = match ask(config.as_ref(), key) {
        Ok(Ask::Default) => true,
        // Refinement and try-on models are used whenever the studio has one.
        Ok(Ask::Unsaid) => matches!(use_, ModelUse::Refine | ModelUse::TryOn),
        _ => false,
    };
    if let Some(name) = take.then(defaults).as_ref().and_then(|d| d.get(use_)) {
        config.get_or_insert_with(Map::new).insert(key.into(), json!(name));
    }
}

/// The model `runtime_config.<key>` names, checked at dispatch like `image_model`; `true` left
/// unresolved (no default) is a reference to no model, which the check refuses.
pub fn reference(config: Option<&Map<String, Value>>, key: &str) -> Option<Reference> {
    reference_for(config, key, ModelNeed::PromptFromPicture)
}

/// [`reference`] for a model that must meet `need`.
pub fn reference_for(config: Option<&Map<String, Value>>, key: &str, need: ModelNeed) -> Option<Reference> {
    let name = match ask(config, key).ok()? {
        Ask::Model(name) => name,
        Ask::Default => String::new(),
        Ask::Off | Ask::Unsaid => return None,
    };
    Some(Reference::ImageModel { path: format!("runtime_config.{key}"), name, builtin: "", need })
}

/// The model to run, once dispatch has resolved the request.
pub fn chosen(config: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    match ask(config, key) {
        Ok(Ask::Model(name)) => Some(name),
        _ => None,
    }
}

/// The old garment's band on the body for a category (accessories have none: only the new
/// garment's own region is repainted).
fn band(person: &Analysis, height: u32, region: Region) -> Option<(f32, f32)> {
    let (wanted, full) = match region {
        Region::Upper | Region::Outer => (regions::Region::Upper, false),
        Region::Lower => (regions::Region::Lower, false),
        Region::Full => (regions::Region::Full, true),
        Region::Feet => (regions::Region::Feet, false),
        _ => return None,
    };
    let bands = regions::bands(&person.landmarks, height as f32, full);
    bands.into_iter().find(|(r, _, _)| *r == wanted).map(|(_, top, bottom)| (top, bottom))
}

/// What refinement must never touch: the face (its mesh grown, else its box grown, else a
/// disc round the nose) and the hands.
fn untouchable(person: &Analysis, w: u32, h: u32) -> Plane {
    let mut keep = super::wear::protect(person, w as usize, h as usize);
    let has_mesh = person.face.as_ref().is_some_and(|f| f.mesh.is_some());
    if has_mesh {
        return keep;
    }
    let l = &person.landmarks;
    let sw = (l[11].x - l[12].x).hypot(l[11].y - l[12].y).max(8.0);
    match &person.face {
        Some(face) => {
            let b = face.face;
            let grow = 0.15 * (b.x1 - b.x0).max(b.y1 - b.y0);
            repaint::keep_box(&mut keep, (b.x0 - grow, b.y0 - grow, b.x1 + grow, b.y1 + grow));
        }
        None if l[0].visibility >= VISIBLE => {
            // No face found: a generous disc round the nose (a head is about half the
            // shoulders' width across; the nose sits below its centre).
            let head = figur_pixels::vision::dress::discs(w as usize, h as usize, &[((l[0].x, l[0].y), sw * 0.6)]);
            for (k, v) in keep.data.iter_mut().zip(&head.data) {
                *k = k.max(*v);
            }
        }
        None => {}
    }
    keep
}

/// The repaint mask at the photo's size (255: repaint): each worn garment's old band within
/// the person's matte and its new layer, grown, less what [`untouchable`] keeps.
pub fn mask(person: &Analysis, worn: &[(&'static GarmentCategory, RgbaImage)], w: u32, h: u32) -> GrayImage {
    let old: Vec<Plane> = worn
        .iter()
        .filter_map(|(category, _)| band(person, h, category.region))
        .map(|(top, bottom)| regions::cut(&person.matte.alpha, top, bottom, 1.0))
        .collect();
    let layers: Vec<&RgbaImage> = worn.iter().map(|(_, layer)| layer).collect();
    repaint::garment_mask(&old, &layers, &untouchable(person, w, h))
}

/// Each garment's colour, named: the mean of its layer's opaque pixels.
fn colours(worn: &[(&'static GarmentCategory, RgbaImage)]) -> Vec<(&'static str, &'static str)> {
    worn.iter()
        .map(|(category, layer)| {
            (figur_pixels::color::nearest_name(repaint::mean_colour(layer)), category.display_name)
        })
        .collect()
}

/// What a refinement made: the picture and what its provenance records.
pub struct Refined {
    pub image: RgbImage,
    pub provenance: Map<String, Value>,
}

/// Stage `denoise`: the draft refined by `model`. `attach`: artifacts for the stage's first
/// event (the fit's warped layers); `intermediates`: also file the draft and the mask.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &mut JobContext,
    draft: RgbImage,
    person: &Analysis,
    worn: &[(&'static GarmentCategory, RgbaImage)],
    model: &str,
    seed: u64,
    mut attach: Vec<StoredArtifact>,
    intermediates: bool,
) -> Result<Refined, JobError> {
    let (w, h) = draft.dimensions();
    let mask = mask(person, worn, w, h);
    if intermediates {
        attach.push(ctx.save_png(
            &image::DynamicImage::ImageRgb8(draft.clone()),
            "draft",
            ArtifactRole::Intermediate,
            "Fitted draft",
        )?);
        attach.push(ctx.save_png(
            &image::DynamicImage::ImageLuma8(mask.clone()),
            "refine_mask",
            ArtifactRole::Intermediate,
            "Repainted region",
        )?);
    }
    let pass =
        Pass { model, prompt: prompts::refine(&colours(worn)), strength: STRENGTH, seed, purpose: "refining the fit" };
    repaint(ctx, draft, &mask, pass, attach)
}

/// One inpainting pass over part of a picture.
pub struct Pass<'a> {
    pub model: &'a str,
    pub prompt: prompts::Prompt,
    pub strength: f32,
    pub seed: u64,
    /// What the stage's event says it is doing.
    pub purpose: &'a str,
}

/// Stage `denoise`: `picture` repainted by `pass.model` where `mask` is set, starting from the
/// picture at `pass.strength`. The model draws the mask's box (with a margin for context) at
/// its own size; the result comes back scaled and blended in inside the mask only.
pub fn repaint(
    ctx: &mut JobContext,
    picture: RgbImage,
    mask: &GrayImage,
    pass: Pass<'_>,
    attach: Vec<StoredArtifact>,
) -> Result<Refined, JobError> {
    let (w, h) = picture.dimensions();
    let Some((bx, by, bw, bh)) = mask_box(mask, w.max(h) / 16) else {
        ctx.stage_with(Stage::Denoise, format!("{}: nothing to repaint", pass.purpose), attach, json!({}))?;
        return Ok(Refined { image: picture, provenance: Map::new() });
    };
    let export = ctx.diffusion_model(pass.model)?;
    let multiple = 8 * export.vae_scale as u32;
    let (gw, gh) = generation_size(export.native_size.unwrap_or(512), multiple, (bw, bh));
    let scheduler = export.record.scheduler.clone();
    let (steps, guidance) = denoise::tuned(&export);
    drop(export);

    let crop = image::imageops::crop_imm(&picture, bx, by, bw, bh).to_image();
    let crop_mask = image::imageops::crop_imm(mask, bx, by, bw, bh).to_image();
    let filter = image::imageops::FilterType::Triangle;
    let request = Generate {
        prompt: pass.prompt.prompt,
        negative: pass.prompt.negative,
        steps,
        guidance,
        seed: pass.seed,
        width: gw,
        height: gh,
        init: Some((image::imageops::resize(&crop, gw, gh, filter), pass.strength)),
        mask: Some(model_mask(&crop_mask, gw, gh)),
    };
    let purpose = format!("{} (strength {}, {gw}×{gh} over {bw}×{bh})", pass.purpose, pass.strength);
    let made = denoise::run(ctx, Stage::Denoise, pass.model, &request, 0, Intro { purpose, artifacts: attach })?;
    let repainted = image::imageops::resize(&made.image, bw, bh, image::imageops::FilterType::Lanczos3);
    let image = blend(picture, &repainted, mask, (bx, by), (w.max(h) / 200).max(1) as usize);
    let mut provenance = denoise::provenance(pass.model, &scheduler, &request, &made);
    // As written in the source (0.6, not the f32's 0.6000000238…).
    provenance.insert("strength".into(), json!((pass.strength as f64 * 1000.0).round() / 1000.0));
    provenance.insert("region".into(), json!([bx, by, bw, bh]));
    Ok(Refined { image, provenance })
}

#[cfg(test)]
#[path = "refine_tests.rs"]
pub(crate) mod tests;
