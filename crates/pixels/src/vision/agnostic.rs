//! The agnostic mask a try-on model repaints (issue 28), with CatVTON's `cloth_masker`
//! semantics drawn from what the studio finds itself — the person matte, the 33 pose landmarks
//! and the face mesh — instead of DensePose and a human parser:
//!
//! - **upper**: the torso from just above the shoulders to below the hips, and both arms;
//! - **lower**: the hips to the ankles, both legs; the arms and hands kept;
//! - **overall**: both.
//!
//! Each is the body's parts as capsules round the pose's bones (and the torso as its polygon)
//! together with the matte inside the cover's band, grown so that a looser garment than the one
//! worn has room; then what must never change is taken out — the face (its mesh, grown), the
//! hands, and the head above the collar line. Hair falling over the shoulders is inside an
//! upper mask: without a parser it cannot be told from a collar (a limit the docs name).

use image::GrayImage;

use super::pose::{Landmark, VISIBLE};
use crate::plane::{box_mean, Plane};

type P = (f32, f32);

/// What the try-on model repaints (CatVTON's `cloth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Upper,
    Lower,
    Overall,
}

impl Cover {
    pub fn as_str(self) -> &'static str {
        match self {
            Cover::Upper => "upper",
            Cover::Lower => "lower",
            Cover::Overall => "overall",
        }
    }
}

/// Why a mask cannot be drawn: the landmarks it needs are not in the photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the pose shows no {0}, so the {1} mask cannot be drawn")]
pub struct Unseen(pub &'static str, pub &'static str);

/// A capsule: every pixel within `r` of the segment `a`–`b`.
fn capsules(width: usize, height: usize, parts: &[(P, P, f32)]) -> Plane {
    let mut plane = Plane::new(width, height);
    for &(a, b, r) in parts {
        let (x0, x1) =
            ((a.0.min(b.0) - r - 1.0).max(0.0) as usize, ((a.0.max(b.0) + r + 2.0).max(0.0) as usize).min(width));
        let (y0, y1) =
            ((a.1.min(b.1) - r - 1.0).max(0.0) as usize, ((a.1.max(b.1) + r + 2.0).max(0.0) as usize).min(height));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let length2 = (dx * dx + dy * dy).max(1e-6);
        for y in y0..y1 {
            for x in x0..x1 {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let t = (((px - a.0) * dx + (py - a.1) * dy) / length2).clamp(0.0, 1.0);
                if (px - a.0 - t * dx).hypot(py - a.1 - t * dy) <= r {
                    plane.data[y * width + x] = 1.0;
                }
            }
        }
    }
    plane
}

/// Fills the convex polygon `corners` (in order) into `plane`.
fn fill_convex(plane: &mut Plane, corners: &[P]) {
    let (width, height) = (plane.width, plane.height);
    let top = corners.iter().map(|c| c.1).fold(f32::MAX, f32::min).max(0.0) as usize;
    let bottom = (corners.iter().map(|c| c.1).fold(f32::MIN, f32::max).max(0.0) as usize + 1).min(height);
    for y in top..bottom {
        let py = y as f32 + 0.5;
        // Where each edge crosses this row.
        let (mut left, mut right) = (f32::MAX, f32::MIN);
        for (i, a) in corners.iter().enumerate() {
            let b = corners[(i + 1) % corners.len()];
            if (a.1 <= py && b.1 > py) || (b.1 <= py && a.1 > py) {
                let x = a.0 + (py - a.1) / (b.1 - a.1) * (b.0 - a.0);
                (left, right) = (left.min(x), right.max(x));
            }
        }
        if left <= right {
            let (from, to) = (left.max(0.0) as usize, (right.max(0.0) as usize + 1).min(width));
            plane.data[y * width + from..y * width + to].iter_mut().for_each(|v| *v = 1.0);
        }
    }
}

