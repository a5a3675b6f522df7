//! `try-on`: a person photo wearing one or more garments. Stages: decode → person (matte) →
//! pose → face → garments (each cut out, its landmarks found) → fit (each warped onto the body,
//! an intermediate artifact each) → finish. Filed as a render, `origin: compose`.
//!
//! The same pipeline, as [`Session`], serves product-to-model (the person is a catalog model)
//! and model-swap (the garments come off another photo).

use image::{DynamicImage, RgbImage, RgbaImage};
use serde_json::{json, Value};

use super::models::ModelKind;
use super::person::{self, Analysis};
use super::refine;
use super::try_on_model;
use super::wear::{self, Garment};
use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::RenderOrigin;
use crate::domain::garments::GarmentCategory;
use crate::domain::job::{ArtifactRole, StoredArtifact};
use crate::domain::operation::OpClass;
use crate::domain::requests::{items_problems, items_references, Reference, Resolution, TryOnRequest};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::settings::ModelDefaults;
use figur_pixels::plane::Plane;
use figur_pixels::vision::decode::working_copy;
use figur_pixels::vision::pose::Landmark;
use figur_pixels::vision::{decode, overlay};

/// A drawn figure's lines are not folds: garments take little of its shading.
pub const FIGURE_SHADING: f32 = 0.15;

/// One dressing run: the person analysed, then garments fitted. Each step reports its stage.
pub struct Session {
    /// Save the pose overlay and the warped garments as intermediate artifacts.
    pub intermediates: bool,
    /// Artifacts made during a stage, attached to the next stage's event.
    pub pending: Vec<StoredArtifact>,
    /// How much of the body picture's light the garments take (1 for photos, low for figures).
    pub shading: f32,
    /// Each fitted garment's category and warped layer (what refinement repaints).
    pub worn: Vec<(&'static GarmentCategory, RgbaImage)>,
    /// What refinement recorded, for the output's `extra.provenance.refine`.
    pub refined: Option<serde_json::Map<String, Value>>,
    /// What the try-on model recorded, for the output's `extra.provenance.try_on`.
    pub tried_on: Option<serde_json::Map<String, Value>>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            intermediates: true,
            pending: Vec::new(),
            shading: 1.0,
            worn: Vec::new(),
            refined: None,
            tried_on: None,
        }
    }
}

impl Session {
    /// The person photo at the output's long side (scaled up or down).
    pub fn at_resolution(photo: RgbImage, resolution: Resolution) -> RgbImage {
        let long = resolution.long_side();
        let s = long as f32 / photo.width().max(photo.height()) as f32;
        if (s - 1.0).abs() < 1e-3 {
            return photo;
        }
        let (w, h) =
            (((photo.width() as f32 * s).round() as u32).max(1), ((photo.height() as f32 * s).round() as u32).max(1));
        figur_pixels::vision::resample::resize(&photo, w, h, image::imageops::FilterType::CatmullRom)
    }

    /// Stages `person`, `pose` and `face`: who is in the photo and where their body is. The pose
    /// overlay is an intermediate artifact of the `face` stage.
    pub fn analyse(&mut self, ctx: &mut JobContext, photo: &RgbImage, what: &str) -> Result<Analysis, JobError> {
        self.analyse_knowing(ctx, photo, what, None)
    }

