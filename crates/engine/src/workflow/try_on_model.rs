//! Dressing with a try-on model the studio brought (CatVTON layout, issue 28): for each worn
//! garment in wardrobe order, the agnostic mask for its cover (upper / lower / overall) from the
//! person matte, the pose and the face mesh; the person cropped round the body and the mask at
//! the model's aspect; the garment's cutout on white as the condition; the model run
//! ([`crate::diffusion::try_on::dress`]); its picture scaled back and pasted into the
//! full-resolution photo inside the mask only, with a feather that ends inside it. Every pixel
//! outside the mask — the face and the hands with it — stays the photo's own, byte for byte.
//!
//! Garments a try-on model does not draw (shoes, bags, hats: no cover) are fitted afterwards by
//! the geometric fit, on the model's picture.
//!
//! Which model: `runtime_config.try_on_model` names one, `false` keeps the fit; absent or
//! `true` takes the studio's default (`default-model.try-on`, else the first added try-on
//! model), which dispatch writes into the stored request.

use std::sync::Arc;

use figur_models::diffusion::Export;
use figur_pixels::plane::Plane;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, RgbImage, Rgba, RgbaImage};
use serde_json::{json, Map, Value};

use super::person::Analysis;
use super::refine;
use super::wear::{self, Garment};
use super::{JobContext, Stage};
use crate::diffusion::pipeline::{Generated, Progress};
use crate::diffusion::try_on::{self, Dress};
use crate::domain::garments::Region;
use crate::domain::job::{ArtifactRole, StoredArtifact};
use crate::domain::requests::{ModelNeed, Reference};
use crate::error::FieldError;
use crate::failure::{FailureCode, JobError};
use crate::settings::{ModelDefaults, ModelUse};
use figur_pixels::vision::agnostic::{self, Cover};
use figur_pixels::vision::repaint::{blend, mask_box};
use figur_pixels::vision::resample;

/// `runtime_config`'s key.
pub const KEY: &str = "try_on_model";

/// The 422s for `runtime_config.refine` and `.try_on_model` (each a boolean or a model name).
pub fn problems(config: Option<&Map<String, Value>>) -> Vec<FieldError> {
    let mut problems = refine::problems(config, "refine");
    problems.extend(refine::problems(config, KEY));
    problems
}

/// At dispatch: the default refinement and try-on models written into the request.
pub fn with_defaults(config: &mut Option<Map<String, Value>>, defaults: &dyn Fn() -> ModelDefaults) {
    refine::with_default(config, "refine", ModelUse::Refine, defaults);
    refine::with_default(config, KEY, ModelUse::TryOn, defaults);
}

/// The models `runtime_config` names, for dispatch's check (a try-on model must be one).
pub fn references(config: Option<&Map<String, Value>>) -> Vec<Reference> {
    let mut refs: Vec<Reference> = refine::reference(config, "refine").into_iter().collect();
    refs.extend(refine::reference_for(config, KEY, ModelNeed::TryOn));
    refs
}

/// What a try-on model draws for a garment's region (none: the fit places it).
pub fn cover(region: Region) -> Option<Cover> {
    match region {
        Region::Upper | Region::Outer => Some(Cover::Upper),
        Region::Lower => Some(Cover::Lower),
        Region::Full => Some(Cover::Overall),
        _ => None,
    }
}

/// One garment the model drew: what provenance records of it.
struct Drawn {
    category: &'static str,
    cover: Cover,
    mask_box: (u32, u32, u32, u32),
    crop: (i64, i64, u32, u32),
}

/// The masks of the garments the model draws, made in stage `fit` (each an intermediate
/// artifact when `intermediates`).
pub struct Planned {
    items: Vec<(Garment, Cover, GrayImage)>,
    /// Garments without a cover, for the geometric fit after the model.
    pub rest: Vec<Garment>,
}

impl Planned {
    /// Whether the model draws anything.
    pub fn has_items(&self) -> bool {
        !self.items.is_empty()
    }
}

