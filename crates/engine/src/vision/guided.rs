//! The guided filter (He, Sun, Tang 2010): edge-aware smoothing of a coarse matte using the
//! full-resolution photo as guide, so an upsampled 256² matte follows hair and fingers instead
//! of blurring across them. O(pixels) through box filters on summed-area tables.

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
}

/// Mean over a (2r+1)² window, clamped at the borders.
pub fn box_mean(p: &Plane, r: usize) -> Plane {
    let (w, h) = (p.width, p.height);
    let mut sat = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0f64;
        for x in 0..w {
            row += p.data[y * w + x] as f64;
            sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = Plane::new(w, h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = sat[y1 * (w + 1) + x1] - sat[y0 * (w + 1) + x1] - sat[y1 * (w + 1) + x0] + sat[y0 * (w + 1) + x0];
            out.data[y * w + x] = (sum / ((x1 - x0) * (y1 - y0)) as f64) as f32;
        }
    }
    out
}

fn zip(a: &Plane, b: &Plane, f: impl Fn(f32, f32) -> f32) -> Plane {
    Plane { width: a.width, height: a.height, data: a.data.iter().zip(&b.data).map(|(x, y)| f(*x, *y)).collect() }
}

/// Filters `input` guided by `guide` (both in 0..1): radius `r` pixels, regularisation `eps`.
pub fn guided_filter(guide: &Plane, input: &Plane, r: usize, eps: f32) -> Plane {
    let mean_i = box_mean(guide, r);
    let mean_p = box_mean(input, r);
    let corr_ip = box_mean(&zip(guide, input, |i, p| i * p), r);
    let corr_ii = box_mean(&zip(guide, guide, |i, _| i * i), r);
    let var_i = zip(&corr_ii, &mean_i, |c, m| c - m * m);
    let cov_ip = Plane {
        width: guide.width,
        height: guide.height,
        data: (0..guide.data.len()).map(|k| corr_ip.data[k] - mean_i.data[k] * mean_p.data[k]).collect(),
    };
    let a = zip(&cov_ip, &var_i, |c, v| c / (v + eps));
    let b = Plane {
        width: guide.width,
        height: guide.height,
        data: (0..guide.data.len()).map(|k| mean_p.data[k] - a.data[k] * mean_i.data[k]).collect(),
    };
    let mean_a = box_mean(&a, r);
    let mean_b = box_mean(&b, r);
    Plane {
        width: guide.width,
        height: guide.height,
        data: (0..guide.data.len())
            .map(|k| (mean_a.data[k] * guide.data[k] + mean_b.data[k]).clamp(0.0, 1.0))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_of_a_constant_is_the_constant() {
        let p = Plane { width: 7, height: 5, data: vec![0.25; 35] };
        assert!(box_mean(&p, 2).data.iter().all(|v| (v - 0.25).abs() < 1e-6));
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
