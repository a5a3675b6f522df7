//! The matte of a flat product shot (a garment on a plain background): the background colour is
//! estimated from the image's border, and each pixel's alpha grows with its colour distance from
//! it, with thresholds set by how much the border itself varies. Separate items are the large
//! connected regions. The slot for a learned product matte (ISNet, opt-in) sits before this.

use image::RgbImage;

use crate::plane::Plane;

/// Median border colour and its spread (mean absolute deviation), both 0..255.
pub fn border_colour(img: &RgbImage) -> ([f32; 3], f32) {
    let (w, h) = img.dimensions();
    let mut samples: Vec<[u8; 3]> = Vec::new();
    let band = (w.min(h) / 50).max(1);
    for (x, y, p) in img.enumerate_pixels() {
        if x < band || y < band || x >= w - band || y >= h - band {
            samples.push(p.0);
        }
    }
    let median = [0, 1, 2].map(|c| {
        let mut v: Vec<u8> = samples.iter().map(|s| s[c]).collect();
        v.sort_unstable();
        v[v.len() / 2] as f32
    });
    let spread =
        samples.iter().map(|s| (0..3).map(|c| (s[c] as f32 - median[c]).abs()).sum::<f32>() / 3.0).sum::<f32>()
            / samples.len().max(1) as f32;
    (median, spread)
}

/// Alpha from the distance to the background colour; `None` when the border is not a plain
/// background (a busy scene is not a product shot).
pub fn matte(img: &RgbImage) -> Option<Plane> {
    let (bg, spread) = border_colour(img);
    if spread > 18.0 {
        return None;
    }
    let (lo, hi) = (spread * 2.5 + 10.0, spread * 2.5 + 40.0);
    let data = img
        .pixels()
        .map(|p| {
            let d = ((0..3).map(|c| (p[c] as f32 - bg[c]).powi(2)).sum::<f32>()).sqrt();
            ((d - lo) / (hi - lo)).clamp(0.0, 1.0)
        })
        .collect();
    Some(Plane { width: img.width() as usize, height: img.height() as usize, data })
}

/// One separate item: its box (x0, y0, x1, y1), its pixel count, and its own alpha (the matte
/// restricted to this region, edges kept soft), so a neighbour inside its box is not included.
#[derive(Debug, Clone)]
pub struct Item {
    pub bbox: (usize, usize, usize, usize),
    pub pixels: usize,
    pub alpha: Plane,
}

/// The pixels (row-major indices) 4-connected to `seeds` through pixels for which `inside`
/// holds, each visited once: `seen` marks them (and may already mark pixels to skip).
pub fn flood(
    width: usize,
    height: usize,
    seen: &mut [bool],
    seeds: impl IntoIterator<Item = usize>,
    inside: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut stack: Vec<usize> = Vec::new();
    for k in seeds {
        if !seen[k] && inside(k) {
            seen[k] = true;
            stack.push(k);
        }
    }
    let mut region = Vec::new();
    while let Some(k) = stack.pop() {
        region.push(k);
        let (x, y) = (k % width, k / width);
        let neighbours = [
            (x > 0).then(|| k - 1),
            (x + 1 < width).then(|| k + 1),
            (y > 0).then(|| k - width),
            (y + 1 < height).then(|| k + width),
        ];
        for nb in neighbours.into_iter().flatten() {
            if !seen[nb] && inside(nb) {
                seen[nb] = true;
                stack.push(nb);
            }
        }
    }
    region
}

