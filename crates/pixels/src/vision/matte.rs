//! The person matte: a segmentation model at 256², upsampled and refined at full resolution by
//! the guided filter; the largest person is kept when there are several.

use image::RgbImage;
use rayon::prelude::*;

use crate::plane::{apply, coefficients, Plane, Rect};

/// Side of the square the segmentation model sees.
pub const MODEL_SIDE: usize = 256;

/// A person-segmentation model: NHWC RGB 0..1 at 256² in (input `input_1`, shape
/// `[1, 256, 256, 3]`), person probability 256² out. The engine implements it over the loaded
/// ONNX model (`person-matte`); tests over fakes. Its error is the caller's own (a job's
/// failure), carried through untouched.
pub trait Segmenter {
    type Error: From<crate::Error>;
    fn person_probability(&self, rgb: &[f32]) -> Result<Vec<f32>, Self::Error>;
}

/// The matte at full resolution and what was found.
#[derive(Debug, Clone)]
pub struct Matte {
    pub alpha: Plane,
    /// How many separate people (connected regions of real size) the model saw.
    pub people: usize,
    /// Share of the frame covered by the kept subject (0..1).
    pub coverage: f32,
}

fn smoothstep(lo: f32, hi: f32, x: f32) -> f32 {
    let t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Bilinear resample of an RGB image into the model's 256² NHWC 0..1 tensor.
pub fn to_model_input(img: &RgbImage) -> Vec<f32> {
    let small =
        super::resample::resize(img, MODEL_SIDE as u32, MODEL_SIDE as u32, image::imageops::FilterType::Triangle);
    small.as_raw().iter().map(|v| *v as f32 / 255.0).collect()
}

/// Bilinear upsampling of a square low-resolution plane to `w`×`h`, rows on every core.
pub fn upsample(p: &Plane, w: usize, h: usize) -> Plane {
    let mut out = Plane::new(w, h);
    let (sx, sy) = (p.width as f32 / w as f32, p.height as f32 / h as f32);
    // Each column's source pair and weight, the same on every row.
    let columns: Vec<(usize, usize, f32)> = (0..w)
        .map(|x| {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (p.width - 1) as f32);
            let x0 = fx.floor() as usize;
            (x0, (x0 + 1).min(p.width - 1), fx.fract())
        })
        .collect();
    out.data.par_chunks_mut(w.max(1)).enumerate().for_each(|(y, row)| {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (p.height - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy.fract());
        let y1 = (y0 + 1).min(p.height - 1);
        let (above, below) = (p.row(y0), p.row(y1));
        for (v, &(x0, x1, tx)) in row.iter_mut().zip(&columns) {
            let top = above[x0] * (1.0 - tx) + above[x1] * tx;
            let bottom = below[x0] * (1.0 - tx) + below[x1] * tx;
            *v = top * (1.0 - ty) + bottom * ty;
        }
    });
    out
}

/// Labels 4-connected regions above 0.5; returns (labels, sizes) with label 0 = background.
fn regions(p: &Plane) -> (Vec<u32>, Vec<usize>) {
    let mut labels = vec![0u32; p.data.len()];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..p.data.len() {
        if p.data[start] <= 0.5 || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        sizes.push(0);
        stack.push(start);
        labels[start] = label;
        while let Some(k) = stack.pop() {
            sizes[label as usize] += 1;
            let (x, y) = (k % p.width, k / p.width);
            let mut visit = |n: usize| {
                if p.data[n] > 0.5 && labels[n] == 0 {
                    labels[n] = label;
                    stack.push(n);
                }
            };
            if x > 0 {
                visit(k - 1);
            }
            if x + 1 < p.width {
                visit(k + 1);
            }
            if y > 0 {
                visit(k - p.width);
            }
            if y + 1 < p.height {
                visit(k + p.width);
            }
        }
    }
    (labels, sizes)
}

/// The model's view: person probability at 256², only the largest person kept.
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub low: Plane,
    pub people: usize,
}

