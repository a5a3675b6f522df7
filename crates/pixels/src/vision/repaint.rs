//! The pixel side of repainting part of a picture with an inpainting model (try-on refinement,
//! background-swap harmonising): which pixels to repaint, the box the model draws, the mask at
//! the model's size, and the blend back that keeps every pixel outside the mask as it was.
//! The engine runs the model between [`model_mask`] and [`blend`].

use image::{GrayImage, RgbImage, RgbaImage};

use super::composite::Placement;
use crate::plane::{box_mean, Plane};

/// The repaint mask (255: repaint): every `old` region (alpha > 0.5: the old garment's band
/// within the person) and every opaque pixel of the new `layers`, grown by a fiftieth of the
/// long side, less what `keep` marks (> 0: the face, the hands).
pub fn garment_mask(old: &[Plane], layers: &[&RgbaImage], keep: &Plane) -> GrayImage {
    let (w, h) = (keep.width as u32, keep.height as u32);
    let mut region = Plane::new(keep.width, keep.height);
    for band in old {
        for (r, o) in region.data.iter_mut().zip(&band.data) {
            *r = r.max(if *o > 0.5 { 1.0 } else { 0.0 });
        }
    }
    for layer in layers {
        for (r, p) in region.data.iter_mut().zip(layer.pixels()) {
            if p[3] > 0 {
                *r = 1.0;
            }
        }
    }
    let grow = (w.max(h) / 50).max(1) as usize;
    let grown = box_mean(&region, grow);
    GrayImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        image::Luma([if grown.data[i] > 1e-4 && keep.data[i] <= 0.0 { 255 } else { 0 }])
    })
}

/// Marks the box `(x0, y0, x1, y1)` (clipped to the plane) as kept.
pub fn keep_box(keep: &mut Plane, (x0, y0, x1, y1): (f32, f32, f32, f32)) {
    let (w, h) = (keep.width, keep.height);
    let (x0, y0) = (x0.max(0.0) as usize, y0.max(0.0) as usize);
    let (x1, y1) = ((x1.max(0.0) as usize).min(w), (y1.max(0.0) as usize).min(h));
    for y in y0..y1 {
        keep.data[y * w + x0.min(x1)..y * w + x1].fill(1.0);
    }
}

/// The box of the mask's set pixels, grown by `margin` and kept in the picture:
/// `(x, y, width, height)`.
pub fn mask_box(mask: &GrayImage, margin: u32) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in mask.enumerate_pixels() {
        if p[0] > 0 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    (x1 > x0).then(|| {
        let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
        let (x1, y1) = ((x1 + margin).min(mask.width()), (y1 + margin).min(mask.height()));
        (x0, y0, x1 - x0, y1 - y0)
    })
}

/// The mask at the model's size, generous: every model pixel that touches the mask, grown by
/// two, is repainted (the pipeline keeps the rest), so that a thin band at full size is whole
/// in what the model draws; the blend back then keeps to the full-size mask.
pub fn model_mask(mask: &GrayImage, w: u32, h: u32) -> GrayImage {
    let small = image::imageops::resize(mask, w, h, image::imageops::FilterType::Triangle);
    let touched = Plane {
        width: w as usize,
        height: h as usize,
        data: small.pixels().map(|p| (p[0] > 0) as u8 as f32).collect(),
    };
    let grown = box_mean(&touched, 2);
    GrayImage::from_fn(w, h, |x, y| image::Luma([if grown.at(x as usize, y as usize) > 1e-4 { 255 } else { 0 }]))
}

/// `repainted` (the box at `at`) over `draft` inside `mask` only, fading in over `feather`
/// pixels from the mask's edge: outside the mask the draft stays, pixel for pixel.
pub fn blend(mut draft: RgbImage, repainted: &RgbImage, mask: &GrayImage, at: (u32, u32), feather: usize) -> RgbImage {
    let (w, h) = mask.dimensions();
    let plane =
        Plane { width: w as usize, height: h as usize, data: mask.pixels().map(|p| (p[0] > 0) as u8 as f32).collect() };
    let soft = box_mean(&plane, feather);
    for (x, y, p) in repainted.enumerate_pixels() {
        let (fx, fy) = (x + at.0, y + at.1);
        let i = (fy * w + fx) as usize;
        if plane.data[i] == 0.0 {
            continue;
        }
        let t = ((soft.data[i] - 0.5) * 2.0).clamp(0.0, 1.0);
        let d = draft.get_pixel_mut(fx, fy);
        for c in 0..3 {
            d[c] = (d[c] as f32 * (1.0 - t) + p[c] as f32 * t).round() as u8;
        }
    }
    draft
}

