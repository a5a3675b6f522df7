//! Upscaling by a learned model in overlapping tiles (issue 29): the picture cut into tiles of a
//! fixed side that overlap by a margin, each run through the model (NCHW RGB in 0..1, the model's
//! scale larger out), and laid back with weights that ramp linearly across each overlap, so
//! neighbouring tiles fade into each other and no seam shows. A model whose output pixel depends
//! only on input pixels closer than the overlap gives exactly the whole-picture result; a deep
//! one (Real-ESRGAN's receptive field is far wider) gives it up to the ramps' blending.
//!
//! Memory stays that of one tile's run plus the output picture, whatever the input's size.

use image::RgbImage;

/// A model that enlarges a picture `scale` times.
pub trait TileModel {
    type Error;
    fn scale(&self) -> u32;
    /// `pixels`: NCHW RGB in 0..1, [1, 3, h, w]; returns [1, 3, scale·h, scale·w].
    fn enlarge(&self, pixels: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, Self::Error>;
}

/// How a picture is cut: tiles of `side` input pixels overlapping by `overlap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub side: u32,
    pub overlap: u32,
}

impl Default for Tiling {
    /// 128² tiles: Real-ESRGAN's activations for one (ONNX Runtime's arena keeps the largest)
    /// grow with the tile's area — a run in 192² tiles peaked at 918 MB resident here — and a
    /// 1K→4K result's blending sums take 270 MB more, so smaller tiles keep the whole under 1 GiB.
    fn default() -> Self {
        Tiling { side: 128, overlap: 24 }
    }
}

impl Tiling {
    /// The tiles' starts along a side of `len`: every `side − overlap`, the last flush with the
    /// end (so the last overlap may be wider).
    pub fn starts(&self, len: u32) -> Vec<u32> {
        if len <= self.side {
            return vec![0];
        }
        let step = (self.side - self.overlap).max(1);
        let mut starts: Vec<u32> = (0..).map(|k| k * step).take_while(|&s| s + self.side < len).collect();
        starts.push(len - self.side);
        starts
    }

    /// How many tiles a `w`×`h` picture takes.
    pub fn count(&self, w: u32, h: u32) -> usize {
        self.starts(w).len() * self.starts(h).len()
    }
}

/// The weight of output position `p` (0-based) within a tile of output length `len` whose
/// neighbours overlap it by `before` and `after` output pixels: 1 in its middle, 0 in the outer
/// quarter of each overlap (where a tile's border, short of context, is least right), ramping
/// linearly across the overlap's middle half; two neighbours' weights sum to 1 everywhere.
fn ramp(p: u32, len: u32, before: u32, after: u32) -> f32 {
    let across = |d: f32, o: u32| if o == 0 { 1.0 } else { ((d - o as f32 / 4.0) / (o as f32 / 2.0)).clamp(0.0, 1.0) };
    across(p as f32 + 0.5, before).min(across((len - p) as f32 - 0.5, after))
}

/// The largest picture an upscale makes, in pixels: a 4K photo ×2, or 2K ×4.
pub const MAX_OUTPUT_PIXELS: u64 = 64_000_000;

/// Working bytes per output pixel besides the model's own run: the blending sums (three f32),
/// their weights (one f32) and the finished picture (three bytes).
pub const BYTES_PER_OUTPUT_PIXEL: u64 = 19;

