//! Putting a garment on a person: the garment warped through a thin-plate spline, kept inside
//! the person's silhouette (plus a margin for loose cuts), kept off the face and hands, shaded by
//! the person's own light and folds, and blended in linear light. Pixels the garment does not
//! touch are copied unchanged.

use image::{RgbImage, RgbaImage};
use rayon::prelude::*;

use super::sample::bilinear_rgba_premultiplied;
use super::tps::Spline;
use crate::color::{linear_to_u8, u8_to_linear};
use crate::plane::{box_mean, Plane};

type P = (f32, f32);

/// Grid step of the warp: the spline is evaluated every `STEP` pixels and interpolated between
/// (the map is smooth; this is 16× fewer spline evaluations).
const STEP: usize = 4;

/// Warps `garment` onto a `width`×`height` canvas so each pair's garment point lands on its body
/// point. `None` when the points are degenerate.
pub fn warp(garment: &RgbaImage, pairs: &[(P, P)], width: u32, height: u32) -> Option<RgbaImage> {
    let to: Vec<P> = pairs.iter().map(|p| p.1).collect();
    let from: Vec<P> = pairs.iter().map(|p| p.0).collect();
    let inverse = Spline::fit(&to, &from, 1e-3)?;
    let forward = Spline::fit(&from, &to, 1e-3)?;
    // Where the garment can land: its outline's image under the forward map, with a margin.
    let (gw, gh) = (garment.width() as f32, garment.height() as f32);
    let mut bounds = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for i in 0..=32 {
        let t = i as f32 / 32.0;
        for p in [(t * gw, 0.0), (t * gw, gh), (0.0, t * gh), (gw, t * gh), (t * gw, t * gh), (t * gw, (1.0 - t) * gh)]
        {
            let q = forward.map(p.0, p.1);
            bounds = (bounds.0.min(q.0), bounds.1.min(q.1), bounds.2.max(q.0), bounds.3.max(q.1));
        }
    }
    let margin = ((bounds.2 - bounds.0).max(bounds.3 - bounds.1) * 0.1).max(8.0);
    let clampx = |v: f32| (v.max(0.0) as usize).min(width as usize);
    let clampy = |v: f32| (v.max(0.0) as usize).min(height as usize);
    let (x0, y0, x1, y1) =
        (clampx(bounds.0 - margin), clampy(bounds.1 - margin), clampx(bounds.2 + margin), clampy(bounds.3 + margin));
    let mut out = RgbaImage::new(width, height);
    if x1 <= x0 || y1 <= y0 {
        return Some(out);
    }
    let (cols, rows) = ((x1 - x0) / STEP + 2, (y1 - y0) / STEP + 2);
    let grid: Vec<P> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (c, r)))
        .map(|(c, r)| inverse.map((x0 + c * STEP) as f32, (y0 + r * STEP) as f32))
        .collect();
    // Rows on every core: each output pixel reads the garment alone.
    let stride = width as usize * 4;
    out.par_chunks_mut(stride).enumerate().skip(y0).take(y1 - y0).for_each(|(y, row)| {
        let (r, fy) = ((y - y0) / STEP, ((y - y0) % STEP) as f32 / STEP as f32);
        for x in x0..x1 {
            let (c, fx) = ((x - x0) / STEP, ((x - x0) % STEP) as f32 / STEP as f32);
            let g = |dc: usize, dr: usize| grid[(r + dr) * cols + c + dc];
            let lerp = |a: P, b: P, t: f32| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            let (gx, gy) = lerp(lerp(g(0, 0), g(1, 0), fx), lerp(g(0, 1), g(1, 1), fx), fy);
            let p = bilinear_rgba_premultiplied(garment, gx - 0.5, gy - 0.5);
            if p[3] > 0.5 {
                let a = p[3] / 255.0;
                let c = [p[0] / a, p[1] / a, p[2] / a].map(|v| v.round().clamp(0.0, 255.0) as u8);
                row[x * 4..x * 4 + 4].copy_from_slice(&[c[0], c[1], c[2], p[3].round() as u8]);
            }
        }
    });
    Some(out)
}

