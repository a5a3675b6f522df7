//! Foreground colour at soft edges. A hair pixel with alpha 0.4 is 60 % old background: pasted
//! as it is, it carries a halo of the old wall onto the new scene. Each edge pixel is solved for
//! its foreground colour F from I = αF + (1 − α)B, with B the local old background estimated
//! from nearby pixels the matte calls background (a box mean weighted by 1 − α).

use image::{RgbImage, RgbaImage};

use crate::color::{linear_to_u8, u8_to_linear};
use crate::plane::{box_means, Plane, Rect};

/// The solved foreground of a photo: each pixel's linear-light colour, read with [`Self::at`].
/// Only soft-edge pixels are solved, on demand; what is kept for them is the local old
/// background (three planes and their weights) over the box around the soft edge, never a
/// linear copy of the whole photo.
pub struct Foreground<'a> {
    img: &'a RgbImage,
    alpha: &'a Plane,
    /// Where the estimates below lie in the photo: the soft edge's box grown by the radius.
    region: Rect,
    /// Per row of the region: the mean background weight, then the old background's red,
    /// green and blue (linear), each `region.width()` long.
    local: Vec<f32>,
}

/// Pixels this soft are solved; the rest keep their colour.
fn soft(a: f32) -> bool {
    (0.02..0.98).contains(&a)
}

/// How much a pixel speaks for the old background: (1 − α)².
fn weight(a: f32) -> f32 {
    (1.0 - a).powi(2)
}

/// How far around a pixel its old background is looked for: a sixtieth of the photo's long side.
pub fn radius(photo: &RgbImage) -> usize {
    (photo.width().max(photo.height()) as usize / 60).clamp(4, 48)
}

/// The photo's foreground colours with `alpha`, old background estimated within `radius`.
pub fn estimate<'a>(img: &'a RgbImage, alpha: &'a Plane, radius: usize) -> Foreground<'a> {
    let (w, h) = (alpha.width, alpha.height);
    let edge = Rect::of(alpha, soft);
    // Every window an edge pixel's estimate reads lies in the edge's box grown by the radius.
    let region = edge.map(|e| e.grown(radius, w, h)).unwrap_or(Rect { x0: 0, y0: 0, x1: 0, y1: 0 });
    let (rw, rh) = (region.width(), region.height());
    let raw = img.as_raw();
    let mut local = vec![0f32; 4 * rw * rh];
    // The background near each pixel: the mean of colour × weight over the mean weight.
    box_means::<4>(
        rw,
        rh,
        radius,
        4 * rw,
        &mut local,
        |y, [weights, r, g, b]| {
            let at = (region.y0 + y) * w + region.x0;
            let rgb = &raw[at * 3..(at + rw) * 3];
            for (x, (a, p)) in alpha.data[at..at + rw].iter().zip(rgb.chunks_exact(3)).enumerate() {
                let wt = weight(*a);
                weights[x] = wt;
                (r[x], g[x], b[x]) = (u8_to_linear(p[0]) * wt, u8_to_linear(p[1]) * wt, u8_to_linear(p[2]) * wt);
            }
        },
        |_, means, out| {
            let (mean_weight, rest) = out.split_at_mut(rw);
            mean_weight.copy_from_slice(&means[0]);
            for (c, out) in rest.chunks_exact_mut(rw).enumerate() {
                for ((o, m), wt) in out.iter_mut().zip(&means[c + 1]).zip(&means[0]) {
                    *o = m / wt.max(1e-4);
                }
            }
        },
    );
    Foreground { img, alpha, region, local }
}

impl Foreground<'_> {
    /// The linear-light foreground colour of pixel `k` (row-major).
    #[inline]
    pub fn at(&self, k: usize) -> [f32; 3] {
        let p = &self.img.as_raw()[k * 3..k * 3 + 3];
        let i = [u8_to_linear(p[0]), u8_to_linear(p[1]), u8_to_linear(p[2])];
        let a = self.alpha.data[k];
        if !soft(a) {
            return i;
        }
        // A soft pixel lies in the edge's box, so in the region.
        let (x, y) = (k % self.alpha.width, k / self.alpha.width);
        let rw = self.region.width();
        let row = &self.local[(y - self.region.y0) * 4 * rw..(y - self.region.y0 + 1) * 4 * rw];
        let j = x - self.region.x0;
        // Pixels with no background nearby keep their colour.
        if row[j] < 1e-3 {
            return i;
        }
        [0, 1, 2].map(|c| ((i[c] - (1.0 - a) * row[(c + 1) * rw + j]) / a.max(0.15)).clamp(0.0, 1.0))
    }
}

/// The cutout of `alpha` over `photo`, with edge colours solved.
pub fn cutout(photo: &RgbImage, alpha: &Plane) -> RgbaImage {
    let colours = estimate(photo, alpha, radius(photo));
    RgbaImage::from_fn(photo.width(), photo.height(), |x, y| {
        let k = y as usize * alpha.width + x as usize;
        let c = colours.at(k).map(linear_to_u8);
        image::Rgba([c[0], c[1], c[2], (alpha.data[k] * 255.0).round() as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soft_red_edge_over_blue_comes_out_red() {
        let (w, h) = (60usize, 20usize);
        // Alpha ramps from 1 (x < 20) to 0 (x > 40); the photo is red mixed with a blue wall.
        let alpha = Plane {
            width: w,
            height: h,
            data: (0..w * h).map(|k| (1.0 - ((k % w) as f32 - 20.0) / 20.0).clamp(0.0, 1.0)).collect(),
        };
        let red = [0.8f32, 0.05, 0.05];
        let blue = [0.05f32, 0.1, 0.7];
        let img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let a = alpha.at(x as usize, y as usize);
            image::Rgb(
                [0, 1, 2]
                    .map(|c| (crate::color::linear_to_srgb(a * red[c] + (1.0 - a) * blue[c]) * 255.0).round() as u8),
            )
        });
        let f = estimate(&img, &alpha, 12);
        let at = |x: usize| f.at(10 * w + x);
        // At alpha 0.5 the photo is half blue; the estimate is close to the true red.
        let x = 30;
        let photo_blue = 0.5 * red[2] + 0.5 * blue[2];
        assert!(at(x)[2] < photo_blue * 0.5, "blue spill removed: {:?}", at(x));
        assert!(at(x)[0] > 0.6, "red kept: {:?}", at(x));
    }
}
