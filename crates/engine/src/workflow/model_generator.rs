//! `model-generator`: a parametric fashion figure (an illustration, not a photo; see
//! [`figur_pixels::render::figure`]) filed as a catalog model. Its spec records the generator and the
//! figure's 33 landmarks, so fitting garments to it needs no pose model. The generator is
//! `figur-croquis-1`; `image_model` is the slot for a photoreal generator.

use serde_json::json;

use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::domain::catalog::CatalogResource;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{generator_problems, ModelGeneratorRequest, Reference, UserCategory};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::workflow::background_generator::text_problem;
use figur_pixels::render::figure::{self, FigureSpec, MONK_TONES};
use figur_pixels::render::wording::{self, Drawn, DrawnAs};

pub const MODEL_ID: &str = "figur-croquis-1";

#[derive(Debug)]
pub struct ModelGenerator;

/// The figure a model-generator spec describes (also used to redraw a catalog figure): its
/// free-text body type and age range read as [`wording`] reads them.
pub fn figure_for(
    gender: UserCategory,
    body_type: &str,
    age_range: &str,
    ethnicity: &str,
    seed: u64,
    height: u32,
) -> figure::Figure {
    let (body_type, age_range) = read(body_type, age_range);
    figure::draw(&FigureSpec {
        female: gender == UserCategory::Female,
        body_type: body_type.value,
        age_range: age_range.value,
        ethnicity,
        seed,
        height,
    })
}

/// The body type and age range a request's text draws (an under-age range, refused at
/// dispatch, reads as the default).
fn read(body_type: &str, age_range: &str) -> (Drawn<&'static str>, Drawn<&'static str>) {
    let age = wording::age_range(age_range).unwrap_or(Drawn { value: "26-35", exact: false });
    (wording::body_type(body_type), age)
}

impl Workflow for ModelGenerator {
    type Request = ModelGeneratorRequest;
    const CLASS: OpClass = OpClass::Generator;
    const PRICE: i64 = 5;
    /// A diffusion model denoises (and its picture is checked with the pose model); the
    /// croquis generator draws a figure instead.
    const STAGES: &'static [Stage] =
        &[Stage::Denoise, Stage::Pose, Stage::Upscale, Stage::Figure, Stage::Finish, Stage::Catalog];

    fn structure(r: &ModelGeneratorRequest) -> Vec<FieldError> {
        let mut problems = super::upscale::config_problems(r.runtime_config.as_ref());
        generator_problems(&r.aspect_ratio, &r.display_name, &mut problems);
        problems
    }

    /// No `image_model`: the studio's default for this generator, if one is set.
    fn defaults(r: &mut Self::Request, defaults: &dyn Fn() -> crate::settings::ModelDefaults) {
        if r.image_model.is_none() {
            r.image_model = defaults().get(crate::settings::ModelUse::ModelGenerator).map(str::to_string);
        }
    }

    fn references(r: &ModelGeneratorRequest) -> Vec<Reference> {
        super::image_model_reference(r.image_model.as_deref(), MODEL_ID)
    }

    fn vocabulary(r: &ModelGeneratorRequest) -> Vec<FieldError> {
        let mut problems: Vec<FieldError> = [("body_type", &r.body_type), ("age_range", &r.age_range)]
            .into_iter()
            .filter_map(|(field, text)| text_problem(field, text))
            .collect();
        if problems.iter().all(|p| p.loc[1] != "age_range") {
            if let Err(why) = wording::age_range(&r.age_range) {
                // Adults only (a policy), or words that name no age (a vocabulary).
                let kind = if why == wording::UNDER_AGE { "policy" } else { "vocabulary" };
                problems.push(FieldError::new("body", "age_range", why, kind));
            }
        }
        if r.ethnicity.chars().count() > 64 {
            problems.push(FieldError::new("body", "ethnicity", "at most 64 characters", "too_long"));
        }
        problems
    }

    fn run(ctx: &mut JobContext, r: ModelGeneratorRequest) -> Result<Output, JobError> {
        let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
        let height = r.resolution.unwrap_or_default().long_side();
        if let Some(model) = r.image_model.as_deref().filter(|m| *m != MODEL_ID) {
            return super::model_photo::run(ctx, &r, model, seed, height);
        }
        let gender = if r.gender == UserCategory::Female { "female" } else { "male" };
        let (body, age) = read(&r.body_type, &r.age_range);
        let mut drawn_as = DrawnAs::default();
        drawn_as.note("body_type", &r.body_type, body.value, body.exact);
        drawn_as.note("age_range", &r.age_range, age.value, age.exact);
        let note = drawn_as.suffix();
        ctx.stage_with(
            Stage::Figure,
            format!("drawing a {gender} {} figure, {}{note}", body.value, age.value),
            Vec::new(),
            json!({ "drawn_as": drawn_as }),
        )?;
        let fig = figure_for(r.gender, &r.body_type, &r.age_range, &r.ethnicity, seed, height);
        ctx.stage(Stage::Finish, format!("skin tone: Monk scale {} ({})", fig.tone, MONK_TONES[fig.tone - 1]))?;
        let label = format!("Figure · {gender}, {}, {}", body.value, age.value);
        let (w, h) = fig.image.dimensions();
        let art =
            ctx.save_png(&image::DynamicImage::ImageRgb8(fig.image), "catalog_image", ArtifactRole::Final, &label)?;
        ctx.stage(Stage::Catalog, "filing the figure in the catalog's models")?;
        let mut spec = serde_json::to_value(&r).unwrap_or_default();
        spec["generator"] = json!(MODEL_ID);
        spec["seed"] = json!(seed);
        spec["skin_tone"] = json!({ "scale": "Monk Skin Tone", "index": fig.tone, "hex": MONK_TONES[fig.tone - 1] });
        spec["landmarks"] = json!(fig.landmarks.iter().map(|l| [l.x.round(), l.y.round()]).collect::<Vec<_>>());
        let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
        let description = format!(
            "An illustration figure (not a photo): {gender}, {}, {}, {w}×{h}, seed {seed}",
            body.value, age.value
        );
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), json!(seed));
        extra.insert("skin_tone_index".into(), json!(fig.tone));
        extra.insert("provenance".into(), json!({ "generator": MODEL_ID, "drawn_as": drawn_as }));
        Ok(Output {
            finals: vec![art],
            filing: Filing::Catalog { resource: CatalogResource::Models, display_name, description, spec },
            extra,
        })
    }
}
