//! The fashion figure: a parametric croquis (an illustration, not a photo) standing in a
//! standard front pose, drawn from `gender`, `body_type` and `age_range`, its skin tone taken
//! from the Monk Skin Tone scale. Its 33 landmarks are known exactly (BlazePose order), so
//! garments can be fitted to it without a pose model. It wears a neutral base layer, as studio
//! croquis do. Deterministic per spec and seed.
//!
//! Skin tone: `ethnicity` only narrows the range of the ten published Monk Skin Tone swatches
//! the seed picks from (ranges overlap widely and an unrecognised or empty value allows all
//! ten); it changes nothing else about the figure.

use image::{RgbImage, RgbaImage};

use super::flats::shape::Pt;
use crate::color::{linear_to_srgb, parse, to_linear, Rgb};
use crate::plane::{box_mean, Plane};
use crate::vision::pose::Landmark;

/// The Monk Skin Tone scale (Google, CC BY 4.0), lightest to deepest.
pub const MONK_TONES: [&str; 10] =
    ["#F6EDE4", "#F3E7DB", "#F7EAD0", "#EADABA", "#D7BD96", "#A07E56", "#825C43", "#604134", "#3A312A", "#292420"];

pub const BODY_TYPES: [&str; 5] = ["slim", "average", "athletic", "curvy", "plus"];
pub const AGE_RANGES: [&str; 5] = ["18-25", "26-35", "36-45", "46-60", "60+"];

/// The Monk tones (1-based, inclusive) an ethnicity word narrows the pick to.
pub fn tone_range(ethnicity: &str) -> (usize, usize) {
    let e = ethnicity.to_lowercase().replace(['-', ' '], "_");
    match e.as_str() {
        "east_asian" | "asian" => (1, 5),
        "south_asian" => (3, 8),
        "black" | "african" | "african_american" => (5, 10),
        "white" | "european" | "caucasian" => (1, 4),
        "hispanic" | "latino" | "latina" | "latinx" => (2, 7),
        "middle_eastern" | "arab" | "north_african" => (2, 6),
        "southeast_asian" | "pacific_islander" | "indigenous" => (3, 8),
        _ => (1, 10),
    }
}

#[derive(Debug, Clone)]
pub struct FigureSpec<'a> {
    pub female: bool,
    pub body_type: &'a str,
    pub age_range: &'a str,
    pub ethnicity: &'a str,
    pub seed: u64,
    /// Image height in pixels (width is half of it).
    pub height: u32,
}

/// A drawn figure: the picture (on a light studio ground), its alpha, its landmarks and the
/// swatch index of its skin tone.
#[derive(Debug, Clone)]
pub struct Figure {
    pub image: RgbImage,
    pub alpha: Plane,
    pub landmarks: Vec<Landmark>,
    pub tone: usize,
}

/// A tapered limb from `a` to `b` with radii `ra`, `rb`, as a polygon (round ends).
fn limb(a: Pt, b: Pt, ra: f32, rb: f32) -> Vec<Pt> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l = dx.hypot(dy).max(1e-6);
    let (nx, ny) = (-dy / l, dx / l);
    let mut out = Vec::new();
    for i in 0..=8 {
        let t = std::f32::consts::PI * i as f32 / 8.0;
        let (c, s) = (t.cos(), t.sin());
        // Cap at b: from +n through the tip to -n.
        out.push((b.0 + rb * (nx * c + dx / l * s), b.1 + rb * (ny * c + dy / l * s)));
    }
    for i in 0..=8 {
        let t = std::f32::consts::PI * i as f32 / 8.0;
        let (c, s) = (t.cos(), t.sin());
        out.push((a.0 - ra * (nx * c + dx / l * s), a.1 - ra * (ny * c + dy / l * s)));
    }
    out
}

fn ellipse(c: Pt, rx: f32, ry: f32) -> Vec<Pt> {
    (0..32)
        .map(|i| {
            let a = i as f32 / 32.0 * std::f32::consts::TAU;
            (c.0 + rx * a.cos(), c.1 + ry * a.sin())
        })
        .collect()
}

fn hash(seed: u64, salt: u64) -> f32 {
    let mut x = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 40) as f32 / (1u64 << 24) as f32
}

