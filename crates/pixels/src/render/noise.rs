//! Seeded, deterministic value noise. Integer hashing only, so the same seed gives the same
//! pixels on every run of the same binary.

/// A hash of a lattice point to 0..1.
pub fn hash2(x: i32, y: i32, seed: u32) -> f32 {
    let mut h =
        (x as u32).wrapping_mul(0x8DA6_B343) ^ (y as u32).wrapping_mul(0xD816_3841) ^ seed.wrapping_mul(0xCB1A_B31F);
    h = (h ^ (h >> 13)).wrapping_mul(0x5BD1_E995);
    h ^= h >> 15;
    (h & 0x00FF_FFFF) as f32 / 16_777_216.0
}

fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// Smooth value noise in 0..1 with features about one unit apart.
pub fn value(x: f32, y: f32, seed: u32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (xi, yi) = (xf as i32, yf as i32);
    let (tx, ty) = (smooth(x - xf), smooth(y - yf));
    let a = hash2(xi, yi, seed);
    let b = hash2(xi + 1, yi, seed);
    let c = hash2(xi, yi + 1, seed);
    let d = hash2(xi + 1, yi + 1, seed);
    let top = a + (b - a) * tx;
    let bottom = c + (d - c) * tx;
    top + (bottom - top) * ty
}

/// Fractal sum of `octaves` layers of value noise, normalised to 0..1.
pub fn fbm(x: f32, y: f32, seed: u32, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value(x * freq, y * freq, seed.wrapping_add(o * 0x9E37));
        norm += amp;
        amp *= 0.5;
        freq *= 2.0;
    }
    sum / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_bounded_and_seed_dependent() {
        let a: Vec<f32> = (0..100).map(|i| fbm(i as f32 * 0.37, i as f32 * 0.11, 7, 4)).collect();
        let b: Vec<f32> = (0..100).map(|i| fbm(i as f32 * 0.37, i as f32 * 0.11, 7, 4)).collect();
        let c: Vec<f32> = (0..100).map(|i| fbm(i as f32 * 0.37, i as f32 * 0.11, 8, 4)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        // Continuous: neighbours a hundredth of a unit apart differ little.
        assert!((value(3.5, 2.5, 1) - value(3.51, 2.5, 1)).abs() < 0.05);
    }
}