/// The regions above 0.5 covering at least `min_share` of the frame, largest first.
pub fn items(alpha: &Plane, min_share: f32) -> Vec<Item> {
    let (w, h) = (alpha.width, alpha.height);
    let mut seen = vec![false; w * h];
    let mut found = Vec::new();
    for start in 0..w * h {
        if seen[start] || alpha.data[start] <= 0.5 {
            continue;
        }
        let region = flood(w, h, &mut seen, [start], |k| alpha.data[k] > 0.5);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let mut member = Plane::new(w, h);
        for &k in &region {
            member.data[k] = 1.0;
            let (x, y) = (k % w, k / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
        let n = region.len();
        if n as f32 >= min_share * (w * h) as f32 {
            // Grow the membership by 2 px so the soft edge around the region stays with it.
            let grown = crate::plane::box_mean(&member, 2);
            let own = Plane {
                width: w,
                height: h,
                data: alpha.data.iter().zip(&grown.data).map(|(a, g)| if *g > 0.0 { *a } else { 0.0 }).collect(),
            };
            found.push(Item { bbox: (x0, y0, x1, y1), pixels: n, alpha: own });
        }
    }
    found.sort_by_key(|item| std::cmp::Reverse(item.pixels));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two red shapes on an off-white background with faint noise.
    fn shot() -> RgbImage {
        RgbImage::from_fn(200, 100, |x, y| {
            let noise = ((x * 7 + y * 13) % 5) as u8;
            if (20..80).contains(&x) && (20..80).contains(&y) || (120..150).contains(&x) && (40..60).contains(&y) {
                image::Rgb([200, 30, 40])
            } else {
                image::Rgb([240 + noise, 238 + noise, 232 + noise])
            }
        })
    }

    #[test]
    fn a_plain_background_is_cut_away_and_items_are_found_largest_first() {
        let alpha = matte(&shot()).unwrap();
        assert_eq!(alpha.at(50, 50), 1.0);
        assert_eq!(alpha.at(5, 5), 0.0);
        let found = items(&alpha, 0.01);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].bbox, (20, 20, 80, 80));
        assert_eq!((found[1].bbox.0, found[1].bbox.1), (120, 40));
        assert_eq!(found[0].alpha.at(130, 50), 0.0, "the other item is not part of this one");
        assert_eq!(found[1].alpha.at(130, 50), 1.0);
    }

    #[test]
    fn a_busy_scene_is_not_a_product_shot() {
        let busy = RgbImage::from_fn(100, 100, |x, y| {
            image::Rgb([(x * 37 % 256) as u8, (y * 53 % 256) as u8, ((x + y) * 11 % 256) as u8])
        });
        assert!(matte(&busy).is_none());
    }
}

/// Side of ISNet's fixed square input.
pub const ISNET_SIDE: usize = 1024;
/// Side of U²-Net's (u2netp's) fixed square input.
pub const U2NET_SIDE: usize = 320;

/// Below this peak, u2netp's map found no subject: on the sample photos and a product shot it
/// peaks at 1.00, on colour and grey noise at 0.71–0.77.
pub const U2NET_CONFIDENT: f32 = 0.9;
/// Above this share of its map between 0.2 and 0.8, u2netp could not tell subject from
/// background: 0.8–11 % on the sample photos and a product shot, 44 % on the noise it peaks on.
pub const U2NET_UNSURE: f32 = 0.25;

/// The learned product mattes the studio runs, by how their tensors read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnedForm {
    /// ISNet (opt-in): NCHW RGB (x − 128) / 256 at 1024² in, alpha in 0..1 out.
    Isnet,
    /// U²-Net's small model (u2netp, the default): NCHW RGB at 320², x / max(x) then ImageNet's
    /// mean and std in (rembg's `normalize`); its d1 map out, stretched to 0..1 by its own
    /// minimum and maximum (as rembg does), then refined at the photo's edges by the guided
    /// filter the person matte uses.
    U2net,
}

impl LearnedForm {
    pub fn side(self) -> usize {
        match self {
            LearnedForm::Isnet => ISNET_SIDE,
            LearnedForm::U2net => U2NET_SIDE,
        }
    }
}

/// A learned foreground matte, implemented by the engine over the loaded model; its error is
/// the caller's own.
pub trait ForegroundModel {
    type Error: From<crate::Error>;
    /// How the model's tensors read.
    fn form(&self) -> LearnedForm;
    /// The matte for `nchw` (the model's input, made by [`learned_input`]), at the form's side.
    fn alpha(&self, nchw: &[f32]) -> Result<Vec<f32>, Self::Error>;
}