/// `image` enlarged `scale` times by `model`, tile by tile; `scale` divides the model's own
/// (Real-ESRGAN ×4 gives ×2 too): each tile's output is reduced by area averaging before it is
/// blended, so memory follows the picture made, not the model's. `progress(done, total)` after
/// each tile (an error from it — a cancel — stops before the next).
pub fn upscale<M: TileModel>(
    image: &RgbImage,
    model: &M,
    scale: u32,
    tiling: Tiling,
    progress: &mut dyn FnMut(usize, usize) -> Result<(), M::Error>,
) -> Result<RgbImage, M::Error> {
    let (w, h) = image.dimensions();
    let native = model.scale();
    let s = scale.clamp(1, native);
    // Area averaging over whole blocks: a scale that does not divide the model's is refused by
    // every caller; here it falls back to the model's own.
    let (s, reduce) = if native.is_multiple_of(s) { (s, native / s) } else { (native, 1) };
    let (xs, ys) = (tiling.starts(w), tiling.starts(h));
    let (ow, oh) = (w * s, h * s);
    let mut sum = vec![0f32; (3 * ow * oh) as usize];
    let mut weight = vec![0f32; (ow * oh) as usize];
    let total = xs.len() * ys.len();
    let mut done = 0;
    for (j, &y0) in ys.iter().enumerate() {
        for (i, &x0) in xs.iter().enumerate() {
            let (tw, th) = (tiling.side.min(w), tiling.side.min(h));
            let plane = (tw * th) as usize;
            let mut pixels = vec![0f32; 3 * plane];
            for y in 0..th {
                for x in 0..tw {
                    let p = image.get_pixel(x0 + x, y0 + y);
                    for c in 0..3 {
                        pixels[c * plane + (y * tw + x) as usize] = p[c] as f32 / 255.0;
                    }
                }
            }
            let out = reduced(model.enlarge(pixels, tw, th)?, tw * native, th * native, reduce);
            // The overlaps with the neighbours, in output pixels.
            let overlap = |starts: &[u32], k: usize, len: u32| {
                let before = if k > 0 { (starts[k - 1] + len).saturating_sub(starts[k]) } else { 0 };
                let after = if k + 1 < starts.len() { (starts[k] + len).saturating_sub(starts[k + 1]) } else { 0 };
                (before * s, after * s)
            };
            let ((left, right), (top, bottom)) = (overlap(&xs, i, tw), overlap(&ys, j, th));
            let (otw, oth) = (tw * s, th * s);
            let oplane = (otw * oth) as usize;
            for y in 0..oth {
                let wy = ramp(y, oth, top, bottom);
                for x in 0..otw {
                    let wgt = wy * ramp(x, otw, left, right);
                    let at = ((y0 * s + y) * ow + x0 * s + x) as usize;
                    weight[at] += wgt;
                    for c in 0..3 {
                        sum[c * (ow * oh) as usize + at] += wgt * out[c * oplane + (y * otw + x) as usize];
                    }
                }
            }
            done += 1;
            progress(done, total)?;
        }
    }
    let n = (ow * oh) as usize;
    Ok(RgbImage::from_fn(ow, oh, |x, y| {
        let at = (y * ow + x) as usize;
        let wgt = weight[at].max(1e-12);
        image::Rgb(std::array::from_fn(|c| ((sum[c * n + at] / wgt).clamp(0.0, 1.0) * 255.0).round() as u8))
    }))
}

