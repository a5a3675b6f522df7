//! `product-to-model-direct` / `-phased`: a product garment worn by a catalog model (the one
//! named, else the newest active one, named in the result), optionally on a catalog background
//! and framed to `output_preset`. `direct` reports the stages and files only the final image;
//! `phased` runs model pose → garment fit → finish with an intermediate artifact per phase
//! (the pose overlay, the warped garment, the dressed model before framing).
//!
//! `model-swap-with-image` lives here too: the garments of a source photo or render (its upper
//! and lower garments, taken off with their wearer's pose) put on a catalog model.

use image::{DynamicImage, RgbImage};
use serde_json::json;

use super::try_on::{read_garment, read_photo, Session};
use super::try_on_model;
use super::wear;
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::CatalogResource;
use crate::domain::catalog::RenderOrigin;
use crate::domain::garments;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{
    exactly_one_source, source_references, ModelSwapWithImageRequest, OutputPreset, ProductToModelRequest, Reference,
    Resolution, UserCategory,
};
use crate::error::FieldError;
use crate::failure::{FailureCode, JobError};
use crate::settings::ModelDefaults;
use figur_pixels::vision::composite;
use figur_pixels::vision::decode::working_copy;
use figur_pixels::vision::pose::Landmark;

const STAGES: &[Stage] = &[
    Stage::Decode,
    Stage::Person,
    Stage::Pose,
    Stage::Face,
    Stage::Garments,
    Stage::Fit,
    Stage::Denoise,
    Stage::Background,
    Stage::Finish,
];

/// The catalog model to dress: its id, its picture, and for a drawn figure its known body; for
/// a photo a diffusion model drew, the landmarks its pose check found (at the picture's size).
struct CatalogModel {
    id: String,
    photo: RgbImage,
    figure: Option<super::person::Analysis>,
    landmarks: Option<Vec<Landmark>>,
}

/// A generated model's stored landmarks (`[x, y, visibility]` × 33), scaled by `scale`.
fn stored_landmarks(spec: &serde_json::Value, scale: f32) -> Option<Vec<Landmark>> {
    let points = spec["landmarks"].as_array()?;
    let landmarks: Vec<Landmark> = points
        .iter()
        .filter_map(|p| {
            let v = |i: usize| p.get(i).and_then(serde_json::Value::as_f64).map(|v| v as f32);
            Some(Landmark { x: v(0)? * scale, y: v(1)? * scale, visibility: v(2)? })
        })
        .collect();
    (landmarks.len() == 33).then_some(landmarks)
}

fn catalog_model(ctx: &mut JobContext, named: Option<&str>) -> Result<CatalogModel, JobError> {
    let id = match named {
        Some(id) => id.to_string(),
        None => ctx.default_catalog_model()?.map(|(id, _)| id).ok_or_else(|| {
            FailureCode::NoCatalogModel.with(
                "the catalog has no model yet: add an owned model photo with POST /v1/catalog/models \
                 (or `figur catalog add-model`), or draw one with model-generator",
            )
        })?,
    };
    let (spec, key) = ctx.catalog_entry(CatalogResource::Models, &id)?;
    if spec["generator"] == super::model_generator::MODEL_ID {
        // A drawn figure is redrawn at working size: its landmarks are exact, no pose model needed.
        let text = |k: &str| spec[k].as_str().unwrap_or_default().to_string();
        let gender = if spec["gender"] == "MALE" { UserCategory::Male } else { UserCategory::Female };
        let fig = super::model_generator::figure_for(
            gender,
            &text("body_type"),
            &text("age_range"),
            &text("ethnicity"),
            spec["seed"].as_u64().unwrap_or(0),
            Resolution::Two.long_side(),
        );
        let coverage = fig.alpha.data.iter().filter(|a| **a > 0.5).count() as f32 / fig.alpha.data.len() as f32;
        let figure = super::person::Analysis {
            matte: figur_pixels::vision::matte::Matte { alpha: fig.alpha, people: 1, coverage },
            landmarks: fig.landmarks,
            face: None,
        };
        return Ok(CatalogModel { id, photo: fig.image, figure: Some(figure), landmarks: None });
    }
    let filed = read_photo(ctx, &key)?;
    let long = filed.width().max(filed.height()) as f32;
    let photo = Session::at_resolution(filed, Resolution::Two);
    let landmarks = stored_landmarks(&spec, photo.width().max(photo.height()) as f32 / long.max(1.0));
    Ok(CatalogModel { id, photo, figure: None, landmarks })
}

