//! The guided filter (He, Sun, Tang 2010): edge-aware smoothing of a coarse matte using the
//! full-resolution photo as guide, so an upsampled 256² matte follows hair and fingers instead
//! of blurring across them. O(pixels) through running box sums, in bands of rows on every core.

use rayon::prelude::*;

/// A single-channel f32 plane, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Plane {
    /// At `w`×`h` (bilinear, through 8 bits: for masks); itself when already that size.
    pub fn resized(self, w: usize, h: usize) -> Plane {
        if (self.width, self.height) == (w, h) {
            return self;
        }
        let small = image::imageops::resize(&self.to_gray(), w as u32, h as u32, image::imageops::FilterType::Triangle);
        Plane { width: w, height: h, data: small.pixels().map(|p| p[0] as f32 / 255.0).collect() }
    }

    /// As an 8-bit grey image (0..1 → 0..255, rounded).
    pub fn to_gray(&self) -> image::GrayImage {
        let bytes = self.data.par_iter().map(|a| (a * 255.0).round() as u8).collect();
        image::GrayImage::from_raw(self.width as u32, self.height as u32, bytes).unwrap_or_default()
    }

    pub fn new(width: usize, height: usize) -> Self {
        Plane { width, height, data: vec![0.0; width * height] }
    }
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
    /// Row `y`.
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// A rectangle of pixels: `x0..x1` × `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Rect {
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
    /// Grown by `by` on every side, inside a `w`×`h` frame.
    pub fn grown(self, by: usize, w: usize, h: usize) -> Rect {
        Rect {
            x0: self.x0.saturating_sub(by),
            y0: self.y0.saturating_sub(by),
            x1: (self.x1 + by).min(w),
            y1: (self.y1 + by).min(h),
        }
    }
    /// The box around the values of `p` that are `inside`, if any.
    pub fn of(p: &Plane, inside: impl Fn(f32) -> bool + Sync) -> Option<Rect> {
        Rect::around(p.height, |y| {
            let row = p.row(y);
            Some((row.iter().position(|v| inside(*v))?, row.iter().rposition(|v| inside(*v))? + 1))
        })
    }
    /// The box around what `span` finds in each of `h` rows (its x range there), if anything.
    pub fn around(h: usize, span: impl Fn(usize) -> Option<(usize, usize)> + Sync) -> Option<Rect> {
        (0..h)
            .into_par_iter()
            .filter_map(|y| span(y).map(|(x0, x1)| Rect { x0, y0: y, x1, y1: y + 1 }))
            .reduce_with(|a, b| Rect { x0: a.x0.min(b.x0), y0: a.y0.min(b.y0), x1: a.x1.max(b.x1), y1: a.y1.max(b.y1) })
    }
}

/// Rows per band of [`box_means`]: a few bands per core, each at least a window tall (a band
/// first sums the window above its first row, so short bands would repeat much work).
fn band_rows(h: usize, r: usize) -> usize {
    let cores = rayon::current_num_threads().max(1);
    h.div_ceil(4 * cores).max(2 * r + 1).max(16)
}

/// Mean over a (2r+1)² window, clamped at the borders.
pub fn box_mean(p: &Plane, r: usize) -> Plane {
    box_mean_of(p.width, p.height, r, |y, out| out.copy_from_slice(p.row(y)))
}

/// [`box_mean`] of the `w`×`h` plane whose row `y` `source` writes into its slice: values made
/// on the fly (the product of two planes) need no plane of their own.
fn box_mean_of(w: usize, h: usize, r: usize, source: impl Fn(usize, &mut [f32]) + Sync) -> Plane {
    let mut out = Plane::new(w, h);
    box_means::<1>(
        w,
        h,
        r,
        w,
        &mut out.data,
        |y, rows| source(y, &mut rows[0]),
        |_, means, out| out.copy_from_slice(&means[0]),
    );
    out
}

