//! Fabric for technical flats: a pattern gives each point its colour (in linear light), a
//! material its surface — weave, knit, sheen or slub — as a luminance factor and a highlight.
//! Coordinates are in garment units (the canvas is 1.0 wide), so patterns keep their scale at
//! any output size. All randomness comes from the seed.

use crate::color::{luminance, mix, scale, Rgb};
use crate::render::noise::{fbm, hash2, value};

pub const PATTERNS: [&str; 9] =
    ["solid", "stripes", "pinstripe", "checks", "gingham", "houndstooth", "polka_dots", "herringbone", "floral"];
pub const MATERIALS: [&str; 8] = ["cotton", "denim", "knit", "leather", "satin", "linen", "wool", "silk"];

/// A second colour for two-tone patterns: the base lightened or darkened toward contrast.
fn partner(base: Rgb) -> Rgb {
    if luminance(base) > 0.35 {
        scale(base, 0.35)
    } else {
        mix(base, [0.95, 0.94, 0.9], 0.75)
    }
}

/// The pattern's colour at (x, y), linear RGB.
pub fn pattern(name: &str, x: f32, y: f32, base: Rgb, seed: u32) -> Rgb {
    let other = partner(base);
    let stripe = |v: f32, period: f32, duty: f32| (v / period).rem_euclid(1.0) < duty;
    match name {
        "stripes" => {
            if stripe(y, 0.05, 0.5) {
                base
            } else {
                other
            }
        }
        "pinstripe" => {
            if stripe(x, 0.03, 0.1) {
                mix(base, other, 0.7)
            } else {
                base
            }
        }
        "checks" => {
            let (a, b) = (stripe(x, 0.08, 0.5), stripe(y, 0.08, 0.5));
            if a == b {
                base
            } else {
                mix(base, other, 0.6)
            }
        }
        "gingham" => {
            // Two crossing half-tone stripes: where both cross, the full partner colour.
            let k = stripe(x, 0.04, 0.5) as u8 + stripe(y, 0.04, 0.5) as u8;
            mix(base, [0.97, 0.97, 0.96], [0.0, 0.5, 0.85][k as usize])
        }
        "houndstooth" => {
            // The classic four-by-four tooth tile.
            const TILE: [[u8; 8]; 8] = [
                [1, 1, 1, 1, 0, 0, 0, 1],
                [1, 1, 1, 1, 0, 0, 1, 1],
                [1, 1, 1, 1, 0, 1, 1, 1],
                [1, 1, 1, 1, 1, 1, 1, 1],
                [0, 0, 0, 1, 0, 0, 0, 0],
                [0, 0, 1, 1, 0, 0, 0, 0],
                [0, 1, 1, 1, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 0, 0, 0],
            ];
            let c = ((x / 0.0055).floor() as i64).rem_euclid(8) as usize;
            let r = ((y / 0.0055).floor() as i64).rem_euclid(8) as usize;
            if TILE[r][c] == 1 {
                base
            } else {
                other
            }
        }
        "polka_dots" => {
            let (period, radius) = (0.07, 0.014);
            let row = (y / period).floor();
            let shift = if row as i64 % 2 == 0 { 0.0 } else { period / 2.0 };
            let (cx, cy) = (((x + shift) / period).floor() + 0.5, row + 0.5);
            let d = ((x + shift) - cx * period).hypot(y - cy * period);
            mix(base, other, ((radius - d) / 0.0015).clamp(0.0, 1.0))
        }
        "herringbone" => {
            let col = (x / 0.03).floor() as i64;
            let dir = if col % 2 == 0 { 1.0 } else { -1.0 };
            let v = (y + dir * x) / 0.008;
            if v.rem_euclid(1.0) < 0.5 {
                base
            } else {
                mix(base, other, 0.35)
            }
        }
        "floral" => floral(x, y, base, other, seed),
        _ => base,
    }
}