/// Stage `fit` with a try-on model: the agnostic mask of each garment it draws.
pub fn plan(
    ctx: &mut JobContext,
    photo: &RgbImage,
    person: &Analysis,
    mut garments: Vec<Garment>,
    tuck: bool,
    intermediates: bool,
) -> Result<(Planned, Vec<StoredArtifact>), JobError> {
    wear::order(&mut garments, tuck);
    let (w, h) = photo.dimensions();
    let keep = wear::protect(person, w as usize, h as usize);
    let (mut items, mut rest, mut said, mut arts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for garment in garments {
        let Some(cover) = cover(garment.category.region) else {
            said.push(format!("{} (placed by the fit after the model draws)", garment.category.key));
            rest.push(garment);
            continue;
        };
        ctx.checkpoint()?;
        let mask = agnostic::mask(&person.matte.alpha, &person.landmarks, &keep, cover)
            .map_err(|e| FailureCode::RegionNotVisible.with(format!("{}: {e}", garment.category.key)))?;
        said.push(format!("{} ({})", garment.category.key, cover.as_str()));
        if intermediates {
            let label = format!("Mask for {}", garment.category.key);
            arts.push(ctx.save_png(
                &DynamicImage::ImageLuma8(mask.clone()),
                "try_on_mask",
                ArtifactRole::Intermediate,
                label,
            )?);
        }
        items.push((garment, cover, mask));
    }
    let message = format!(
        "masks for {} from the person matte, pose and face mesh (the face and hands never inside)",
        said.join(", ")
    );
    ctx.stage_with(Stage::Fit, message, Vec::new(), json!({ "masks": items.len() }))?;
    Ok((Planned { items, rest }, arts))
}

/// Reports each garment's steps as one run of the stage's steps.
struct ItemProgress<'a> {
    ctx: &'a mut JobContext,
    what: &'a str,
    before: usize,
    all: usize,
}

impl Progress for ItemProgress<'_> {
    fn checkpoint(&mut self) -> Result<(), JobError> {
        self.ctx.checkpoint()
    }

    fn stepped(&mut self, done: usize, total: usize, _: &mut dyn FnMut() -> RgbImage) -> Result<(), JobError> {
        let message = format!("{}: step {done} of {total}", self.what);
        self.ctx.stage_step(Stage::Denoise, self.before + done, self.all, message, Vec::new())
    }
}

/// The box round the body (`alpha`, the person matte) and the mask, at the model's aspect
/// `(mw, mh)`, about their centre (it may reach past the photo's edges: [`crop_padded`] repeats
/// the edge there).
fn body_box(alpha: &Plane, mask: (u32, u32, u32, u32), (mw, mh): (u32, u32)) -> (i64, i64, u32, u32) {
    let (mut x0, mut y0, mut x1, mut y1) = (mask.0, mask.1, mask.0 + mask.2, mask.1 + mask.3);
    for y in 0..alpha.height {
        for (x, &a) in alpha.row(y).iter().enumerate() {
            if a > 0.5 {
                (x0, y0, x1, y1) = (x0.min(x as u32), y0.min(y as u32), x1.max(x as u32 + 1), y1.max(y as u32 + 1));
            }
        }
    }
    let margin = 0.04 * (x1 - x0).max(y1 - y0) as f64;
    let (bw, bh) = ((x1 - x0) as f64 + 2.0 * margin, (y1 - y0) as f64 + 2.0 * margin);
    let aspect = mw as f64 / mh as f64;
    let (cw, ch) = match bw / bh < aspect {
        true => (bh * aspect, bh),
        false => (bw, bw / aspect),
    };
    let (cx, cy) = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
    (
        (cx - cw / 2.0).round() as i64,
        (cy - ch / 2.0).round() as i64,
        cw.round().max(1.0) as u32,
        ch.round().max(1.0) as u32,
    )
}

