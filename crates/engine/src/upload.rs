//! Checking an uploaded image before it enters the store: the type comes from the bytes, never
//! the name or the client's header; the declared size is checked before any pixel is decoded
//! (decompression bombs); then the whole image is decoded under memory limits, so a corrupt or
//! truncated file is refused at upload rather than failing a job later.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::error::{ApiError, ErrorCode};

pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// 100 megapixels: more than any camera a studio uses, far below a bomb.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Longest side accepted (panoramas and strips beyond this are not studio photos).
pub const MAX_SIDE: u32 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub mime: &'static str,
    pub ext: &'static str,
    pub width: u32,
    pub height: u32,
}

/// The format the bytes really are, among those accepted.
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

fn unreadable(why: impl std::fmt::Display) -> ApiError {
    ApiError::field("body", "file", format!("the file is not a readable image: {why}"), "value_error")
}

/// Validates an upload; CPU-heavy for big images, so call it off the async runtime.
pub fn inspect(bytes: &[u8]) -> Result<Inspected, ApiError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, "uploads are limited to 25 MB"));
    }
    let (format, mime, ext) = sniff(bytes).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the file is not a JPEG, PNG or WebP image (checked from its bytes)",
        )
    })?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(unreadable)?;
    let pixels = width as u64 * height as u64;
    if width == 0 || height == 0 {
        return Err(unreadable("it has no pixels"));
    }
    if pixels > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ApiError::field(
            "body",
            "file",
            format!("the image declares {width}×{height} pixels; the limit is {MAX_SIDE} px a side and 100 megapixels"),
            "too_large",
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // RGBA at 16 bits per channel is the widest buffer a decoder needs, plus slack.
    limits.max_alloc = Some(pixels * 8 + 64 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().map_err(unreadable)?;
    Ok(Inspected { mime, ext, width, height })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    /// A PNG whose header declares `width`×`height` but carries almost no data.
    pub fn bomb_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        // IHDR data starts at byte 16: width then height, big-endian; the CRC follows at 29.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn accepts_real_images_and_names_their_type() {
        let ok = inspect(&png(64, 32)).unwrap();
        assert_eq!((ok.mime, ok.width, ok.height), ("image/png", 64, 32));
        let mut jpeg = Vec::new();
        image::RgbImage::new(8, 8).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert_eq!(inspect(&jpeg).unwrap().mime, "image/jpeg");
    }

    #[test]
    fn refuses_bombs_corruption_and_other_types() {
        let bomb = inspect(&bomb_header(100_000, 100_000)).unwrap_err();
        assert_eq!(bomb.code, ErrorCode::ValidationError);
        assert!(bomb.message.contains("100000×100000"), "{}", bomb.message);

        let mut truncated = png(256, 256);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(inspect(&truncated).unwrap_err().code, ErrorCode::ValidationError);

        assert_eq!(inspect(b"GIF89a....").unwrap_err().code, ErrorCode::UnsupportedMediaType);
        assert_eq!(inspect(&vec![0u8; MAX_UPLOAD_BYTES + 1]).unwrap_err().code, ErrorCode::PayloadTooLarge);
    }
}
