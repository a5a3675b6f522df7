//! Technical flats: a garment category's front view drawn from its template ([`shape`]),
//! filled with a colour, pattern and material ([`fabric`]), with seams, topstitching, ribbing,
//! buttons, an inner shade toward the edges and a soft drop shadow, on a transparent canvas.
//! Deterministic: the same spec and seed give the same bytes.

pub mod fabric;
pub mod shape;

use image::RgbaImage;

use crate::color::{linear_to_srgb, to_linear, Rgb};
use crate::plane::{box_mean, Plane};
use shape::{Cut, Flat, Pt, CANVAS_H};

/// What to draw.
#[derive(Debug, Clone)]
pub struct FlatSpec<'a> {
    pub key: &'a str,
    /// sRGB 0..1.
    pub color: Rgb,
    pub pattern: &'a str,
    pub material: &'a str,
    pub cut: Cut,
    pub seed: u32,
    /// Output width in pixels (height is 1.2× this).
    pub width: u32,
}

/// Coverage (0..1) of the union of `polygons` (in canvas units × `s` pixels per unit): four
/// sub-scanlines per row, exact horizontal coverage of each span.
pub fn coverage(polygons: &[&[Pt]], w: usize, h: usize, s: f32) -> Plane {
    let mut plane = Plane::new(w, h);
    for poly in polygons {
        let mut own = vec![0.0f32; w * h];
        let mut xs = Vec::new();
        for y in 0..h {
            for sub in 0..4 {
                let sy = (y as f32 + (sub as f32 + 0.5) / 4.0) / s;
                xs.clear();
                for (i, a) in poly.iter().enumerate() {
                    let b = poly[(i + 1) % poly.len()];
                    if (a.1 <= sy) != (b.1 <= sy) {
                        xs.push((a.0 + (sy - a.1) / (b.1 - a.1) * (b.0 - a.0)) * s);
                    }
                }
                xs.sort_by(|a, b| a.total_cmp(b));
                for pair in xs.chunks(2) {
                    let [a, b] = pair else { continue };
                    let (a, b) = (a.clamp(0.0, w as f32), b.clamp(0.0, w as f32));
                    let (ia, ib) = (a.floor() as usize, b.floor() as usize);
                    for x in ia..=ib.min(w - 1) {
                        let lo = a.max(x as f32);
                        let hi = b.min(x as f32 + 1.0);
                        if hi > lo {
                            own[y * w + x] += (hi - lo) * 0.25;
                        }
                    }
                }
            }
        }
        for (p, o) in plane.data.iter_mut().zip(own) {
            *p = p.max(o.min(1.0));
        }
    }
    plane
}

/// Anti-aliased strokes along polylines; `dash`: (period, on-share) along the line, in pixels.
fn stroke(lines: &[Vec<Pt>], w: usize, h: usize, s: f32, width: f32, dash: Option<(f32, f32)>) -> Plane {
    let mut plane = Plane::new(w, h);
    for line in lines {
        let mut travelled = 0.0;
        for seg in line.windows(2) {
            let (a, b) = ((seg[0].0 * s, seg[0].1 * s), (seg[1].0 * s, seg[1].1 * s));
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = (dx * dx + dy * dy).max(1e-6);
            let r = width / 2.0 + 1.0;
            let (x0, x1) = ((a.0.min(b.0) - r).max(0.0) as usize, ((a.0.max(b.0) + r).max(0.0) as usize).min(w));
            let (y0, y1) = ((a.1.min(b.1) - r).max(0.0) as usize, ((a.1.max(b.1) + r).max(0.0) as usize).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
                    let d = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
                    let mut v = (width / 2.0 + 0.5 - d).clamp(0.0, 1.0);
                    if let Some((period, on)) = dash {
                        let along = travelled + t * len2.sqrt();
                        if (along / period).rem_euclid(1.0) > on {
                            v = 0.0;
                        }
                    }
                    let k = y * w + x;
                    plane.data[k] = plane.data[k].max(v);
                }
            }
            travelled += len2.sqrt();
        }
    }
    plane
}

