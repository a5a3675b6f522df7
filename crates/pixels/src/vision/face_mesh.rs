//! The face mesh: MediaPipe's 468 face landmarks inside a square crop around a face box
//! (enlarged 1.5×, as MediaPipe does), mapped back to image pixels; the face's outline as a
//! polygon and as a mask, which try-on keeps untouched.

use image::RgbImage;

use super::face::FaceBox;
use super::pose::Crop;
use crate::plane::Plane;

/// Side of the square crop the mesh model sees.
pub const INPUT_SIDE: usize = 192;
pub const POINTS: usize = 468;
/// Below this, the model says there is no face in the crop.
const MIN_PRESENCE: f32 = 0.5;

/// MediaPipe's face oval, clockwise from the top of the forehead.
pub const FACE_OVAL: [usize; 36] = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
    136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];

/// 468 points in image pixels (z: relative depth, in the same scale as x).
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub points: Vec<[f32; 3]>,
    pub presence: f32,
}

/// The square the mesh model reads: the face box's centre, 1.5× its longer side.
pub fn crop_for(face: &FaceBox) -> Crop {
    let side = (face.x1 - face.x0).max(face.y1 - face.y0) * 1.5;
    let (cx, cy) = ((face.x0 + face.x1) / 2.0, (face.y0 + face.y1) / 2.0);
    Crop { x0: cx - side / 2.0, y0: cy - side / 2.0, side: side.max(4.0) }
}

/// The model's input: the crop resampled (bilinear) to 192², NHWC RGB 0..1; outside is black.
pub fn input(img: &RgbImage, crop: Crop) -> Vec<f32> {
    let scale = crop.side / INPUT_SIDE as f32;
    let mut out = Vec::with_capacity(INPUT_SIDE * INPUT_SIDE * 3);
    for y in 0..INPUT_SIDE {
        for x in 0..INPUT_SIDE {
            let (sx, sy) = (crop.x0 + (x as f32 + 0.5) * scale - 0.5, crop.y0 + (y as f32 + 0.5) * scale - 0.5);
            out.extend(super::sample::bilinear_rgb(img, sx, sy).map(|v| v / 255.0));
        }
    }
    out
}

/// The mesh in image pixels from the model's outputs (`[1404]` points, `[1]` presence logit);
/// `None` when the model says the crop holds no face.
pub fn decode(points: &[f32], presence_logit: f32, crop: Crop) -> Result<Option<Mesh>, crate::Error> {
    if points.len() < POINTS * 3 {
        return Err(crate::Error::Model(format!("the face mesh model returned {} values", points.len())));
    }
    let presence = 1.0 / (1.0 + (-presence_logit.clamp(-50.0, 50.0)).exp());
    if presence < MIN_PRESENCE {
        return Ok(None);
    }
    let scale = crop.side / INPUT_SIDE as f32;
    let points =
        points.chunks(3).take(POINTS).map(|p| [crop.x0 + p[0] * scale, crop.y0 + p[1] * scale, p[2] * scale]).collect();
    Ok(Some(Mesh { points, presence }))
}

impl Mesh {
    /// The face's outline (forehead, temples, cheeks, jaw, chin) as a closed polygon.
    pub fn outline(&self) -> Vec<(f32, f32)> {
        FACE_OVAL.iter().map(|&i| (self.points[i][0], self.points[i][1])).collect()
    }

    /// The face as a mask (1 inside the outline), `width`×`height`.
    pub fn mask(&self, width: usize, height: usize) -> Plane {
        fill_polygon(&self.outline(), width, height)
    }
}

/// Even-odd scanline fill of a polygon, sampled at pixel centres.
pub fn fill_polygon(poly: &[(f32, f32)], width: usize, height: usize) -> Plane {
    let mut plane = Plane::new(width, height);
    if poly.len() < 3 {
        return plane;
    }
    let (ymin, ymax) = poly.iter().fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (y0, y1) = ((ymin.floor().max(0.0)) as usize, (ymax.ceil().max(0.0) as usize).min(height));
    let mut xs = Vec::new();
    for y in y0..y1 {
        let sy = y as f32 + 0.5;
        xs.clear();
        for (i, a) in poly.iter().enumerate() {
            let b = poly[(i + 1) % poly.len()];
            if (a.1 <= sy) != (b.1 <= sy) {
                xs.push(a.0 + (sy - a.1) / (b.1 - a.1) * (b.0 - a.0));
            }
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        for pair in xs.chunks(2) {
            if let [a, b] = pair {
                let (from, to) = ((a - 0.5).ceil().max(0.0) as usize, ((b - 0.5).floor() + 1.0).max(0.0) as usize);
                for x in from..to.min(width) {
                    plane.data[y * width + x] = 1.0;
                }
            }
        }
    }
    plane
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_is_the_face_box_enlarged_and_points_map_back() {
        let face = FaceBox { x0: 100.0, y0: 50.0, x1: 180.0, y1: 150.0, score: 0.9 };
        let crop = crop_for(&face);
        assert_eq!(crop, Crop { x0: 65.0, y0: 25.0, side: 150.0 });
        // A fake mesh output: every point at the crop's centre, one at its corner.
        let mut out = vec![96.0f32; POINTS * 3];
        out[0..3].copy_from_slice(&[0.0, 0.0, 10.0]);
        let mesh = decode(&out, 4.0, crop).unwrap().expect("present");
        assert_eq!(mesh.points[0], [65.0, 25.0, 10.0 * 150.0 / 192.0]);
        assert_eq!(mesh.points[1][..2], [140.0, 100.0]);
        assert!(decode(&out, -4.0, crop).unwrap().is_none(), "no face when the model says so");
        assert!(decode(&out[..30], 4.0, crop).is_err());
    }

    #[test]
    fn polygons_fill_their_inside_only() {
        let square = [(2.0, 2.0), (8.0, 2.0), (8.0, 6.0), (2.0, 6.0)];
        let m = fill_polygon(&square, 10, 10);
        assert_eq!(m.data.iter().filter(|v| **v > 0.0).count(), 6 * 4);
        assert_eq!(m.data[2 * 10 + 2], 1.0);
        assert_eq!(m.data[6 * 10 + 2], 0.0);
        assert_eq!(m.data[2 * 10 + 8], 0.0);
        // A polygon partly outside the image is clipped, not a panic.
        let big = [(-5.0, -5.0), (50.0, -5.0), (50.0, 50.0)];
        assert!(fill_polygon(&big, 10, 10).data.iter().any(|v| *v > 0.0));
    }

    #[test]
    fn the_input_is_the_crop_scaled_to_192() {
        let img = RgbImage::from_fn(100, 100, |x, _| image::Rgb([if x < 50 { 0 } else { 255 }, 0, 0]));
        let data = input(&img, Crop { x0: 0.0, y0: 0.0, side: 100.0 });
        assert_eq!(data.len(), INPUT_SIDE * INPUT_SIDE * 3);
        assert_eq!(data[0], 0.0);
        assert_eq!(data[(10 * INPUT_SIDE + 180) * 3], 1.0);
    }
}