/// The mean colour (0..1 sRGB) of a layer's opaque pixels.
pub fn mean_colour(layer: &RgbaImage) -> [f32; 3] {
    let (mut sum, mut n) = ([0.0f64; 3], 0.0f64);
    for p in layer.pixels().filter(|p| p[3] > 127) {
        (0..3).for_each(|c| sum[c] += p[c] as f64);
        n += 1.0;
    }
    std::array::from_fn(|c| (sum[c] / n.max(1.0) / 255.0) as f32)
}

/// The subject's alpha where the composite put it (`at`), in the output's `size`, nearest
/// sample (a band mask needs no more).
pub fn placed(alpha: &Plane, at: Placement, size: (u32, u32)) -> Plane {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let mut out = Plane::new(w, h);
    for y in 0..h {
        let sy = ((y as f32 + 0.5 - at.dy) / at.scale).floor();
        if sy < 0.0 || sy >= alpha.height as f32 {
            continue;
        }
        for x in 0..w {
            let sx = ((x as f32 + 0.5 - at.dx) / at.scale).floor();
            if sx >= 0.0 && sx < alpha.width as f32 {
                out.data[y * w + x] = alpha.at(sx as usize, sy as usize);
            }
        }
    }
    out
}

/// The band within `w.max(h) / 80` pixels of the subject's edge, either side (255: repaint).
pub fn edge_band(subject: &Plane) -> GrayImage {
    let solid = Plane {
        width: subject.width,
        height: subject.height,
        data: subject.data.iter().map(|a| if *a > 0.5 { 1.0 } else { 0.0 }).collect(),
    };
    let reach = (subject.width.max(subject.height) / 80).max(1);
    let near = box_mean(&solid, reach);
    GrayImage::from_fn(subject.width as u32, subject.height as u32, |x, y| {
        let m = near.at(x as usize, y as usize);
        image::Luma([if m > 1e-4 && m < 1.0 - 1e-4 { 255 } else { 0 }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_covers_old_bands_and_new_layers_and_never_what_is_kept() {
        let (w, h) = (100, 100);
        let mut old = Plane::new(w, h);
        old.data[50 * w..60 * w].fill(1.0);
        let mut layer = RgbaImage::new(w as u32, h as u32);
        layer.put_pixel(20, 20, image::Rgba([9, 9, 9, 255]));
        let mut keep = Plane::new(w, h);
        keep_box(&mut keep, (0.0, 54.0, 100.0, 56.0));
        let mask = garment_mask(&[old], &[&layer], &keep);
        assert_eq!(mask.get_pixel(50, 52)[0], 255, "the old band");
        assert_eq!(mask.get_pixel(20, 21)[0], 255, "the new layer, grown");
        assert_eq!(mask.get_pixel(50, 55)[0], 0, "kept");
        assert_eq!(mask.get_pixel(80, 10)[0], 0, "elsewhere");
        assert_eq!(mask_box(&mask, 0).map(|b| (b.0, b.3 > 10)), Some((0, true)));
    }

    #[test]
    fn the_blend_keeps_every_pixel_outside_the_mask() {
        let draft = RgbImage::from_pixel(40, 40, image::Rgb([10, 20, 30]));
        let mut mask = GrayImage::new(40, 40);
        for y in 10..30 {
            for x in 10..30 {
                mask.put_pixel(x, y, image::Luma([255]));
            }
        }
        let painted = RgbImage::from_pixel(30, 30, image::Rgb([200, 200, 200]));
        let out = blend(draft.clone(), &painted, &mask, (5, 5), 2);
        for (x, y, p) in out.enumerate_pixels() {
            if mask.get_pixel(x, y)[0] == 0 {
                assert_eq!(p, draft.get_pixel(x, y));
            }
        }
        assert_eq!(out.get_pixel(20, 20), &image::Rgb([200, 200, 200]), "the mask's middle is repainted");
        assert!(model_mask(&mask, 8, 8).pixels().filter(|p| p[0] == 255).count() > 16);
    }

    #[test]
    fn the_edge_band_straddles_the_edge() {
        let mut subject = Plane::new(160, 160);
        keep_box(&mut subject, (40.0, 40.0, 120.0, 120.0));
        let band = edge_band(&subject);
        assert_eq!(band.get_pixel(40, 80)[0], 255);
        assert_eq!(band.get_pixel(80, 80)[0], 0, "the interior is kept");
        assert_eq!(band.get_pixel(5, 5)[0], 0, "far background is kept");
        let at = Placement { dx: 10.0, dy: 0.0, scale: 1.0, standing: false };
        assert_eq!(placed(&subject, at, (160, 160)).at(45, 45), 0.0);
        assert_eq!(placed(&subject, at, (160, 160)).at(55, 45), 1.0);
    }
}