/// The box filter: the window means (radius `r`, clamped at the borders) of `N` planes of
/// `w`×`h` made row by row — `source(y, rows)` fills row `y` of each — handed a row at a time
/// to `emit(y, means, out_row)`, which writes the `out_width` values of that row of `out`. So
/// whatever is computed from the means (a guided filter's coefficients) is computed as they
/// come, and no plane of means is ever stored.
///
/// Bands of rows run on every core, each sliding a window of column sums down its rows (one
/// row in, one out) and taking each row's window means across. Sums run in f64, so the sliding
/// window loses nothing however far it goes.
pub fn box_means<const N: usize>(
    w: usize,
    h: usize,
    r: usize,
    out_width: usize,
    out: &mut [f32],
    source: impl Fn(usize, &mut [Vec<f32>; N]) + Sync,
    emit: impl Fn(usize, &[Vec<f32>; N], &mut [f32]) + Sync,
) {
    if w == 0 || h == 0 || out_width == 0 {
        return;
    }
    let band = band_rows(h, r);
    let rows = || -> [Vec<f32>; N] { std::array::from_fn(|_| vec![0f32; w]) };
    out.par_chunks_mut(band * out_width).enumerate().for_each(|(b, chunk)| {
        let y0 = b * band;
        let mut sums: [Vec<f64>; N] = std::array::from_fn(|_| vec![0f64; w]);
        let (mut entering, mut leaving, mut means) = (rows(), rows(), rows());
        let mut prefix = Vec::with_capacity(w + 1);
        for y in y0.saturating_sub(r)..(y0 + r + 1).min(h) {
            source(y, &mut entering);
            for (sums, row) in sums.iter_mut().zip(&entering) {
                for (s, v) in sums.iter_mut().zip(row) {
                    *s += *v as f64;
                }
            }
        }
        for (i, out_row) in chunk.chunks_mut(out_width).enumerate() {
            let y = y0 + i;
            if i > 0 {
                let (enters, leaves) = (y + r < h, y > r);
                if enters {
                    source(y + r, &mut entering);
                }
                if leaves {
                    source(y - r - 1, &mut leaving);
                }
                for ((sums, new), old) in sums.iter_mut().zip(&entering).zip(&leaving) {
                    match (enters, leaves) {
                        (true, true) => {
                            for ((s, n), o) in sums.iter_mut().zip(new).zip(old) {
                                *s += *n as f64 - *o as f64;
                            }
                        }
                        (true, false) => sums.iter_mut().zip(new).for_each(|(s, n)| *s += *n as f64),
                        (false, true) => sums.iter_mut().zip(old).for_each(|(s, o)| *s -= *o as f64),
                        (false, false) => {}
                    }
                }
            }
            let count = ((y + r + 1).min(h) - y.saturating_sub(r)) as f64;
            for (sums, means) in sums.iter().zip(means.iter_mut()) {
                horizontal_mean(sums, count, r, &mut prefix, means);
            }
            emit(y, &means, out_row);
        }
    });
}

/// One row of window means from the row's vertical window sums (`rows` rows each), through
/// the row's prefix sums: the interior is one subtraction and one multiplication a pixel, with
/// no running sum that each pixel must wait for, so it vectorises.
fn horizontal_mean(sums: &[f64], rows: f64, r: usize, prefix: &mut Vec<f64>, out: &mut [f32]) {
    let w = sums.len();
    prefix.clear();
    prefix.push(0.0);
    let mut total = 0.0;
    prefix.extend(sums.iter().map(|s| {
        total += s;
        total
    }));
    let mean = |x: usize| {
        let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
        ((prefix[x1] - prefix[x0]) / ((x1 - x0) as f64 * rows)) as f32
    };
    if w <= 2 * r + 1 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = mean(x);
        }
        return;
    }
    let inner = w - 2 * r; // pixels whose window lies wholly in the row
    let scale = 1.0 / ((2 * r + 1) as f64 * rows);
    for ((o, hi), lo) in out[r..r + inner].iter_mut().zip(&prefix[2 * r + 1..]).zip(&prefix[..inner]) {
        *o = ((hi - lo) * scale) as f32;
    }
    for x in (0..r).chain(r + inner..w) {
        out[x] = mean(x);
    }
}

/// Filters `input` guided by `guide` (both in 0..1): radius `r` pixels, regularisation `eps`.
/// Two passes of window means: [`coefficients`], then [`apply`].
pub fn guided_filter(guide: &Plane, input: &Plane, r: usize, eps: f32) -> Plane {
    let (w, h) = (guide.width, guide.height);
    let ab = coefficients(w, h, r, eps, |y, i, p| {
        i.copy_from_slice(guide.row(y));
        p.copy_from_slice(input.row(y));
    });
    let mut q = Plane::new(w, h);
    apply(w, h, r, &ab, w, &mut q.data, |y, mean_a, mean_b, out| {
        for (((q, i), ma), mb) in out.iter_mut().zip(guide.row(y)).zip(mean_a).zip(mean_b) {
            *q = (ma * i + mb).clamp(0.0, 1.0);
        }
    });
    q
}