/// A `w`×`h` three-plane tile averaged over `k`×`k` blocks (`k` = 1: as it is).
fn reduced(planes: Vec<f32>, w: u32, h: u32, k: u32) -> Vec<f32> {
    if k <= 1 {
        return planes;
    }
    let (rw, rh) = (w / k, h / k);
    let (plane, rplane) = ((w * h) as usize, (rw * rh) as usize);
    let area = (k * k) as f32;
    let mut out = vec![0f32; 3 * rplane];
    for c in 0..3 {
        for y in 0..rh {
            for x in 0..rw {
                let mut total = 0.0;
                for dy in 0..k {
                    let row = c * plane + ((y * k + dy) * w + x * k) as usize;
                    total += planes[row..row + k as usize].iter().sum::<f32>();
                }
                out[c * rplane + (y * rw + x) as usize] = total / area;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each output pixel from its input pixel and the four around it (receptive field 1 pixel):
    /// tiled with any overlap of at least 2, exactly the whole-picture result.
    struct Local;
    impl TileModel for Local {
        type Error = ();
        fn scale(&self) -> u32 {
            3
        }
        fn enlarge(&self, px: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, ()> {
            let plane = (w * h) as usize;
            let at = |c: usize, x: i64, y: i64| {
                let (x, y) = (x.clamp(0, w as i64 - 1), y.clamp(0, h as i64 - 1));
                px[c * plane + (y as u32 * w + x as u32) as usize]
            };
            let (ow, oh) = (3 * w, 3 * h);
            let mut out = vec![0.0; 3 * (ow * oh) as usize];
            for c in 0..3 {
                for y in 0..oh {
                    for x in 0..ow {
                        let (sx, sy) = ((x / 3) as i64, (y / 3) as i64);
                        let v = 0.5 * at(c, sx, sy)
                            + 0.125 * (at(c, sx - 1, sy) + at(c, sx + 1, sy) + at(c, sx, sy - 1) + at(c, sx, sy + 1));
                        out[c * (ow * oh) as usize + (y * ow + x) as usize] = v;
                    }
                }
            }
            Ok(out)
        }
    }

    fn picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 11 % 256) as u8, ((x * y) % 256) as u8]))
    }

    /// Every pixel repeated 4×4 (Real-ESRGAN's scale, none of its arithmetic).
    struct Nearest4;
    impl TileModel for Nearest4 {
        type Error = ();
        fn scale(&self) -> u32 {
            4
        }
        fn enlarge(&self, px: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, ()> {
            let (ow, oh) = (4 * w, 4 * h);
            let mut out = vec![0.0; 3 * (ow * oh) as usize];
            for c in 0..3 {
                for y in 0..oh {
                    for x in 0..ow {
                        out[c * (ow * oh) as usize + (y * ow + x) as usize] =
                            px[c * (w * h) as usize + ((y / 4) * w + x / 4) as usize];
                    }
                }
            }
            Ok(out)
        }
    }

    #[test]
    fn half_the_model_s_scale_averages_its_output_in_blocks() {
        let img = picture(50, 37);
        let tiled = upscale(&img, &Nearest4, 2, Tiling { side: 16, overlap: 4 }, &mut |_, _| Ok(())).unwrap();
        assert_eq!(tiled.dimensions(), (100, 74));
        // A 4×4 repeat averaged over 2×2 blocks is a 2×2 repeat: the photo's own pixels.
        for (x, y, p) in tiled.enumerate_pixels() {
            assert_eq!(p, img.get_pixel(x / 2, y / 2), "at {x},{y}");
        }
    }

    #[test]
    fn tiles_overlap_and_the_last_is_flush_with_the_edge() {
        let t = Tiling { side: 32, overlap: 8 };
        assert_eq!(t.starts(20), vec![0]);
        assert_eq!(t.starts(32), vec![0]);
        assert_eq!(t.starts(70), vec![0, 24, 38]);
        assert_eq!(t.count(70, 20), 3);
    }

    #[test]
    fn tiling_a_local_model_gives_exactly_the_whole_picture_s_result() {
        let img = picture(70, 45);
        let whole = upscale(&img, &Local, 3, Tiling { side: 100, overlap: 0 }, &mut |_, _| Ok(())).unwrap();
        let mut seen = Vec::new();
        let tiled = upscale(&img, &Local, 3, Tiling { side: 24, overlap: 6 }, &mut |d, t| {
            seen.push((d, t));
            Ok(())
        })
        .unwrap();
        assert_eq!(tiled.dimensions(), (210, 135));
        assert_eq!(seen.last(), Some(&(12, 12)), "every tile reported");
        let worst = whole.as_raw().iter().zip(tiled.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 1, "tiled differs from whole by {worst}/255");
    }

    #[test]
    fn a_stop_between_tiles_ends_the_run() {
        let img = picture(70, 45);
        let mut calls = 0;
        let stopped = upscale(&img, &Local, 3, Tiling { side: 24, overlap: 6 }, &mut |d, _| {
            calls += 1;
            if d == 2 {
                Err(())
            } else {
                Ok(())
            }
        });
        assert!(stopped.is_err());
        assert_eq!(calls, 2);
    }
}
