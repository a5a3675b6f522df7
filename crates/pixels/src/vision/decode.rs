//! Safe decoding of photos for workflows: the type from the bytes, pixel limits before any
//! decoding, EXIF orientation applied (phones store portraits sideways), and every layout —
//! grey, 16-bit, alpha, CMYK JPEG — brought to 8-bit RGB. Alpha is flattened onto white, as a
//! product shot on a transparent background would be shown.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::Error;

fn unreadable(why: impl std::fmt::Display) -> Error {
    Error::Unreadable(why.to_string())
}

/// The most memory decoding `bytes` with [`decode`] holds at once: the decoder's buffer in the
/// file's own layout (16-bit RGBA is 8 bytes a pixel) and the 8-bit copies made from it. A
/// small file may declare a huge image, so jobs reserve this before decoding. 0 when the header
/// cannot be read (the decode then fails at once).
pub fn decode_cost(bytes: &[u8]) -> u64 {
    crate::format::guarded(|| decode_cost_unguarded(bytes)).unwrap_or(0)
}

fn decode_cost_unguarded(bytes: &[u8]) -> u64 {
    let Some((format, _, _)) = crate::format::sniff(bytes) else { return 0 };
    let Ok(decoder) = ImageReader::with_format(Cursor::new(bytes), format).into_decoder() else { return 0 };
    let (w, h) = decoder.dimensions();
    let pixels = w as u64 * h as u64;
    let copies = if decoder.color_type().has_alpha() { 4 + 3 } else { 3 };
    decoder.total_bytes() + pixels * copies
}

pub fn decode(bytes: &[u8]) -> Result<RgbImage, Error> {
    Ok(flatten(decode_dynamic(bytes)?))
}

/// A cutout's own alpha (0..1), when the image has an alpha channel that really cuts something
/// out: most of its border transparent. `None` for opaque images and for alpha used otherwise.
pub fn cutout_alpha(bytes: &[u8]) -> Result<Option<crate::plane::Plane>, Error> {
    let img = decode_dynamic(bytes)?;
    if !img.color().has_alpha() {
        return Ok(None);
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let border: Vec<u8> = (0..w)
        .flat_map(|x| [rgba.get_pixel(x, 0)[3], rgba.get_pixel(x, h - 1)[3]])
        .chain((0..h).flat_map(|y| [rgba.get_pixel(0, y)[3], rgba.get_pixel(w - 1, y)[3]]))
        .collect();
    let clear = border.iter().filter(|a| **a < 16).count() as f32 / border.len().max(1) as f32;
    let opaque = rgba.pixels().filter(|p| p[3] > 240).count();
    if clear < 0.9 || opaque == 0 {
        return Ok(None);
    }
    Ok(Some(crate::plane::Plane {
        width: w as usize,
        height: h as usize,
        data: rgba.pixels().map(|p| p[3] as f32 / 255.0).collect(),
    }))
}

fn decode_dynamic(bytes: &[u8]) -> Result<DynamicImage, Error> {
    crate::format::guarded(|| decode_dynamic_unguarded(bytes)).unwrap_or_else(|why| Err(unreadable(why)))
}

fn decode_dynamic_unguarded(bytes: &[u8]) -> Result<DynamicImage, Error> {
    let (format, _, _) =
        crate::format::sniff(bytes).ok_or_else(|| unreadable("it is not a JPEG, PNG or WebP image"))?;
    if format == image::ImageFormat::Jpeg {
        // The decoder would fill a cut-off file with grey and succeed; a job must not.
        crate::format::jpeg_is_complete(bytes).map_err(unreadable)?;
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader.into_dimensions().map_err(unreadable)?;
    if w as u64 * h as u64 > crate::format::MAX_PIXELS || w > crate::format::MAX_SIDE || h > crate::format::MAX_SIDE {
        return Err(Error::TooLarge(format!("the image is {w}×{h}; the limit is 100 megapixels")));
    }
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// 8-bit RGB; transparent pixels become white. Consumes the image so that a wide layout (16-bit
/// RGBA is 8 bytes a pixel) is freed as soon as its 8-bit copy exists, not held to the end.
pub fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y);
        let a = p[3] as u32;
        image::Rgb([0, 1, 2].map(|c| ((p[c] as u32 * a + 255 * (255 - a)) / 255) as u8))
    })
}

