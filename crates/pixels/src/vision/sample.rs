//! Bilinear sampling at fractional pixel positions (pixel centres at integer + 0.5 are at the
//! integer here: callers subtract 0.5). Taps outside the image count as zero — black for colour,
//! transparent for RGBA — so crops and warps fade out at the image's edges instead of smearing.

use image::{RgbImage, RgbaImage};

use crate::plane::Plane;

/// The four taps around (x, y) with their weights; `None` for taps outside `w`×`h`.
fn taps(x: f32, y: f32, w: u32, h: u32) -> [(Option<(u32, u32)>, f32); 4] {
    let (fx, fy) = (x.floor(), y.floor());
    let (ax, ay) = (x - fx, y - fy);
    let at = |dx: f32, dy: f32| {
        let (px, py) = (fx + dx, fy + dy);
        (px >= 0.0 && py >= 0.0 && px < w as f32 && py < h as f32).then_some((px as u32, py as u32))
    };
    [
        (at(0.0, 0.0), (1.0 - ax) * (1.0 - ay)),
        (at(1.0, 0.0), ax * (1.0 - ay)),
        (at(0.0, 1.0), (1.0 - ax) * ay),
        (at(1.0, 1.0), ax * ay),
    ]
}

/// RGB in 0..255.
pub fn bilinear_rgb(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let mut out = [0.0; 3];
    if !(x.is_finite() && y.is_finite()) {
        return out;
    }
    for (tap, wt) in taps(x, y, img.width(), img.height()) {
        if let Some((px, py)) = tap {
            let p = img.get_pixel(px, py).0;
            for c in 0..3 {
                out[c] += p[c] as f32 * wt;
            }
        }
    }
    out
}

/// RGBA in 0..255, colour premultiplied by alpha (so transparent taps add no colour).
pub fn bilinear_rgba_premultiplied(img: &RgbaImage, x: f32, y: f32) -> [f32; 4] {
    let mut out = [0.0; 4];
    if !(x.is_finite() && y.is_finite()) {
        return out;
    }
    let (fx, fy) = (x.floor(), y.floor());
    if fx >= 0.0 && fy >= 0.0 && fx + 1.0 < img.width() as f32 && fy + 1.0 < img.height() as f32 {
        // All four taps inside (a warp's usual case): read them straight, in the same order
        // and with the same weights as the general path below.
        let (ax, ay) = (x - fx, y - fy);
        let (stride, at) = (img.width() as usize * 4, (fy as usize * img.width() as usize + fx as usize) * 4);
        let raw = img.as_raw();
        let weights = [(1.0 - ax) * (1.0 - ay), ax * (1.0 - ay), (1.0 - ax) * ay, ax * ay];
        for (offset, wt) in [at, at + 4, at + stride, at + stride + 4].into_iter().zip(weights) {
            let p = &raw[offset..offset + 4];
            let a = p[3] as f32 / 255.0 * wt;
            for c in 0..3 {
                out[c] += p[c] as f32 * a;
            }
            out[3] += p[3] as f32 * wt;
        }
        return out;
    }
    for (tap, wt) in taps(x, y, img.width(), img.height()) {
        if let Some((px, py)) = tap {
            let p = img.get_pixel(px, py).0;
            let a = p[3] as f32 / 255.0 * wt;
            for c in 0..3 {
                out[c] += p[c] as f32 * a;
            }
            out[3] += p[3] as f32 * wt;
        }
    }
    out
}

pub fn bilinear_plane(plane: &Plane, x: f32, y: f32) -> f32 {
    if !(x.is_finite() && y.is_finite()) {
        return 0.0;
    }
    taps(x, y, plane.width as u32, plane.height as u32)
        .iter()
        .filter_map(|(tap, wt)| tap.map(|(px, py)| plane.at(px as usize, py as usize) * wt))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_blend_neighbours_and_fade_outside() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([if x == 0 { 0 } else { 200 }, 0, 0]));
        assert_eq!(bilinear_rgb(&img, 0.0, 0.0)[0], 0.0);
        assert_eq!(bilinear_rgb(&img, 0.5, 0.0)[0], 100.0);
        assert_eq!(bilinear_rgb(&img, 1.5, 0.0)[0], 100.0, "half the taps are outside");
        assert_eq!(bilinear_rgb(&img, -5.0, 0.0)[0], 0.0);
        assert_eq!(bilinear_rgb(&img, f32::NAN, 0.0)[0], 0.0);
        let rgba = RgbaImage::from_fn(2, 1, |x, _| image::Rgba([255, 0, 0, if x == 0 { 255 } else { 0 }]));
        let p = bilinear_rgba_premultiplied(&rgba, 0.5, 0.0);
        assert_eq!((p[0], p[3]), (127.5, 127.5), "a transparent tap adds no colour");
        let plane = Plane { width: 2, height: 2, data: vec![0.0, 1.0, 1.0, 1.0] };
        assert_eq!(bilinear_plane(&plane, 0.5, 0.5), 0.75);
    }
}