/// The guided filter's first pass over a `w`×`h` guide I and input p, whose row `y` `rows(y, i,
/// p)` writes: the linear model's coefficients a = cov(I, p) / (var(I) + eps) and
/// b = mean(p) − a·mean(I) from the window means of I, p, I·p and I·I, made as the means come.
/// Each row of the result holds that row's a, then its b.
pub fn coefficients(
    w: usize,
    h: usize,
    r: usize,
    eps: f32,
    rows: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut ab = vec![0f32; 2 * w * h];
    box_means::<4>(
        w,
        h,
        r,
        2 * w,
        &mut ab,
        |y, [i, p, ip, ii]| {
            rows(y, i, p);
            for (((ip, ii), i), p) in ip.iter_mut().zip(ii.iter_mut()).zip(&*i).zip(&*p) {
                (*ip, *ii) = (i * p, i * i);
            }
        },
        |_, [mean_i, mean_p, corr_ip, corr_ii], out| {
            let (a, b) = out.split_at_mut(w);
            for x in 0..w {
                let (mi, mp) = (mean_i[x], mean_p[x]);
                let cov_ip = corr_ip[x] - mi * mp;
                let var_i = corr_ii[x] - mi * mi;
                a[x] = cov_ip / (var_i + eps);
                b[x] = mp - a[x] * mi;
            }
        },
    );
    ab
}

/// The guided filter's second pass: the window means of a and b ([`coefficients`]) handed row by
/// row to `emit(y, mean_a, mean_b, out_row)`, which makes the output, mean(a)·I + mean(b), into
/// its row of `out` (rows `out_width` long: a crop's rows may be written into a wider plane).
pub fn apply(
    w: usize,
    h: usize,
    r: usize,
    ab: &[f32],
    out_width: usize,
    out: &mut [f32],
    emit: impl Fn(usize, &[f32], &[f32], &mut [f32]) + Sync,
) {
    box_means::<2>(
        w,
        h,
        r,
        out_width,
        out,
        |y, [a, b]| {
            let row = &ab[y * 2 * w..(y + 1) * 2 * w];
            a.copy_from_slice(&row[..w]);
            b.copy_from_slice(&row[w..]);
        },
        |y, [mean_a, mean_b], out| emit(y, mean_a, mean_b, out),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_resized_keeps_its_shape() {
        let mut p = Plane::new(40, 20);
        p.data[..20 * 40 / 2].fill(1.0);
        let same = p.clone().resized(40, 20);
        assert_eq!(same.data, p.data, "the same size is the same plane");
        let small = p.resized(20, 10);
        assert_eq!((small.width, small.height), (20, 10));
        assert_eq!(small.at(10, 1), 1.0);
        assert_eq!(small.at(10, 8), 0.0);
    }

    #[test]
    fn box_mean_of_a_constant_is_the_constant() {
        let p = Plane { width: 7, height: 5, data: vec![0.25; 35] };
        assert!(box_mean(&p, 2).data.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    /// The running sums against the definition, summed directly: every border, a window wider
    /// than the plane, and planes cut into several bands.
    #[test]
    fn box_mean_is_the_window_average() {
        for (w, h, r) in [(7, 5, 2), (5, 9, 7), (33, 70, 3), (1, 1, 0), (64, 200, 5), (2, 3, 1), (3, 2, 0), (103, 9, 4)]
        {
            let p = Plane { width: w, height: h, data: (0..w * h).map(|k| ((k * 7919) % 97) as f32 / 97.0).collect() };
            let got = box_mean(&p, r);
            for y in 0..h {
                for x in 0..w {
                    let (ys, xs) = (y.saturating_sub(r)..(y + r + 1).min(h), x.saturating_sub(r)..(x + r + 1).min(w));
                    let n = (ys.len() * xs.len()) as f64;
                    let p = &p;
                    let sum: f64 = ys.flat_map(|yy| xs.clone().map(move |xx| p.at(xx, yy) as f64)).sum();
                    assert!((got.at(x, y) as f64 - sum / n).abs() < 1e-6, "{w}×{h} r {r} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn a_blurry_matte_snaps_to_the_guide_edge() {
        // Guide: a sharp vertical edge at x = 32. Input: the same edge, blurred over 12 px.
        let (w, h) = (64, 16);
        let guide =
            Plane { width: w, height: h, data: (0..w * h).map(|k| if k % w < 32 { 1.0 } else { 0.0 }).collect() };
        let blurry = Plane {
            width: w,
            height: h,
            data: (0..w * h).map(|k| (((38 - (k % w) as i32) as f32) / 12.0).clamp(0.0, 1.0)).collect(),
        };
        let out = guided_filter(&guide, &blurry, 6, 1e-4);
        let row = |p: &Plane, x: usize| p.at(x, 8);
        // Either side of the true edge the matte moves toward the guide: steeper than the input.
        assert!(row(&out, 29) > row(&blurry, 29) + 0.05, "{} {}", row(&out, 29), row(&blurry, 29));
        assert!(row(&out, 34) < row(&blurry, 34) - 0.05, "{} {}", row(&out, 34), row(&blurry, 34));
        assert!(row(&out, 31) - row(&out, 33) > row(&blurry, 31) - row(&blurry, 33));
    }
}
