//! `extract`: the garments of a photo as tight transparent cutouts, at most `max_items`.
//! On-model photos: the person matte, pose landmarks inside the matte's box, then garment regions
//! by rule (upper, lower, or full for dresses and jumpsuits, and feet). Product shots (nobody in
//! the photo, a plain background): a background-colour matte, one cutout per separate item.
//! Each cutout is labelled with its region and a category guess (from the product name when it
//! names one). Stages: decode → matte → pose → regions → cutouts. Filed as a render, `origin: edit`.

use image::DynamicImage;
use serde_json::json;

use super::models::ModelKind;
use super::person;
use super::subject::{self, PERSON_SHARE};
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::RenderOrigin;
use crate::domain::garments;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{ExtractRequest, Reference};
use crate::error::FieldError;
use crate::failure::{FailureCode, JobError};
use crate::workflow::models::ModelSegmenter;
use figur_pixels::plane::Plane;
use figur_pixels::vision::decode::working_copy;
use figur_pixels::vision::matte::{refine, segment};
use figur_pixels::vision::regions::{bands, cut, Region};
use figur_pixels::vision::{composite, product};

/// Items smaller than this share of the frame are specks, not garments.
const ITEM_SHARE: f32 = 0.01;

#[derive(Debug)]
pub struct Extract;

/// One garment found: where, what it probably is, and its alpha over the whole photo.
struct Item {
    region: &'static str,
    category: String,
    alpha: Plane,
}

/// A garment category named in the product's name or description, longest key first
/// (so "t-shirt" wins over "shirt").
pub fn named_category(text: &str) -> Option<&'static str> {
    let text = text.to_lowercase();
    let mut keys = garments::keys();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    keys.into_iter().find(|k| text.contains(k))
}

impl Workflow for Extract {
    type Request = ExtractRequest;
    const CLASS: OpClass = OpClass::Edit;
    const PRICE: i64 = 1;
    const STAGES: &'static [Stage] = &[Stage::Decode, Stage::Matte, Stage::Pose, Stage::Regions, Stage::Cutouts];
    const ONE_PHOTO: Option<super::OnePhoto> =
        Some(super::OnePhoto { input: "trial_image", body: "{}", label: "Extract garments" });

    fn structure(r: &ExtractRequest) -> Vec<FieldError> {
        match r.extraction_context.as_ref().and_then(|c| c.max_items) {
            Some(max) if !(1..=10).contains(&max) => {
                vec![FieldError::new("body", "extraction_context.max_items", "must be between 1 and 10", "range")]
            }
            _ => Vec::new(),
        }
    }

    fn references(r: &ExtractRequest) -> Vec<Reference> {
        vec![Reference::upload("trial_image", &r.trial_image)]
    }

