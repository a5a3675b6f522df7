//! `look`: garments composed onto a fashion figure (no person photo needed) as a look board —
//! the dressed figure beside the items themselves. Each garment photo is matted and its
//! landmarks found exactly as try-on does; the figure's landmarks are known, so no pose model
//! runs for the body. Impossible looks (a dress with a skirt, two bottoms…) are refused at
//! dispatch with a 422 naming both items. Filed as a render, `origin: compose`.

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
use figur_pixels::vision::matte::Matte;

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
        let board = figur_pixels::vision::board::board(&dressed, &thumbs);
        let render = session.finish(ctx, board, "Look board")?;
        let mut extra = serde_json::Map::new();
        extra.insert("user_category".into(), json!(gender));
        extra.insert("figure".into(), json!({ "generator": super::model_generator::MODEL_ID, "seed": seed }));
        extra.insert("tuck".into(), json!(tuck));
        let category = r.items.first().map(|i| i.trial_item_category.clone());
        Ok(Output { finals: vec![render], filing: Filing::Render { origin: RenderOrigin::Compose, category }, extra })
    }
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
