//! The starting noise (and Euler-ancestral's per-step noise) from a job's seed: the same seed
//! gives the same values on every machine and in every version, so the same request on the
//! same provider gives the same picture. ChaCha8 (a portable, specified stream) drawn through
//! Box–Muller; the values are pinned by a test, and changing them is a breaking change.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` standard normal values for `seed`; `stream` separates uses of one seed (the starting
/// latents are stream 0, step `i`'s ancestral noise stream `i + 1`).
pub fn gaussian(seed: u64, stream: u64, n: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut uniform = || {
        // 53 random bits to (0, 1]: never 0, so the logarithm is finite.
        ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (uniform(), uniform());
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_values_and_they_are_standard_normal() {
        assert_eq!(gaussian(7, 0, 1000), gaussian(7, 0, 1000));
        assert_ne!(gaussian(7, 0, 8), gaussian(8, 0, 8));
        assert_ne!(gaussian(7, 0, 8), gaussian(7, 1, 8), "streams differ");
        assert_eq!(gaussian(7, 0, 5)[..], gaussian(7, 0, 6)[..5], "a prefix does not depend on the length");
        let v = gaussian(42, 0, 200_000);
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean}, variance {var}");
    }

    #[test]
    fn the_values_are_pinned_across_versions() {
        let first: Vec<String> = gaussian(1234, 0, 4).iter().map(|v| format!("{v:.6}")).collect();
        assert_eq!(first, PINNED, "changing the noise changes every seeded picture");
    }

    const PINNED: [&str; 4] = ["1.378728", "-0.031836", "-0.411304", "0.928926"];
}
