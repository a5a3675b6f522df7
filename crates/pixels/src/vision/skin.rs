//! Skin likelihood: which pixels have the colour of the wearer's own skin, sampled from the
//! face around the nose. Used to keep arms, necks and legs out of a garment taken off a photo.

use image::RgbImage;

use super::pose::{Landmark, VISIBLE};
use crate::color::u8_to_linear;
use crate::plane::Plane;

/// Skin likelihood (0..1) of each pixel, from the colour of the wearer's face around the nose.
pub fn likelihood(photo: &RgbImage, landmarks: &[Landmark]) -> Option<Plane> {
    let nose = landmarks.first().filter(|l| l.visibility >= VISIBLE)?;
    let eyes = (landmarks[2].x - landmarks[5].x).hypot(landmarks[2].y - landmarks[5].y).max(4.0);
    let r = (eyes * 0.35) as i64;
    let mut samples = Vec::new();
    for dy in -r..=r {
        for dx in -r..=r {
            let (x, y) = (nose.x as i64 + dx, nose.y as i64 + dy);
            if x >= 0 && y >= 0 && (x as u32) < photo.width() && (y as u32) < photo.height() {
                samples.push(photo.get_pixel(x as u32, y as u32).0.map(u8_to_linear));
            }
        }
    }
    if samples.is_empty() {
        return None;
    }
    let n = samples.len() as f32;
    let mean = samples.iter().fold([0.0f32; 3], |a, s| [a[0] + s[0], a[1] + s[1], a[2] + s[2]]).map(|v| v / n);
    // Chromaticity (hue, saturation) is what tells skin from cloth; brightness varies with light.
    let chroma = |c: [f32; 3]| {
        let sum = (c[0] + c[1] + c[2]).max(1e-4);
        (c[0] / sum, c[1] / sum, sum)
    };
    let (mr, mg, ms) = chroma(mean);
    Some(Plane {
        width: photo.width() as usize,
        height: photo.height() as usize,
        data: photo
            .pixels()
            .map(|p| {
                let (r, g, s) = chroma(p.0.map(u8_to_linear));
                let d = ((r - mr).powi(2) + (g - mg).powi(2)).sqrt();
                let light = (s / ms).clamp(0.0, 4.0);
                let bright_ok = if (0.25..2.5).contains(&light) { 1.0 } else { 0.0 };
                (1.0 - ((d - 0.025) / 0.03).clamp(0.0, 1.0)) * bright_ok
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skin_is_told_from_cloth_by_its_colour() {
        // Face-coloured left half, blue right half; the nose sits on the left.
        let photo = RgbImage::from_fn(100, 50, |x, _| image::Rgb(if x < 50 { [205, 150, 125] } else { [40, 60, 160] }));
        let mut l = vec![Landmark { x: 20.0, y: 25.0, visibility: 0.9 }; 33];
        l[2].x = 15.0;
        l[5].x = 25.0;
        let s = likelihood(&photo, &l).unwrap();
        assert!(s.at(40, 10) > 0.9 && s.at(70, 10) < 0.1);
    }
}
