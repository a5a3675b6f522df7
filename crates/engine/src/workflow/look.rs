//! `look`: garments composed onto a fashion figure (no person photo needed) as a look board —
//! the dressed figure beside the items themselves. Each garment photo is matted and its
//! landmarks found exactly as try-on does; the figure's landmarks are known, so no pose model
//! runs for the body. Impossible looks (a dress with a skirt, two bottoms…) are refused at
//! dispatch with a 422 naming both items. Filed as a render, `origin: compose`.

use image::{imageops, DynamicImage, Rgb, RgbImage};
use serde_json::{json, Value};

use super::model_generator::figure_for;
use super::person::Analysis;
use super::try_on::{read_garment, Session};
use super::wear;
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::RenderOrigin;
use crate::domain::compatibility;
use crate::domain::garments;
use crate::domain::operation::OpClass;
use crate::domain::requests::{items_problems, items_references, LookRequest, Reference, UserCategory};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::vision::matte::Matte;

/// Height of the figure on the board, in pixels.
const FIGURE_HEIGHT: u32 = 1600;

#[derive(Debug)]
pub struct Look;

/// Every pair of items that cannot be worn together, as field errors on the later item.
pub fn conflicts(keys: &[&str]) -> Vec<FieldError> {
    let mut problems = Vec::new();
    for (j, b) in keys.iter().enumerate() {
        for (i, a) in keys.iter().enumerate().take(j) {
            if let (Some(ca), Some(cb)) = (garments::by_key(a), garments::by_key(b)) {
                if let Err(why) = compatibility::check(ca, cb) {
                    problems.push(FieldError::new(
                        "body",
                        &format!("items.{j}.trial_item_category"),
                        format!("items {i} ({a}) and {j} ({b}) cannot be worn together: {why}"),
                        "incompatible",
                    ));
                }
            }
        }
    }
    problems
}

impl Workflow for Look {
    type Request = LookRequest;
    const CLASS: OpClass = OpClass::Compose;
    const PRICE: i64 = 10;
    const STAGES: &'static [Stage] =
        &[Stage::Decode, Stage::Figure, Stage::Garments, Stage::Fit, Stage::Board, Stage::Finish];

    fn structure(r: &LookRequest) -> Vec<FieldError> {
        items_problems(&r.items)
    }

    fn references(r: &LookRequest) -> Vec<Reference> {
        items_references(&r.items)
    }

    fn vocabulary(r: &LookRequest) -> Vec<FieldError> {
        conflicts(&r.items.iter().map(|i| i.trial_item_category.as_str()).collect::<Vec<_>>())
    }

    fn run(ctx: &mut JobContext, r: LookRequest) -> Result<Output, JobError> {
        let tuck = r.runtime_config.as_ref().and_then(|c| c.get("tuck")).and_then(Value::as_bool).unwrap_or(false);
        ctx.stage(Stage::Decode, format!("reading {} garment photo(s)", r.items.len()))?;
        let photos = r
            .items
            .iter()
            .map(|item| Ok((read_garment(ctx, &item.trial_image)?, wear::category(&item.trial_item_category)?)))
            .collect::<Result<Vec<_>, JobError>>()?;
        let pixels = photos.iter().map(|(p, _)| p.pixels()).sum::<u64>() + FIGURE_HEIGHT as u64 * FIGURE_HEIGHT as u64;
        let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL)?;

        let gender = r.user_category.unwrap_or(UserCategory::Female);
        let word = if gender == UserCategory::Female { "female" } else { "male" };
        ctx.stage(Stage::Figure, format!("a {word} fashion figure, average build (an illustration)"))?;
        let seed = ctx.default_seed();
        let fig = figure_for(gender, "average", "26-35", "", seed, FIGURE_HEIGHT);
        let coverage = fig.alpha.data.iter().filter(|a| **a > 0.5).count() as f32 / fig.alpha.data.len() as f32;
        let person = Analysis {
            matte: Matte { alpha: fig.alpha.clone(), people: 1, coverage },
            landmarks: fig.landmarks.clone(),
            face: None,
        };

        let mut session = Session { shading: super::try_on::FIGURE_SHADING, ..Session::default() };
        let garments = session.garments(ctx, photos)?;
        let thumbs: Vec<image::RgbaImage> = garments.iter().map(|g| g.image.clone()).collect();
        let dressed = session.fit(ctx, &fig.image, &person, garments, tuck)?;

        ctx.stage_with(Stage::Board, "laying out the look board", std::mem::take(&mut session.pending), json!({}))?;
        let board = board(&dressed, &thumbs);
        let render = session.finish(ctx, board, "Look board")?;
        let mut extra = serde_json::Map::new();
        extra.insert("user_category".into(), json!(gender));
        extra.insert("figure".into(), json!({ "generator": super::model_generator::MODEL_ID, "seed": seed }));
        extra.insert("tuck".into(), json!(tuck));
        let category = r.items.first().map(|i| i.trial_item_category.clone());
        Ok(Output { finals: vec![render], filing: Filing::Render { origin: RenderOrigin::Compose, category }, extra })
    }
}

/// The dressed figure on the left; the items, each fitted into a cell, in a column on the right.
fn board(dressed: &RgbImage, items: &[image::RgbaImage]) -> RgbImage {
    let (fw, fh) = dressed.dimensions();
    let cell = (fh / items.len().max(3) as u32).min(fw);
    let margin = cell / 12;
    let mut out = RgbImage::from_pixel(fw + cell + margin * 2, fh, Rgb([242, 241, 237]));
    imageops::overlay(&mut out, dressed, 0, 0);
    for (i, item) in items.iter().enumerate() {
        // The item's own box, scaled to fit its cell.
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in item.enumerate_pixels() {
            if p[3] > 16 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            }
        }
        if x1 <= x0 {
            continue;
        }
        let crop = imageops::crop_imm(item, x0, y0, x1 - x0, y1 - y0).to_image();
        let inner = cell - margin * 2;
        let s = inner as f32 / crop.width().max(crop.height()) as f32;
        let (w, h) = (((crop.width() as f32 * s) as u32).max(1), ((crop.height() as f32 * s) as u32).max(1));
        let small = imageops::resize(&crop, w, h, imageops::FilterType::CatmullRom);
        let (x, y) = (fw + margin + (cell - w) / 2, i as u32 * cell + (cell - h) / 2);
        let mut rgba = DynamicImage::ImageRgb8(out).to_rgba8();
        imageops::overlay(&mut rgba, &small, x as i64, y as i64);
        out = DynamicImage::ImageRgba8(rgba).to_rgb8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_looks_name_both_items() {
        let p = conflicts(&["t-shirt", "dress", "skirt", "shoes", "shoes"]);
        let msgs: Vec<String> = p.iter().map(|e| e.msg.clone()).collect();
        assert_eq!(p.len(), 2, "{msgs:?}");
        assert!(msgs[0].contains("items 1 (dress) and 2 (skirt)"), "{msgs:?}");
        assert!(msgs[1].contains("items 3 (shoes) and 4 (shoes)"), "{msgs:?}");
        assert!(conflicts(&["t-shirt", "jeans", "jacket", "shoes", "bag"]).is_empty());
    }
}