/// The model's input: the photo stretched to the form's side, channels first, normalised as
/// the form says.
pub fn learned_input(img: &RgbImage, form: LearnedForm) -> Vec<f32> {
    let side = form.side() as u32;
    let filter = match form {
        LearnedForm::Isnet => image::imageops::FilterType::Triangle,
        // rembg resizes with Lanczos.
        LearnedForm::U2net => image::imageops::FilterType::Lanczos3,
    };
    let small = super::resample::resize(img, side, side, filter);
    let n = (side * side) as usize;
    let mut out = vec![0f32; 3 * n];
    match form {
        LearnedForm::Isnet => {
            for (k, p) in small.pixels().enumerate() {
                for c in 0..3 {
                    out[c * n + k] = (p[c] as f32 - 128.0) / 256.0;
                }
            }
        }
        LearnedForm::U2net => {
            const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
            const STD: [f32; 3] = [0.229, 0.224, 0.225];
            let max = small.as_raw().iter().copied().max().unwrap_or(255).max(1) as f32;
            for (k, p) in small.pixels().enumerate() {
                for c in 0..3 {
                    out[c * n + k] = (p[c] as f32 / max - MEAN[c]) / STD[c];
                }
            }
        }
    }
    out
}

/// The learned matte at the photo's size.
pub fn learned_matte<M: ForegroundModel + ?Sized>(img: &RgbImage, model: &M) -> Result<Plane, M::Error> {
    let form = model.form();
    let side = form.side();
    let alpha = model.alpha(&learned_input(img, form))?;
    if alpha.len() != side * side {
        return Err(crate::Error::Model(format!("the foreground model returned {} values", alpha.len())).into());
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    match form {
        LearnedForm::Isnet => {
            let low = Plane { width: side, height: side, data: alpha.into_iter().map(|a| a.clamp(0.0, 1.0)).collect() };
            Ok(super::matte::upsample(&low, w, h))
        }
        LearnedForm::U2net => {
            let (lo, hi) = alpha.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &a| (lo.min(a), hi.max(a)));
            // rembg stretches whatever the model saw to 0..1; where it saw nothing with
            // confidence, or could not decide over much of the frame (noise), that would invent
            // a subject: nothing is cut out.
            let unsure = alpha.iter().filter(|a| (0.2..0.8).contains(*a)).count() as f32 / alpha.len() as f32;
            if hi < U2NET_CONFIDENT || unsure > U2NET_UNSURE {
                return Ok(Plane::new(w, h));
            }
            let span = (hi - lo).max(1e-6);
            let low = Plane { width: side, height: side, data: alpha.iter().map(|a| (a - lo) / span).collect() };
            let seg = super::matte::Segmentation { low, people: 1 };
            let refined = super::matte::refine(img, &seg, &mut || Ok::<(), std::convert::Infallible>(()));
            Ok(refined.unwrap_or_else(|never| match never {}).alpha)
        }
    }
}

#[cfg(test)]
mod learned_tests {
    use super::*;

    /// Sees a centred square covering the middle half of the frame.
    struct Square;
    impl ForegroundModel for Square {
        type Error = crate::Error;
        fn form(&self) -> LearnedForm {
            LearnedForm::Isnet
        }
        fn alpha(&self, nchw: &[f32]) -> Result<Vec<f32>, crate::Error> {
            assert_eq!(nchw.len(), 3 * ISNET_SIDE * ISNET_SIDE);
            Ok((0..ISNET_SIDE * ISNET_SIDE)
                .map(|k| {
                    let (x, y) = (k % ISNET_SIDE, k / ISNET_SIDE);
                    let inside = (256..768).contains(&x) && (256..768).contains(&y);
                    if inside {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect())
        }
    }

    #[test]
    fn input_is_channels_first_and_centred_and_the_matte_maps_back() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([255, 128, 0]));
        let input = learned_input(&img, LearnedForm::Isnet);
        let n = ISNET_SIDE * ISNET_SIDE;
        assert_eq!((input[0], input[n], input[2 * n]), (127.0 / 256.0, 0.0, -0.5));
        let alpha = learned_matte(&img, &Square).unwrap();
        assert_eq!((alpha.width, alpha.height), (300, 200));
        assert_eq!(alpha.at(150, 100), 1.0);
        assert_eq!(alpha.at(5, 5), 0.0);
    }
}