/// The agnostic mask for `cover` at `width`×`height` (255: repainted). `matte`: the person's
/// alpha; `keep`: what never changes (the face and hands, 0..1).
pub fn mask(matte: &Plane, landmarks: &[Landmark], keep: &Plane, cover: Cover) -> Result<GrayImage, Unseen> {
    let (width, height) = (matte.width, matte.height);
    let at = |i: usize| (landmarks[i].x, landmarks[i].y);
    let seen = |ids: &[usize]| ids.iter().all(|&i| landmarks.get(i).is_some_and(|l| l.visibility >= VISIBLE));
    if !seen(&[11, 12, 23, 24]) {
        return Err(Unseen("shoulders and hips", cover.as_str()));
    }
    let shoulder_width = (at(11).0 - at(12).0).hypot(at(11).1 - at(12).1).max(8.0);
    let shoulders = (at(11).1 + at(12).1) / 2.0;
    // A torso is longer than its shoulders are wide: on a half-body photo the pose model puts
    // the hips it cannot see too high, and the mask would stop mid-chest.
    let torso = ((at(23).1 + at(24).1) / 2.0 - shoulders).max(1.25 * shoulder_width);
    let hips = shoulders + torso;
    let collar = shoulders - 0.12 * torso;

    let mut parts: Vec<(P, P, f32)> = Vec::new();
    let bone = |parts: &mut Vec<(P, P, f32)>, a: usize, b: usize, r: f32| {
        if seen(&[a, b]) {
            parts.push((at(a), at(b), r * shoulder_width));
        }
    };
    let (upper, lower) = match cover {
        Cover::Upper => (true, false),
        Cover::Lower => (false, true),
        Cover::Overall => (true, true),
    };
    if upper {
        for (a, b, r) in [(11, 13, 0.2), (13, 15, 0.16), (12, 14, 0.2), (14, 16, 0.16)] {
            bone(&mut parts, a, b, r);
        }
    }
    if lower {
        if !seen(&[25, 26]) {
            return Err(Unseen("knees", cover.as_str()));
        }
        for (a, b, r) in [(23, 25, 0.3), (24, 26, 0.3), (25, 27, 0.2), (26, 28, 0.2), (23, 24, 0.3)] {
            bone(&mut parts, a, b, r);
        }
    }
    let mut body = capsules(width, height, &parts);
    let (band_top, band_bottom) = match (upper, lower) {
        (true, false) => (collar, hips + 0.2 * torso),
        (false, _) => (hips - 0.1 * torso, bottom_of_legs(landmarks, height as f32)),
        (true, true) => (collar, bottom_of_legs(landmarks, height as f32)),
    };
    if upper {
        // The torso, its corners pushed out a little past the joints.
        let grow = 0.08 * shoulder_width;
        let corners = [
            (at(12).0 - grow, collar),
            (at(11).0 + grow, collar),
            (at(23).0 + grow, hips + 0.2 * torso),
            (at(24).0 - grow, hips + 0.2 * torso),
        ];
        let ordered =
            if corners[0].0 <= corners[1].0 { corners } else { [corners[1], corners[0], corners[3], corners[2]] };
        fill_convex(&mut body, &ordered);
    }
    // The matte inside the band: what the person wears there now, whatever its cut.
    for y in 0..height {
        let yf = y as f32 + 0.5;
        if yf < band_top || yf > band_bottom {
            continue;
        }
        for x in 0..width {
            let k = y * width + x;
            if matte.data[k] > 0.5 {
                body.data[k] = 1.0;
            }
        }
    }
    // Room for a looser garment than the one worn.
    let grown = box_mean(&body, (0.06 * shoulder_width).max(1.0) as usize);
    // The arms and hands a lower garment never covers (CatVTON protects them for `lower`).
    let arms = match upper {
        true => Plane::new(width, height),
        false => {
            let mut parts = Vec::new();
            for (a, b, r) in [(11, 13, 0.16), (13, 15, 0.13), (12, 14, 0.16), (14, 16, 0.13)] {
                bone(&mut parts, a, b, r);
            }
            capsules(width, height, &parts)
        }
    };
    Ok(GrayImage::from_fn(width as u32, height as u32, |x, y| {
        let k = y as usize * width + x as usize;
        let inside = grown.data[k] > 1e-4 && (y as f32 + 0.5) >= collar && keep.data[k] <= 0.0 && arms.data[k] <= 0.0;
        image::Luma([if inside { 255 } else { 0 }])
    }))
}