/// Working resolution cap: photos are matted and composited at most this long a side.
const MAX_WORKING_SIDE: u32 = 4096;

/// Scales a photo down to the working size cap (never up).
pub fn working_copy(img: RgbImage) -> RgbImage {
    let long = img.width().max(img.height());
    if long <= MAX_WORKING_SIDE {
        return img;
    }
    let s = MAX_WORKING_SIDE as f32 / long as f32;
    let (w, h) = (((img.width() as f32 * s).round() as u32).max(1), ((img.height() as f32 * s).round() as u32).max(1));
    super::resample::resize(&img, w, h, image::imageops::FilterType::CatmullRom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[test]
    fn every_layout_becomes_rgb8() {
        let grey16 =
            DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(8, 4, |x, _| image::Luma([x as u16 * 8000])));
        let rgb = decode(&encode(grey16, image::ImageFormat::Png)).unwrap();
        assert_eq!((rgb.width(), rgb.height()), (8, 4));
        assert_eq!(rgb.get_pixel(7, 0)[0], rgb.get_pixel(7, 0)[2], "grey stays grey");

        let clear = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(4, 4, image::Rgba([10, 20, 30, 0])));
        assert_eq!(
            decode(&encode(clear, image::ImageFormat::Png)).unwrap().get_pixel(0, 0),
            &image::Rgb([255, 255, 255])
        );
    }

    #[test]
    fn the_cost_counts_the_wide_layout_and_the_copies() {
        let rgba16 = DynamicImage::ImageRgba16(image::ImageBuffer::new(10, 10));
        assert_eq!(decode_cost(&encode(rgba16, image::ImageFormat::Png)), 100 * 8 + 100 * 7);
        let rgb8 = DynamicImage::ImageRgb8(RgbImage::new(10, 10));
        assert_eq!(decode_cost(&encode(rgb8, image::ImageFormat::Png)), 100 * 3 + 100 * 3);
        assert_eq!(decode_cost(b"not an image"), 0);
    }

    #[test]
    fn cmyk_jpegs_become_rgb() {
        let rgb = decode(include_bytes!("../../fixtures/cmyk.jpg")).unwrap();
        let (cyan, yellow) = (rgb.get_pixel(4, 8), rgb.get_pixel(28, 8));
        assert!(cyan[0] < 80 && cyan[1] > 150 && cyan[2] > 150, "cyan: {cyan:?}");
        assert!(yellow[0] > 150 && yellow[1] > 150 && yellow[2] < 80, "yellow: {yellow:?}");
    }

    #[test]
    fn animated_images_give_their_first_frame() {
        for bytes in
            [&include_bytes!("../../fixtures/animated.png")[..], &include_bytes!("../../fixtures/animated.webp")[..]]
        {
            let rgb = decode(bytes).unwrap();
            assert_eq!(rgb.dimensions(), (16, 16));
            let p = rgb.get_pixel(8, 8);
            assert!(p[0] > 200 && p[2] < 50, "the first (red) frame: {p:?}");
        }
    }

    #[test]
    fn corrupt_and_foreign_bytes_are_input_errors() {
        let mut png = encode(DynamicImage::ImageRgb8(RgbImage::new(64, 64)), image::ImageFormat::Png);
        png.truncate(png.len() / 2);
        assert!(matches!(decode(&png).unwrap_err(), Error::Unreadable(_)));
        assert!(matches!(decode(b"GIF89a").unwrap_err(), Error::Unreadable(_)));
        let mut jpeg = encode(DynamicImage::ImageRgb8(RgbImage::new(64, 64)), image::ImageFormat::Jpeg);
        jpeg.truncate(jpeg.len() * 2 / 3);
        let e = decode(&jpeg).unwrap_err();
        assert!(matches!(&e, Error::Unreadable(why) if why.contains("truncated")), "{e}");
    }
}
