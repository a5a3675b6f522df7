//! Checking an uploaded image before it enters the store: the type comes from the bytes, never
//! the name or the client's header; the declared size is checked before any pixel is decoded
//! (decompression bombs); then the whole image is read, so a corrupt or truncated file is
//! refused at upload rather than failing a job later.
//!
//! Memory is bounded: a PNG is read row by row ([`png_stream`]); a JPEG's structure is walked
//! ([`jpeg`]) and its pixels decoded under a reservation from the memory budget the jobs share,
//! as is a WebP's. So N concurrent uploads of small files declaring huge images wait for each
//! other (or are refused with a retry hint) instead of multiplying.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::budget::MemoryBudget;
use crate::error::{ApiError, ErrorCode, FieldError};

use figur_pixels::format::{guarded, jpeg_is_complete, png_is_whole, sniff, MAX_PIXELS, MAX_SIDE};

pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// How long an upload waits for room in the memory budget before it is refused (503).
const BUDGET_WAIT: Duration = Duration::from_secs(60);
/// Decoder state a row-by-row PNG check may hold (rows, zlib window, palette, text chunks).
const PNG_STREAM_ALLOC: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub mime: &'static str,
    pub ext: &'static str,
    /// As shown: after the EXIF orientation is applied (a portrait shot sideways is taller
    /// than wide), which is what every workflow sees.
    pub width: u32,
    pub height: u32,
}

fn unreadable(why: impl std::fmt::Display) -> ApiError {
    ApiError::field("body", "file", format!("the file is not a readable image: {why}"), "unreadable_image")
}

/// Validates an upload; CPU-heavy for big images, so call it off the async runtime. Full
/// decodes reserve their buffer from `budget` first (waiting up to a minute for room).
pub fn inspect(bytes: &[u8], budget: &Arc<MemoryBudget>) -> Result<Inspected, ApiError> {
    guarded(|| inspect_unguarded(bytes, budget)).unwrap_or_else(|why| Err(unreadable(why)))
}

fn inspect_unguarded(bytes: &[u8], budget: &Arc<MemoryBudget>) -> Result<Inspected, ApiError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, "uploads are limited to 25 MB"));
    }
    let (format, mime, ext) = sniff(bytes).ok_or_else(|| {
        let why = "the file is not a JPEG, PNG or WebP image (checked from its bytes)";
        ApiError {
            details: vec![FieldError::new("body", "file", why, "unsupported_image")],
            ..ApiError::new(ErrorCode::UnsupportedMediaType, why)
        }
    })?;
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
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
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    match format {
        ImageFormat::Png => png_is_whole(bytes, PNG_STREAM_ALLOC).map_err(unreadable)?,
        _ => {
            if format == ImageFormat::Jpeg {
                jpeg_is_complete(bytes).map_err(unreadable)?;
            }
            let buffer = decoder.total_bytes();
            let _room = budget.reserve(buffer, BUDGET_WAIT).ok_or_else(|| {
                let mut e = ApiError::new(
                    ErrorCode::Unavailable,
                    "the studio is short of memory for checking this image right now; retry shortly",
                );
                e.retry_after = Some(5);
                e
            })?;
            let mut limits = Limits::default();
            limits.max_image_width = Some(MAX_SIDE);
            limits.max_image_height = Some(MAX_SIDE);
            limits.max_alloc = Some(buffer + 64 * 1024 * 1024);
            decoder.set_limits(limits).map_err(unreadable)?;
            let mut pixels = vec![0u8; usize::try_from(buffer).map_err(unreadable)?];
            decoder.read_image(&mut pixels).map_err(unreadable)?;
        }
    }
    let (width, height) = if swaps_axes(orientation) { (height, width) } else { (width, height) };
    Ok(Inspected { mime, ext, width, height })
}