/// Stage `background`: the dressed model on a catalog background (or its own), framed to the
/// preset. `preview`: save the dressed model before framing as an intermediate.
fn frame(
    ctx: &mut JobContext,
    session: &mut Session,
    dressed: RgbImage,
    person: &super::person::Analysis,
    background: Option<&str>,
    preset: OutputPreset,
    preview: bool,
) -> Result<RgbImage, JobError> {
    let mut arts = std::mem::take(&mut session.pending);
    if preview {
        let image = DynamicImage::ImageRgb8(dressed.clone());
        arts.push(ctx.save_png(&image, "on_model_render", ArtifactRole::Intermediate, "Dressed, before framing")?);
    }
    let size = dressed.dimensions();
    let target = preset.size(size);
    let Some(id) = background else {
        ctx.stage_with(
            Stage::Background,
            format!("keeping the model photo's background, framed {}×{}", target.0, target.1),
            arts,
            json!({}),
        )?;
        return Ok(if target == size { dressed } else { composite::cover(&dressed, target.0, target.1) });
    };
    ctx.stage_with(
        Stage::Background,
        format!("placing the model on background {id} at {}×{}", target.0, target.1),
        arts,
        json!({}),
    )?;
    let key = ctx.catalog_image_key(CatalogResource::Backgrounds, id)?;
    let backdrop = composite::cover(&ctx.read_image(&key)?, target.0, target.1);
    let boxed = composite::subject_box(&person.matte.alpha)
        .ok_or_else(|| FailureCode::NoSubjectFound.with("the model's matte is empty"))?;
    let at = composite::place(boxed, size, target, preset == OutputPreset::Original);
    Ok(composite::composite(&dressed, &person.matte.alpha, &backdrop, at, 0.35))
}

/// `product-to-model-direct` (`PHASED = false`): the product dressed on the model in one pass;
/// `product-to-model-phased`: the same, each phase's picture kept as an intermediate.
#[derive(Debug)]
pub struct ProductToModel<const PHASED: bool>;

pub type Direct = ProductToModel<false>;
pub type Phased = ProductToModel<true>;

fn product_references(r: &ProductToModelRequest) -> Vec<Reference> {
    let mut refs = vec![
        Reference::upload("product_image_s3_key", &r.product_image_s3_key),
        Reference::GarmentCategoryId {
            path: "product_garment_category_public_id".into(),
            id: r.product_garment_category_public_id.clone(),
        },
    ];
    if let Some(id) = &r.model_image_public_id {
        refs.push(Reference::catalog("model_image_public_id", CatalogResource::Models, id));
    }
    if let Some(id) = &r.background_image_public_id {
        refs.push(Reference::catalog("background_image_public_id", CatalogResource::Backgrounds, id));
    }
    refs
}

impl<const PHASED: bool> Workflow for ProductToModel<PHASED> {
    type Request = ProductToModelRequest;
    const CLASS: OpClass = OpClass::Compose;
    const PRICE: i64 = 10;
    const STAGES: &'static [Stage] = STAGES;

    fn structure(r: &ProductToModelRequest) -> Vec<FieldError> {
        try_on_model::problems(r.runtime_config.as_ref())
    }

    fn defaults(r: &mut ProductToModelRequest, defaults: &dyn Fn() -> ModelDefaults) {
        try_on_model::with_defaults(&mut r.runtime_config, defaults);
    }

    fn references(r: &ProductToModelRequest) -> Vec<Reference> {
        let mut refs = product_references(r);
        refs.extend(try_on_model::references(r.runtime_config.as_ref()));
        refs
    }

    fn run(ctx: &mut JobContext, r: ProductToModelRequest) -> Result<Output, JobError> {
        dress_product(ctx, r, PHASED)
    }
}

/// Both product-to-model workflows; `phased` keeps each phase's picture.
fn dress_product(ctx: &mut JobContext, r: ProductToModelRequest, phased: bool) -> Result<Output, JobError> {
    let category = garments::by_id(&r.product_garment_category_public_id)
        .ok_or_else(|| JobError::internal("the category was validated at dispatch"))?;
    ctx.stage(Stage::Decode, "reading the catalog model and the product photo")?;
    let model = catalog_model(ctx, r.model_image_public_id.as_deref())?;
    let (model_id, photo) = (model.id.clone(), model.photo.clone());
    let product = read_garment(ctx, &r.product_image_s3_key)?;
    let pixels = photo.width() as u64 * photo.height() as u64 + product.pixels();
    let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL)?;

    let mut session = Session { intermediates: phased, ..Session::default() };
    let person = session.body(ctx, &photo, model.figure, model.landmarks)?;
    let garments = session.garments(ctx, vec![(product, category)])?;
    let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
    let dressed = session.dress(ctx, &photo, &person, garments, false, r.runtime_config.as_ref(), seed)?;
    let preset = r.output_preset.unwrap_or(OutputPreset::Original);
    let framed = frame(ctx, &mut session, dressed, &person, r.background_image_public_id.as_deref(), preset, phased)?;
    let render = session.finish(ctx, framed, &format!("{} on model", category.display_name))?;

    let mut extra = serde_json::Map::new();
    extra.insert("model_image_public_id".into(), json!(model_id));
    session.provenance(&mut extra);
    Ok(Output {
        finals: vec![render],
        filing: Filing::Render { origin: RenderOrigin::Compose, category: Some(category.key.to_string()) },
        extra,
    })
}

