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

    /// A copy of the part of the plane inside `r`.
    pub fn crop(&self, r: Rect) -> Plane {
        let mut data = Vec::with_capacity(r.width() * r.height());
        for y in r.y0..r.y1 {
            data.extend_from_slice(&self.row(y)[r.x0..r.x1]);
        }
        Plane { width: r.width(), height: r.height(), data }
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
    /// The box around what `span` finds in each of `h` rows (its x range there), if anything.
    pub fn around(h: usize, span: impl Fn(usize) -> Option<(usize, usize)> + Sync) -> Option<Rect> {
        (0..h)
            .into_par_iter()
            .filter_map(|y| span(y).map(|(x0, x1)| Rect { x0, y0: y, x1, y1: y + 1 }))
            .reduce_with(|a, b| Rect { x0: a.x0.min(b.x0), y0: a.y0.min(b.y0), x1: a.x1.max(b.x1), y1: a.y1.max(b.y1) })
    }
}

/// Rows per band of [`box_mean_of`]: a few bands per core, each at least a window tall (a band
/// first sums the window above its first row, so short bands would repeat much work).
fn band_rows(h: usize, r: usize) -> usize {
    let cores = rayon::current_num_threads().max(1);
    h.div_ceil(4 * cores).max(2 * r + 1).max(16)
}

/// Mean over a (2r+1)² window, clamped at the borders.
pub fn box_mean(p: &Plane, r: usize) -> Plane {
    box_mean_rows(p.width, p.height, r, p)
}

/// Where a box filter's rows come from: a plane's own rows, or rows made into a buffer.
trait Rows: Sync {
    fn get<'a>(&'a self, y: usize, buf: &'a mut [f32]) -> &'a [f32];
}

impl Rows for Plane {
    fn get<'a>(&'a self, y: usize, _: &'a mut [f32]) -> &'a [f32] {
        self.row(y)
    }
}

struct Made<F>(F);

impl<F: Fn(usize, &mut [f32]) + Sync> Rows for Made<F> {
    fn get<'a>(&'a self, y: usize, buf: &'a mut [f32]) -> &'a [f32] {
        (self.0)(y, buf);
        buf
    }
}

/// [`box_mean`] of the `w`×`h` plane whose row `y` `source` writes into its slice: values made
/// on the fly (the product of two planes) need no plane of their own.
pub fn box_mean_of(w: usize, h: usize, r: usize, source: impl Fn(usize, &mut [f32]) + Sync) -> Plane {
    box_mean_rows(w, h, r, &Made(source))
}

/// The box filter itself: bands of rows on every core, each sliding a window of column sums
/// down its rows (one row in, one out) and taking each row's window means across. Sums run in
/// f64, so the sliding window loses nothing however far it goes. `rows(y, buf)` gives row `y`:
/// a plane's own row, or `buf` filled.
fn box_mean_rows(w: usize, h: usize, r: usize, rows: &impl Rows) -> Plane {
    let mut out = Plane::new(w, h);
    if w == 0 || h == 0 {
        return out;
    }
    let band = band_rows(h, r);
    out.data.par_chunks_mut(band * w).enumerate().for_each(|(b, chunk)| {
        let y0 = b * band;
        let mut sums = vec![0f64; w];
        let (mut entering, mut leaving) = (vec![0f32; w], vec![0f32; w]);
        let mut prefix = Vec::with_capacity(w + 1);
        for y in y0.saturating_sub(r)..(y0 + r + 1).min(h) {
            for (s, v) in sums.iter_mut().zip(rows.get(y, &mut entering)) {
                *s += *v as f64;
            }
        }
        for (i, out_row) in chunk.chunks_mut(w).enumerate() {
            let y = y0 + i;
            if i > 0 {
                match (y + r < h, y > r) {
                    (true, true) => {
                        let (new, old) = (rows.get(y + r, &mut entering), rows.get(y - r - 1, &mut leaving));
                        for ((s, n), o) in sums.iter_mut().zip(new).zip(old) {
                            *s += *n as f64 - *o as f64;
                        }
                    }
                    (true, false) => {
                        for (s, n) in sums.iter_mut().zip(rows.get(y + r, &mut entering)) {
                            *s += *n as f64;
                        }
                    }
                    (false, true) => {
                        for (s, o) in sums.iter_mut().zip(rows.get(y - r - 1, &mut leaving)) {
                            *s -= *o as f64;
                        }
                    }
                    (false, false) => {}
                }
            }
            let count = ((y + r + 1).min(h) - y.saturating_sub(r)) as f64;
            horizontal_mean(&sums, count, r, &mut prefix, out_row);
        }
    });
    out
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
pub fn guided_filter(guide: &Plane, input: &Plane, r: usize, eps: f32) -> Plane {
    let (w, h) = (guide.width, guide.height);
    let mean_i = box_mean(guide, r);
    let mean_p = box_mean(input, r);
    let product = |a: &Plane, b: &Plane, y: usize, out: &mut [f32]| {
        for ((o, x), y) in out.iter_mut().zip(a.row(y)).zip(b.row(y)) {
            *o = x * y;
        }
    };
    // Each becomes the linear model's coefficients in place: a = cov(I, p) / (var(I) + eps),
    // b = mean(p) − a·mean(I).
    let mut a = box_mean_of(w, h, r, |y, out| product(guide, input, y, out));
    let mut b = box_mean_of(w, h, r, |y, out| product(guide, guide, y, out));
    a.data.par_chunks_mut(w).zip(b.data.par_chunks_mut(w)).enumerate().for_each(|(y, (a, b))| {
        for (x, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            let (mi, mp) = (mean_i.data[y * w + x], mean_p.data[y * w + x]);
            let cov_ip = *a - mi * mp;
            let var_i = *b - mi * mi;
            *a = cov_ip / (var_i + eps);
            *b = mp - *a * mi;
        }
    });
    drop((mean_i, mean_p));
    let mean_b = box_mean(&b, r);
    drop(b);
    let mut out = box_mean(&a, r);
    drop(a);
    out.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for ((q, i), mb) in row.iter_mut().zip(guide.row(y)).zip(mean_b.row(y)) {
            *q = (*q * i + mb).clamp(0.0, 1.0);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_of_a_constant_is_the_constant() {
        let p = Plane { width: 7, height: 5, data: vec![0.25; 35] };
        assert!(box_mean(&p, 2).data.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    /// The running sums against the definition, summed directly: every border, a window wider
    /// than the plane, and planes cut into several bands.
    #[test]
    fn box_mean_is_the_window_average() {
        for (w, h, r) in [(7, 5, 2), (5, 9, 7), (33, 70, 3), (1, 1, 0), (64, 200, 5)] {
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
