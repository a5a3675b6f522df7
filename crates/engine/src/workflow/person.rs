//! The person in a photo, as extract and the try-on family need them: the body's landmarks from
//! the pose model inside the matte's box, then the face — found by the face detector in a crop
//! around the head the pose points at (a full-body photo's face is too small for the detector
//! on the whole frame), with the 468-point face mesh inside it.

use image::RgbImage;

use super::models::{Inference, Model, ModelKind, ModelSource};
use super::subject::PERSON_SHARE;
use crate::failure::{FailureCode, JobError};
use crate::workflow::models::ModelSegmenter;
use figur_pixels::plane::Plane;
use figur_pixels::vision::face::{self, FaceBox};
use figur_pixels::vision::face_mesh::{self, Mesh};
use figur_pixels::vision::matte::{refine, segment, Matte};
use figur_pixels::vision::pose::{self, Crop, Landmark};

pub use figur_pixels::vision::pose::VISIBLE;
/// Pose indices of the head: nose, eyes, ears, mouth.
const HEAD: std::ops::RangeInclusive<usize> = 0..=10;
/// The head crop the detector reads is resampled to at most this side.
const HEAD_CROP_MAX: u32 = 512;

/// The 33 body landmarks, in image pixels, of the subject inside `alpha`.
pub fn landmarks(model: &dyn Inference, photo: &RgbImage, alpha: &Plane) -> Result<Vec<Landmark>, JobError> {
    let crop =
        pose::crop_from_matte(alpha).ok_or_else(|| FailureCode::NoSubjectFound.with("the person matte is empty"))?;
    let outputs = model.run_f32(vec![(
        "input_1".into(),
        vec![1, pose::CROP_SIDE, pose::CROP_SIDE, 3],
        pose::crop_input(photo, crop),
    )])?;
    let first = outputs.first().ok_or_else(|| JobError::internal("the pose model returned nothing"))?;
    Ok(pose::decode(&first.2, crop)?)
}

/// Where the face was found, and how.
#[derive(Debug, Clone)]
pub struct Face {
    pub face: FaceBox,
    /// True: the face detector found it; false: estimated from the pose's head points.
    pub detected: bool,
    pub mesh: Option<Mesh>,
}

/// The square around the head the pose sees, 4× the ear-to-ear span (or 6× the eyes').
pub fn head_crop(landmarks: &[Landmark]) -> Option<Crop> {
    let head: Vec<&Landmark> = landmarks.get(HEAD)?.iter().filter(|l| l.visibility >= VISIBLE).collect();
    if head.len() < 3 {
        return None;
    }
    let (cx, cy) = head.iter().fold((0.0, 0.0), |(x, y), l| (x + l.x, y + l.y));
    let (cx, cy) = (cx / head.len() as f32, cy / head.len() as f32);
    let span = |a: usize, b: usize| (landmarks[a].x - landmarks[b].x).hypot(landmarks[a].y - landmarks[b].y);
    let extent = head.iter().map(|l| (l.x - cx).abs().max((l.y - cy).abs())).fold(0.0f32, f32::max);
    let side = (span(7, 8) * 4.0).max(span(2, 5) * 6.0).max(extent * 5.0).max(24.0);
    Some(Crop { x0: cx - side / 2.0, y0: cy - side / 2.0, side })
}

/// The face nearest the pose's nose, with its mesh; `None` when the pose sees no head.
pub fn find_face(
    detector: &dyn Inference,
    mesher: &dyn Inference,
    photo: &RgbImage,
    landmarks: &[Landmark],
) -> Result<Option<Face>, JobError> {
    let Some(crop) = head_crop(landmarks) else { return Ok(None) };
    let side = (crop.side.round() as u32).clamp(16, HEAD_CROP_MAX);
    let scale = crop.side / side as f32;
    let head = RgbImage::from_fn(side, side, |x, y| {
        let (sx, sy) = (crop.x0 + (x as f32 + 0.5) * scale - 0.5, crop.y0 + (y as f32 + 0.5) * scale - 0.5);
        image::Rgb(figur_pixels::vision::sample::bilinear_rgb(photo, sx, sy).map(|v| v.round() as u8))
    });
    let (input, letterbox) = face::input(&head);
    let out = detector.run_f32(vec![("input:0".into(), vec![1, face::INPUT_SIDE, face::INPUT_SIDE, 3], input)])?;
    let get = |name: &str| out.iter().find(|(n, _, _)| n == name).map(|o| o.2.clone()).unwrap_or_default();
    let scores = [get("Identity:0"), get("Identity_1:0")].concat();
    let boxes = [get("Identity_2:0"), get("Identity_3:0")].concat();
    let nose = landmarks[0];
    let to_image = |f: FaceBox| FaceBox {
        x0: crop.x0 + f.x0 * scale,
        y0: crop.y0 + f.y0 * scale,
        x1: crop.x0 + f.x1 * scale,
        y1: crop.y0 + f.y1 * scale,
        ..f
    };
    let distance = |f: &FaceBox| ((f.x0 + f.x1) / 2.0 - nose.x).hypot((f.y0 + f.y1) / 2.0 - nose.y);
    let detected = face::decode(&scores, &boxes, letterbox)
        .into_iter()
        .map(to_image)
        .min_by(|a, b| distance(a).total_cmp(&distance(b)));
    let (face, found) = match detected {
        Some(f) => (f, true),
        None => {
            // The pose sees a head the detector does not (profile, blur): a box from the head's points.
            let half = crop.side / 8.0;
            (FaceBox { x0: nose.x - half, y0: nose.y - half, x1: nose.x + half, y1: nose.y + half, score: 0.0 }, false)
        }
    };
    let mesh_crop = face_mesh::crop_for(&face);
    let out = mesher.run_f32(vec![(
        "input_1".into(),
        vec![1, face_mesh::INPUT_SIDE, face_mesh::INPUT_SIDE, 3],
        face_mesh::input(photo, mesh_crop),
    )])?;
    let points = out.iter().find(|(n, _, _)| n == "conv2d_21").map(|o| o.2.as_slice()).unwrap_or_default();
    let presence = out.iter().find(|(n, _, _)| n == "conv2d_31").and_then(|o| o.2.first().copied()).unwrap_or(-50.0);
    let mesh = face_mesh::decode(points, presence, mesh_crop)?;
    if !found && mesh.is_none() {
        return Ok(None);
    }
    Ok(Some(Face { face, detected: found, mesh }))
}