/// Runs the model and keeps the largest person.
pub fn segment<M: Segmenter + ?Sized>(img: &RgbImage, model: &M) -> Result<Segmentation, M::Error> {
    let probability = model.person_probability(&to_model_input(img))?;
    if probability.len() != MODEL_SIDE * MODEL_SIDE {
        return Err(crate::Error::Model(format!("the matte model returned {} values", probability.len())).into());
    }
    let mut low = Plane { width: MODEL_SIDE, height: MODEL_SIDE, data: probability };
    // People are regions of at least 0.5 % of the frame; specks are noise.
    let (labels, sizes) = regions(&low);
    let min_size = MODEL_SIDE * MODEL_SIDE / 200;
    let people = sizes.iter().skip(1).filter(|s| **s >= min_size).count();
    if let Some((largest, _)) = sizes.iter().enumerate().skip(1).max_by_key(|(_, s)| **s) {
        // The kept person's soft edge (hair, motion blur) stays: everything farther than a few
        // pixels from its confident region goes, other people and their soft edges with them.
        let kept: Vec<bool> = labels.iter().map(|l| *l as usize == largest).collect();
        let near = dilate(&kept, MODEL_SIDE, MODEL_SIDE, KEEP_RADIUS);
        for (k, near) in near.iter().enumerate() {
            if !near {
                low.data[k] = 0.0;
            }
        }
    }
    Ok(Segmentation { low, people })
}

/// How far (model pixels at 256²) the kept person's soft edge may reach past its confident region.
const KEEP_RADIUS: usize = 6;

/// `mask` grown by `r` pixels (square neighbourhood): a separable running maximum.
fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        for x in 0..w {
            rows[y * w + x] = row[x.saturating_sub(r)..(x + r + 1).min(w)].iter().any(|v| *v);
        }
    }
    let mut out = vec![false; w * h];
    for x in 0..w {
        for y in 0..h {
            out[y * w + x] = (y.saturating_sub(r)..(y + r + 1).min(h)).any(|yy| rows[yy * w + x]);
        }
    }
    out
}

/// A box holding every pixel of the `w`×`h` upsampling of `low` that is not equal to all its
/// neighbours (or is neither 0 nor 1), found at the low resolution: a full-resolution pixel
/// moves only where the 2×2 low-resolution cells it is interpolated from do, so the box of
/// such cells, grown by one cell and mapped up with a margin, holds them all.
fn edge_box(low: &Plane, w: usize, h: usize) -> Option<Rect> {
    let (lw, lh) = (low.width, low.height);
    let cells = Rect::around(lh, |y| {
        let (row, below) = (low.row(y), low.row((y + 1).min(lh - 1)));
        let moving = |x: usize| {
            let v = row[x];
            (v != 0.0 && v != 1.0) || below[x] != v || (x + 1 < lw && row[x + 1] != v)
        };
        let first = (0..lw).find(|x| moving(*x))?;
        let last = (first..lw).rev().find(|x| moving(*x))?;
        Some((first, last + 1))
    })?;
    let (sx, sy) = (w as f32 / lw as f32, h as f32 / lh as f32);
    // A cell's first pixel, a cell early and two pixels more; a cell's end, two pixels late.
    let start = |cell: usize, scale: f32| ((cell.saturating_sub(1) as f32 * scale).floor() as usize).saturating_sub(2);
    let end = |cell: usize, scale: f32, size: usize| (((cell + 1) as f32 * scale).ceil() as usize + 2).min(size);
    Some(Rect {
        x0: start(cells.x0, sx).min(w),
        y0: start(cells.y0, sy).min(h),
        x1: end(cells.x1, sx, w),
        y1: end(cells.y1, sy, h),
    })
}

