//! `complementary-garment-generator`: a technical flat of a garment category in a colour,
//! pattern and material, shaped by `fit` and `length`, on a transparent canvas (5:6, the
//! resolution is its height), filed as a catalog complementary garment. Same spec and seed →
//! identical bytes. The generator is `figur-technical-flat-1`; `image_model` is the slot where
//! a learned garment generator would be named.

use serde_json::json;

use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::domain::garments;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{generator_problems, ComplementaryGarmentGeneratorRequest, Fit, Reference};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::render::color;
use crate::render::flats::fabric::{MATERIALS, PATTERNS};
use crate::render::flats::shape::{Cut, CANVAS_H, LENGTH_WORDS};
use crate::render::flats::{self, FlatSpec};

pub const MODEL_ID: &str = "figur-technical-flat-1";

#[derive(Debug)]
pub struct GarmentGenerator;

fn fit_word(fit: Option<Fit>) -> &'static str {
    match fit {
        Some(Fit::Slim) => "slim",
        Some(Fit::Loose) => "loose",
        _ => "regular",
    }
}

/// The flat vocabulary, shared with `look` (which draws flats for catalog garments).
pub fn validate_flat(
    category_id: &str,
    colour: &str,
    pattern: &str,
    material: &str,
    length: Option<&str>,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    let enum_err = |field: &str, value: &str, list: &[&str]| {
        FieldError::new("body", field, format!("unknown {field} `{value}`; one of {}", list.join(", ")), "enum")
    };
    if let Some(c) = garments::by_id(category_id) {
        if flats::shape::flat(c.key, Cut::new(None, None)).is_none() {
            problems.push(FieldError::new(
                "body",
                "garment_category_public_id",
                format!("{} has no technical flat (shoes and accessories are photographed, not drawn)", c.key),
                "value_error",
            ));
        }
    }
    if color::parse(colour).is_none() {
        problems.push(FieldError::new(
            "body",
            "color",
            format!("`{colour}` is neither a colour name (e.g. navy, sage, camel) nor #RRGGBB"),
            "value_error",
        ));
    }
    if !PATTERNS.contains(&pattern) {
        problems.push(enum_err("pattern", pattern, &PATTERNS));
    }
    if !MATERIALS.contains(&material) {
        problems.push(enum_err("material", material, &MATERIALS));
    }
    if let Some(l) = length.filter(|l| !LENGTH_WORDS.contains(l)) {
        problems.push(enum_err("length", l, &LENGTH_WORDS));
    }
    problems
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
        let mut problems =
            validate_flat(&r.garment_category_public_id, &r.color, &r.pattern, &r.material, r.length.as_deref());
        problems.extend(super::image_model_problem(r.image_model.as_deref(), MODEL_ID));
        problems
    }

    fn run(ctx: &mut JobContext, r: ComplementaryGarmentGeneratorRequest) -> Result<Output, JobError> {
        let category = garments::by_id(&r.garment_category_public_id)
            .ok_or_else(|| JobError::internal("the category was validated at dispatch"))?;
        let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
        let colour = color::parse(&r.color).ok_or_else(|| JobError::internal("the colour was validated"))?;
        let height = r.resolution.unwrap_or_default().long_side();
        let width = (height as f32 / CANVAS_H).round() as u32;
        let fit = fit_word(r.fit);
        let cut = Cut::new(Some(fit), r.length.as_deref());
        ctx.stage(
            Stage::Cut,
            format!("{fit} {} template, length {}", category.key, r.length.as_deref().unwrap_or("regular")),
        )?;
        ctx.stage(
            Stage::Fabric,
            format!("{} {} in {} ({})", r.pattern.replace('_', " "), r.material, r.color, color::to_hex(colour)),
        )?;
        let spec = FlatSpec {
            key: category.key,
            color: colour,
            pattern: &r.pattern,
            material: &r.material,
            cut,
            seed: seed as u32 ^ (seed >> 32) as u32,
            width,
        };
        let image = flats::render(&spec).ok_or_else(|| JobError::internal("the category has no template"))?;
        ctx.stage(Stage::Finish, "seams, stitching, shade and shadow drawn; encoding")?;
        let label = format!(
            "{} {} {} {}",
            r.color,
            r.pattern.replace('_', " "),
            r.material,
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
        extra.insert("provenance".into(), json!({ "generator": MODEL_ID }));
        Ok(Output {
            finals: vec![flat],
            filing: Filing::Catalog { resource: "complementary-garments", display_name, description, spec },
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
            fields(validate_flat(shoes, "moss-ish", "paisley", "vinyl", Some("ankle"))),
            [json!("garment_category_public_id"), json!("color"), json!("pattern"), json!("material"), json!("length")]
        );
        assert!(validate_flat(tee, "#1F2A44", "polka_dots", "knit", Some("cropped")).is_empty());
    }
}
