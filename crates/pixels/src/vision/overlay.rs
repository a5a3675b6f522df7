//! The pose overlay artifact: the photo dimmed, the skeleton drawn over it (confident joints in
//! red, unsure ones in blue) and the face mesh's outline in cyan, so a person can check what the
//! fit was based on.

use image::{Rgb, RgbImage};

use super::face_mesh::Mesh;
use super::pose::Landmark;

/// BlazePose's skeleton, as landmark pairs.
const BONES: [(usize, usize); 16] = [
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (25, 27),
    (24, 26),
    (26, 28),
    (27, 29),
    (29, 31),
    (28, 30),
    (30, 32),
];

fn dot(img: &mut RgbImage, x: f32, y: f32, r: f32, c: Rgb<u8>) {
    let (x0, x1) = ((x - r).floor().max(0.0) as u32, ((x + r).ceil().max(0.0) as u32).min(img.width()));
    let (y0, y1) = ((y - r).floor().max(0.0) as u32, ((y + r).ceil().max(0.0) as u32).min(img.height()));
    for py in y0..y1 {
        for px in x0..x1 {
            if (px as f32 + 0.5 - x).hypot(py as f32 + 0.5 - y) <= r {
                img.put_pixel(px, py, c);
            }
        }
    }
}

fn line(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), r: f32, c: Rgb<u8>) {
    let steps = ((b.0 - a.0).hypot(b.1 - a.1) / (r * 0.5).max(0.5)).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        dot(img, a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, r, c);
    }
}

pub fn pose(photo: &RgbImage, landmarks: &[Landmark], mesh: Option<&Mesh>) -> RgbImage {
    let mut img = RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        Rgb(photo.get_pixel(x, y).0.map(|v| (v as f32 * 0.6 + 40.0) as u8))
    });
    let r = (photo.width().max(photo.height()) as f32 / 300.0).max(1.5);
    let sure = |i: usize| landmarks.get(i).is_some_and(|l| l.visibility >= 0.5);
    for (a, b) in BONES {
        if a < landmarks.len() && b < landmarks.len() {
            let c = if sure(a) && sure(b) { Rgb([255, 210, 60]) } else { Rgb([120, 140, 255]) };
            line(&mut img, (landmarks[a].x, landmarks[a].y), (landmarks[b].x, landmarks[b].y), r * 0.6, c);
        }
    }
    for (i, l) in landmarks.iter().enumerate() {
        dot(&mut img, l.x, l.y, r * 1.3, if sure(i) { Rgb([255, 40, 40]) } else { Rgb([80, 110, 255]) });
    }
    if let Some(mesh) = mesh {
        let outline = mesh.outline();
        for (i, a) in outline.iter().enumerate() {
            line(&mut img, *a, outline[(i + 1) % outline.len()], r * 0.5, Rgb([0, 230, 230]));
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joints_and_bones_are_drawn_over_a_dimmed_photo() {
        let photo = RgbImage::from_pixel(100, 100, Rgb([200, 200, 200]));
        let mut l = vec![Landmark { x: 10.0, y: 10.0, visibility: 0.1 }; 33];
        l[11] = Landmark { x: 30.0, y: 50.0, visibility: 0.9 };
        l[12] = Landmark { x: 70.0, y: 50.0, visibility: 0.9 };
        let img = pose(&photo, &l, None);
        assert_eq!(img.get_pixel(30, 50).0, [255, 40, 40], "a sure joint");
        assert_eq!(img.get_pixel(50, 50).0, [255, 210, 60], "the bone between the shoulders");
        assert_eq!(img.get_pixel(90, 90).0, [160, 160, 160], "dimmed");
    }
}
