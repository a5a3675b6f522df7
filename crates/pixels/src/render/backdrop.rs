//! Procedural studio backdrops: seamless paper sweeps, gradients, paper, concrete and linen,
//! lit by a soft key light with falloff and a vignette, graded by mood, finished with grain and
//! dither so smooth gradients never band.
//!
//! The work is split into the stages the workflow reports — plan, base, texture, light,
//! finish — each a pure function of the plan, so the same spec and seed give identical pixels.
//! Texture is laid out relative to the long side, so a 0.5K preview matches the 4K final.
//! Shading is done in linear light on an f32 canvas; only `finish` returns to 8-bit sRGB.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::noise::{fbm, hash2, value};
use crate::color::{self, linear_to_srgb, mix, scale, to_linear, Rgb};

/// Bump when the renderer's output changes: rendered backdrops kept in caches (the built-ins,
/// the swaps' backdrops) are keyed by it, and are rendered anew.
pub const VERSION: &str = "backdrop-3";

pub const SCENES: [&str; 5] = ["studio_sweep", "gradient", "paper", "concrete", "linen"];
pub const MOODS: [&str; 7] = ["bright", "soft", "neutral", "warm", "cool", "moody", "dramatic"];

/// How a mood grades the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grade {
    pub exposure: f32,
    pub contrast: f32,
    pub vignette: f32,
    /// 0: even light; 1: a strong spotlight.
    pub key: f32,
    /// How quickly the key light falls off: higher is a tighter pool of light.
    pub spot: f32,
    pub tint: Rgb,
    pub grain: f32,
}

pub fn grade(mood: &str) -> Grade {
    let g = |exposure, contrast, vignette, key, spot, tint, grain| Grade {
        exposure,
        contrast,
        vignette,
        key,
        spot,
        tint,
        grain,
    };
    match mood {
        "bright" => g(1.25, 0.92, 0.10, 0.25, 2.0, [1.0, 1.0, 1.0], 0.010),
        "soft" => g(1.08, 0.90, 0.18, 0.35, 2.4, [1.01, 1.0, 0.99], 0.010),
        "warm" => g(1.0, 1.0, 0.25, 0.45, 2.8, [1.06, 1.0, 0.90], 0.012),
        "cool" => g(0.98, 1.0, 0.25, 0.45, 2.8, [0.92, 0.99, 1.08], 0.012),
        "moody" => g(0.75, 1.10, 0.50, 0.65, 4.0, [0.98, 0.98, 1.02], 0.016),
        "dramatic" => g(1.05, 1.15, 0.55, 0.92, 7.0, [1.0, 1.0, 1.0], 0.014),
        _ => g(1.0, 1.0, 0.25, 0.45, 2.8, [1.0, 1.0, 1.0], 0.012),
    }
}

/// Colours used when the request names none: a few a stylist would pick for the mood.
fn default_colors(mood: &str) -> &'static [&'static str] {
    match mood {
        "bright" => &["ivory", "white", "cream"],
        "soft" => &["blush", "sand", "sky"],
        "warm" => &["camel", "terracotta", "sand"],
        "cool" => &["slate", "sky", "stone"],
        "moody" => &["charcoal", "forest", "navy"],
        "dramatic" => &["navy", "black", "burgundy"],
        _ => &["stone", "grey", "taupe"],
    }
}

/// Wall, floor and highlight colours, sRGB.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub wall: Rgb,
    pub floor: Rgb,
    pub highlight: Rgb,
}

impl Palette {
    pub fn hexes(&self) -> Vec<String> {
        vec![color::to_hex(self.wall), color::to_hex(self.floor), color::to_hex(self.highlight)]
    }
}

/// Everything the stages need, decided up front from the spec and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub width: u32,
    pub height: u32,
    pub scene: String,
    pub grade: Grade,
    pub palette: Palette,
    pub seed: u64,
    /// Where the key light sits, as a fraction of the width.
    pub light_x: f32,
    /// The sweep's horizon (where wall becomes floor), as a fraction of the height.
    pub horizon: f32,
    noise_seed: u32,
}