    /// [`Session::analyse`], with the body's landmarks already known (a generated catalog
    /// model keeps the ones its pose check found): the pose model does not run again.
    pub fn analyse_knowing(
        &mut self,
        ctx: &mut JobContext,
        photo: &RgbImage,
        what: &str,
        known: Option<Vec<Landmark>>,
    ) -> Result<Analysis, JobError> {
        let doing = format!("finding the person in the {what}");
        let matte_model = ctx.stage_with_model(Stage::Person, ModelKind::PersonMatte, &doing, json!({}))?;
        let matte = person::find_person(photo, matte_model, what, &mut || ctx.checkpoint())?;
        let people = person::largest_of(matte.people);
        let landmarks = match known {
            Some(landmarks) => {
                let message = format!("{people}the catalog entry's 33 landmarks, found when it was generated");
                ctx.stage_with(Stage::Pose, message, Vec::new(), json!({ "people": matte.people, "known": true }))?;
                landmarks
            }
            None => {
                let doing = format!("{people}finding the body's landmarks");
                let pose_model =
                    ctx.stage_with_model(Stage::Pose, ModelKind::Pose, &doing, json!({ "people": matte.people }))?;
                person::find_body(&*pose_model, photo, &matte, what)?
            }
        };
        let (detector, mesher) = (ctx.model(ModelKind::FaceDetector)?, ctx.model(ModelKind::FaceMesh)?);
        let (face_id, mesh_id) = (ModelKind::FaceDetector.id(), ModelKind::FaceMesh.id());
        let face = person::find_face(&*detector, &*mesher, photo, &landmarks)?;
        let analysis = Analysis { matte, landmarks, face };
        let found = match &analysis.face {
            Some(f) if f.mesh.is_some() => "face and face mesh found: the face stays untouched",
            Some(_) => "face found (no mesh): its box stays untouched",
            None => "no face visible",
        };
        let mut arts = Vec::new();
        if self.intermediates {
            let mesh = analysis.face.as_ref().and_then(|f| f.mesh.as_ref());
            let drawn = DynamicImage::ImageRgb8(overlay::pose(photo, &analysis.landmarks, mesh));
            arts.push(ctx.save_png(&drawn, "pose_overlay", ArtifactRole::Intermediate, "Pose")?);
        }
        ctx.stage_with(
            Stage::Face,
            format!("{found} ({face_id}, {mesh_id} on {})", detector.provider()),
            arts,
            json!({ "model": mesh_id, "provider": mesher.provider(), "face": analysis.face.is_some() }),
        )?;
        Ok(analysis)
    }

    /// The catalog model's body: analysed like a photo, or, for a drawn figure, known already
    /// (its stages say so).
    pub fn body(
        &mut self,
        ctx: &mut JobContext,
        photo: &RgbImage,
        figure: Option<Analysis>,
        known: Option<Vec<Landmark>>,
    ) -> Result<Analysis, JobError> {
        let Some(figure) = figure else { return self.analyse_knowing(ctx, photo, "catalog model photo", known) };
        self.shading = FIGURE_SHADING;
        ctx.stage(Stage::Person, "a drawn figure: its silhouette is known")?;
        ctx.stage(Stage::Pose, "a drawn figure: its 33 landmarks are known")?;
        let mut arts = Vec::new();
        if self.intermediates {
            let drawn = DynamicImage::ImageRgb8(overlay::pose(photo, &figure.landmarks, None));
            arts.push(ctx.save_png(&drawn, "pose_overlay", ArtifactRole::Intermediate, "Pose")?);
        }
        ctx.stage_with(Stage::Face, "a drawn figure: no face to protect beyond its head", arts, json!({}))?;
        Ok(figure)
    }

