//! Which image an upload or a job's input really is, and whether it is whole: the format comes
//! from the bytes, never the name; the size limits the upload check and a job's decode share;
//! third-party decoders run under a guard that turns their panics into errors.

mod jpeg;
mod png_stream;

use image::ImageFormat;

pub use jpeg::check_complete as jpeg_is_complete;
pub use png_stream::check_streaming as png_is_whole;

/// 100 megapixels: more than any camera a studio uses, far below a bomb.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Longest side accepted (panoramas and strips beyond this are not studio photos).
pub const MAX_SIDE: u32 = 30_000;

/// The format the bytes really are, among those accepted: the format, its MIME type, its
/// file extension.
pub fn sniff(bytes: &[u8]) -> Option<(ImageFormat, &'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some((ImageFormat::Jpeg, "image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some((ImageFormat::Png, "image/png", "png"))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some((ImageFormat::WebP, "image/webp", "webp"))
    } else {
        None
    }
}

/// Runs a third-party decoder, turning a panic inside it into an error: a decoder bug a file can
/// trigger must not answer an upload with a 500 or crash a job (fuzzing found one in zune-jpeg
/// 0.5.15: a progressive CMYK file that unwraps a `None`; see `fixtures/fuzz`).
pub fn guarded<T>(decode: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::warn!(panic = %why, "an image decoder failed on a file");
        "the image decoder failed on it (the file is corrupt)".to_string()
    })
}