/// `colors` must already be valid (names or hex); the first is dominant.
pub fn plan(scene: &str, mood: &str, colors: &[Rgb], width: u32, height: u32, seed: u64) -> Plan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let picked: Vec<Rgb> = if colors.is_empty() {
        let options = default_colors(mood);
        let first = rng.gen_range(0..options.len());
        (0..options.len()).map(|i| color::parse(options[(first + i) % options.len()]).unwrap_or([0.7; 3])).collect()
    } else {
        colors.to_vec()
    };
    let wall = picked[0];
    // A sweep's floor is the same paper seen at a grazing angle: a touch darker, unless a second
    // colour is given for it.
    let floor = picked.get(1).copied().unwrap_or_else(|| scale(wall, 0.94));
    let highlight = picked.get(2).copied().unwrap_or_else(|| mix(wall, [1.0, 0.98, 0.95], 0.35));
    Plan {
        width,
        height,
        scene: scene.to_string(),
        grade: grade(mood),
        palette: Palette { wall, floor, highlight },
        seed,
        light_x: rng.gen_range(0.3..0.7),
        horizon: if height > width { rng.gen_range(0.66..0.74) } else { rng.gen_range(0.60..0.68) },
        noise_seed: rng.gen(),
    }
}

/// Linear-light pixels, row-major.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<Rgb>,
}

fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Rows between cancellation checks.
const CHECK_EVERY: u32 = 32;

/// Runs `per_pixel` over every pixel, rows on every core, calling `check` every few rows so a
/// cancel lands quickly. Each pixel is a function of its position alone, so the order the
/// cores take the rows in never shows.
fn for_rows<E>(
    canvas: &mut Canvas,
    check: &mut dyn FnMut() -> Result<(), E>,
    per_pixel: impl Fn(u32, u32, &mut Rgb) + Sync,
) -> Result<(), E> {
    let w = canvas.width as usize;
    let every = CHECK_EVERY as usize;
    for (group, rows) in canvas.pixels.chunks_mut(w.max(1) * every).enumerate() {
        check()?;
        rows.par_chunks_mut(w.max(1)).enumerate().for_each(|(i, row)| {
            let y = (group * every + i) as u32;
            for (x, px) in row.iter_mut().enumerate() {
                per_pixel(x as u32, y, px);
            }
        });
    }
    Ok(())
}

/// The scene's layout: where wall, floor and gradients lie.
pub fn base<E>(p: &Plan, check: &mut dyn FnMut() -> Result<(), E>) -> Result<Canvas, E> {
    let mut canvas = Canvas { width: p.width, height: p.height, pixels: vec![[0.0; 3]; (p.width * p.height) as usize] };
    let (wall, floor, hi) = (to_linear(p.palette.wall), to_linear(p.palette.floor), to_linear(p.palette.highlight));
    let (w, h) = (p.width as f32, p.height as f32);
    let long = w.max(h);
    for_rows(&mut canvas, check, |x, y, px| {
        let (u, v) = ((x as f32 + 0.5) / w, (y as f32 + 0.5) / h);
        *px = match p.scene.as_str() {
            "studio_sweep" => {
                // The cove: wall bends into floor over a band around the horizon; where it
                // curves it faces the key light and catches a soft highlight.
                // No line may show: the blend and the highlight are both wide and gentle.
                let t = smoothstep(p.horizon - 0.20, p.horizon + 0.16, v);
                let cove = (-((v - p.horizon) / 0.12).powi(2)).exp();
                let c = mix(wall, floor, t);
                let floor_fall = 1.0 - 0.14 * smoothstep(p.horizon, 1.0, v);
                scale(mix(c, hi, 0.10 * cove), (1.0 + 0.05 * cove) * floor_fall)
            }
            "gradient" => {
                let (dx, dy) = ((u - p.light_x) * w / long, (v - 0.35) * h / long);
                let r = (dx * dx + dy * dy).sqrt() / 0.9;
                let c = mix(hi, wall, smoothstep(0.0, 1.0, r));
                mix(c, floor, 0.55 * smoothstep(0.45, 1.0, v))
            }
            _ => {
                // Paper, concrete and linen: one surface, colour drifting gently top to bottom.
                mix(wall, floor, 0.35 * smoothstep(0.2, 1.0, v))
            }
        };
    })?;
    Ok(canvas)
}