    /// Stage `garments`: each garment photo becomes a cutout with landmarks.
    pub fn garments(
        &mut self,
        ctx: &mut JobContext,
        photos: Vec<(GarmentPhoto, &'static GarmentCategory)>,
    ) -> Result<Vec<Garment>, JobError> {
        let keys: Vec<&str> = photos.iter().map(|(_, c)| c.key).collect();
        ctx.stage(Stage::Garments, format!("cutting out {} and finding their landmarks", keys.join(", ")))?;
        let mut out = Vec::new();
        for (photo, category) in photos {
            out.push(wear::prepare(ctx, &photo.image, photo.alpha.as_ref(), category)?);
        }
        Ok(out)
    }

    /// Stage `fit`: the garments warped onto the person in wardrobe order; each warped layer is
    /// an intermediate artifact. Returns the dressed photo.
    pub fn fit(
        &mut self,
        ctx: &mut JobContext,
        photo: &RgbImage,
        person: &Analysis,
        mut garments: Vec<Garment>,
        tuck: bool,
    ) -> Result<RgbImage, JobError> {
        wear::order(&mut garments, tuck);
        let how: Vec<String> = garments
            .iter()
            .map(|g| {
                let from = match g.shape {
                    wear::Shape::Product(..) => "silhouette landmarks",
                    wear::Shape::OnModel(_) => "its wearer's pose",
                    wear::Shape::Placed { .. } => "placed",
                };
                format!("{} ({from})", g.category.key)
            })
            .collect();
        ctx.stage(Stage::Fit, format!("fitting {} to the body{}", how.join(", "), if tuck { ", tucked" } else { "" }))?;
        let mut check = || ctx.checkpoint();
        let (dressed, layers) = wear::dress(photo, person, &garments, self.shading, &mut check)?;
        for (g, layer) in garments.iter().zip(layers) {
            if self.intermediates {
                let art = ctx.save_png(
                    &DynamicImage::ImageRgba8(figur_pixels::vision::board::crop_to_content(&layer)),
                    "garment_cutout",
                    ArtifactRole::Intermediate,
                    format!("Warped {}", g.category.key),
                )?;
                self.pending.push(art);
            }
            self.worn.push((g.category, layer));
        }
        Ok(dressed)
    }

    /// Stages `fit` and `denoise`: the garments on the person. With a try-on model
    /// (`runtime_config.try_on_model`, resolved at dispatch) it draws them (see
    /// [`try_on_model`]); without one they are fitted and, with `runtime_config.refine`,
    /// refined.
    #[allow(clippy::too_many_arguments)]
    pub fn dress(
        &mut self,
        ctx: &mut JobContext,
        photo: &RgbImage,
        person: &Analysis,
        garments: Vec<Garment>,
        tuck: bool,
        config: Option<&serde_json::Map<String, Value>>,
        seed: u64,
    ) -> Result<RgbImage, JobError> {
        let Some(model) = refine::chosen(config, try_on_model::KEY) else {
            let dressed = self.fit(ctx, photo, person, garments, tuck)?;
            let model = refine::chosen(config, "refine");
            return self.refine(ctx, dressed, person, model.as_deref(), seed);
        };
        let (planned, masks) = try_on_model::plan(ctx, photo, person, garments, tuck, self.intermediates)?;
        let mut dressed = photo.clone();
        if planned.has_items() {
            let drawn = try_on_model::draw(ctx, dressed, person, &planned, &model, seed, masks, self.intermediates)?;
            self.pending.extend(drawn.raw);
            self.tried_on = Some(drawn.provenance);
            dressed = drawn.image;
        }
        if planned.rest.is_empty() {
            return Ok(dressed);
        }
        // What the model does not draw (shoes, bags, hats), fitted on its picture.
        let mut check = || ctx.checkpoint();
        let (dressed, layers) = wear::dress(&dressed, person, &planned.rest, self.shading, &mut check)?;
        for (g, layer) in planned.rest.iter().zip(layers) {
            self.worn.push((g.category, layer));
        }
        Ok(dressed)
    }

    /// Stage `denoise`: the fitted draft refined by the inpainting model `model` (none: the
    /// draft as it is, and the stage is not reported). See [`refine`].
    pub fn refine(
        &mut self,
        ctx: &mut JobContext,
        draft: RgbImage,
        person: &Analysis,
        model: Option<&str>,
        seed: u64,
    ) -> Result<RgbImage, JobError> {
        let Some(model) = model else { return Ok(draft) };
        let attach = std::mem::take(&mut self.pending);
        let refined = refine::run(ctx, draft, person, &self.worn, model, seed, attach, self.intermediates)?;
        self.refined = Some(refined.provenance);
        Ok(refined.image)
    }

    /// The output's `extra.provenance` when refinement or a try-on model ran.
    pub fn provenance(&self, extra: &mut serde_json::Map<String, Value>) {
        let mut provenance = serde_json::Map::new();
        if let Some(refined) = &self.refined {
            provenance.insert("refine".into(), json!(refined));
        }
        if let Some(tried_on) = &self.tried_on {
            provenance.insert("try_on".into(), json!(tried_on));
        }
        if !provenance.is_empty() {
            extra.insert("provenance".into(), Value::Object(provenance));
        }
    }

    pub fn finish(&mut self, ctx: &mut JobContext, dressed: RgbImage, label: &str) -> Result<StoredArtifact, JobError> {
        ctx.stage_with(Stage::Finish, "encoding", std::mem::take(&mut self.pending), json!({}))?;
        ctx.save_png(&DynamicImage::ImageRgb8(dressed), "on_model_render", ArtifactRole::Final, label)
    }
}

/// Reads and decodes a store image as a working copy.
pub fn read_photo(ctx: &mut JobContext, key: &str) -> Result<RgbImage, JobError> {
    Ok(working_copy(ctx.read_image(key)?))
}

/// A garment photo: the picture, and its own alpha when it is a cutout.
pub struct GarmentPhoto {
    pub image: RgbImage,
    pub alpha: Option<Plane>,
}

impl GarmentPhoto {
    pub fn pixels(&self) -> u64 {
        self.image.width() as u64 * self.image.height() as u64
    }
}

/// Reads a garment photo (a working copy), keeping a cutout's alpha at the same size.
pub fn read_garment(ctx: &mut JobContext, key: &str) -> Result<GarmentPhoto, JobError> {
    let bytes = ctx.read_store(key)?;
    // Decoded twice (the picture, then its alpha): both copies' peak, reserved up front.
    let _memory = ctx.reserve_memory(decode::decode_cost(&bytes) * 2)?;
    let image = working_copy(decode::decode(&bytes)?);
    // The cutout's own alpha, at the working copy's size when that was scaled down.
    let alpha = decode::cutout_alpha(&bytes)?.map(|a| a.resized(image.width() as usize, image.height() as usize));
    Ok(GarmentPhoto { image, alpha })
}

#[derive(Debug)]
pub struct TryOn;

impl Workflow for TryOn {
    type Request = TryOnRequest;
    const CLASS: OpClass = OpClass::Compose;
    const PRICE: i64 = 10;
    const STAGES: &'static [Stage] = &[
        Stage::Decode,
        Stage::Person,
        Stage::Pose,
        Stage::Face,
        Stage::Garments,
        Stage::Fit,
        Stage::Denoise,
        Stage::Finish,
    ];

