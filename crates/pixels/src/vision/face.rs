//! Face boxes from BlazeFace (MediaPipe's back-camera 256² model): the photo is letterboxed into
//! 256², the model scores 896 SSD anchors (512 at stride 16, 384 at stride 32) and regresses a box
//! and six keypoints per anchor relative to it; confident boxes are merged by non-maximum
//! suppression and mapped back to image pixels.

use image::RgbImage;

pub const INPUT_SIDE: usize = 256;
const MIN_SCORE: f32 = 0.5;
const NMS_IOU: f32 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub score: f32,
}

impl FaceBox {
    fn iou(&self, o: &FaceBox) -> f32 {
        let (ix, iy) =
            ((self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0), (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0));
        let inter = ix * iy;
        let area = |b: &FaceBox| (b.x1 - b.x0) * (b.y1 - b.y0);
        inter / (area(self) + area(o) - inter).max(1e-6)
    }
}

/// Anchor centres in 0..1: stride 16 with 2 anchors a cell, then stride 32 with 6.
pub fn anchors() -> Vec<(f32, f32)> {
    let mut out = Vec::with_capacity(896);
    for (stride, per_cell) in [(16usize, 2usize), (32, 6)] {
        let cells = INPUT_SIDE / stride;
        for y in 0..cells {
            for x in 0..cells {
                for _ in 0..per_cell {
                    out.push(((x as f32 + 0.5) / cells as f32, (y as f32 + 0.5) / cells as f32));
                }
            }
        }
    }
    out
}

/// Where the image sits inside the square input: scale and offsets, in input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub dx: f32,
    pub dy: f32,
}

/// The model input: the photo letterboxed (black bars) into 256², NHWC RGB, x / 127.5 − 1.
pub fn input(img: &RgbImage) -> (Vec<f32>, Letterbox) {
    let side = INPUT_SIDE as f32;
    let scale = side / img.width().max(img.height()) as f32;
    let (w, h) =
        (((img.width() as f32 * scale).round() as u32).max(1), ((img.height() as f32 * scale).round() as u32).max(1));
    let small = super::resample::resize(img, w, h, image::imageops::FilterType::Triangle);
    let (dx, dy) = ((INPUT_SIDE as u32 - w) / 2, (INPUT_SIDE as u32 - h) / 2);
    let mut data = vec![-1.0f32; INPUT_SIDE * INPUT_SIDE * 3];
    for (x, y, p) in small.enumerate_pixels() {
        let k = ((y + dy) as usize * INPUT_SIDE + (x + dx) as usize) * 3;
        for c in 0..3 {
            data[k + c] = p[c] as f32 / 127.5 - 1.0;
        }
    }
    (data, Letterbox { scale, dx: dx as f32, dy: dy as f32 })
}

/// Faces in image pixels, most confident first. `scores`/`boxes` are the model's two score and
/// two box outputs concatenated in anchor order (512 then 384).
pub fn decode(scores: &[f32], boxes: &[f32], lb: Letterbox) -> Vec<FaceBox> {
    let anchors = anchors();
    let side = INPUT_SIDE as f32;
    let mut found: Vec<FaceBox> = anchors
        .iter()
        .enumerate()
        .filter_map(|(i, (ax, ay))| {
            let score = 1.0 / (1.0 + (-scores.get(i)?.clamp(-100.0, 100.0)).exp());
            if score < MIN_SCORE {
                return None;
            }
            let b = boxes.get(i * 16..i * 16 + 4)?;
            let (cx, cy) = (ax * side + b[0], ay * side + b[1]);
            let (w, h) = (b[2], b[3]);
            let to_image = |x: f32, y: f32| ((x - lb.dx) / lb.scale, (y - lb.dy) / lb.scale);
            let (x0, y0) = to_image(cx - w / 2.0, cy - h / 2.0);
            let (x1, y1) = to_image(cx + w / 2.0, cy + h / 2.0);
            Some(FaceBox { x0, y0, x1, y1, score })
        })
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<FaceBox> = Vec::new();
    for face in found {
        if kept.iter().all(|k| k.iou(&face) < NMS_IOU) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_cover_both_grids() {
        let a = anchors();
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[512], (0.5 / 8.0, 0.5 / 8.0));
    }

    #[test]
    fn a_confident_anchor_becomes_one_face_in_image_pixels() {
        // Anchor 2 * (5 * 16 + 8) sits at cell (8, 5) of the stride-16 grid: (136, 88) in input px.
        let i = 2 * (5 * 16 + 8);
        let mut scores = vec![-10.0f32; 896];
        let mut boxes = vec![0.0f32; 896 * 16];
        for j in [i, i + 1] {
            scores[j] = 5.0;
            boxes[j * 16..j * 16 + 4].copy_from_slice(&[2.0, -2.0, 40.0, 48.0]);
        }
        // A 512×256 photo letterboxed: scale 0.5, 64 px bars above and below.
        let lb = Letterbox { scale: 0.5, dx: 0.0, dy: 64.0 };
        let faces = decode(&scores, &boxes, lb);
        assert_eq!(faces.len(), 1, "duplicates merged");
        let f = faces[0];
        assert_eq!(((f.x0 + f.x1) / 2.0, (f.y0 + f.y1) / 2.0), (276.0, 44.0));
        assert_eq!((f.x1 - f.x0, f.y1 - f.y0), (80.0, 96.0));
    }

    #[test]
    fn the_input_is_letterboxed() {
        let (data, lb) = input(&RgbImage::from_pixel(512, 256, image::Rgb([255, 255, 255])));
        assert_eq!(lb, Letterbox { scale: 0.5, dx: 0.0, dy: 64.0 });
        assert_eq!(data[0], -1.0, "black bar");
        assert_eq!(data[(128 * INPUT_SIDE + 128) * 3], 1.0, "the photo");
    }
}
