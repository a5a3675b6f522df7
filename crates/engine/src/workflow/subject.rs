//! Finding the subject when it is not a person: the product matte `extract`, the background
//! swaps and garment photos use — ISNet when the user installed it, else u2netp (the default
//! set), else the background colour when neither is installed.

use crate::workflow::models::{Model, ModelKind, ModelSource};

use image::RgbImage;

use crate::failure::JobError;
use figur_pixels::plane::Plane;
use figur_pixels::vision::product::{self, LearnedForm};

/// A person covering less than this share of the frame is not the subject of the photo.
pub const PERSON_SHARE: f32 = 0.05;

/// A learned product matte, ready to run.
#[derive(Clone)]
pub struct ProductMatte {
    pub kind: ModelKind,
    model: Model,
}

impl product::ForegroundModel for ProductMatte {
    type Error = JobError;
    fn form(&self) -> LearnedForm {
        match self.kind {
            ModelKind::ProductMatte => LearnedForm::Isnet,
            _ => LearnedForm::U2net,
        }
    }
    fn alpha(&self, nchw: &[f32]) -> Result<Vec<f32>, JobError> {
        let side = self.form().side();
        let (input, output) = match self.form() {
            LearnedForm::Isnet => ("input", "output"),
            // u2netp's first output, d1, is the matte (the others are its side maps).
            LearnedForm::U2net => ("input.1", "1959"),
        };
        let outputs = self.model.run_f32(vec![(input.into(), vec![1, 3, side, side], nchw.to_vec())])?;
        outputs
            .into_iter()
            .find(|(name, _, _)| name == output)
            .map(|(_, _, data)| data)
            .ok_or_else(|| JobError::internal(format!("the product matte model has no `{output}`")))
    }
}

/// The learned product matte to use: ISNet when installed, else u2netp; `None` when neither
/// is (the background colour rule then, which the stage's message says).
pub fn product_matte(models: &mut dyn ModelSource) -> Result<Option<ProductMatte>, JobError> {
    for kind in [ModelKind::ProductMatte, ModelKind::ProductMatteSmall] {
        if let Some(matte) = only(models, kind)? {
            return Ok(Some(matte));
        }
    }
    Ok(None)
}

/// The learned product matte of `kind` alone, when installed (the benchmark compares them).
pub fn only(models: &mut dyn ModelSource, kind: ModelKind) -> Result<Option<ProductMatte>, JobError> {
    Ok(models.optional_model(kind)?.map(|model| ProductMatte { kind, model }))
}

/// How the product will be matted, for the stage's message.
pub fn describe(matte: &Option<ProductMatte>) -> String {
    match matte {
        Some(m) => format!("matted by {} on {}", m.kind.id(), m.model.provider()),
        None => "matted by its background colour (no product matte model is installed)".to_string(),
    }
}

/// The most of the frame's border a learned matte's subject may cover (the coffee sample's cup
/// 0 %, a half-body person 30 %, one of two flat halves 50 %).
const MAX_BORDER_SHARE: f32 = 0.45;

/// The share of the frame's border pixels that the matte holds solid.
fn border_share(alpha: &Plane) -> f32 {
    let (w, h) = (alpha.width, alpha.height);
    if w == 0 || h == 0 {
        return 0.0;
    }
    let solid = |x: usize, y: usize| (alpha.at(x, y) > 0.5) as usize;
    let rows: usize = (0..w).map(|x| solid(x, 0) + solid(x, h - 1)).sum();
    let columns: usize = (0..h).map(|y| solid(0, y) + solid(w - 1, y)).sum();
    (rows + columns) as f32 / (2 * (w + h)) as f32
}

/// The product's alpha, or `None` when nothing stands out (a busy photo without a plain
/// background, with no learned matte installed).
pub fn product_alpha(photo: &RgbImage, matte: &Option<ProductMatte>) -> Result<Option<Plane>, JobError> {
    match matte {
        Some(m) => {
            let alpha = product::learned_matte(photo, m)?;
            // A matte with next to nothing solid in it found nothing; one that keeps all but a
            // sliver of the frame, or most of its border, cut nothing out of a background (a
            // photo split into two flat halves gets one half).
            let solid = alpha.data.iter().filter(|a| **a > 0.5).count() as f32 / alpha.data.len().max(1) as f32;
            let cut_out = (0.001..=0.97).contains(&solid) && border_share(&alpha) <= MAX_BORDER_SHARE;
            Ok(cut_out.then_some(alpha))
        }
        None => Ok(product::matte(photo)),
    }
}