fn discs(items: &[(Pt, f32)], w: usize, h: usize, s: f32) -> Plane {
    let polys: Vec<Vec<Pt>> = items
        .iter()
        .map(|((cx, cy), r)| {
            (0..24)
                .map(|i| {
                    let a = i as f32 / 24.0 * std::f32::consts::TAU;
                    (cx + r * a.cos(), cy + r * a.sin())
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[Pt]> = polys.iter().map(Vec::as_slice).collect();
    coverage(&refs, w, h, s)
}

/// The flat of `spec.key`; `None` for a category without a template.
pub fn render(spec: &FlatSpec) -> Option<RgbaImage> {
    let flat: Flat = shape::flat(spec.key, spec.cut)?;
    let w = spec.width.max(64) as usize;
    let h = (w as f32 * CANVAS_H).round() as usize;
    let s = w as f32;
    let mut silhouette: Vec<&[Pt]> = vec![&flat.outline];
    silhouette.extend(flat.extra.iter().map(Vec::as_slice));
    let alpha = coverage(&silhouette, w, h, s);
    let inside = coverage(&flat.inside.iter().map(Vec::as_slice).collect::<Vec<_>>(), w, h, s);
    let ribs = coverage(&flat.ribs.iter().map(Vec::as_slice).collect::<Vec<_>>(), w, h, s);
    let line = (s / 450.0).max(1.0);
    let seams = stroke(&flat.seams, w, h, s, line, None);
    let stitches = stroke(&flat.stitches, w, h, s, line * 0.8, Some((s / 110.0, 0.6)));
    let buttons = discs(&flat.buttons, w, h, s);
    let rivets = discs(&flat.rivets, w, h, s);
    // Toward the edges the fabric turns away from the light.
    let near_edge = box_mean(&alpha, (w / 70).max(1));
    let shadow = box_mean(&alpha, (w / 60).max(1));
    let (sx, sy) = ((w / 160).max(1), (w / 110).max(1));

    let base = to_linear(spec.color);
    let thread: Rgb =
        if spec.material == "denim" { to_linear([0.83, 0.65, 0.17]) } else { base.map(|c| c * 0.6 + 0.02) };
    let button: Rgb = if crate::color::luminance(base) > 0.4 { [0.08, 0.07, 0.06] } else { [0.82, 0.8, 0.76] };
    let mut out = RgbaImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let k = y * w + x;
            let a = alpha.data[k];
            // The drop shadow below and right of the garment, under it.
            let sk = if y >= sy && x >= sx { (y - sy) * w + x - sx } else { k };
            let shade_a = shadow.data[sk] * 0.28 * (1.0 - a);
            if a <= 0.0 && shade_a <= 0.002 {
                continue;
            }
            let (gx, gy) = (x as f32 / s, y as f32 / s);
            let mut c = fabric::pattern(spec.pattern, gx, gy, base, spec.seed);
            let (k_surface, highlight) = fabric::surface(spec.material, gx, gy, spec.seed);
            let edge = 0.78 + 0.22 * ((near_edge.data[k] - 0.5) * 2.0).clamp(0.0, 1.0);
            let light = 1.03 - 0.06 * gy / CANVAS_H;
            let mut lum = k_surface * edge * light;
            lum *= 1.0 - 0.45 * inside.data[k];
            lum *= 1.0 - ribs.data[k] * 0.16 * (0.5 + 0.5 * (gx / 0.007 * std::f32::consts::TAU).sin());
            lum *= 1.0 - 0.45 * seams.data[k];
            c = c.map(|v| v * lum + highlight * (1.0 - inside.data[k]));
            for i in 0..3 {
                c[i] = c[i] * (1.0 - stitches.data[k]) + thread[i] * stitches.data[k];
                c[i] = c[i] * (1.0 - buttons.data[k]) + button[i] * buttons.data[k];
                c[i] = c[i] * (1.0 - rivets.data[k]) + [0.62, 0.45, 0.18][i] * rivets.data[k];
            }
            // Garment over its shadow, straight alpha.
            let out_a = a + shade_a;
            let rgb = c.map(|v| linear_to_srgb(v.clamp(0.0, 1.0)) * a / out_a.max(1e-6));
            out.put_pixel(
                x as u32,
                y as u32,
                image::Rgba([
                    (rgb[0] * 255.0).round() as u8,
                    (rgb[1] * 255.0).round() as u8,
                    (rgb[2] * 255.0).round() as u8,
                    (out_a.min(1.0) * 255.0).round() as u8,
                ]),
            );
        }
    }
    Some(out)
}

/// Every category with a flat.
pub const KEYS: [&str; 15] = [
    "t-shirt", "top", "shirt", "blouse", "sweater", "hoodie", "jacket", "coat", "vest", "dress", "jumpsuit", "skirt",
    "pants", "jeans", "shorts",
];

/// The contact sheet of flats: a row per category, a column per pattern × material, tiles
/// `tile` px wide on a light ground; colours cycle through a studio palette.
pub fn sheet(tile: u32) -> RgbaImage {
    const COLOURS: [&str; 9] = ["navy", "ivory", "burgundy", "sage", "camel", "charcoal", "sky", "blush", "mustard"];
    let th = (tile as f32 * CANVAS_H).round() as u32;
    let columns: Vec<(&str, &str)> =
        fabric::PATTERNS.iter().flat_map(|p| fabric::MATERIALS.iter().map(move |m| (*p, *m))).collect();
    let mut out =
        RgbaImage::from_pixel(tile * columns.len() as u32, th * KEYS.len() as u32, image::Rgba([238, 237, 233, 255]));
    for (r, key) in KEYS.iter().enumerate() {
        for (c, (pattern, material)) in columns.iter().enumerate() {
            let colour = crate::color::parse(COLOURS[(r + c) % COLOURS.len()]).unwrap_or([0.5; 3]);
            let spec =
                FlatSpec { key, color: colour, pattern, material, cut: Cut::new(None, None), seed: 7, width: tile };
            if let Some(img) = render(&spec) {
                image::imageops::overlay(&mut out, &img, (c as u32 * tile) as i64, (r as u32 * th) as i64);
            }
        }
    }
    out
}

/// The garment's own alpha (no shadow): for checks and for fitting the flat onto a figure.
pub fn silhouette(key: &str, cut: Cut, width: u32) -> Option<Plane> {
    let flat = shape::flat(key, cut)?;
    let w = width as usize;
    let h = (w as f32 * CANVAS_H).round() as usize;
    let mut polys: Vec<&[Pt]> = vec![&flat.outline];
    polys.extend(flat.extra.iter().map(Vec::as_slice));
    Some(coverage(&polys, w, h, w as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: &str) -> FlatSpec<'_> {
        FlatSpec {
            key,
            color: [0.2, 0.3, 0.6],
            pattern: "solid",
            material: "cotton",
            cut: Cut::new(None, None),
            seed: 1,
            width: 200,
        }
    }

    #[test]
    fn silhouettes_are_symmetric_closed_and_soft_edged() {
        for key in ["t-shirt", "shirt", "hoodie", "coat", "dress", "jeans", "skirt", "shorts"] {
            let a = silhouette(key, Cut::new(None, None), 200).unwrap();
            let (w, h) = (a.width, a.height);
            let mut asym = 0.0;
            for y in 0..h {
                for x in 0..w / 2 {
                    asym += (a.at(x, y) - a.at(w - 1 - x, y)).abs();
                }
            }
            let area: f32 = a.data.iter().sum();
            assert!(asym / area < 0.01, "{key}: asymmetry {}", asym / area);
            // The canvas border is empty; the edge has partial coverage (anti-aliased).
            let touching: Vec<(usize, f32, f32)> = (0..w)
                .filter(|&x| a.at(x, 0) != 0.0 || a.at(x, h - 1) != 0.0)
                .map(|x| (x, a.at(x, 0), a.at(x, h - 1)))
                .collect();
            assert!(touching.is_empty(), "{key} touches the border: {touching:?}");
            assert!(a.data.iter().any(|v| *v > 0.05 && *v < 0.95), "{key}: hard edges");
            // Closed: one connected region of solid pixels.
            let solid: Vec<bool> = a.data.iter().map(|v| *v > 0.5).collect();
            let start = solid.iter().position(|v| *v).unwrap();
            let mut seen = vec![false; solid.len()];
            let mut stack = vec![start];
            seen[start] = true;
            let mut count = 0;
            while let Some(k) = stack.pop() {
                count += 1;
                let (x, y) = (k % w, k / w);
                for (nx, ny) in [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)] {
                    if nx < w && ny < h && solid[ny * w + nx] && !seen[ny * w + nx] {
                        seen[ny * w + nx] = true;
                        stack.push(ny * w + nx);
                    }
                }
            }
            assert_eq!(count, solid.iter().filter(|v| **v).count(), "{key} falls apart");
        }
    }

    #[test]
    fn the_same_spec_gives_the_same_pixels_and_the_seed_matters_for_florals() {
        let a = render(&spec("t-shirt")).unwrap();
        assert_eq!(a, render(&spec("t-shirt")).unwrap());
        let floral = |seed| render(&FlatSpec { pattern: "floral", seed, ..spec("skirt") }).unwrap();
        assert_ne!(floral(1), floral(2));
        assert!(render(&spec("shoes")).is_none());
    }

    #[test]
    fn a_solid_flat_is_its_colour() {
        let img = render(&FlatSpec { color: [0.75, 0.16, 0.18], ..spec("sweater") }).unwrap();
        // The middle of the body, away from seams and ribs: close to the requested red.
        let p = img.get_pixel(100, 130);
        assert_eq!(p[3], 255);
        assert!(p[0] > 150 && p[1] < 70 && p[2] < 75, "{p:?}");
    }
}