    fn run(ctx: &mut JobContext, r: ExtractRequest) -> Result<Output, JobError> {
        let context = r.extraction_context.clone().unwrap_or_default();
        let max_items = context.max_items.unwrap_or(4).clamp(1, 10) as usize;
        let hint =
            format!("{} {}", context.product_name.unwrap_or_default(), context.product_description.unwrap_or_default());
        let named = named_category(&hint);

        ctx.stage(Stage::Decode, "reading the photo")?;
        let photo = working_copy(ctx.read_image(&r.trial_image)?);
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let _memory = ctx.reserve_memory((w * h) as u64 * VISION_BYTES_PER_PIXEL)?;

        let matte_model =
            ctx.stage_with_model(Stage::Matte, ModelKind::PersonMatte, "looking for a person", json!({}))?;
        let seg = segment(&photo, &ModelSegmenter(matte_model.clone()))?;
        let mut check = || ctx.checkpoint();
        let matte = refine(&photo, &seg, &mut check)?;
        let on_model = matte.coverage >= PERSON_SHARE;

        let mut found: Vec<Item> = Vec::new();
        if on_model {
            let doing = format!("{}finding the body's landmarks", person::largest_of(matte.people));
            let pose_model =
                ctx.stage_with_model(Stage::Pose, ModelKind::Pose, &doing, json!({ "people": matte.people }))?;
            let landmarks = person::landmarks(&*pose_model, &photo, &matte.alpha)?;
            let full_body = matches!(named, Some("dress" | "jumpsuit"));
            for (region, top, bottom) in bands(&landmarks, h as f32, full_body) {
                let category = match (named, region) {
                    (Some(n), _) if garments::by_key(n).is_some_and(|c| region_fits(region, c.region)) => n.to_string(),
                    _ => region.category_guess().to_string(),
                };
                found.push(Item {
                    region: region.name(),
                    category,
                    alpha: cut(&matte.alpha, top, bottom, 0.02 * h as f32),
                });
            }
            if found.is_empty() {
                // The body's landmarks are not visible enough to split it: the whole outfit is one item.
                found.push(Item {
                    region: "outfit",
                    category: named.unwrap_or("outfit").into(),
                    alpha: matte.alpha.clone(),
                });
            }
        } else {
            let learned = subject::product_matte(ctx)?;
            ctx.stage_with(
                Stage::Pose,
                format!("nobody in the photo: a product shot, {}", subject::describe(&learned)),
                Vec::new(),
                json!({ "model": learned.as_ref().map(|m| m.kind.id()) }),
            )?;
            let alpha = subject::product_alpha(&photo, &learned)?.ok_or_else(|| {
                FailureCode::NoSubjectFound
                    .with("no person, and no product on a plain background, was found in the photo")
            })?;
            for (i, item) in product::items(&alpha, ITEM_SHARE).into_iter().enumerate() {
                let category = if i == 0 { named.unwrap_or("unknown").to_string() } else { "unknown".to_string() };
                found.push(Item { region: "product", category, alpha: item.alpha });
            }
        }
        found.retain(|item| item.alpha.data.iter().filter(|a| **a > 0.5).count() as f32 >= ITEM_SHARE * (w * h) as f32);
        found.truncate(max_items);
        if found.is_empty() {
            return Err(FailureCode::NoSubjectFound.with("no garment large enough to extract was found in the photo"));
        }
        let names: Vec<String> = found.iter().map(|i| format!("{} ({})", i.region, i.category)).collect();
        ctx.stage(Stage::Regions, format!("{} item(s): {}", found.len(), names.join(", ")))?;

        ctx.stage(Stage::Cutouts, "cutting out each item")?;
        let mut finals = Vec::new();
        let mut listed = Vec::new();
        for item in &found {
            ctx.checkpoint()?;
            let Some(image) = composite::tight_cutout(&photo, &item.alpha) else { continue };
            let label = format!("{} · {} (guess)", item.region, item.category);
            finals.push(ctx.save_png(
                &DynamicImage::ImageRgba8(image),
                "garment_cutout",
                ArtifactRole::Final,
                label,
            )?);
            listed.push(json!({ "region": item.region, "category_guess": item.category }));
        }
        let category = found.first().map(|i| i.category.clone()).filter(|c| garments::by_key(c).is_some());
        let mut extra = serde_json::Map::new();
        extra.insert("items".into(), json!(listed));
        extra.insert("on_model".into(), json!(on_model));
        Ok(Output { finals, filing: Filing::Render { origin: RenderOrigin::Edit, category }, extra })
    }
}

/// Whether a named category belongs in a region (a named "jeans" labels the lower region, not the upper).
fn region_fits(region: Region, category: garments::Region) -> bool {
    use garments::Region as G;
    matches!(
        (region, category),
        (Region::Upper, G::Upper | G::Outer)
            | (Region::Lower, G::Lower)
            | (Region::Full, G::Full)
            | (Region::Feet, G::Feet)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_name_names_the_category_longest_first() {
        assert_eq!(named_category("Organic cotton T-shirt, boxy"), Some("t-shirt"));
        assert_eq!(named_category("Slim selvedge JEANS"), Some("jeans"));
        assert_eq!(named_category("Silk slip dress"), Some("dress"));
        assert_eq!(named_category("Look 12"), None);
        assert!(region_fits(Region::Lower, garments::by_key("jeans").unwrap().region));
        assert!(!region_fits(Region::Upper, garments::by_key("jeans").unwrap().region));
    }
}
