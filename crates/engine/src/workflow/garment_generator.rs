//! `complementary-garment-generator`: a technical flat of a garment category in a colour,
//! pattern and material, shaped by `fit` and `length`, on a transparent canvas (5:6, the
//! resolution is its height), filed as a catalog complementary garment. Same spec and seed →
//! identical bytes. The generator is `figur-technical-flat-1`; `image_model` is the slot where
//! a learned garment generator would be named.

use serde_json::json;

use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::domain::catalog::CatalogResource;
use crate::domain::garments;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{generator_problems, ComplementaryGarmentGeneratorRequest, Reference};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::workflow::background_generator::text_problem;
use figur_pixels::color;
use figur_pixels::render::flats::shape::{Cut, CANVAS_H};
use figur_pixels::render::flats::{self, FlatSpec};
use figur_pixels::render::wording::{self, DrawnAs};

pub const MODEL_ID: &str = "figur-technical-flat-1";

#[derive(Debug)]
pub struct GarmentGenerator;

/// Checks a flat's fields: the category must have a flat, the colour must name a colour;
/// pattern, material, length and fit are free text, drawn as the nearest the renderer knows
/// ([`read_flat`]).
pub fn validate_flat(
    category_id: &str,
    colour: &str,
    pattern: &str,
    material: &str,
    length: Option<&str>,
    fit: Option<&str>,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if let Some(c) = garments::by_id(category_id) {
        if flats::shape::flat(c.key, Cut::new(None, None)).is_none() {
            problems.push(FieldError::new(
                "body",
                "garment_category_public_id",
                format!("{} has no technical flat (shoes and accessories are photographed, not drawn)", c.key),
                "unsupported",
            ));
        }
    }
    match text_problem("color", colour) {
        Some(problem) => problems.push(problem),
        None if wording::colour(colour).is_none() => problems.push(FieldError::new(
            "body",
            "color",
            format!("`{colour}` names no colour (e.g. navy, sage, midnight blue, #1F2A44)"),
            "vocabulary",
        )),
        None => {}
    }
    let optional = [("length", length), ("fit", fit)];
    for (field, text) in [("pattern", Some(pattern)), ("material", Some(material))].into_iter().chain(optional) {
        problems.extend(text.and_then(|t| text_problem(field, t)));
    }
    problems
}

/// What a flat request's text draws, with notes where that is not what was asked.
struct ReadFlat {
    colour: color::Rgb,
    pattern: &'static str,
    material: &'static str,
    length: &'static str,
    fit: &'static str,
    drawn_as: DrawnAs,
}

fn read_flat(r: &ComplementaryGarmentGeneratorRequest) -> Result<ReadFlat, JobError> {
    let colour = wording::colour(&r.color).ok_or_else(|| JobError::internal("the colour was validated"))?;
    let mut drawn_as = DrawnAs::default();
    drawn_as.note("color", &r.color, color::to_hex(colour.value), colour.exact);
    let pattern = wording::pattern(&r.pattern);
    drawn_as.note("pattern", &r.pattern, pattern.value, pattern.exact);
    let material = wording::material(&r.material);
    drawn_as.note("material", &r.material, material.value, material.exact);
    let regular = wording::Drawn { value: "regular", exact: true };
    let length = r.length.as_deref().map(wording::length).unwrap_or(regular);
    drawn_as.note("length", r.length.as_deref().unwrap_or(""), length.value, length.exact);
    let fit = r.fit.as_deref().map(wording::fit).unwrap_or(regular);
    drawn_as.note("fit", r.fit.as_deref().unwrap_or(""), fit.value, fit.exact);
    Ok(ReadFlat {
        colour: colour.value,
        pattern: pattern.value,
        material: material.value,
        length: length.value,
        fit: fit.value,
        drawn_as,
    })
}

impl Workflow for GarmentGenerator {
    type Request = ComplementaryGarmentGeneratorRequest;
    const CLASS: OpClass = OpClass::Generator;
    const PRICE: i64 = 5;
    const STAGES: &'static [Stage] = &[Stage::Cut, Stage::Fabric, Stage::Finish, Stage::Catalog];

    fn structure(r: &ComplementaryGarmentGeneratorRequest) -> Vec<FieldError> {
        let mut problems = Vec::new();
        generator_problems(&r.aspect_ratio, &r.display_name, &mut problems);
        problems
    }

