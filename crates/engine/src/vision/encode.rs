//! Encoding the pictures a job stores. Every artifact is PNG (lossless: a render is a master a
//! designer retouches and exports; a matte must keep its soft edge exactly); how hard the
//! encoder works follows the picture's use. JPEG or WebP copies are made on export, where the
//! user chooses them.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::DynamicImage;

/// What a stored picture is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A job's result: kept, downloaded, exported.
    Final,
    /// A step shown in the job's timeline (mattes, overlays, previews).
    Intermediate,
}

/// The PNG encoder's settings for `use_`.
fn settings(use_: Use) -> (CompressionType, FilterType) {
    match use_ {
        Use::Final | Use::Intermediate => (CompressionType::Fast, FilterType::Adaptive),
    }
}

/// `image` as PNG bytes.
pub fn png(image: &DynamicImage, use_: Use) -> Result<Vec<u8>, image::ImageError> {
    let (compression, filter) = settings(use_);
    let mut bytes = Vec::new();
    image.write_with_encoder(PngEncoder::new_with_quality(Cursor::new(&mut bytes), compression, filter))?;
    Ok(bytes)
}
