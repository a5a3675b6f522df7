//! Colours: fashion colour names with the hex they stand for, `#RRGGBB` parsing, and the
//! sRGB ↔ linear-light conversions that lighting maths must be done in.

/// Named colours as a studio uses them. Each name maps to exactly the hex listed here.
pub const NAMED: &[(&str, &str)] = &[
    ("white", "#FFFFFF"),
    ("ivory", "#F6F1E4"),
    ("cream", "#F2E8D0"),
    ("sand", "#D9C6A5"),
    ("beige", "#D8C3A5"),
    ("camel", "#C19A6B"),
    ("taupe", "#8B7D6B"),
    ("stone", "#B8B2A7"),
    ("grey", "#9A9A9A"),
    ("gray", "#9A9A9A"),
    ("slate", "#5D6B7A"),
    ("charcoal", "#36393D"),
    ("black", "#141414"),
    ("blush", "#E8C4BE"),
    ("pink", "#E9A6B8"),
    ("coral", "#F08A6C"),
    ("peach", "#F4C3A1"),
    ("terracotta", "#C46A4A"),
    ("rust", "#A5482A"),
    ("red", "#C0282D"),
    ("burgundy", "#6D1F2E"),
    ("mustard", "#D4A72C"),
    ("yellow", "#F2D64B"),
    ("orange", "#E67E22"),
    ("olive", "#6B6B3A"),
    ("sage", "#9CAF88"),
    ("mint", "#BFE3D0"),
    ("green", "#3C8D5A"),
    ("emerald", "#1F7A57"),
    ("forest", "#2D4A35"),
    ("teal", "#2A7F83"),
    ("sky", "#A9CCE8"),
    ("blue", "#2F5D9E"),
    ("cobalt", "#2347A8"),
    ("navy", "#1F2A44"),
    ("lavender", "#C7B8E0"),
    ("lilac", "#B9A2C9"),
    ("purple", "#6A3D8F"),
    ("brown", "#6F4A32"),
    ("chocolate", "#4A2F23"),
];

/// sRGB in 0..1.
pub type Rgb = [f32; 3];

/// A colour name (case-insensitive) or `#RRGGBB` / `RRGGBB`.
pub fn parse(color: &str) -> Option<Rgb> {
    let c = color.trim().to_ascii_lowercase();
    let hex = NAMED.iter().find(|(name, _)| *name == c).map(|(_, hex)| *hex).unwrap_or(&c);
    let hex = hex.strip_prefix('#').unwrap_or(hex);
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok().map(|v| v as f32 / 255.0);
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// The named colour nearest `c` (squared distance in sRGB, weighted as the eye weighs red,
/// green and blue): how a prompt names a garment's colour.
pub fn nearest_name(c: Rgb) -> &'static str {
    let distance = |(_, hex): &&(&str, &str)| {
        let n = parse(hex).unwrap_or_default();
        let d: [f32; 3] = std::array::from_fn(|i| c[i] - n[i]);
        2.0 * d[0] * d[0] + 4.0 * d[1] * d[1] + 3.0 * d[2] * d[2]
    };
    NAMED.iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).map(|(name, _)| *name).unwrap_or("grey")
}

pub fn to_hex(c: Rgb) -> String {
    let b = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    format!("#{:02X}{:02X}{:02X}", b(c[0]), b(c[1]), b(c[2]))
}

pub fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB 8-bit → linear, by table: exact for 8-bit inputs and free of `powf` in pixel loops.
#[inline]
pub fn u8_to_linear(v: u8) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| srgb_to_linear(i as f32 / 255.0)))[v as usize]
}

pub fn linear_to_srgb(v: f32) -> f32 {
    let v = v.max(0.0);
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// Linear → 8-bit sRGB, `(linear_to_srgb(v).clamp(0, 1) · 255).round()` exactly, without a
/// `powf`: the 255 linear values where the rounded result steps up are found once by bisecting
/// the formula itself over the f32 bit patterns (so the two never disagree), and a table over
/// 4096 cells of 0..1 gives each value's level to within a step, corrected by comparing with
/// the steps beside it.
#[inline]
pub fn linear_to_u8(v: f32) -> u8 {
    const CELLS: usize = 4096;
    struct Table {
        steps: [f32; 255],
        /// The level at each cell's start.
        cells: [u8; CELLS],
    }
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let level = |v: f32| (linear_to_srgb(v).clamp(0.0, 1.0) * 255.0).round();
        let steps: [f32; 255] = std::array::from_fn(|k| {
            // The smallest non-negative f32 whose level is above k.
            let (mut lo, mut hi) = (0u32, 1.0f32.to_bits());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if level(f32::from_bits(mid)) > k as f32 {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            f32::from_bits(lo)
        });
        let cells = std::array::from_fn(|i| steps.partition_point(|s| *s <= i as f32 / CELLS as f32) as u8);
        Table { steps, cells }
    });
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    if v >= 1.0 {
        return 255;
    }
    let mut level = t.cells[((v * CELLS as f32) as usize).min(CELLS - 1)] as usize;
    while level < 255 && t.steps[level] <= v {
        level += 1;
    }
    while level > 0 && t.steps[level - 1] > v {
        level -= 1;
    }
    level as u8
}

pub fn to_linear(c: Rgb) -> Rgb {
    c.map(srgb_to_linear)
}

/// Relative luminance of a linear colour.
pub fn luminance(c: Rgb) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

pub fn scale(c: Rgb, k: f32) -> Rgb {
    c.map(|v| v * k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_hex_they_claim() {
        for (name, hex) in NAMED {
            assert_eq!(to_hex(parse(name).unwrap()), *hex, "{name}");
            assert_eq!(to_hex(parse(&name.to_uppercase()).unwrap()), *hex);
        }
        assert_eq!(to_hex(parse("#1f2a44").unwrap()), "#1F2A44");
        assert_eq!(to_hex(parse("C0282D").unwrap()), "#C0282D");
        assert!(parse("ultraviolet").is_none());
        assert!(parse("#12345").is_none());
    }

    #[test]
    fn the_table_matches_the_formula() {
        for i in 0..=255u8 {
            assert_eq!(u8_to_linear(i), srgb_to_linear(i as f32 / 255.0));
        }
    }

    #[test]
    fn the_search_matches_the_formula() {
        let formula = |v: f32| (linear_to_srgb(v).clamp(0.0, 1.0) * 255.0).round() as u8;
        for i in 0..=200_000 {
            let v = i as f32 / 180_000.0 - 0.05;
            assert_eq!(linear_to_u8(v), formula(v), "{v}");
        }
        for k in 0..=255u8 {
            assert_eq!(linear_to_u8(u8_to_linear(k)), k);
        }
        assert_eq!((linear_to_u8(f32::NAN), linear_to_u8(-1.0), linear_to_u8(7.0)), (0, 0, 255));
    }

    #[test]
    fn linear_round_trip() {
        for i in 0..=255 {
            let v = i as f32 / 255.0;
            assert!((linear_to_srgb(srgb_to_linear(v)) - v).abs() < 1e-4);
        }
    }
}