/// `top` over `bottom`, both straight alpha (the pieces of one garment, in order).
pub fn over(bottom: &mut RgbaImage, top: &RgbaImage) {
    for (dst, src) in bottom.pixels_mut().zip(top.pixels()) {
        if src[3] == 0 {
            continue;
        }
        let (sa, da) = (src[3] as f32 / 255.0, dst[3] as f32 / 255.0);
        let a = sa + da * (1.0 - sa);
        for c in 0..3 {
            dst[c] = ((src[c] as f32 * sa + dst[c] as f32 * da * (1.0 - sa)) / a).round() as u8;
        }
        dst[3] = (a * 255.0).round() as u8;
    }
}

/// The person a garment goes on: the photo, where the garment may go, and the shading to carry.
pub struct Wearer {
    /// 1 where the garment may lie: the person's silhouette grown by a margin.
    pub allowed: Plane,
    /// 1 where the person stays in front of every garment: face, hands.
    pub protect: Plane,
    /// The photo's local light relative to its surroundings (folds, shadows), about 0.6..1.3.
    pub shading: Plane,
}

/// Ratio of a small-scale to a large-scale blur of the luminance: folds and light fall-off,
/// without the old garment's colour.
pub fn shading(photo: &RgbImage) -> Plane {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let lum = Plane {
        width: w,
        height: h,
        data: photo
            .par_chunks_exact(3)
            .map(|p| 0.2126 * u8_to_linear(p[0]) + 0.7152 * u8_to_linear(p[1]) + 0.0722 * u8_to_linear(p[2]))
            .collect(),
    };
    let long = w.max(h);
    // The fine scale is wide enough to wash out print and badges on the old garment (a few
    // pixels across), narrow enough to keep folds; the ratio is held to a range where a fold
    // darkens and a highlight lifts but the old garment's own pattern does not show through.
    let (fine, broad) = (box_mean(&lum, (long / 120).max(1)), box_mean(&lum, (long / 20).max(2)));
    Plane {
        width: w,
        height: h,
        data: fine.data.par_iter().zip(&broad.data).map(|(f, b)| ((f + 0.01) / (b + 0.01)).clamp(0.72, 1.2)).collect(),
    }
}

/// Where a garment may lie: the matte grown by `margin` pixels (a soft box dilation).
pub fn allowed(matte: &Plane, margin: usize) -> Plane {
    let grown = box_mean(matte, margin.max(1));
    Plane {
        width: matte.width,
        height: matte.height,
        data: grown.data.par_iter().zip(&matte.data).map(|(g, m)| (g * 8.0).clamp(0.0, 1.0).max(*m)).collect(),
    }
}

/// Blends `layer` (straight alpha) onto `canvas` for `wearer`; `shade` is how much of the
/// person's shading the garment takes (0..1). Returns how many pixels changed.
pub fn wear(canvas: &mut RgbImage, layer: &RgbaImage, wearer: &Wearer, shade: f32) -> usize {
    let w = wearer.allowed.width;
    canvas
        .par_chunks_mut(w * 3)
        .zip(layer.par_chunks(w * 4))
        .enumerate()
        .map(|(y, (row, garment))| {
            let mut changed = 0;
            for (x, (p, g)) in row.chunks_exact_mut(3).zip(garment.chunks_exact(4)).enumerate() {
                if g[3] == 0 {
                    continue;
                }
                let k = y * w + x;
                let a = g[3] as f32 / 255.0 * wearer.allowed.data[k] * (1.0 - wearer.protect.data[k]);
                if a <= 1.0 / 255.0 {
                    continue;
                }
                let s = wearer.shading.data[k].powf(shade);
                for c in 0..3 {
                    let under = u8_to_linear(p[c]);
                    let over = (u8_to_linear(g[c]) * s).min(1.0);
                    p[c] = linear_to_u8(under + (over - under) * a);
                }
                changed += 1;
            }
            changed
        })
        .sum()
}