/// Upsamples the segmentation to the photo's size and refines its edge with the guided filter.
pub fn refine<E>(img: &RgbImage, seg: &Segmentation, check: &mut dyn FnMut() -> Result<(), E>) -> Result<Matte, E> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    // The model's edge is a soft ramp several pixels wide at 256²; steepen it before upsampling
    // so the guided filter snaps to the photo's edge instead of smearing the ramp outward.
    let steep = Plane {
        width: seg.low.width,
        height: seg.low.height,
        data: seg.low.data.iter().map(|p| smoothstep(0.3, 0.7, *p)).collect(),
    };
    let mut alpha = upsample(&steep, w, h);
    check()?;
    // The radius follows the image size: about 1/100 of the long side.
    let radius = (w.max(h) / 100).clamp(2, 24);
    // Where the coarse matte is one constant (0 or 1) over a window twice the radius, the guided
    // filter gives that constant back exactly (no covariance: a = 0, b = the mean). So the filter
    // runs only around the matte's edge — the box `edge`, grown by twice the radius — on a crop
    // a further two radii wide, which holds every window those pixels' coefficients read.
    let edge = edge_box(&steep, w, h);
    if let Some(edge) = edge {
        let (kept, crop) = (edge.grown(2 * radius, w, h), edge.grown(4 * radius, w, h));
        let (raw, cw) = (img.as_raw(), crop.width());
        // The guide, the photo's luma, is made where it is read: no plane of it is kept.
        let luma = |y: usize| {
            let at = ((crop.y0 + y) * w + crop.x0) * 3;
            raw[at..at + cw * 3]
                .chunks_exact(3)
                .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
        };
        let ab = coefficients(cw, crop.height(), radius, 2e-4, |y, i, p| {
            for (i, l) in i.iter_mut().zip(luma(y)) {
                *i = l;
            }
            p.copy_from_slice(&alpha.row(crop.y0 + y)[crop.x0..crop.x1]);
        });
        // The output goes straight into the matte, over the kept part only: nearer the crop's
        // border its windows were cut short.
        let rows = &mut alpha.data[crop.y0 * w..crop.y1 * w];
        apply(cw, crop.height(), radius, &ab, w, rows, |y, mean_a, mean_b, row| {
            if !(kept.y0..kept.y1).contains(&(crop.y0 + y)) {
                return;
            }
            let (from, to) = (kept.x0 - crop.x0, kept.x1 - crop.x0);
            let out = &mut row[kept.x0..kept.x1];
            for (((q, i), ma), mb) in
                out.iter_mut().zip(luma(y).skip(from)).zip(&mean_a[from..to]).zip(&mean_b[from..to])
            {
                *q = (ma * i + mb).clamp(0.0, 1.0);
            }
        });
    }
    check()?;
    // Clean the filter's faint tails (a 3 % veil of the subject over the whole background).
    let solid: usize = alpha
        .data
        .par_chunks_mut(w.max(1))
        .map(|row| {
            row.iter_mut()
                .map(|a| {
                    *a = smoothstep(0.06, 0.94, *a);
                    (*a > 0.5) as usize
                })
                .sum::<usize>()
        })
        .sum();
    let coverage = solid as f32 / alpha.data.len() as f32;
    Ok(Matte { alpha, people: seg.people, coverage })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [`segment`] then [`refine`].
    fn person_matte(
        img: &RgbImage,
        model: &dyn Segmenter<Error = Stop>,
        check: &mut dyn FnMut() -> Result<(), Stop>,
    ) -> Result<Matte, Stop> {
        let seg = segment(img, model)?;
        check()?;
        refine(img, &seg, check)
    }

    /// A fake model that "sees" people as given discs (centre x, centre y, radius, in 0..1).
    pub struct Discs(pub Vec<(f32, f32, f32)>);

    /// A test's own error: a model's complaint, or a stop asked for by the checkpoint.
    #[derive(Debug, PartialEq)]
    pub enum Stop {
        Pixels(crate::Error),
        Cancelled,
    }

    impl From<crate::Error> for Stop {
        fn from(e: crate::Error) -> Self {
            Stop::Pixels(e)
        }
    }

    impl Segmenter for Discs {
        type Error = Stop;
        fn person_probability(&self, rgb: &[f32]) -> Result<Vec<f32>, Stop> {
            assert_eq!(rgb.len(), MODEL_SIDE * MODEL_SIDE * 3);
            Ok((0..MODEL_SIDE * MODEL_SIDE)
                .map(|k| {
                    let (x, y) =
                        ((k % MODEL_SIDE) as f32 / MODEL_SIDE as f32, (k / MODEL_SIDE) as f32 / MODEL_SIDE as f32);
                    let inside = self.0.iter().any(|(cx, cy, r)| (x - cx).powi(2) + (y - cy).powi(2) < r * r);
                    if inside {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect())
        }
    }

    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let d = ((x as f32 / w as f32 - 0.5).powi(2) + (y as f32 / h as f32 - 0.5).powi(2)).sqrt();
            if d < 0.25 {
                image::Rgb([200, 120, 90])
            } else {
                image::Rgb([30, 60, 40])
            }
        })
    }

    #[test]
    fn the_largest_of_several_people_is_kept() {
        let img = photo(300, 200);
        let model = Discs(vec![(0.5, 0.5, 0.25), (0.1, 0.1, 0.08)]);
        let matte = person_matte(&img, &model, &mut || Ok(())).unwrap();
        assert_eq!(matte.people, 2);
        assert!(matte.alpha.at(150, 100) > 0.9, "the big one stays");
        assert!(matte.alpha.at(30, 20) < 0.1, "the small one goes");
        assert!(matte.coverage > 0.1 && matte.coverage < 0.4);
        assert_eq!((matte.alpha.width, matte.alpha.height), (300, 200));
    }

    /// Person probability 1 inside the first disc, 0.4 (a blurred second person) in the second.
    struct SoftSecond;
    impl Segmenter for SoftSecond {
        type Error = Stop;
        fn person_probability(&self, _: &[f32]) -> Result<Vec<f32>, Stop> {
            Ok((0..MODEL_SIDE * MODEL_SIDE)
                .map(|k| {
                    let (x, y) = ((k % MODEL_SIDE) as f32, (k / MODEL_SIDE) as f32);
                    if (x - 180.0).hypot(y - 128.0) < 50.0 {
                        1.0
                    } else if (x - 40.0).hypot(y - 128.0) < 30.0 {
                        0.4
                    } else {
                        0.0
                    }
                })
                .collect())
        }
    }

    #[test]
    fn the_soft_edge_of_another_person_goes_too() {
        let seg = segment(&photo(256, 256), &SoftSecond).unwrap();
        assert_eq!(seg.low.at(180, 128), 1.0);
        assert_eq!(seg.low.at(40, 128), 0.0, "a faint second person is not part of the subject");
        assert_eq!(
            dilate(&[false, false, true, false, false, false], 6, 1, 1),
            [false, true, true, true, false, false]
        );
    }

    /// The guided filter run only around the matte's edge gives, but for float rounding, what it
    /// gives over the whole frame: elsewhere it returns the constant it was given.
    #[test]
    fn filtering_around_the_edge_is_filtering_everywhere() {
        let img = RgbImage::from_fn(700, 500, |x, y| {
            let v = ((x * 31 + y * 17) % 97) as u8;
            if (x as f32 - 300.0).hypot(y as f32 - 260.0) < 150.0 {
                image::Rgb([200 - v / 2, 120 + v / 3, 90])
            } else {
                image::Rgb([30 + v, 60, 40 + v / 2])
            }
        });
        let seg = segment(&img, &Discs(vec![(0.43, 0.52, 0.22), (0.9, 0.1, 0.05)])).unwrap();
        let got = refine(&img, &seg, &mut || Ok::<(), Stop>(())).unwrap().alpha;

        let steep = Plane {
            width: MODEL_SIDE,
            height: MODEL_SIDE,
            data: seg.low.data.iter().map(|p| smoothstep(0.3, 0.7, *p)).collect(),
        };
        let (w, h) = (700, 500);
        let guide = Plane {
            width: w,
            height: h,
            data: img
                .pixels()
                .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
                .collect(),
        };
        let whole = crate::plane::guided_filter(&guide, &upsample(&steep, w, h), (w.max(h) / 100).clamp(2, 24), 2e-4);
        let worst =
            got.data.iter().zip(&whole.data).map(|(g, f)| (g - smoothstep(0.06, 0.94, *f)).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-5, "{worst}"); // the sums of differently cut bands round apart
    }

    #[test]
    fn nobody_means_no_coverage_and_cancel_stops_it() {
        let img = photo(64, 64);
        let matte = person_matte(&img, &Discs(vec![]), &mut || Ok(())).unwrap();
        assert_eq!((matte.people, matte.coverage), (0, 0.0));
        let err = person_matte(&img, &Discs(vec![(0.5, 0.5, 0.3)]), &mut || Err(Stop::Cancelled)).unwrap_err();
        assert_eq!(err, Stop::Cancelled);
    }
}