/// The surface: paper fibre, concrete mottling and pores, linen weave, slubs and folds.
pub fn texture<E>(p: &Plan, canvas: &mut Canvas, check: &mut dyn FnMut() -> Result<(), E>) -> Result<(), E> {
    let long = p.width.max(p.height) as f32;
    let s = p.noise_seed;
    for_rows(canvas, check, |x, y, px| {
        let (nx, ny) = (x as f32 / long, y as f32 / long);
        let k = match p.scene.as_str() {
            "concrete" => {
                let mottling = fbm(nx * 6.0, ny * 6.0, s, 5) - 0.5;
                let fine = fbm(nx * 60.0, ny * 60.0, s ^ 0x55, 3) - 0.5;
                let pore = value(nx * 420.0, ny * 420.0, s ^ 0xA1);
                let pore_dark = if pore > 0.93 { 0.75 } else { 1.0 };
                (1.0 + 0.28 * mottling + 0.10 * fine) * pore_dark
            }
            "linen" => {
                // Weave at thread scale, sparse slubs along the weft, and long diagonal folds
                // whose crests catch the light (a drape falls from the top, widening).
                let threads = 260.0;
                let weave = (nx * threads * std::f32::consts::TAU).sin() * (ny * threads * std::f32::consts::TAU).sin();
                let slub = (fbm(nx * 30.0, ny * 420.0, s, 2) - 0.5).max(0.0);
                let warp = fbm(nx * 1.5, ny * 0.8, s ^ 0x77, 3) - 0.5;
                let phase = (nx * 2.6 + 0.35 * ny + 0.45 * warp) * std::f32::consts::TAU;
                let folds = 1.0 - 2.0 * (phase.sin() * 0.5 + 0.5).powf(3.0);
                1.0 + 0.03 * weave + 0.10 * slub + 0.07 * folds
            }
            "paper" | "studio_sweep" => {
                let fibre = fbm(nx * 40.0, ny * 260.0, s, 3) - 0.5;
                let cloud = fbm(nx * 3.0, ny * 3.0, s ^ 0x33, 4) - 0.5;
                1.0 + 0.025 * fibre + 0.05 * cloud
            }
            _ => {
                let cloud = fbm(nx * 2.5, ny * 2.5, s ^ 0x33, 4) - 0.5;
                1.0 + 0.03 * cloud
            }
        };
        *px = scale(*px, k.max(0.0));
    })
}

/// The key light's falloff, the mood's exposure and tint, and the vignette.
pub fn light<E>(p: &Plan, canvas: &mut Canvas, check: &mut dyn FnMut() -> Result<(), E>) -> Result<(), E> {
    let (w, h) = (p.width as f32, p.height as f32);
    let long = w.max(h);
    let g = p.grade;
    for_rows(canvas, check, |x, y, px| {
        let (u, v) = ((x as f32 + 0.5) / w, (y as f32 + 0.5) / h);
        // Key light above the set at light_x: brightest just below it, falling off with distance.
        let (dx, dy) = ((u - p.light_x) * w / long, (v - 0.25) * h / long);
        let falloff = 1.0 / (1.0 + g.spot * (dx * dx + dy * dy));
        let key = 1.0 - g.key + g.key * falloff * 1.5;
        // Vignette on an ellipse fitted to the frame.
        let (cx, cy) = (u - 0.5, v - 0.5);
        let r = (cx * cx + cy * cy).sqrt() / std::f32::consts::FRAC_1_SQRT_2;
        let vignette = 1.0 - g.vignette * smoothstep(0.35, 1.0, r);
        let k = g.exposure * key * vignette;
        *px = [px[0] * k * g.tint[0], px[1] * k * g.tint[1], px[2] * k * g.tint[2]];
    })
}

