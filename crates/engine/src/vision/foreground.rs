//! Foreground colour at soft edges. A hair pixel with alpha 0.4 is 60 % old background: pasted
//! as it is, it carries a halo of the old wall onto the new scene. Each edge pixel is solved for
//! its foreground colour F from I = αF + (1 − α)B, with B the local old background estimated
//! from nearby pixels the matte calls background (a box mean weighted by 1 − α).

use image::{RgbImage, RgbaImage};

use super::guided::{box_mean, Plane};
use crate::render::color::{linear_to_srgb, u8_to_linear};

/// Linear-light foreground colours, row-major, one per pixel of `img`.
pub fn estimate(img: &RgbImage, alpha: &Plane, radius: usize) -> Vec<[f32; 3]> {
    let (w, h) = (alpha.width, alpha.height);
    let linear: Vec<[f32; 3]> = img.pixels().map(|p| [0, 1, 2].map(|c| u8_to_linear(p[c]))).collect();
    let weight = Plane { width: w, height: h, data: alpha.data.iter().map(|a| (1.0 - a).powi(2)).collect() };
    let mean_weight = box_mean(&weight, radius);
    let background: Vec<Plane> = (0..3)
        .map(|c| {
            let weighted =
                Plane { width: w, height: h, data: linear.iter().zip(&weight.data).map(|(p, wt)| p[c] * wt).collect() };
            let mut m = box_mean(&weighted, radius);
            for (v, wt) in m.data.iter_mut().zip(&mean_weight.data) {
                *v /= wt.max(1e-4);
            }
            m
        })
        .collect();
    linear
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let a = alpha.data[k];
            // Solid pixels and pixels with no background nearby keep their colour.
            if !(0.02..0.98).contains(&a) || mean_weight.data[k] < 1e-3 {
                return *i;
            }
            [0, 1, 2].map(|c| ((i[c] - (1.0 - a) * background[c].data[k]) / a.max(0.15)).clamp(0.0, 1.0))
        })
        .collect()
}

/// The cutout of `alpha` over `photo`, with edge colours solved.
pub fn cutout(photo: &RgbImage, alpha: &Plane) -> RgbaImage {
    let radius = (photo.width().max(photo.height()) as usize / 60).clamp(4, 48);
    let colours = estimate(photo, alpha, radius);
    RgbaImage::from_fn(photo.width(), photo.height(), |x, y| {
        let k = y as usize * alpha.width + x as usize;
        let c = colours[k].map(|v| (linear_to_srgb(v) * 255.0).round() as u8);
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
            image::Rgb([0, 1, 2].map(|c| {
                (crate::render::color::linear_to_srgb(a * red[c] + (1.0 - a) * blue[c]) * 255.0).round() as u8
            }))
        });
        let f = estimate(&img, &alpha, 12);
        let at = |x: usize| f[10 * w + x];
        // At alpha 0.5 the photo is half blue; the estimate is close to the true red.
        let x = 30;
        let photo_blue = 0.5 * red[2] + 0.5 * blue[2];
        assert!(at(x)[2] < photo_blue * 0.5, "blue spill removed: {:?}", at(x));
        assert!(at(x)[0] > 0.6, "red kept: {:?}", at(x));
    }
}
