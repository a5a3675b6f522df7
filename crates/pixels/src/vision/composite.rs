//! Putting a matted subject on a new background: framing to an output preset, colour
//! harmonisation toward the new light, a soft contact shadow under standing subjects, and an
//! alpha blend in linear light (so edges do not darken).

use image::{RgbImage, RgbaImage};

use crate::color::{linear_to_u8, u8_to_linear};
use crate::plane::{Plane, Rect};
use rayon::prelude::*;

/// The subject's box in the matte (alpha > 0.05): (x0, y0, x1, y1), exclusive ends.
pub fn subject_box(alpha: &Plane) -> Option<(usize, usize, usize, usize)> {
    Rect::of(alpha, |a| a > 0.05).map(|r| (r.x0, r.y0, r.x1, r.y1))
}

/// Scales and crops `img` to cover `w`×`h` exactly (centre crop).
pub fn cover(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let scale = (w as f32 / img.width() as f32).max(h as f32 / img.height() as f32);
    let (sw, sh) =
        (((img.width() as f32 * scale).ceil() as u32).max(w), ((img.height() as f32 * scale).ceil() as u32).max(h));
    let scaled = super::resample::resize(img, sw, sh, image::imageops::FilterType::CatmullRom);
    image::imageops::crop_imm(&scaled, (sw - w) / 2, (sh - h) / 2, w, h).to_image()
}

/// Where the subject goes in the output and at what scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub scale: f32,
    pub dx: f32,
    pub dy: f32,
    /// The subject stands in the frame (feet visible): it gets a contact shadow.
    pub standing: bool,
}

/// Frames the subject: `original` keeps it where it was; other presets centre it. A standing
/// subject fills 86 % of the height (or 90 % of the width) on a floor line at 94 %; a subject the
/// photo cut at the bottom (half body) keeps the cut at the frame's bottom edge and fills 88 % of
/// the height, its sides allowed to run 10 % past the frame as a photographer would crop.
pub fn place(boxed: (usize, usize, usize, usize), source: (u32, u32), target: (u32, u32), keep: bool) -> Placement {
    let (x0, y0, x1, y1) = boxed;
    let cut_at_bottom = y1 as u32 >= source.1.saturating_sub(source.1 / 100 + 1);
    if keep {
        return Placement { scale: target.0 as f32 / source.0 as f32, dx: 0.0, dy: 0.0, standing: !cut_at_bottom };
    }
    let (bw, bh) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let (tw, th) = (target.0 as f32, target.1 as f32);
    let scale = if cut_at_bottom { (0.88 * th / bh).min(1.10 * tw / bw) } else { (0.86 * th / bh).min(0.90 * tw / bw) };
    let dx = tw / 2.0 - (x0 as f32 + bw / 2.0) * scale;
    let bottom = if cut_at_bottom { th } else { 0.94 * th };
    let dy = bottom - y1 as f32 * scale;
    Placement { scale, dx, dy, standing: !cut_at_bottom }
}

fn lin(p: &image::Rgb<u8>) -> [f32; 3] {
    [0, 1, 2].map(|c| u8_to_linear(p[c]))
}

/// Mean linear colour of pixels where `weight` is high.
fn mean_colour(img: &RgbImage, weight: impl Fn(u32, u32) -> f32) -> [f32; 3] {
    let (mut sum, mut n) = ([0f64; 3], 0f64);
    let (w, raw) = (img.width() as usize, img.as_raw());
    // Every 7th pixel, stepped to directly (an iterator's `step_by` would visit them all).
    for k in (0..raw.len() / 3).step_by(7) {
        let wt = weight((k % w) as u32, (k / w) as u32) as f64;
        for c in 0..3 {
            sum[c] += u8_to_linear(raw[3 * k + c]) as f64 * wt;
        }
        n += wt;
    }
    [0, 1, 2].map(|c| (sum[c] / n.max(1e-6)) as f32)
}

