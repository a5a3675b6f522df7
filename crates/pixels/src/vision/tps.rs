//! Thin-plate splines: the smoothest 2-D map taking each control point exactly onto its target
//! (bending energy minimal, affine far away). Try-on fits one from the body's points to the
//! garment's and samples the garment through it for every output pixel (an inverse warp, so the
//! result has no holes).

/// A fitted spline from `from` space to `to` space.
#[derive(Debug, Clone)]
pub struct Spline {
    /// Control points, divided by `scale`.
    centres: Vec<(f64, f64)>,
    scale: f64,
    /// Per output coordinate: one weight per centre, then the affine part (a0, ax, ay).
    wx: Vec<f64>,
    wy: Vec<f64>,
}

fn kernel(r2: f64) -> f64 {
    if r2 <= 1e-12 {
        0.0
    } else {
        r2 * r2.ln() * 0.5 // r² log r
    }
}

impl Spline {
    /// Fits the spline through `from[i] → to[i]`. `smoothing` (≥ 0, in squared pixels of the
    /// scale below) relaxes exact interpolation, which keeps conflicting points from folding the
    /// map. `None` when fewer than three points or they are collinear.
    pub fn fit(from: &[(f32, f32)], to: &[(f32, f32)], smoothing: f64) -> Option<Spline> {
        let n = from.len();
        if n < 3 || to.len() != n {
            return None;
        }
        // Normalise coordinates so the kernel's scale does not depend on the image size.
        let scale = from.iter().flat_map(|p| [p.0.abs(), p.1.abs()]).fold(1.0f32, f32::max) as f64;
        let c: Vec<(f64, f64)> = from.iter().map(|p| (p.0 as f64 / scale, p.1 as f64 / scale)).collect();
        let size = n + 3;
        let mut a = vec![0.0f64; size * size];
        for i in 0..n {
            for j in 0..n {
                let (dx, dy) = (c[i].0 - c[j].0, c[i].1 - c[j].1);
                a[i * size + j] = kernel(dx * dx + dy * dy) + if i == j { smoothing } else { 0.0 };
            }
            let p = [1.0, c[i].0, c[i].1];
            for k in 0..3 {
                a[i * size + n + k] = p[k];
                a[(n + k) * size + i] = p[k];
            }
        }
        let mut bx: Vec<f64> = to.iter().map(|p| p.0 as f64).chain([0.0; 3]).collect();
        let mut by: Vec<f64> = to.iter().map(|p| p.1 as f64).chain([0.0; 3]).collect();
        solve(&mut a.clone(), &mut bx, size)?;
        solve(&mut a, &mut by, size)?;
        Some(Spline { centres: c, scale, wx: bx, wy: by })
    }

    /// The image of point (x, y).
    pub fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let n = self.centres.len();
        let (px, py) = (x as f64 / self.scale, y as f64 / self.scale);
        let (mut ox, mut oy) = (
            self.wx[n] + self.wx[n + 1] * px + self.wx[n + 2] * py,
            self.wy[n] + self.wy[n + 1] * px + self.wy[n + 2] * py,
        );
        for (i, (cx, cy)) in self.centres.iter().enumerate() {
            let (dx, dy) = (px - cx, py - cy);
            let k = kernel(dx * dx + dy * dy);
            ox += self.wx[i] * k;
            oy += self.wy[i] * k;
        }
        (ox as f32, oy as f32)
    }
}

/// Gaussian elimination with partial pivoting; `b` becomes the solution.
fn solve(a: &mut [f64], b: &mut [f64], n: usize) -> Option<()> {
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            b.swap(col, pivot);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                b[row] -= f * b[col];
            }
        }
    }
    for row in (0..n).rev() {
        let mut v = b[row];
        for k in row + 1..n {
            v -= a[row * n + k] * b[k];
        }
        b[row] = v / a[row * n + row];
    }
    b.iter().all(|v| v.is_finite()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f32, f32), b: (f32, f32)) -> bool {
        (a.0 - b.0).abs() < 1e-2 && (a.1 - b.1).abs() < 1e-2
    }

    #[test]
    fn an_affine_correspondence_is_reproduced_everywhere() {
        let from = [(0.0, 0.0), (100.0, 0.0), (0.0, 100.0), (100.0, 100.0), (50.0, 30.0)];
        let affine = |p: (f32, f32)| (2.0 * p.0 + 0.5 * p.1 + 10.0, -p.0 + 1.5 * p.1 - 4.0);
        let to: Vec<_> = from.iter().map(|p| affine(*p)).collect();
        let s = Spline::fit(&from, &to, 0.0).unwrap();
        for p in [(13.0, 77.0), (250.0, -40.0), (50.0, 50.0)] {
            assert!(close(s.map(p.0, p.1), affine(p)), "{p:?} → {:?}", s.map(p.0, p.1));
        }
    }

    #[test]
    fn control_points_land_exactly_and_the_map_bends_smoothly_between() {
        let from = [(0.0, 0.0), (200.0, 0.0), (0.0, 200.0), (200.0, 200.0), (100.0, 100.0)];
        let mut to = from.to_vec();
        to[4] = (120.0, 100.0); // the centre pulled right
        let s = Spline::fit(&from, &to, 0.0).unwrap();
        for (f, t) in from.iter().zip(&to) {
            assert!(close(s.map(f.0, f.1), *t));
        }
        let halfway = s.map(50.0, 100.0);
        assert!(halfway.0 > 50.0 && halfway.0 < 120.0, "{halfway:?}");
    }

    #[test]
    fn degenerate_points_are_refused() {
        assert!(Spline::fit(&[(0.0, 0.0), (1.0, 1.0)], &[(0.0, 0.0), (1.0, 1.0)], 0.0).is_none());
        let line = [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)];
        assert!(Spline::fit(&line, &line, 0.0).is_none());
    }
}
