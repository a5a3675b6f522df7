//! Finding the subject when it is not a person: the product matte both `extract` and the
//! background swaps use — ISNet when the user installed it, else the background colour.

use crate::workflow::models::Model;

use image::RgbImage;

use crate::failure::JobError;
use figur_pixels::plane::Plane;
use figur_pixels::vision::product;

/// A person covering less than this share of the frame is not the subject of the photo.
pub const PERSON_SHARE: f32 = 0.05;

struct LearnedMatte(Model);

impl product::ForegroundModel for LearnedMatte {
    type Error = JobError;
    fn alpha(&self, nchw: &[f32]) -> Result<Vec<f32>, JobError> {
        let side = product::ISNET_SIDE;
        let outputs = self.0.run_f32(vec![("input".into(), vec![1, 3, side, side], nchw.to_vec())])?;
        outputs
            .into_iter()
            .find(|(name, _, _)| name == "output")
            .map(|(_, _, data)| data)
            .ok_or_else(|| JobError::internal("the product matte model has no `output`"))
    }
}

/// How the product will be matted, for the stage's message.
pub fn describe(model: &Option<Model>) -> String {
    match model {
        Some(m) => format!("matted by {} on {}", super::models::ModelKind::ProductMatte.id(), m.provider()),
        None => "matted by its background colour".to_string(),
    }
}

/// The product's alpha, or `None` when nothing stands out (a busy photo without a plain
/// background, with no learned matte installed).
pub fn product_alpha(photo: &RgbImage, model: &Option<Model>) -> Result<Option<Plane>, JobError> {
    match model {
        Some(m) => product::learned_matte(photo, &LearnedMatte(m.clone())).map(Some),
        None => Ok(product::matte(photo)),
    }
}
