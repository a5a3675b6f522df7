//! Resizing RGB photos on every core, pixel for pixel what `image::imageops::resize` gives
//! (the same kernels, weights and order of sums, so not one value differs; a test holds the
//! two together) — `image` resizes on one core, and at 4K the studio resizes a lot: the working
//! copy, the model's input, the try-on's working size, a background covering the frame.
//!
//! Like `image`: a vertical pass into f32, then a horizontal pass rounded back to 8 bits.

use image::imageops::FilterType;
use image::RgbImage;
use rayon::prelude::*;

/// `image`'s BC-spline (B = 0, C = 0.5 for Catmull-Rom).
fn bc_cubic_spline(x: f32, b: f32, c: f32) -> f32 {
    let a = x.abs();
    let k = if a < 1.0 {
        (12.0 - 9.0 * b - 6.0 * c) * a.powi(3) + (-18.0 + 12.0 * b + 6.0 * c) * a.powi(2) + (6.0 - 2.0 * b)
    } else if a < 2.0 {
        (-b - 6.0 * c) * a.powi(3)
            + (6.0 * b + 30.0 * c) * a.powi(2)
            + (-12.0 * b - 48.0 * c) * a
            + (8.0 * b + 24.0 * c)
    } else {
        0.0
    };
    k / 6.0
}

fn triangle(x: f32) -> f32 {
    if x.abs() < 1.0 {
        1.0 - x.abs()
    } else {
        0.0
    }
}

/// A kernel and its support (in input pixels at scale 1).
type Kernel = (fn(f32) -> f32, f32);

/// The kernel and its support, as `image` defines them.
fn kernel(filter: FilterType) -> Option<Kernel> {
    match filter {
        FilterType::Triangle => Some((triangle, 1.0)),
        FilterType::CatmullRom => Some((|x| bc_cubic_spline(x, 0.0, 0.5), 2.0)),
        _ => None,
    }
}

/// For each output position along an axis of `from` → `to` pixels: the first input pixel and
/// the normalised weights of the inputs from there.
fn taps(from: u32, to: u32, kernel: fn(f32) -> f32, support: f32) -> Vec<(usize, Vec<f32>)> {
    let ratio = from as f32 / to as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let src_support = support * sratio;
    (0..to)
        .map(|out| {
            let input = (out as f32 + 0.5) * ratio;
            let left = ((input - src_support).floor() as i64).clamp(0, from as i64 - 1);
            let right = ((input + src_support).ceil() as i64).clamp(left + 1, from as i64);
            let input = input - 0.5;
            let mut ws: Vec<f32> = (left..right).map(|i| kernel((i as f32 - input) / sratio)).collect();
            let sum: f32 = ws.iter().fold(0.0, |s, w| s + w);
            for w in &mut ws {
                *w /= sum;
            }
            (left as usize, ws)
        })
        .collect()
}

/// `img` resized to `w`×`h` with `filter` (Triangle or CatmullRom; others go to `image`).
pub fn resize(img: &RgbImage, w: u32, h: u32, filter: FilterType) -> RgbImage {
    let (sw, sh) = img.dimensions();
    let Some((kernel, support)) = kernel(filter).filter(|_| sw > 0 && sh > 0 && w > 0 && h > 0) else {
        return image::imageops::resize(img, w, h, filter);
    };
    if (w, h) == (sw, sh) {
        return img.clone();
    }
    // Vertical: each output row a weighted sum of input rows, in f32 (3 channels; `image`
    // carries a fourth it never uses).
    let rows = taps(sh, h, kernel, support);
    let src = img.as_raw();
    let stride = sw as usize * 3;
    let mut tall = vec![0f32; stride * h as usize];
    tall.par_chunks_mut(stride).zip(&rows).for_each(|(out, (left, ws))| {
        for (i, wt) in ws.iter().enumerate() {
            let row = &src[(left + i) * stride..(left + i + 1) * stride];
            for (o, v) in out.iter_mut().zip(row) {
                *o += *v as f32 * wt;
            }
        }
    });
    // Horizontal: each output pixel a weighted sum across, clamped and rounded.
    let cols = taps(sw, w, kernel, support);
    let mut out = RgbImage::new(w, h);
    out.par_chunks_mut(w as usize * 3).zip(tall.par_chunks(stride)).for_each(|(out, row)| {
        for (px, (left, ws)) in out.chunks_exact_mut(3).zip(&cols) {
            let mut t = [0f32; 3];
            for (i, wt) in ws.iter().enumerate() {
                let p = &row[(left + i) * 3..(left + i) * 3 + 3];
                for c in 0..3 {
                    t[c] += p[c] * wt;
                }
            }
            for c in 0..3 {
                px[c] = t[c].clamp(0.0, 255.0).round() as u8;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not one value differs from `image`'s own resize, up and down, both kernels.
    #[test]
    fn the_same_pixels_as_image_resize() {
        let img = RgbImage::from_fn(97, 61, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, ((x * y) % 251) as u8, if (x / 5 + y / 3) % 2 == 0 { 250 } else { 5 }])
        });
        for filter in [FilterType::Triangle, FilterType::CatmullRom] {
            for (w, h) in [(256, 256), (16, 9), (97, 200), (40, 61), (1, 1), (300, 13)] {
                let ours = resize(&img, w, h, filter);
                let theirs = image::imageops::resize(&img, w, h, filter);
                assert_eq!(ours.as_raw(), theirs.as_raw(), "{filter:?} to {w}×{h}");
            }
        }
    }
}