    fn structure(r: &TryOnRequest) -> Vec<FieldError> {
        let mut problems = items_problems(&r.items);
        problems.extend(try_on_model::problems(r.runtime_config.as_ref()));
        problems
    }

    fn defaults(r: &mut TryOnRequest, defaults: &dyn Fn() -> ModelDefaults) {
        try_on_model::with_defaults(&mut r.runtime_config, defaults);
    }

    fn references(r: &TryOnRequest) -> Vec<Reference> {
        let mut refs = vec![Reference::upload("user_image", &r.user_image)];
        refs.extend(items_references(&r.items));
        refs.extend(try_on_model::references(r.runtime_config.as_ref()));
        refs
    }

    fn run(ctx: &mut JobContext, r: TryOnRequest) -> Result<Output, JobError> {
        let resolution = r.render_params.as_ref().and_then(|p| p.resolution).unwrap_or_default();
        let tuck = r.runtime_config.as_ref().and_then(|c| c.get("tuck")).and_then(Value::as_bool).unwrap_or(false);
        ctx.stage(Stage::Decode, format!("reading the person photo and {} garment photo(s)", r.items.len()))?;
        let photo = Session::at_resolution(read_photo(ctx, &r.user_image)?, resolution);
        let garments = r
            .items
            .iter()
            .map(|item| Ok((read_garment(ctx, &item.trial_image)?, wear::category(&item.trial_item_category)?)))
            .collect::<Result<Vec<_>, JobError>>()?;
        let pixels =
            photo.width() as u64 * photo.height() as u64 + garments.iter().map(|(g, _)| g.pixels()).sum::<u64>();
        let _memory = ctx.reserve_memory(pixels * VISION_BYTES_PER_PIXEL)?;

        let mut session = Session::default();
        let person = session.analyse(ctx, &photo, "person photo")?;
        let garments = session.garments(ctx, garments)?;
        let seed = ctx.default_seed();
        let dressed = session.dress(ctx, &photo, &person, garments, tuck, r.runtime_config.as_ref(), seed)?;
        let render = session.finish(ctx, dressed, "Try-on")?;

        let mut extra = serde_json::Map::new();
        extra.insert("people".into(), json!(person.matte.people));
        extra.insert("resolution".into(), json!(resolution));
        extra.insert("tuck".into(), json!(tuck));
        extra.insert("user_category".into(), json!(r.user_category));
        session.provenance(&mut extra);
        let category = r.items.first().map(|i| i.trial_item_category.clone());
        Ok(Output { finals: vec![render], filing: Filing::Render { origin: RenderOrigin::Compose, category }, extra })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::requests::{RenderParams, TryOnItem};
    use crate::workflow::fakes::{self, FakeModels, TestJob};
    use crate::workflow::Operation;

    /// The whole try-on — stages, model calls, fit, render, provenance — with fake models: a
    /// skin-coloured figure wears a navy product-shot T-shirt.
    #[test]
    fn try_on_runs_end_to_end_with_fake_models() {
        let job = TestJob::new(Operation::TryOn);
        let figure = (200.0, 60.0, 400.0, 900.0);
        let person = fakes::person_photo((800, 1024), figure);
        let user_image = job.upload("person.png", &person);
        let trial_image = job.upload("shirt.png", &fakes::product_shot());
        let mut ctx = job.context(Operation::TryOn, FakeModels::default_set());
        let request = TryOnRequest {
            user_image,
            user_category: None,
            items: vec![TryOnItem { trial_image, trial_item_category: "top".into() }],
            runtime_config: None,
            render_params: Some(RenderParams { resolution: Some(Resolution::One) }),
        };
        let output = TryOn::run(&mut ctx, request).unwrap();

        let stages: Vec<String> =
            job.events().iter().filter_map(|e| e.stage.clone()).filter(|s| s != "started").collect();
        let expected: Vec<String> =
            TryOn::STAGES.iter().filter(|s| **s != Stage::Denoise).map(|s| s.as_str().to_string()).collect();
        assert_eq!(stages, expected, "every stage but refinement's (no inpainting model), in order");
        let ran: Vec<&str> = ctx.models_ran().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ran, ["person-matte", "pose-landmarks", "face-detector", "face-mesh"], "ISNet is not installed");

        let render = &output.finals[0];
        let image = image::load_from_memory(&job.realm.store.read(&render.key).unwrap()).unwrap().to_rgb8();
        if let Ok(dir) = std::env::var("FIGUR_TEST_OUTPUT") {
            image.save(format!("{dir}/fake-try-on.png")).unwrap();
        }
        assert_eq!(image.dimensions(), (800, 1024), "1K: the long side is 1024");
        // The chest between the shoulders and the hips is navy now; the paper and the shins are not.
        let navy = |p: &image::Rgb<u8>| p[2] as i32 > p[0] as i32 + 40;
        let at =
            |fx: f32, fy: f32| image.get_pixel((figure.0 + fx * figure.2) as u32, (figure.1 + fy * figure.3) as u32);
        assert!(navy(at(0.5, 0.33)), "the chest wears the shirt: {:?}", at(0.5, 0.33));
        assert!(!navy(at(0.05, 0.95)) && !navy(at(0.59, 0.85)), "the paper and the legs stay");
        assert_eq!(at(0.5, 0.04).0, fakes::SKIN, "the head is untouched");
    }
}
