//! Garment regions of a worn outfit, by rule from pose landmarks and the person matte: the
//! upper garment between a collar line just above the shoulders and a hem line below the hips;
//! the lower from the waist to the ankles; a full-body piece (dress, jumpsuit) from collar to
//! knees or ankles; the feet below the ankles. Each region is the matte inside its band, with
//! soft edges. A region is only offered when the landmarks it needs are visible.

use super::pose::Landmark;
use crate::plane::Plane;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Upper,
    Lower,
    Full,
    Feet,
}

impl Region {
    pub fn name(self) -> &'static str {
        match self {
            Region::Upper => "upper",
            Region::Lower => "lower",
            Region::Full => "full",
            Region::Feet => "feet",
        }
    }

    /// The garment category a region most likely holds (a guess, labelled as one).
    pub fn category_guess(self) -> &'static str {
        match self {
            Region::Upper => "top",
            Region::Lower => "pants",
            Region::Full => "dress",
            Region::Feet => "shoes",
        }
    }
}

const VISIBLE: f32 = 0.5;

fn mid(a: &Landmark, b: &Landmark) -> Option<f32> {
    (a.visibility > VISIBLE && b.visibility > VISIBLE).then_some((a.y + b.y) / 2.0)
}

/// The vertical band (top, bottom) of each region the landmarks support, in image rows.
pub fn bands(lm: &[Landmark], image_height: f32, full_body: bool) -> Vec<(Region, f32, f32)> {
    let mut out = Vec::new();
    let (Some(shoulders), Some(hips)) = (mid(&lm[11], &lm[12]), mid(&lm[23], &lm[24])) else { return out };
    let torso = (hips - shoulders).max(1.0);
    let collar = shoulders - 0.12 * torso;
    let knees = mid(&lm[25], &lm[26]);
    let ankles = mid(&lm[27], &lm[28]);
    if full_body {
        let bottom = ankles.or(knees).unwrap_or(image_height);
        out.push((Region::Full, collar, bottom));
    } else {
        out.push((Region::Upper, collar, hips + 0.15 * torso));
        out.push((Region::Lower, hips - 0.08 * torso, ankles.unwrap_or(image_height)));
    }
    if let Some(ankles) = ankles {
        out.push((Region::Feet, ankles - 0.06 * torso, image_height));
    }
    out
}

/// The matte inside `top..bottom`, edges feathered over `feather` rows.
pub fn cut(alpha: &Plane, top: f32, bottom: f32, feather: f32) -> Plane {
    let ramp = |d: f32| (d / feather.max(1.0) + 0.5).clamp(0.0, 1.0);
    let mut out = alpha.clone();
    for y in 0..alpha.height {
        let yf = y as f32 + 0.5;
        let w = ramp(yf - top).min(ramp(bottom - yf));
        for v in &mut out.data[y * alpha.width..(y + 1) * alpha.width] {
            *v *= w;
        }
    }
    out
}

/// How far the person's silhouette reaches from `from` along `dir` (its first gap wider than a
/// few pixels ends it), up to the image's edge.
pub fn silhouette_reach(matte: &Plane, from: (f32, f32), dir: (f32, f32)) -> Option<f32> {
    let inside = |d: f32| {
        let (x, y) = (from.0 + dir.0 * d, from.1 + dir.1 * d);
        (x >= 0.0 && y >= 0.0 && (x as usize) < matte.width && (y as usize) < matte.height)
            .then(|| matte.at(x as usize, y as usize) > 0.5)
    };
    if !inside(0.0)? {
        return None;
    }
    let (mut d, mut last) = (0.0f32, 0.0f32);
    while let Some(opaque) = inside(d) {
        if opaque {
            last = d;
        } else if d - last > 4.0 {
            break;
        }
        d += 1.0;
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pose(visible_legs: bool) -> Vec<Landmark> {
        let mut lm = vec![Landmark { x: 50.0, y: 0.0, visibility: 0.0 }; 33];
        let mut set = |i: usize, y: f32, v: f32| lm[i] = Landmark { x: 50.0, y, visibility: v };
        set(11, 100.0, 0.9);
        set(12, 100.0, 0.9);
        set(23, 200.0, 0.9);
        set(24, 200.0, 0.9);
        let legs = if visible_legs { 0.9 } else { 0.1 };
        set(25, 300.0, legs);
        set(26, 300.0, legs);
        set(27, 400.0, legs);
        set(28, 400.0, legs);
        lm
    }

    #[test]
    fn bands_follow_the_body_and_need_their_landmarks() {
        let b = bands(&pose(true), 450.0, false);
        let names: Vec<_> = b.iter().map(|(r, _, _)| *r).collect();
        assert_eq!(names, [Region::Upper, Region::Lower, Region::Feet]);
        let upper = b[0];
        assert!(upper.1 < 100.0 && upper.2 > 200.0, "collar above the shoulders, hem below the hips: {upper:?}");
        // Legs not visible: no feet, and the lower region runs to the image's bottom.
        let b = bands(&pose(false), 450.0, false);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].2, 450.0);
        // A dress is one full region.
        assert_eq!(bands(&pose(true), 450.0, true)[0].0, Region::Full);
        // No shoulders: nothing.
        let mut none = pose(true);
        none[11].visibility = 0.0;
        assert!(bands(&none, 450.0, false).is_empty());
    }

    #[test]
    fn cut_keeps_only_the_band() {
        let alpha = Plane { width: 4, height: 100, data: vec![1.0; 400] };
        let c = cut(&alpha, 20.0, 60.0, 4.0);
        assert_eq!(c.at(0, 5), 0.0);
        assert_eq!(c.at(0, 40), 1.0);
        assert_eq!(c.at(0, 90), 0.0);
        assert!(c.at(0, 20) > 0.2 && c.at(0, 20) < 0.8, "feathered edge");
    }
}