/// The lowest row a lower garment reaches: the ankles (a little past), else the knees' line
/// carried down by the thigh's length, else the picture's bottom.
fn bottom_of_legs(landmarks: &[Landmark], height: f32) -> f32 {
    let seen = |i: usize| landmarks.get(i).is_some_and(|l| l.visibility >= VISIBLE);
    let mean = |a: usize, b: usize| (landmarks[a].y + landmarks[b].y) / 2.0;
    if seen(27) && seen(28) {
        let shin = mean(27, 28) - mean(25, 26);
        return (mean(27, 28) + 0.08 * shin.abs()).min(height);
    }
    let thigh = mean(25, 26) - mean(23, 24);
    (mean(25, 26) + thigh.abs()).min(height)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standing figure 200 wide at the shoulders in a 600×1000 frame.
    fn figure() -> (Plane, Vec<Landmark>) {
        let mut lm = vec![Landmark { x: 300.0, y: 100.0, visibility: 0.9 }; 33];
        let mut set = |i: usize, x: f32, y: f32| lm[i] = Landmark { x, y, visibility: 0.9 };
        set(0, 300.0, 110.0);
        set(11, 400.0, 220.0);
        set(12, 200.0, 220.0);
        set(13, 420.0, 380.0);
        set(14, 180.0, 380.0);
        set(15, 430.0, 520.0);
        set(16, 170.0, 520.0);
        set(23, 360.0, 520.0);
        set(24, 240.0, 520.0);
        set(25, 350.0, 720.0);
        set(26, 250.0, 720.0);
        set(27, 345.0, 900.0);
        set(28, 255.0, 900.0);
        let mut matte = Plane::new(600, 1000);
        for y in 40..960 {
            for x in 160..440 {
                matte.data[y * 600 + x] = 1.0;
            }
        }
        (matte, lm)
    }

    fn inside(mask: &GrayImage, x: u32, y: u32) -> bool {
        mask.get_pixel(x, y)[0] == 255
    }

    #[test]
    fn each_cover_takes_its_part_of_the_body_and_never_what_is_kept() {
        let (matte, lm) = figure();
        let mut keep = Plane::new(600, 1000);
        // A hand at the left wrist.
        for y in 500..540 {
            for x in 410..450 {
                keep.data[y * 600 + x] = 1.0;
            }
        }
        let upper = mask(&matte, &lm, &keep, Cover::Upper).unwrap();
        assert!(inside(&upper, 300, 350) && inside(&upper, 410, 300), "chest and upper arm");
        assert!(!inside(&upper, 300, 800) && !inside(&upper, 300, 110), "not the shins, not the head");
        assert!(!inside(&upper, 430, 520), "never the hand");
        assert!(!inside(&upper, 20, 350), "never the background far from the body");
        let lower = mask(&matte, &lm, &keep, Cover::Lower).unwrap();
        assert!(inside(&lower, 300, 650) && inside(&lower, 350, 850), "hips, thighs and shins");
        assert!(!inside(&lower, 300, 300), "not the chest");
        assert!(!inside(&lower, 427, 510), "not the forearm hanging by the thigh");
        let overall = mask(&matte, &lm, &keep, Cover::Overall).unwrap();
        assert!(inside(&overall, 300, 350) && inside(&overall, 300, 650));
        assert!(!inside(&overall, 300, 110) && !inside(&overall, 430, 520));
    }

    #[test]
    fn a_pose_without_the_joints_a_cover_needs_is_said() {
        let (matte, mut lm) = figure();
        let keep = Plane::new(600, 1000);
        lm[25].visibility = 0.1;
        assert_eq!(mask(&matte, &lm, &keep, Cover::Lower).unwrap_err(), Unseen("knees", "lower"));
        assert!(mask(&matte, &lm, &keep, Cover::Upper).is_ok(), "a top needs no knees");
        lm[11].visibility = 0.1;
        assert!(mask(&matte, &lm, &keep, Cover::Upper).is_err());
    }
}