/// Orientations that turn the stored image a quarter turn.
fn swaps_axes(o: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn inspect_(bytes: &[u8]) -> Result<Inspected, ApiError> {
        inspect(bytes, &MemoryBudget::new(1 << 30))
    }

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
        let ok = inspect_(&png(64, 32)).unwrap();
        assert_eq!((ok.mime, ok.width, ok.height), ("image/png", 64, 32));
        let mut jpeg = Vec::new();
        image::RgbImage::new(8, 8).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert_eq!(inspect_(&jpeg).unwrap().mime, "image/jpeg");
    }

    /// A JPEG carrying an EXIF orientation tag (6: the stored image must turn 90° clockwise).
    pub fn rotated_jpeg(width: u32, height: u32) -> Vec<u8> {
        let mut jpeg = Vec::new();
        image::RgbImage::new(width, height).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&exif);
        jpeg.splice(2..2, app1);
        jpeg
    }

    /// Inputs the fuzzer (`scripts/fuzz.sh`) found; see `fixtures/fuzz/README.md`. Whatever the
    /// upload check accepts, a job must decode, at the size the check reported.
    #[test]
    fn fuzz_findings_stay_fixed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let accepted = inspect_(&bytes);
            let decoded = figur_pixels::vision::decode::decode(&bytes).map_err(crate::failure::JobError::from);
            match (&accepted, &decoded) {
                (Ok(shown), Ok(rgb)) => assert_eq!((shown.width, shown.height), rgb.dimensions(), "{path:?}"),
                (Ok(_), Err(e)) => panic!("{path:?}: accepted at upload, unreadable in a job: {e:?}"),
                (Err(_), _) => {}
            }
            checked += 1;
        }
        assert!(checked >= 4);
        let refused = |name: &str| inspect_(&std::fs::read(dir.join(name)).unwrap()).unwrap_err().message;
        assert!(refused("indexed-png-without-palette.png").contains("palette"));
        assert!(refused("progressive-cmyk-zune-panic.jpg").contains("decoder failed"));
        assert!(refused("jpeg-404-bytes-declaring-81mp.jpg").contains("too short"));
        let job =
            figur_pixels::vision::decode::decode(&std::fs::read(dir.join("progressive-cmyk-zune-panic.jpg")).unwrap())
                .map_err(crate::failure::JobError::from);
        assert_eq!(
            job.unwrap_err().code(),
            Some(crate::failure::FailureCode::InputUnreadable),
            "a decoder panic fails the job cleanly"
        );
    }

    #[test]
    fn a_rotated_photo_reports_the_size_it_is_shown_at() {
        let shown = inspect_(&rotated_jpeg(64, 32)).unwrap();
        assert_eq!((shown.width, shown.height), (32, 64));
    }

    #[test]
    fn a_decode_waits_for_room_in_the_memory_budget() {
        let mut jpeg = Vec::new();
        image::RgbImage::new(100, 100).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        let budget = MemoryBudget::new(100 * 100 * 3);
        let held = budget.reserve(1, Duration::ZERO).unwrap();
        let waiter = {
            let (budget, jpeg) = (budget.clone(), jpeg.clone());
            std::thread::spawn(move || inspect(&jpeg, &budget).map(|i| i.width))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the decode needs the whole budget, one byte of which is held");
        drop(held);
        assert_eq!(waiter.join().unwrap().unwrap(), 100);
        // A PNG is checked row by row and reserves nothing.
        let _all = budget.reserve(u64::MAX, Duration::ZERO).unwrap();
        assert_eq!(inspect(&png(300, 200), &budget).unwrap().width, 300);
    }

    #[test]
    fn refuses_bombs_corruption_and_other_types() {
        let bomb = inspect_(&bomb_header(100_000, 100_000)).unwrap_err();
        assert_eq!(bomb.code, ErrorCode::ValidationError);
        assert!(bomb.message.contains("100000×100000"), "{}", bomb.message);

        let mut truncated = png(256, 256);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(inspect_(&truncated).unwrap_err().code, ErrorCode::ValidationError);

        assert_eq!(inspect_(b"GIF89a....").unwrap_err().code, ErrorCode::UnsupportedMediaType);

        // Decoders fill a cut JPEG's missing rows with grey and call it a success.
        let mut jpeg = Vec::new();
        image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([x as u8, y as u8, 90]))
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        jpeg.truncate(jpeg.len() / 2);
        let e = inspect_(&jpeg).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("truncated"), "{}", e.message);

        let mut webp = Vec::new();
        image::RgbaImage::from_pixel(64, 64, image::Rgba([9, 9, 9, 255]))
            .write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)
            .unwrap();
        webp.truncate(webp.len() - 10);
        assert_eq!(inspect_(&webp).unwrap_err().code, ErrorCode::ValidationError);
        assert_eq!(inspect_(&vec![0u8; MAX_UPLOAD_BYTES + 1]).unwrap_err().code, ErrorCode::PayloadTooLarge);
    }
}