/// Back to 8-bit sRGB: contrast, film grain and a triangular dither against banding.
pub fn finish<E>(p: &Plan, canvas: &Canvas, check: &mut dyn FnMut() -> Result<(), E>) -> Result<RgbImage, E> {
    let mut out = RgbImage::new(p.width, p.height);
    let g = p.grade;
    let s = p.noise_seed ^ 0xD17E;
    let (w, every) = (p.width as usize, CHECK_EVERY as usize);
    let groups = out.chunks_mut(3 * w.max(1) * every).zip(canvas.pixels.chunks(w.max(1) * every));
    for (group, (out_rows, rows)) in groups.enumerate() {
        check()?;
        out_rows.par_chunks_mut(3 * w.max(1)).zip(rows.par_chunks(w.max(1))).enumerate().for_each(
            |(i, (out_row, row))| {
                let yi = (group * every + i) as i32;
                for (x, (rgb, px)) in out_row.chunks_exact_mut(3).zip(row).enumerate() {
                    let xi = x as i32;
                    let grain = (hash2(xi, yi, s) - 0.5) * 2.0 * g.grain;
                    let dither = (hash2(xi, yi, s ^ 1) + hash2(xi, yi, s ^ 2) - 1.0) / 255.0;
                    for c in 0..3 {
                        let v = linear_to_srgb(shoulder(px[c]));
                        let v = 0.5 + (v - 0.5) * g.contrast + grain + dither;
                        rgb[c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                }
            },
        );
    }
    Ok(out)
}

/// Rolls highlights off smoothly towards white instead of clipping them to a flat disc.
fn shoulder(v: f32) -> f32 {
    const KNEE: f32 = 0.7;
    if v <= KNEE {
        v
    } else {
        KNEE + (1.0 - KNEE) * (1.0 - (-(v - KNEE) / (1.0 - KNEE)).exp())
    }
}

/// A strip of the palette's colours, shown as the `palette` stage's intermediate artifact.
pub fn swatch(palette: &Palette) -> RgbImage {
    let colors = [palette.wall, palette.floor, palette.highlight];
    RgbImage::from_fn(384, 96, |x, _| {
        let c = colors[(x / 128) as usize];
        image::Rgb(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// All stages in one call (tests, benchmarks, the catalog's built-ins).
pub fn render(p: &Plan) -> RgbImage {
    let Ok(image) = render_checked(p, &mut || Ok::<(), std::convert::Infallible>(()));
    image
}

/// All stages in one call, `check` between rows as each stage calls it (a job's cancel).
pub fn render_checked<E>(p: &Plan, check: &mut dyn FnMut() -> Result<(), E>) -> Result<RgbImage, E> {
    let mut canvas = base(p, check)?;
    texture(p, &mut canvas, check)?;
    light(p, &mut canvas, check)?;
    finish(p, &canvas, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_luma(img: &RgbImage, rows: std::ops::Range<u32>) -> f32 {
        let mut sum = 0.0;
        let mut n = 0.0;
        for y in rows {
            for x in 0..img.width() {
                let p = img.get_pixel(x, y);
                sum += 0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32;
                n += 1.0;
            }
        }
        sum / n
    }

    #[test]
    fn same_seed_same_pixels_other_seed_other_pixels() {
        let sage = color::parse("sage").unwrap();
        let a = render(&plan("concrete", "soft", &[sage], 96, 64, 42));
        let b = render(&plan("concrete", "soft", &[sage], 96, 64, 42));
        let c = render(&plan("concrete", "soft", &[sage], 96, 64, 43));
        assert_eq!(a.as_raw(), b.as_raw());
        assert_ne!(a.as_raw(), c.as_raw());
    }

    #[test]
    fn dominant_colour_dominates_and_moods_change_brightness() {
        let navy = color::parse("navy").unwrap();
        for scene in SCENES {
            let img = render(&plan(scene, "neutral", &[navy], 64, 64, 1));
            let mean = img
                .pixels()
                .fold([0f32; 3], |acc, p| [acc[0] + p[0] as f32, acc[1] + p[1] as f32, acc[2] + p[2] as f32]);
            assert!(mean[2] > mean[0], "{scene}: navy stays blue");
        }
        let bright = render(&plan("paper", "bright", &[], 64, 64, 5));
        let moody = render(&plan("paper", "moody", &[], 64, 64, 5));
        assert!(mean_luma(&bright, 0..64) > mean_luma(&moody, 0..64) + 40.0);
    }

    #[test]
    fn vignette_darkens_corners_and_sweep_has_a_floor() {
        let stone = color::parse("stone").unwrap();
        let img = render(&plan("studio_sweep", "dramatic", &[stone], 120, 160, 3));
        let centre = img.get_pixel(60, 60)[1] as f32;
        let corner = img.get_pixel(1, 158)[1] as f32;
        assert!(centre > corner * 1.3, "centre {centre} corner {corner}");
    }

    #[test]
    fn a_check_failure_stops_the_stage() {
        let p = plan("linen", "warm", &[], 64, 256, 9);
        let mut calls = 0;
        let r = base(&p, &mut || {
            calls += 1;
            if calls == 3 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(r.unwrap_err(), "stop");
        assert_eq!(calls, 3);
    }
}