/// Draws the figure.
pub fn draw(spec: &FigureSpec) -> Figure {
    let h = spec.height.max(256) as f32;
    let w = (h / 2.0).round();
    let cx = w / 2.0;
    // Widths by body type and gender, in figure heights.
    let (mut shoulder, mut chest, mut waist, mut hip) =
        if spec.female { (0.082, 0.07, 0.05, 0.083) } else { (0.1, 0.083, 0.07, 0.077) };
    let (k_all, k_waist, k_hip, k_shoulder): (f32, f32, f32, f32) = match spec.body_type {
        "slim" => (0.9, 0.92, 0.95, 0.95),
        "athletic" => (1.02, 0.95, 0.98, 1.1),
        "curvy" => (1.04, 0.95, 1.15, 1.0),
        "plus" => (1.22, 1.3, 1.2, 1.12),
        _ => (1.0, 1.0, 1.0, 1.0),
    };
    let age_waist = match spec.age_range {
        "36-45" => 1.04,
        "46-60" => 1.08,
        "60+" => 1.1,
        _ => 1.0,
    };
    shoulder *= k_all * k_shoulder;
    chest *= k_all;
    waist *= k_all * k_waist * age_waist;
    hip *= k_all * k_hip;
    let limb_k = k_all.sqrt();
    let p = |x: f32, y: f32| (cx + x * h, y * h);
    // The skeleton (image-left is the figure's right: BlazePose's even indices).
    let side = |s: f32| {
        (
            p(s * shoulder, 0.17),
            p(s * (shoulder + 0.022), 0.315),
            p(s * (shoulder + 0.03), 0.445),
            p(s * 0.048 * k_all.sqrt(), 0.46),
            p(s * 0.045, 0.7),
            p(s * 0.043, 0.915),
        )
    };
    let (rs, re, rw, rh, rk, ra) = side(-1.0);
    let (ls, le, lw, lh, lk, la) = side(1.0);
    let mut polys: Vec<Vec<Pt>> = Vec::new();
    polys.push(ellipse(p(0.0, 0.072), 0.036 * h, 0.05 * h)); // head
    polys.push(limb(p(0.0, 0.11), p(0.0, 0.165), 0.017 * h * limb_k, 0.02 * h * limb_k)); // neck
    let torso = [
        p(-shoulder, 0.162),
        p(-chest - 0.008, 0.215),
        p(-waist, 0.33),
        p(-hip, 0.43),
        p(-hip * 0.92, 0.5),
        p(0.0, 0.52),
        p(hip * 0.92, 0.5),
        p(hip, 0.43),
        p(waist, 0.33),
        p(chest + 0.008, 0.215),
        p(shoulder, 0.162),
        p(0.0, 0.152),
    ];
    polys.push(torso.to_vec());
    for (s, e, wr) in [(rs, re, rw), (ls, le, lw)] {
        polys.push(limb(s, e, 0.024 * h * limb_k, 0.018 * h * limb_k));
        polys.push(limb(e, wr, 0.018 * h * limb_k, 0.012 * h * limb_k));
        polys.push(ellipse((wr.0, wr.1 + 0.03 * h), 0.014 * h, 0.032 * h)); // hand
    }
    for (hp, k, a) in [(rh, rk, ra), (lh, lk, la)] {
        polys.push(limb((hp.0, hp.1 + 0.01 * h), k, 0.044 * h * limb_k * k_hip.sqrt(), 0.026 * h * limb_k));
        polys.push(limb(k, a, 0.026 * h * limb_k, 0.015 * h * limb_k));
        polys.push(ellipse((a.0, a.1 + 0.035 * h), 0.014 * h, 0.035 * h)); // foot, seen from the front
    }
    let (wi, hi) = (w as usize, h as usize);
    let refs: Vec<&[Pt]> = polys.iter().map(Vec::as_slice).collect();
    let alpha = coverage_px(&refs, wi, hi);
    // The base layer: a leotard from the shoulders to the hips.
    let leotard = [
        p(-shoulder * 0.75, 0.165),
        p(-chest - 0.008, 0.215),
        p(-waist, 0.33),
        p(-hip, 0.43),
        p(-hip * 0.55, 0.5),
        p(0.0, 0.515),
        p(hip * 0.55, 0.5),
        p(hip, 0.43),
        p(waist, 0.33),
        p(chest + 0.008, 0.215),
        p(shoulder * 0.75, 0.165),
        p(0.0, 0.2),
    ];
    let base = coverage_px(&[&leotard], wi, hi);
    let hair_poly = {
        let mut v = ellipse(p(0.0, 0.058), 0.04 * h, 0.042 * h);
        v.retain(|q| q.1 < 0.05 * h);
        v
    };
    let hair = coverage_px(&[&hair_poly], wi, hi);

    let (lo, hi_tone) = tone_range(spec.ethnicity);
    let tone = lo + ((hash(spec.seed, 1) * (hi_tone - lo + 1) as f32) as usize).min(hi_tone - lo);
    let skin = to_linear(parse(MONK_TONES[tone - 1]).unwrap_or([0.8, 0.7, 0.6]));
    let grey = spec.age_range == "60+";
    let hair_colour = to_linear(if grey {
        [0.72, 0.71, 0.7]
    } else {
        [[0.09, 0.07, 0.06], [0.25, 0.16, 0.1], [0.42, 0.3, 0.18], [0.6, 0.48, 0.3]]
            [(hash(spec.seed, 2) * 4.0) as usize % 4]
    });
    let base_colour = to_linear([0.86, 0.86, 0.84]);
    let ground = to_linear([0.95, 0.945, 0.93]);
    let near = box_mean(&alpha, (w as usize / 90).max(1));
    let mut image = RgbImage::new(w as u32, h as u32);
    for (i, px) in image.pixels_mut().enumerate() {
        let a = alpha.data[i];
        let (x, y) = ((i % wi) as f32, (i / wi) as f32);
        // Rounded form: darker toward the silhouette, and a croquis line at the edge.
        let form = 0.72 + 0.28 * ((near.data[i] - 0.45) * 2.2).clamp(0.0, 1.0);
        let line = if a > 0.05 && a < 0.95 { 0.55 } else { 1.0 };
        let mut c = skin;
        c = mix3(c, base_colour, base.data[i]);
        c = mix3(c, hair_colour, hair.data[i]);
        let light = 1.02 - 0.05 * y / h - 0.02 * ((x - cx) / w).abs();
        let c = c.map(|v| v * form * light * line);
        let out = mix3(ground, c, a);
        *px = image::Rgb(out.map(|v| (linear_to_srgb(v.clamp(0.0, 1.0)) * 255.0).round() as u8));
    }
    draw_face(&mut image, p(0.0, 0.072), h, skin);

    let mut landmarks = vec![Landmark { x: cx, y: 0.08 * h, visibility: 0.99 }; 33];
    let mut set = |i: usize, q: Pt| landmarks[i] = Landmark { x: q.0, y: q.1, visibility: 0.99 };
    set(0, p(0.0, 0.085));
    for (i, dx) in [(1, 0.008), (2, 0.014), (3, 0.02), (4, -0.008), (5, -0.014), (6, -0.02)] {
        set(i, p(dx, 0.068));
    }
    set(7, p(0.034, 0.075));
    set(8, p(-0.034, 0.075));
    set(9, p(0.01, 0.1));
    set(10, p(-0.01, 0.1));
    for (i, q) in [
        (11, ls),
        (12, rs),
        (13, le),
        (14, re),
        (15, lw),
        (16, rw),
        (23, lh),
        (24, rh),
        (25, lk),
        (26, rk),
        (27, la),
        (28, ra),
    ] {
        set(i, q);
    }
    for (i, wr, dx) in
        [(17, lw, 0.008), (18, rw, -0.008), (19, lw, 0.0), (20, rw, 0.0), (21, lw, -0.006), (22, rw, 0.006)]
    {
        set(i, (wr.0 + dx * h, wr.1 + 0.05 * h));
    }
    for (i, a, dy) in [(29, la, 0.03), (30, ra, 0.03), (31, la, 0.065), (32, ra, 0.065)] {
        set(i, (a.0, a.1 + dy * h));
    }
    Figure { image, alpha, landmarks, tone }
}

