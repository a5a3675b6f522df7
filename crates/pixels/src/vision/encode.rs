//! Encoding the pictures a job stores. Every artifact is PNG (lossless: a render is a master a
//! designer retouches and exports; a matte must keep its soft edge exactly); how hard the
//! encoder works follows the picture's use. JPEG or WebP copies are made on export, where the
//! user chooses them.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, RgbImage};

/// What a stored picture is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A job's result: kept, downloaded, exported.
    Final,
    /// A step shown in the job's timeline (mattes, overlays, previews).
    Intermediate,
}

/// The PNG encoder's settings for `use_`, measured on a 4096² render (`cargo bench --bench
/// vision` prints the table): fast deflate with the adaptive filter is 152 ms and 16.9 MiB;
/// the Up filter alone 105 ms and 18.3 MiB; balanced deflate 5.3 s and 14.1 MiB. A result is
/// kept and downloaded: the smallest of the fast settings. A timeline step is looked at once:
/// the fastest. Balanced deflate buys 17 % for 35× the time: never worth it in a job.
fn settings(use_: Use) -> (CompressionType, FilterType) {
    match use_ {
        Use::Final => (CompressionType::Fast, FilterType::Adaptive),
        Use::Intermediate => (CompressionType::Fast, FilterType::Up),
    }
}

/// `image` as PNG bytes.
pub fn png(image: &DynamicImage, use_: Use) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image.write_with_encoder(encoder(&mut bytes, use_))?;
    Ok(bytes)
}

/// An RGB image as PNG bytes, without wrapping (copying) it into a [`DynamicImage`].
pub fn png_rgb(image: &RgbImage, use_: Use) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image.write_with_encoder(encoder(&mut bytes, use_))?;
    Ok(bytes)
}

fn encoder(bytes: &mut Vec<u8>, use_: Use) -> PngEncoder<Cursor<&mut Vec<u8>>> {
    let (compression, filter) = settings(use_);
    PngEncoder::new_with_quality(Cursor::new(bytes), compression, filter)
}