#[derive(Debug)]
pub struct ModelSwap;

impl Workflow for ModelSwap {
    type Request = ModelSwapWithImageRequest;
    const CLASS: OpClass = OpClass::Edit;
    const PRICE: i64 = 5;
    const STAGES: &'static [Stage] = STAGES;

    fn structure(r: &Self::Request) -> Vec<FieldError> {
        let mut problems = exactly_one_source(&r.source_image_s3_key, &r.source_render_public_id);
        problems.extend(try_on_model::problems(r.runtime_config.as_ref()));
        problems
    }

    fn defaults(r: &mut Self::Request, defaults: &dyn Fn() -> ModelDefaults) {
        try_on_model::with_defaults(&mut r.runtime_config, defaults);
    }

    fn references(r: &Self::Request) -> Vec<Reference> {
        let mut refs = source_references(&r.source_image_s3_key, &r.source_render_public_id);
        refs.push(Reference::catalog("model_image_public_id", CatalogResource::Models, &r.model_image_public_id));
        refs.extend(try_on_model::references(r.runtime_config.as_ref()));
        refs
    }

    fn run(ctx: &mut JobContext, r: Self::Request) -> Result<Output, JobError> {
        ctx.stage(Stage::Decode, "reading the source photo and the catalog model")?;
        let key = match (&r.source_image_s3_key, &r.source_render_public_id) {
            (Some(key), _) => key.clone(),
            (None, Some(render)) => ctx.render_image_key(render)?,
            (None, None) => return Err(JobError::internal("no source")),
        };
        let source = working_copy(ctx.read_image(&key)?);
        let model = catalog_model(ctx, Some(&r.model_image_public_id))?;
        let (model_id, photo) = (model.id.clone(), model.photo.clone());
        let pixels = photo.width() as u64 * photo.height() as u64 + 2 * source.width() as u64 * source.height() as u64;
        let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL)?;

        let mut session = Session::default();
        let person = session.body(ctx, &photo, model.figure, model.landmarks)?;
        ctx.stage(Stage::Garments, "taking the upper and lower garments off the source photo")?;
        let mut taken = Vec::new();
        let mut skipped = Vec::new();
        for key in ["top", "pants"] {
            let category = wear::category(key)?;
            match wear::prepare(ctx, &source, None, category) {
                Ok(g) if matches!(g.shape, wear::Shape::OnModel(_)) => taken.push(g),
                Ok(_) => return Err(FailureCode::NoSubjectFound.with("no person wearing garments is in the source")),
                Err(e) if e.code() == Some(FailureCode::CategoryMismatch) => {
                    skipped.push(format!("{key}: {}", e.message()))
                }
                Err(e) => return Err(e),
            }
        }
        if taken.is_empty() {
            return Err(FailureCode::GarmentNotFound
                .with(format!("no garment could be taken off the source ({})", skipped.join("; "))));
        }
        let seed = ctx.default_seed();
        let dressed = session.dress(ctx, &photo, &person, taken, false, r.runtime_config.as_ref(), seed)?;
        let framed = frame(ctx, &mut session, dressed, &person, None, r.output_preset, false)?;
        let render = session.finish(ctx, framed, "Model swap")?;
        let mut extra = serde_json::Map::new();
        extra.insert("model_image_public_id".into(), json!(model_id));
        extra.insert("skipped".into(), json!(skipped));
        session.provenance(&mut extra);
        Ok(Output {
            finals: vec![render],
            filing: Filing::Render { origin: RenderOrigin::Edit, category: None },
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_model_s_stored_landmarks_come_back_at_the_working_size() {
        let points: Vec<[f32; 3]> = (0..33).map(|i| [i as f32, 2.0 * i as f32, 0.9]).collect();
        let spec = json!({ "landmarks": points });
        let got = stored_landmarks(&spec, 2.0).unwrap();
        assert_eq!(got[5], Landmark { x: 10.0, y: 20.0, visibility: 0.9 });
        // The older form ([x, y], no visibility) and short lists are not used: the pose model runs.
        assert!(stored_landmarks(&json!({ "landmarks": vec![[1.0, 2.0]; 33] }), 1.0).is_none());
        assert!(stored_landmarks(&json!({ "landmarks": vec![[1.0, 2.0, 1.0]; 32] }), 1.0).is_none());
        assert!(stored_landmarks(&json!({}), 1.0).is_none());
    }
}