/// Everything known about the person in a photo.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub matte: Matte,
    pub landmarks: Vec<Landmark>,
    pub face: Option<Face>,
}

/// The largest person's matte. Nobody covering [`PERSON_SHARE`] of the frame is nobody.
pub fn find_person(
    photo: &RgbImage,
    model: Model,
    what: &str,
    check: &mut dyn FnMut() -> Result<(), JobError>,
) -> Result<Matte, JobError> {
    let matte = refine(photo, &segment(photo, &ModelSegmenter(model))?, check)?;
    if matte.coverage < PERSON_SHARE {
        return Err(nobody(what));
    }
    Ok(matte)
}

/// The body's 33 landmarks. A person-shaped blob with no shoulders the pose model is sure of is
/// not a person.
/// What a stage says first when a photo holds more than one person ("" for one or none).
pub fn largest_of(people: usize) -> String {
    match people {
        0 | 1 => String::new(),
        n => format!("{n} people found; the largest is used. "),
    }
}

pub fn find_body(
    model: &dyn Inference,
    photo: &RgbImage,
    matte: &Matte,
    what: &str,
) -> Result<Vec<Landmark>, JobError> {
    let landmarks = landmarks(model, photo, &matte.alpha)?;
    if !(landmarks[11].visibility >= VISIBLE && landmarks[12].visibility >= VISIBLE) {
        return Err(nobody(what));
    }
    Ok(landmarks)
}

fn nobody(what: &str) -> JobError {
    FailureCode::NoSubjectFound.with(format!("no person was found in the {what}"))
}

/// Matte (largest person), pose and face in one call, where no stages are reported (the
/// catalog-model import); workflows run the same steps one stage at a time
/// (`try_on::Session::analyse`), with the same thresholds.
pub fn analyse(models: &mut dyn ModelSource, photo: &RgbImage) -> Result<Analysis, JobError> {
    let matte_model = models.model(ModelKind::PersonMatte)?;
    let matte = find_person(photo, matte_model, "photo", &mut || models.checkpoint())?;
    let landmarks = find_body(&*models.model(ModelKind::Pose)?, photo, &matte, "photo")?;
    let (detector, mesher) = (models.model(ModelKind::FaceDetector)?, models.model(ModelKind::FaceMesh)?);
    let face = find_face(&*detector, &*mesher, photo, &landmarks)?;
    Ok(Analysis { matte, landmarks, face })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32, y: f32) -> Landmark {
        Landmark { x, y, visibility: 0.99 }
    }

    #[test]
    fn the_head_crop_is_centred_on_the_head_and_scaled_by_it() {
        let mut points = vec![Landmark { x: 0.0, y: 0.0, visibility: 0.0 }; 33];
        // Nose at (100, 50), eyes ±10 px, ears ±20 px.
        points[0] = at(100.0, 50.0);
        for (i, dx) in [(2, -10.0), (5, 10.0), (7, -20.0), (8, 20.0)] {
            points[i] = at(100.0 + dx, 45.0);
        }
        let crop = head_crop(&points).expect("a head");
        assert_eq!(crop.side, 160.0, "4× the ear-to-ear span");
        assert!((crop.x0 + crop.side / 2.0 - 100.0).abs() < 1e-3);
        // Too few visible head points: no crop.
        let hidden: Vec<Landmark> = points.iter().map(|l| Landmark { visibility: 0.1, ..*l }).collect();
        assert!(head_crop(&hidden).is_none());
    }
}