/// Discs (centre, radius) filled into a `width`×`height` mask, soft at the rim.
pub fn discs(width: usize, height: usize, discs: &[(P, f32)]) -> Plane {
    let mut plane = Plane::new(width, height);
    for &((cx, cy), r) in discs {
        let (x0, x1) = ((cx - r - 1.0).max(0.0) as usize, ((cx + r + 2.0).max(0.0) as usize).min(width));
        let (y0, y1) = ((cy - r - 1.0).max(0.0) as usize, ((cy + r + 2.0).max(0.0) as usize).min(height));
        for y in y0..y1 {
            for x in x0..x1 {
                let d = (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy);
                let v = (r + 0.5 - d).clamp(0.0, 1.0);
                let k = y * width + x;
                plane.data[k] = plane.data[k].max(v);
            }
        }
    }
    plane
}

/// `image` with its alpha multiplied by `mask` (0..1, the image's size): the part of a garment
/// photo one piece of the fit takes.
pub fn masked(image: &RgbaImage, mask: &Plane) -> RgbaImage {
    let mut out = image.clone();
    for (p, m) in out.pixels_mut().zip(&mask.data) {
        p[3] = (p[3] as f32 * m).round() as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_scales_alpha_only() {
        let image = RgbaImage::from_pixel(2, 1, image::Rgba([10, 20, 30, 200]));
        let mask = Plane { width: 2, height: 1, data: vec![0.5, 0.0] };
        let out = masked(&image, &mask);
        assert_eq!(out.get_pixel(0, 0), &image::Rgba([10, 20, 30, 100]));
        assert_eq!(out.get_pixel(1, 0)[3], 0);
    }

    #[test]
    fn the_warp_moves_the_garment_where_the_points_say() {
        // A 40×40 red square; its corners mapped to a 60×60 square at (100, 50).
        let g = RgbaImage::from_pixel(40, 40, image::Rgba([200, 0, 0, 255]));
        let pairs = [
            ((0.0, 0.0), (100.0, 50.0)),
            ((40.0, 0.0), (160.0, 50.0)),
            ((0.0, 40.0), (100.0, 110.0)),
            ((40.0, 40.0), (160.0, 110.0)),
        ];
        let out = warp(&g, &pairs, 300, 200).unwrap();
        assert_eq!(out.get_pixel(130, 80)[3], 255, "inside the target square");
        assert_eq!(out.get_pixel(130, 80)[0], 200);
        assert_eq!(out.get_pixel(90, 80)[3], 0, "left of it");
        assert_eq!(out.get_pixel(130, 120)[3], 0, "below it");
    }

    #[test]
    fn wearing_respects_protected_and_disallowed_pixels_and_leaves_the_rest() {
        let photo = RgbImage::from_pixel(10, 10, image::Rgb([100, 100, 100]));
        let mut canvas = photo.clone();
        let layer = RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 255, 255]));
        let mut allowed = Plane::new(10, 10);
        allowed.data[..50].fill(1.0); // top half
        let protect = discs(10, 10, &[((2.5, 2.5), 1.0)]);
        let wearer = Wearer { allowed, protect, shading: Plane { width: 10, height: 10, data: vec![1.0; 100] } };
        let changed = wear(&mut canvas, &layer, &wearer, 1.0);
        assert_eq!(canvas.get_pixel(7, 2).0, [0, 0, 255], "dressed");
        assert_eq!(canvas.get_pixel(2, 2).0, [100, 100, 100], "protected (a face) is untouched");
        assert_eq!(canvas.get_pixel(7, 7).0, [100, 100, 100], "outside the person is untouched");
        assert!(changed > 40 && changed < 50, "{changed}");
    }

    #[test]
    fn shading_is_neutral_on_flat_light_and_darkens_a_fold() {
        let mut photo = RgbImage::from_pixel(300, 300, image::Rgb([150, 150, 150]));
        for y in 0..300 {
            for x in 148..152 {
                photo.put_pixel(x, y, image::Rgb([60, 60, 60]));
            }
        }
        let s = shading(&photo);
        assert!((s.at(50, 150) - 1.0).abs() < 0.02);
        assert!(s.at(150, 150) < 0.8, "the fold is darker: {}", s.at(150, 150));
    }
}