fn mix3(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// A calm, minimal face: brows, closed-line eyes, a nose shadow and lips, in the skin's own
/// darker tones.
fn draw_face(img: &mut RgbImage, c: Pt, h: f32, skin: Rgb) {
    let dark = skin.map(|v| v * 0.35);
    let lips = [skin[0] * 0.7, skin[1] * 0.45, skin[2] * 0.45];
    let mut dab = |x: f32, y: f32, rx: f32, ry: f32, col: Rgb| {
        let (x0, x1) = ((x - rx - 1.0) as i64, (x + rx + 1.0) as i64);
        let (y0, y1) = ((y - ry - 1.0) as i64, (y + ry + 1.0) as i64);
        for py in y0.max(0)..y1.min(img.height() as i64) {
            for px in x0.max(0)..x1.min(img.width() as i64) {
                let d = ((px as f32 + 0.5 - x) / rx).powi(2) + ((py as f32 + 0.5 - y) / ry).powi(2);
                if d <= 1.0 {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    let t = (1.0 - d).min(1.0) * 0.85;
                    for k in 0..3 {
                        let under = crate::color::srgb_to_linear(p[k] as f32 / 255.0);
                        p[k] = (linear_to_srgb(under + (col[k] - under) * t) * 255.0).round() as u8;
                    }
                }
            }
        }
    };
    for s in [-1.0f32, 1.0] {
        dab(c.0 + s * 0.014 * h, c.1 - 0.006 * h, 0.007 * h, 0.0016 * h, dark); // eye
        dab(c.0 + s * 0.014 * h, c.1 - 0.014 * h, 0.008 * h, 0.0012 * h, dark); // brow
    }
    dab(c.0, c.1 + 0.01 * h, 0.0018 * h, 0.006 * h, skin.map(|v| v * 0.75)); // nose
    dab(c.0, c.1 + 0.026 * h, 0.008 * h, 0.0025 * h, lips);
}

/// Coverage of polygons given in pixels.
fn coverage_px(polys: &[&[Pt]], w: usize, h: usize) -> Plane {
    let scaled: Vec<Vec<Pt>> =
        polys.iter().map(|p| p.iter().map(|q| (q.0 / w as f32, q.1 / w as f32)).collect()).collect();
    let refs: Vec<&[Pt]> = scaled.iter().map(Vec::as_slice).collect();
    super::flats::coverage(&refs, w, h, w as f32)
}

/// The figure as an RGBA cutout (its alpha), for compositing on other grounds.
pub fn cutout(f: &Figure) -> RgbaImage {
    RgbaImage::from_fn(f.image.width(), f.image.height(), |x, y| {
        let p = f.image.get_pixel(x, y);
        let a = f.alpha.at(x as usize, y as usize);
        image::Rgba([p[0], p[1], p[2], (a * 255.0).round() as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body_type: &str) -> FigureSpec<'_> {
        FigureSpec { female: true, body_type, age_range: "26-35", ethnicity: "", seed: 3, height: 600 }
    }

    #[test]
    fn the_figure_is_symmetric_and_its_landmarks_sit_on_it() {
        let f = draw(&spec("average"));
        let (w, h) = (f.alpha.width, f.alpha.height);
        let mut asym = 0.0;
        for y in 0..h {
            for x in 0..w / 2 {
                asym += (f.alpha.at(x, y) - f.alpha.at(w - 1 - x, y)).abs();
            }
        }
        assert!(asym / f.alpha.data.iter().sum::<f32>() < 0.01);
        for i in [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28] {
            let l = f.landmarks[i];
            assert!(f.alpha.at(l.x as usize, l.y as usize) > 0.5, "landmark {i} is off the body");
        }
        assert!(f.landmarks[11].x > f.landmarks[12].x, "the figure's left is on the image's right");
    }

    #[test]
    fn body_types_change_the_silhouette_and_ethnicity_only_the_tone_range() {
        let area = |t| draw(&spec(t)).alpha.data.iter().sum::<f32>();
        assert!(area("slim") < area("average") && area("average") < area("plus"));
        for seed in 0..20 {
            let f = draw(&FigureSpec { ethnicity: "black", seed, ..spec("average") });
            assert!((5..=10).contains(&f.tone));
        }
        assert_eq!(tone_range("anything else"), (1, 10));
        assert_eq!(draw(&spec("curvy")).image, draw(&spec("curvy")).image, "deterministic");
    }
}