    fn references(r: &ComplementaryGarmentGeneratorRequest) -> Vec<Reference> {
        vec![Reference::GarmentCategoryId {
            path: "garment_category_public_id".into(),
            id: r.garment_category_public_id.clone(),
        }]
    }

    fn vocabulary(r: &ComplementaryGarmentGeneratorRequest) -> Vec<FieldError> {
        let mut problems = validate_flat(
            &r.garment_category_public_id,
            &r.color,
            &r.pattern,
            &r.material,
            r.length.as_deref(),
            r.fit.as_deref(),
        );
        problems.extend(super::image_model_problem(r.image_model.as_deref(), MODEL_ID));
        problems
    }

    fn run(ctx: &mut JobContext, r: ComplementaryGarmentGeneratorRequest) -> Result<Output, JobError> {
        let category = garments::by_id(&r.garment_category_public_id)
            .ok_or_else(|| JobError::internal("the category was validated at dispatch"))?;
        let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
        let read = read_flat(&r)?;
        let colour = read.colour;
        let height = r.resolution.unwrap_or_default().long_side();
        let width = (height as f32 / CANVAS_H).round() as u32;
        let fit = read.fit;
        let cut = Cut::new(Some(fit), Some(read.length));
        let note = read.drawn_as.suffix();
        ctx.stage_with(
            Stage::Cut,
            format!("{fit} {} template, length {}{note}", category.key, read.length),
            Vec::new(),
            json!({ "drawn_as": read.drawn_as }),
        )?;
        ctx.stage(
            Stage::Fabric,
            format!("{} {} in {} ({})", read.pattern.replace('_', " "), read.material, r.color, color::to_hex(colour)),
        )?;
        let spec = FlatSpec {
            key: category.key,
            color: colour,
            pattern: read.pattern,
            material: read.material,
            cut,
            seed: seed as u32 ^ (seed >> 32) as u32,
            width,
        };
        let image = flats::render(&spec).ok_or_else(|| JobError::internal("the category has no template"))?;
        ctx.stage(Stage::Finish, "seams, stitching, shade and shadow drawn; encoding")?;
        let label = format!(
            "{} {} {} {}",
            r.color,
            read.pattern.replace('_', " "),
            read.material,
            category.display_name.to_lowercase()
        );
        let flat =
            ctx.save_png(&image::DynamicImage::ImageRgba8(image), "catalog_image", ArtifactRole::Final, &label)?;
        ctx.stage(Stage::Catalog, "filing the garment in the catalog")?;
        let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
        let mut spec = serde_json::to_value(r).unwrap_or_default();
        spec["category_key"] = json!(category.key);
        spec["color_hex"] = json!(color::to_hex(colour));
        spec["seed"] = json!(seed);
        let description = format!("Technical flat: {label}, {fit} fit, {width}×{height}, seed {seed}");
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), json!(seed));
        extra.insert("width".into(), json!(width));
        extra.insert("height".into(), json!(height));
        extra.insert("color_hex".into(), json!(color::to_hex(colour)));
        extra.insert("provenance".into(), json!({ "generator": MODEL_ID, "drawn_as": read.drawn_as }));
        Ok(Output {
            finals: vec![flat],
            filing: Filing::Catalog {
                resource: CatalogResource::ComplementaryGarments,
                display_name,
                description,
                spec,
            },
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_is_checked_field_by_field() {
        let shoes = garments::by_key("shoes").unwrap().public_id;
        let tee = garments::by_key("t-shirt").unwrap().public_id;
        let fields =
            |p: Vec<FieldError>| p.iter().map(|e| serde_json::to_value(&e.loc).unwrap()[1].clone()).collect::<Vec<_>>();
        assert_eq!(
            fields(validate_flat(shoes, "banana vibes", "", "vinyl", Some(""), Some("oversized"))),
            [json!("garment_category_public_id"), json!("color"), json!("pattern"), json!("length")]
        );
        assert!(validate_flat(tee, "#1F2A44", "polka_dots", "knit", Some("cropped"), None).is_empty());
        assert!(
            validate_flat(tee, "dusty rose", "breton stripe", "cashmere", Some("ankle"), Some("relaxed")).is_empty()
        );
    }
}