/// The part of `image` at `(x, y, w, h)`, its edge pixels repeated where the box leaves it.
fn crop_padded<P: image::Pixel + 'static>(
    image: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    (x, y, w, h): (i64, i64, u32, u32),
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    if x >= 0 && y >= 0 && x + w as i64 <= iw && y + h as i64 <= ih {
        return image::imageops::crop_imm(image, x as u32, y as u32, w, h).to_image();
    }
    image::ImageBuffer::from_fn(w, h, |cx, cy| {
        *image.get_pixel((x + cx as i64).clamp(0, iw - 1) as u32, (y + cy as i64).clamp(0, ih - 1) as u32)
    })
}

/// The garment's cutout centred on white (its alpha over white), cut to its content: the
/// condition an in-shop photo gives the model.
fn on_white(garment: &RgbaImage) -> RgbImage {
    let cut = figur_pixels::vision::board::crop_to_content(garment);
    RgbImage::from_fn(cut.width(), cut.height(), |x, y| {
        let Rgba([r, g, b, a]) = *cut.get_pixel(x, y);
        let over = |c: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32)) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// What the model drew: the dressed photo, its raw pictures (intermediate artifacts, for the
/// next stage's event) and what provenance records.
pub struct Dressed {
    pub image: RgbImage,
    pub raw: Vec<StoredArtifact>,
    pub provenance: Map<String, Value>,
}

/// One garment's inputs for the model, at its size, and where they came from in the photo.
pub struct Framed {
    pub person: RgbImage,
    pub garment: RgbImage,
    pub mask: GrayImage,
    /// The crop in the photo (x, y, width, height; it may reach past the edges).
    pub crop: (i64, i64, u32, u32),
    /// The mask's box in the photo.
    pub mask_box: (u32, u32, u32, u32),
}

/// The person (`picture`, its matte `alpha`) cropped round the body and `mask` at the model's
/// aspect and scaled to `size`, the garment's cutout on white fitted into `size`; `None` when
/// the mask is empty.
pub fn frame(
    picture: &RgbImage,
    alpha: &Plane,
    mask: &GrayImage,
    garment: &RgbaImage,
    size: (u32, u32),
) -> Option<Framed> {
    let mask_box = mask_box(mask, 0)?;
    let crop = body_box(alpha, mask_box, size);
    let person = resample::resize(&crop_padded(picture, crop), size.0, size.1, FilterType::CatmullRom);
    let mask = image::imageops::resize(&crop_padded(mask, crop), size.0, size.1, FilterType::Triangle);
    let garment = try_on::resize_and_pad(&on_white(garment), size);
    Some(Framed { person, garment, mask, crop, mask_box })
}

/// Stage `denoise`: the planned garments drawn by `model`, one after the other, each on the
/// last one's picture; `attach`: artifacts for the stage's first event (the masks).
#[allow(clippy::too_many_arguments)]
pub fn draw(
    ctx: &mut JobContext,
    photo: RgbImage,
    person: &Analysis,
    planned: &Planned,
    model: &str,
    seed: u64,
    attach: Vec<StoredArtifact>,
    intermediates: bool,
) -> Result<Dressed, JobError> {
    let export: Arc<Export> = ctx.diffusion_model(model)?;
    if !export.is_try_on() {
        return Err(FailureCode::ModelFailed.with(format!(
            "{model} is not a try-on model (it was replaced since dispatch): dressing needs an export in the CatVTON layout"
        )));
    }
    let size = try_on::size_of(&export);
    let steps = export.record.steps.unwrap_or(try_on::STEPS);
    let guidance = export.record.guidance.unwrap_or(try_on::GUIDANCE);
    let items: Vec<String> =
        planned.items.iter().map(|(g, c, _)| format!("{} ({})", g.category.key, c.as_str())).collect();
    let message = format!(
        "dressing with {model} ({}, licence {}) on {}: {}, {steps} steps each at {}×{}",
        export.record.kind_words(),
        export.record.licence,
        export.provider.name(),
        items.join(" then "),
        size.0,
        size.1
    );
    let facts = json!({ "model": model, "provider": export.provider.name(), "licence": export.record.licence });
    ctx.stage_with(Stage::Denoise, message, attach, facts)?;
    let _memory = ctx.reserve_memory(super::denoise::memory_needed(&export, size.0, 2 * size.1))?;

    let (mut picture, mut drawn, mut raw) = (photo, Vec::new(), Vec::new());
    let all = steps * planned.items.len();
    for (k, (garment, cover, mask)) in planned.items.iter().enumerate() {
        let Some(framed) = frame(&picture, &person.matte.alpha, mask, &garment.image, size) else { continue };
        let req = Dress {
            person: framed.person,
            garment: framed.garment,
            mask: framed.mask,
            steps,
            guidance,
            seed: seed.wrapping_add(k as u64),
            width: size.0,
            height: size.1,
        };
        try_on::check(&export, &req).map_err(|e| FailureCode::ModelFailed.with(e))?;
        let what = garment.category.key;
        let mut progress = ItemProgress { ctx, what, before: k * steps, all };
        let made: Generated = try_on::dress(&export, &req, &mut progress)?;
        if intermediates {
            let label = format!("{model}'s picture for {what}");
            let art = ctx.save_png(
                &DynamicImage::ImageRgb8(made.image.clone()),
                "try_on_raw",
                ArtifactRole::Intermediate,
                label,
            )?;
            raw.push(art);
        }
        picture = paste(picture, &made.image, mask, framed.crop);
        drawn.push(Drawn { category: what, cover: *cover, mask_box: framed.mask_box, crop: framed.crop });
    }

    let mut provenance = Map::new();
    provenance.insert("model".into(), json!(model));
    provenance.insert("digest".into(), json!(export.digest));
    provenance.insert("provider".into(), json!(export.provider.name()));
    provenance.insert("licence".into(), json!(export.record.licence));
    provenance.insert("steps".into(), json!(steps));
    provenance.insert("guidance".into(), json!((guidance as f64 * 1000.0).round() / 1000.0));
    provenance.insert("scheduler".into(), json!(format!("{} (eta 1)", export.record.scheduler)));
    provenance.insert("seed".into(), json!(seed));
    provenance.insert("size".into(), json!([size.0, size.1]));
    let items: Vec<Value> = drawn
        .iter()
        .map(|d| {
            json!({
                "category": d.category,
                "cover": d.cover.as_str(),
                "mask_box": [d.mask_box.0, d.mask_box.1, d.mask_box.2, d.mask_box.3],
                "crop": [d.crop.0, d.crop.1, d.crop.2, d.crop.3],
            })
        })
        .collect();
    provenance.insert("items".into(), json!(items));
    Ok(Dressed { image: picture, raw, provenance })
}

/// The model's picture of the crop `crop` scaled back and laid into `photo` inside `mask` only,
/// fading in from the mask's edge (CatVTON's `repaint`, its blur kept inside the mask).
pub fn paste(photo: RgbImage, drawn: &RgbImage, mask: &GrayImage, crop: (i64, i64, u32, u32)) -> RgbImage {
    let (w, h) = photo.dimensions();
    let (x, y, cw, ch) = crop;
    let back = resample::resize(drawn, cw, ch, FilterType::CatmullRom);
    // The part of the crop inside the photo.
    let (x0, y0) = (x.max(0) as u32, y.max(0) as u32);
    let (x1, y1) = (((x + cw as i64).min(w as i64)).max(0) as u32, ((y + ch as i64).min(h as i64)).max(0) as u32);
    if x1 <= x0 || y1 <= y0 {
        return photo;
    }
    let inside =
        image::imageops::crop_imm(&back, (x0 as i64 - x) as u32, (y0 as i64 - y) as u32, x1 - x0, y1 - y0).to_image();
    let feather = (ch / 100).max(1) as usize;
    blend(photo, &inside, mask, (x0, y0), feather)
}

#[cfg(test)]
#[path = "try_on_model_tests.rs"]
mod tests;