/// Composites `subject` (with `alpha`) onto `background` (already `target` size).
/// `harmonise` (0..1) pulls the subject's colour balance toward the background's.
pub fn composite(subject: &RgbImage, alpha: &Plane, background: &RgbImage, at: Placement, harmonise: f32) -> RgbImage {
    let (tw, th) = background.dimensions();
    let mut out = background.clone();
    // Colour balance: per-channel gains that move the subject's average tint toward the scene's.
    let fg = mean_colour(subject, |x, y| alpha.at(x as usize, y as usize));
    let bg = mean_colour(background, |_, _| 1.0);
    let tint = |c: [f32; 3]| {
        let l = (c[0] + c[1] + c[2]) / 3.0 + 1e-6;
        c.map(|v| v / l)
    };
    let (tf, tb) = (tint(fg), tint(bg));
    let gain: [f32; 3] = [0, 1, 2].map(|c| 1.0 + harmonise * (tb[c] / tf[c].max(1e-3) - 1.0).clamp(-0.3, 0.3));

    // The subject's own colours at soft edges, without the old background mixed in.
    let foreground = super::foreground::estimate(subject, alpha, super::foreground::radius(subject));
    let boxed = subject_box(alpha);
    // Contact shadow: a soft ellipse under the feet, darkest at its centre.
    if let (true, Some((x0, _, x1, y1))) = (at.standing, boxed) {
        let cx = ((x0 + x1) as f32 / 2.0) * at.scale + at.dx;
        let cy = y1 as f32 * at.scale + at.dy;
        let (rx, ry) = (((x1 - x0) as f32 * at.scale * 0.38).max(4.0), ((x1 - x0) as f32 * at.scale * 0.06).max(2.0));
        let (ya, yb) = ((cy - 3.0 * ry).max(0.0) as u32, ((cy + 3.0 * ry) as u32).min(th));
        let (xa, xb) = ((cx - 2.0 * rx).max(0.0) as u32, ((cx + 2.0 * rx) as u32).min(tw));
        for y in ya..yb {
            for x in xa..xb {
                let d = ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2);
                let shade = 1.0 - 0.45 * (-d).exp();
                let p = out.get_pixel_mut(x, y);
                let l = lin(p);
                *p = image::Rgb([0, 1, 2].map(|c| linear_to_u8(l[c] * shade)));
            }
        }
    }
    // Inverse mapping: each output pixel samples the subject and its alpha (bilinear); rows on
    // every core.
    let (sw, sh) = (subject.width() as f32, subject.height() as f32);
    let stride = subject.width() as usize;
    // Where an output coordinate samples the subject: the two source pixels and the weight of
    // the second, or nothing off the subject. The same for every row (columns) or every
    // column (rows), so worked out once.
    let source = |out: u32, shift: f32, size: f32, last: u32| {
        let s = (out as f32 + 0.5 - shift) / at.scale - 0.5;
        if s < -1.0 || s > size {
            return None;
        }
        let f = s.clamp(0.0, size - 1.0);
        let lo = f.floor() as u32;
        Some((lo, (lo + 1).min(last), f - lo as f32))
    };
    let columns: Vec<_> = (0..tw).map(|x| source(x, at.dx, sw, subject.width() - 1)).collect();
    out.par_chunks_mut(tw as usize * 3).enumerate().for_each(|(y, row)| {
        let Some((y0, y1, ty)) = source(y as u32, at.dy, sh, subject.height() - 1) else { return };
        for (px, column) in row.chunks_exact_mut(3).zip(&columns) {
            let Some((x0, x1, tx)) = *column else { continue };
            let weights = [
                (x0, y0, (1.0 - tx) * (1.0 - ty)),
                (x1, y0, tx * (1.0 - ty)),
                (x0, y1, (1.0 - tx) * ty),
                (x1, y1, tx * ty),
            ];
            let mut a = 0.0;
            let mut f = [0f32; 3];
            for (px, py, w) in weights {
                let k = py as usize * stride + px as usize;
                let aa = alpha.data[k] * w;
                a += aa;
                if aa != 0.0 {
                    let l = foreground.at(k);
                    for c in 0..3 {
                        f[c] += l[c] * aa;
                    }
                }
            }
            if a <= 1e-4 {
                continue;
            }
            let b = [u8_to_linear(px[0]), u8_to_linear(px[1]), u8_to_linear(px[2])];
            for c in 0..3 {
                let fg = f[c] / a * gain[c];
                px[c] = linear_to_u8(fg * a + b[c] * (1.0 - a));
            }
        }
    });
    out
}

