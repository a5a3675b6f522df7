//! Body pose: 33 BlazePose landmarks found inside a square person crop. The crop comes from the
//! person matte's box (padded by 25 %) rather than from a separate pose detector: the matte
//! already says where the person is.

use crate::plane::Plane;

/// Side of the square crop the landmark model sees.
pub const CROP_SIDE: usize = 256;
/// Body landmarks in BlazePose order (0 nose … 11/12 shoulders, 23/24 hips, 27/28 ankles…).
pub const BODY_LANDMARKS: usize = 33;
/// A landmark this sure to be visible counts.
pub const VISIBLE: f32 = 0.5;
/// Values per landmark in the model's output: x, y, z, visibility, presence.
const STRIDE: usize = 5;

/// A landmark in image pixels, with how sure the model is that it is visible (0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landmark {
    pub x: f32,
    pub y: f32,
    pub visibility: f32,
}

/// A square region of the image, in pixels (may extend past the image's edges).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub x0: f32,
    pub y0: f32,
    pub side: f32,
}

/// The square around the matte's subject, padded by 25 % and centred on its box.
pub fn crop_from_matte(alpha: &Plane) -> Option<Crop> {
    let (x0, y0, x1, y1) = super::composite::subject_box(alpha)?;
    let (cx, cy) = ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0);
    let side = ((x1 - x0).max(y1 - y0) as f32 * 1.25).max(8.0);
    Some(Crop { x0: cx - side / 2.0, y0: cy - side / 2.0, side })
}

/// The model's input: the crop resampled to 256², NHWC RGB 0..1; outside the image is black.
pub fn crop_input(img: &image::RgbImage, crop: Crop) -> Vec<f32> {
    let mut out = Vec::with_capacity(CROP_SIDE * CROP_SIDE * 3);
    let scale = crop.side / CROP_SIDE as f32;
    for y in 0..CROP_SIDE {
        for x in 0..CROP_SIDE {
            let sx = crop.x0 + (x as f32 + 0.5) * scale;
            let sy = crop.y0 + (y as f32 + 0.5) * scale;
            let inside = sx >= 0.0 && sy >= 0.0 && (sx as u32) < img.width() && (sy as u32) < img.height();
            let p = if inside { img.get_pixel(sx as u32, sy as u32).0 } else { [0, 0, 0] };
            out.extend(p.iter().map(|v| *v as f32 / 255.0));
        }
    }
    out
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// The 33 body landmarks in image pixels, from the model's `[1,195]` output for `crop`.
pub fn decode(output: &[f32], crop: Crop) -> Result<Vec<Landmark>, crate::Error> {
    if output.len() < BODY_LANDMARKS * STRIDE {
        return Err(crate::Error::Model(format!("the pose model returned {} values", output.len())));
    }
    let scale = crop.side / CROP_SIDE as f32;
    Ok(output
        .chunks(STRIDE)
        .take(BODY_LANDMARKS)
        .map(|v| Landmark { x: crop.x0 + v[0] * scale, y: crop.y0 + v[1] * scale, visibility: sigmoid(v[3]) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_are_padded_squares_and_landmarks_map_back_to_the_image() {
        // A subject 40 wide, 80 tall at (30..70, 10..90) in a 100×100 matte.
        let alpha = Plane {
            width: 100,
            height: 100,
            data: (0..10_000)
                .map(|k| if (30..70).contains(&(k % 100)) && (10..90).contains(&(k / 100)) { 1.0 } else { 0.0 })
                .collect(),
        };
        let crop = crop_from_matte(&alpha).unwrap();
        assert_eq!(crop.side, 100.0);
        assert_eq!((crop.x0, crop.y0), (0.0, 0.0));

        // A landmark at the crop's centre, visible; another at its corner, hidden.
        let mut out = vec![0.0f32; 195];
        out[..5].copy_from_slice(&[128.0, 128.0, 0.0, 4.0, 4.0]);
        out[5..10].copy_from_slice(&[0.0, 256.0, 0.0, -4.0, 4.0]);
        let lm = decode(&out, Crop { x0: 10.0, y0: 20.0, side: 512.0 }).unwrap();
        assert_eq!(lm.len(), 33);
        assert_eq!((lm[0].x, lm[0].y), (266.0, 276.0));
        assert!(lm[0].visibility > 0.98 && lm[1].visibility < 0.02);
        assert_eq!((lm[1].x, lm[1].y), (10.0, 532.0));
        assert!(decode(&[0.0; 10], crop).is_err());
    }

    #[test]
    fn the_crop_input_is_256_square_and_black_outside_the_image() {
        let img = image::RgbImage::from_pixel(10, 10, image::Rgb([255, 255, 255]));
        let input = crop_input(&img, Crop { x0: -10.0, y0: 0.0, side: 20.0 });
        assert_eq!(input.len(), 256 * 256 * 3);
        assert_eq!(input[0], 0.0, "left half is outside");
        assert_eq!(input[(60 * 256 + 200) * 3], 1.0, "right half is the image");
    }
}
