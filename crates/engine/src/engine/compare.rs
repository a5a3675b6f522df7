//! Side-by-side looks at one step of the studio, outside any job, for a person to judge: the
//! product mattes the studio can make of a photo (the contact sheet's matte row).

use image::{GrayImage, RgbImage};

use super::Engine;
use crate::error::ApiError;
use crate::workflow::models::{Direct, ModelKind};
use crate::workflow::subject;

impl Engine {
    /// Every product matte the studio can make of `photo`, in the order it prefers them last:
    /// the background-colour rule, u2netp, ISNet — each with the mask it cuts (white: the
    /// product), `None` where it finds no product, and left out where its model is not
    /// installed. Product shots get the last one listed.
    pub fn product_mattes(&self, photo: &RgbImage) -> Result<Vec<(&'static str, Option<GrayImage>)>, ApiError> {
        let failed = |e: crate::failure::JobError| ApiError::internal(e.message().to_string());
        let models = self.config.models.clone();
        let mut source = Direct(&*models);
        let mut mattes =
            vec![("colour rule", subject::product_alpha(photo, &None).map_err(failed)?.map(|a| a.to_gray()))];
        for kind in [ModelKind::ProductMatteSmall, ModelKind::ProductMatte] {
            if let Some(matte) = subject::only(&mut source, kind).map_err(failed)? {
                let alpha = subject::product_alpha(photo, &Some(matte)).map_err(failed)?;
                mattes.push((kind.id(), alpha.map(|a| a.to_gray())));
            }
        }
        Ok(mattes)
    }
}