/// A tight transparent cutout of what `alpha` holds: the photo's own edge colours (the old
/// background solved away), cropped to the subject's box with a small margin.
pub fn tight_cutout(photo: &RgbImage, alpha: &Plane) -> Option<RgbaImage> {
    let (x0, y0, x1, y1) = subject_box(alpha)?;
    let margin = ((x1 - x0).max(y1 - y0) / 50).max(2);
    let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (x1, y1) = ((x1 + margin).min(alpha.width), (y1 + margin).min(alpha.height));
    let colours = super::foreground::estimate(photo, alpha, super::foreground::radius(photo));
    Some(RgbaImage::from_fn((x1 - x0) as u32, (y1 - y0) as u32, |x, y| {
        let k = (y as usize + y0) * alpha.width + x as usize + x0;
        let c = colours.at(k).map(linear_to_u8);
        image::Rgba([c[0], c[1], c[2], (alpha.data[k] * 255.0).round() as u8])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc_alpha(w: usize, h: usize, cx: f32, cy: f32, r: f32) -> Plane {
        Plane {
            width: w,
            height: h,
            data: (0..w * h)
                .map(|k| if ((k % w) as f32 - cx).powi(2) + ((k / w) as f32 - cy).powi(2) < r * r { 1.0 } else { 0.0 })
                .collect(),
        }
    }

    #[test]
    fn cover_fills_the_frame() {
        let bg = cover(&RgbImage::from_pixel(300, 100, image::Rgb([9, 9, 9])), 120, 160);
        assert_eq!(bg.dimensions(), (120, 160));
    }

    #[test]
    fn the_subject_lands_centred_inside_the_frame_with_a_shadow_under_it() {
        let subject = RgbImage::from_pixel(100, 200, image::Rgb([220, 40, 40]));
        let alpha = disc_alpha(100, 200, 30.0, 60.0, 20.0); // off-centre, not touching the bottom
        let boxed = subject_box(&alpha).unwrap();
        let at = place(boxed, (100, 200), (300, 400), false);
        assert!(at.standing);
        let bg = RgbImage::from_pixel(300, 400, image::Rgb([200, 200, 200]));
        let out = composite(&subject, &alpha, &bg, at, 0.0);
        let centre = out.get_pixel(150, (60.0 * at.scale + at.dy) as u32);
        assert!(centre[0] > 200 && centre[1] < 80, "subject red at the frame centre: {centre:?}");
        let feet_y = (80.0 * at.scale + at.dy) as u32;
        assert!(feet_y < 400);
        let shadow = out.get_pixel(150, (feet_y + 2).min(399));
        assert!(shadow[0] < 200, "shadow under the feet: {shadow:?}");
        assert_eq!(out.get_pixel(5, 5), &image::Rgb([200, 200, 200]), "background untouched far away");
    }

    #[test]
    fn a_photo_cut_at_the_bottom_stays_cut_at_the_bottom_without_a_shadow() {
        let alpha = disc_alpha(100, 100, 50.0, 100.0, 40.0);
        let at = place(subject_box(&alpha).unwrap(), (100, 100), (200, 300), false);
        assert!(!at.standing);
        assert!((100.0 * at.scale + at.dy - 300.0).abs() < 1.0);
    }
}