/// Five-petal flowers scattered on a jittered grid (one per cell, seeded), with a centre.
fn floral(x: f32, y: f32, base: Rgb, other: Rgb, seed: u32) -> Rgb {
    let cell = 0.11;
    let (gx, gy) = ((x / cell).floor() as i32, (y / cell).floor() as i32);
    let mut out = base;
    for dy in -1..=1 {
        for dx in -1..=1 {
            let (cx, cy) = (gx + dx, gy + dy);
            let jx = (cx as f32 + 0.2 + 0.6 * hash2(cx, cy, seed)) * cell;
            let jy = (cy as f32 + 0.2 + 0.6 * hash2(cy, cx, seed ^ 0x9e37)) * cell;
            let size = cell * (0.26 + 0.12 * hash2(cx, cy, seed ^ 0x51ed));
            let turn = hash2(cx, cy, seed ^ 0x7f4a) * std::f32::consts::TAU;
            let (vx, vy) = (x - jx, y - jy);
            let (r, a) = (vx.hypot(vy), vy.atan2(vx) + turn);
            let petal = size * (0.55 + 0.45 * (2.5 * a).cos().abs());
            if r < size * 0.22 {
                return [0.85, 0.62, 0.12];
            }
            if r < petal {
                let shade = 0.75 + 0.25 * (1.0 - r / petal);
                out = scale(other, shade);
            }
        }
    }
    out
}

/// The surface at (x, y): a luminance factor and an additive highlight.
pub fn surface(material: &str, x: f32, y: f32, seed: u32) -> (f32, f32) {
    match material {
        "denim" => {
            // A right-hand twill: diagonal ribs, plus slub streaks along the warp.
            let twill = ((x + y) / 0.006 * std::f32::consts::TAU).sin();
            let slub = fbm(x * 6.0, y * 80.0, seed, 3);
            (0.9 + 0.07 * twill + 0.12 * (slub - 0.5), 0.0)
        }
        "knit" => {
            // Columns of interlocking V stitches.
            let col = (x / 0.008).rem_euclid(1.0);
            let v = ((y / 0.006) + (col - 0.5).abs() * 1.2).rem_euclid(1.0);
            (0.86 + 0.14 * (1.0 - (v - 0.5).abs() * 2.0) * (1.0 - (col - 0.5).abs()), 0.0)
        }
        "leather" => {
            let grain = fbm(x * 90.0, y * 90.0, seed, 3);
            let sheen = (1.0 - ((x - 0.42) / 0.1).powi(2)).max(0.0) * 0.18;
            (0.88 + 0.1 * grain, sheen)
        }
        "satin" | "silk" => {
            // Anisotropic sheen bands that follow the drape.
            let band = ((x * 7.0 + 0.6 * value(x * 3.0, y * 2.0, seed)) * std::f32::consts::PI).sin().max(0.0);
            let strength = if material == "satin" { 0.22 } else { 0.12 };
            (0.92 + 0.04 * band, band.powi(3) * strength)
        }
        "linen" => {
            let slub = fbm(x * 4.0, y * 140.0, seed, 3) * 0.6 + fbm(x * 140.0, y * 4.0, seed ^ 7, 3) * 0.4;
            (0.88 + 0.2 * (slub - 0.5), 0.0)
        }
        "wool" => {
            let fuzz = fbm(x * 180.0, y * 180.0, seed, 2);
            (0.9 + 0.14 * (fuzz - 0.5), 0.0)
        }
        _ => {
            // Cotton: a fine plain weave.
            let weave = ((x / 0.004 * std::f32::consts::TAU).sin() * (y / 0.004 * std::f32::consts::TAU).sin()) * 0.03;
            (0.97 + weave, 0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tone_patterns_use_both_colours_and_solid_uses_one() {
        let base = [0.1, 0.2, 0.6];
        for name in PATTERNS {
            let mut seen: Vec<Rgb> = Vec::new();
            for i in 0..400 {
                let (x, y) = ((i % 20) as f32 * 0.0137, (i / 20) as f32 * 0.0137);
                let c = pattern(name, x, y, base, 3);
                if !seen.iter().any(|s| (s[0] - c[0]).abs() + (s[1] - c[1]).abs() + (s[2] - c[2]).abs() < 1e-3) {
                    seen.push(c);
                }
            }
            if name == "solid" {
                assert_eq!(seen.len(), 1);
            } else {
                assert!(seen.len() >= 2, "{name} shows one colour");
            }
        }
    }

    #[test]
    fn surfaces_stay_in_range_and_are_deterministic() {
        for m in MATERIALS {
            for i in 0..200 {
                let (x, y) = (i as f32 * 0.0071, i as f32 * 0.0043);
                let (k, h) = surface(m, x, y, 9);
                assert!((0.6..=1.2).contains(&k) && (0.0..=0.3).contains(&h), "{m}: {k} {h}");
                assert_eq!(surface(m, x, y, 9), (k, h));
            }
        }
    }
}
