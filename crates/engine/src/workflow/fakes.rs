//! Fakes of the person models for in-crate tests, and a job to run workflows in. Each fake
//! computes its output from its input in the real model's tensor layout, so the code around the
//! model (decoding, cropping, fitting) runs exactly as with the real one:
//! - the person matte sees [`SKIN`]-coloured pixels as a person;
//! - the pose model finds the skin-coloured box in its crop and puts the 33 landmarks at fixed
//!   places of a standing figure in it ([`FIGURE`]);
//! - the face detector finds no face and the face mesh sees none (the pose-estimated box is used).
//!
//! [`person_photo`] draws a figure the fakes read back to its own skeleton.

use std::collections::HashMap;
use std::sync::Arc;

use figur_models::session::Output;
use figur_models::ModelError;
use image::{Rgb, RgbImage};

use super::models::{Inference, Model, ModelKind, ModelStore};
use super::{JobContext, JobControl, Stage};
use crate::auth::Mode;
use crate::budget::MemoryBudget;
use crate::failpoints::FailPoints;
use crate::ledger::jobs::{self, NewJob};
use crate::ledger::{credits, jobs::EventRow};
use crate::realm::Realm;
use crate::workflow::Operation;

/// The one colour the fake matte calls a person.
pub const SKIN: [u8; 3] = [196, 140, 110];
const PAPER: [u8; 3] = [250, 250, 250];

/// The 33 pose landmarks of a standing figure, as fractions of its bounding box (x, y).
pub const FIGURE: [(f32, f32); 33] = [
    (0.50, 0.06), // 0 nose
    (0.48, 0.05),
    (0.47, 0.05),
    (0.46, 0.05), // 1-3 left eye
    (0.52, 0.05),
    (0.53, 0.05),
    (0.54, 0.05), // 4-6 right eye
    (0.44, 0.06),
    (0.56, 0.06), // 7-8 ears
    (0.48, 0.09),
    (0.52, 0.09), // 9-10 mouth
    (0.66, 0.19),
    (0.34, 0.19), // 11-12 shoulders
    (0.78, 0.34),
    (0.22, 0.34), // 13-14 elbows
    (0.86, 0.48),
    (0.14, 0.48), // 15-16 wrists
    (0.87, 0.50),
    (0.13, 0.50),
    (0.86, 0.51),
    (0.14, 0.51),
    (0.85, 0.50),
    (0.15, 0.50), // 17-22 hands
    (0.60, 0.52),
    (0.40, 0.52), // 23-24 hips
    (0.59, 0.74),
    (0.41, 0.74), // 25-26 knees
    (0.58, 0.94),
    (0.42, 0.94), // 27-28 ankles
    (0.58, 0.97),
    (0.42, 0.97), // 29-30 heels
    (0.61, 0.98),
    (0.39, 0.98), // 31-32 feet
];

/// A person photo the fakes understand: a skin-coloured figure on light paper, drawn from
/// [`FIGURE`] inside the box `(x0, y0, width, height)`.
pub fn person_photo(size: (u32, u32), figure: (f32, f32, f32, f32)) -> RgbImage {
    let (x0, y0, w, h) = figure;
    let at = |i: usize| (x0 + FIGURE[i].0 * w, y0 + FIGURE[i].1 * h);
    let segments = [(11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28), (11, 12)];
    let limb = 0.05 * h;
    let torso = [at(12), at(11), at(23), at(24)];
    let head = (at(0).0, y0 + 0.07 * h, 0.065 * h);
    RgbImage::from_fn(size.0, size.1, |x, y| {
        let p = (x as f32 + 0.5, y as f32 + 0.5);
        let near = |(a, b): (usize, usize)| distance_to_segment(p, at(a), at(b)) < limb / 2.0;
        let in_head = (p.0 - head.0).hypot(p.1 - head.1) < head.2;
        let in_neck = (p.0 - head.0).abs() < 0.03 * h && p.1 > head.1 && p.1 < at(11).1;
        if in_head || in_neck || inside(p, &torso) || segments.into_iter().any(near) {
            Rgb(SKIN)
        } else {
            Rgb(PAPER)
        }
    })
}

/// A flat product shot: a navy T-shirt shape on off-white paper (no skin: not a person).
pub fn product_shot() -> RgbImage {
    RgbImage::from_fn(600, 400, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let body = (170.0..390.0).contains(&xf) && (90.0..360.0).contains(&yf);
        let sleeves = (90.0..470.0).contains(&xf) && (90.0..170.0).contains(&yf);
        if body || sleeves {
            Rgb([32, 52, 110])
        } else {
            Rgb([240, 238, 232])
        }
    })
}

fn distance_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy).max(1e-6)).clamp(0.0, 1.0);
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// Inside a convex quadrilateral given in order.
fn inside(p: (f32, f32), quad: &[(f32, f32); 4]) -> bool {
    let side = |a: (f32, f32), b: (f32, f32)| (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    let signs: Vec<bool> = (0..4).map(|i| side(quad[i], quad[(i + 1) % 4]) >= 0.0).collect();
    signs.iter().all(|s| *s) || signs.iter().all(|s| !*s)
}

fn is_skin(rgb: &[f32]) -> bool {
    rgb.iter().zip(SKIN).all(|(v, s)| (v * 255.0 - s as f32).abs() < 12.0)
}

fn input(inputs: &[(String, Vec<usize>, Vec<f32>)]) -> Result<&[f32], ModelError> {
    inputs.first().map(|i| i.2.as_slice()).ok_or_else(|| ModelError::Run("no input".into()))
}

/// A fake model: its id (for provenance) and the function from its inputs to its outputs.
struct Fake {
    id: &'static str,
    run: fn(&[f32]) -> Vec<Output>,
}

impl Inference for Fake {
    fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError> {
        Ok((self.run)(input(&inputs)?))
    }
    fn sha256(&self) -> &str {
        self.id
    }
    fn provider(&self) -> &'static str {
        "fake"
    }
}

/// The person matte: skin-coloured pixels are a person.
fn matte(rgb: &[f32]) -> Vec<Output> {
    let probability: Vec<f32> = rgb.chunks(3).map(|p| if is_skin(p) { 1.0 } else { 0.0 }).collect();
    vec![("activation_10".into(), vec![1, 256, 256, 1], probability)]
}

/// The pose: [`FIGURE`] placed in the skin-coloured box of the crop.
fn pose(rgb: &[f32]) -> Vec<Output> {
    let side = figur_pixels::vision::pose::CROP_SIDE;
    let (mut x0, mut y0, mut x1, mut y1) = (side, side, 0, 0);
    for (k, p) in rgb.chunks(3).enumerate() {
        if is_skin(p) {
            let (x, y) = (k % side, k / side);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    let mut out = vec![0.0f32; 195];
    if x1 > x0 && y1 > y0 {
        let (w, h) = ((x1 - x0) as f32, (y1 - y0) as f32);
        for (i, (fx, fy)) in FIGURE.iter().enumerate() {
            out[i * 5..i * 5 + 5].copy_from_slice(&[x0 as f32 + fx * w, y0 as f32 + fy * h, 0.0, 8.0, 8.0]);
        }
    }
    vec![("ld_3d".into(), vec![1, 195], out)]
}

/// The face detector: no face anywhere.
fn no_face(_: &[f32]) -> Vec<Output> {
    vec![
        ("Identity:0".into(), vec![1, 512, 1], vec![-100.0; 512]),
        ("Identity_1:0".into(), vec![1, 384, 1], vec![-100.0; 384]),
        ("Identity_2:0".into(), vec![1, 512, 16], vec![0.0; 512 * 16]),
        ("Identity_3:0".into(), vec![1, 384, 16], vec![0.0; 384 * 16]),
    ]
}

/// The face mesh: no face present.
fn no_mesh(_: &[f32]) -> Vec<Output> {
    vec![
        ("conv2d_21".into(), vec![1, 1, 1, 1404], vec![0.0; 1404]),
        ("conv2d_31".into(), vec![1, 1, 1, 1], vec![-50.0]),
    ]
}

/// The default model set, faked; the opt-in product matte is not installed.
pub struct FakeModels(HashMap<ModelKind, Model>);

impl FakeModels {
    pub fn default_set() -> Arc<FakeModels> {
        let fake = |id, run| -> Model { Arc::new(Fake { id, run }) };
        let models = [
            (ModelKind::PersonMatte, fake("fake-person-matte", matte)),
            (ModelKind::Pose, fake("fake-pose-landmarks", pose)),
            (ModelKind::FaceDetector, fake("fake-face-detector", no_face)),
            (ModelKind::FaceMesh, fake("fake-face-mesh", no_mesh)),
        ];
        Arc::new(FakeModels(models.into_iter().collect()))
    }
}

impl ModelStore for FakeModels {
    fn get(&self, kind: ModelKind) -> Result<Model, ModelError> {
        self.0.get(&kind).cloned().ok_or_else(|| ModelError::Missing(kind.id().into()))
    }
}

/// The faked default set plus one added diffusion export under `name` (the oracle, in tests).
pub struct WithExport(pub Arc<FakeModels>, pub &'static str, pub Arc<figur_models::diffusion::Export>);

impl ModelStore for WithExport {
    fn get(&self, kind: ModelKind) -> Result<Model, ModelError> {
        self.0.get(kind)
    }
    fn export(&self, name: &str) -> Result<Arc<figur_models::diffusion::Export>, ModelError> {
        (name == self.1).then(|| self.2.clone()).ok_or_else(|| ModelError::NotAdded(name.into()))
    }
}

/// `inner` with one more model: `extra` answers for `kind`.
pub struct Plus(pub Arc<dyn ModelStore>, pub ModelKind, pub Model);

impl ModelStore for Plus {
    fn get(&self, kind: ModelKind) -> Result<Model, ModelError> {
        if kind == self.1 {
            Ok(self.2.clone())
        } else {
            self.0.get(kind)
        }
    }
    fn export(&self, name: &str) -> Result<Arc<figur_models::diffusion::Export>, ModelError> {
        self.0.export(name)
    }
}

/// An upscaler in Real-ESRGAN's tensors that repeats every pixel 4×4 (its output known
/// exactly), counting its runs; `cancel_at`: it cancels `control` on that run.
pub struct NearestUpscaler {
    pub runs: std::sync::atomic::AtomicUsize,
    pub cancel_at: Option<(usize, Arc<JobControl>)>,
}

impl Inference for NearestUpscaler {
    fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError> {
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if let Some((at, control)) = &self.cancel_at {
            if run == *at {
                control.cancel();
            }
        }
        let (name, shape, px) = inputs.into_iter().next().ok_or_else(|| ModelError::Run("no input".into()))?;
        if name != "input" || shape.len() != 4 || shape[1] != 3 {
            return Err(ModelError::Run(format!("unexpected input {name} {shape:?}")));
        }
        let (h, w) = (shape[2], shape[3]);
        let (ow, oh) = (4 * w, 4 * h);
        let mut out = vec![0.0; 3 * ow * oh];
        for c in 0..3 {
            for y in 0..oh {
                for x in 0..ow {
                    out[c * ow * oh + y * ow + x] = px[c * w * h + (y / 4) * w + x / 4];
                }
            }
        }
        Ok(vec![("output".into(), vec![1, 3, oh as i64, ow as i64], out)])
    }
    fn sha256(&self) -> &str {
        "fake-upscaler"
    }
    fn provider(&self) -> &'static str {
        "fake"
    }
}

/// A claimed job of `op` in a fresh realm, and the context its workflow runs in.
pub struct TestJob {
    pub realm: Arc<Realm>,
    pub id: String,
    /// Runs so far: each context is a new run of the job, as a claim is (its own lease token,
    /// so its files are its own: stored files are never overwritten).
    runs: std::sync::atomic::AtomicI64,
    _dir: tempfile::TempDir,
}

impl TestJob {
    pub fn new(op: Operation) -> TestJob {
        TestJob::with_id(op, &crate::ids::new_id())
    }

    /// A job with a fixed id: the seed workflows derive from it is fixed too (golden renders).
    pub fn with_id(op: Operation, id: &str) -> TestJob {
        let dir = tempfile::tempdir().unwrap();
        let realm = Arc::new(Realm::open(Mode::Live, dir.path()).unwrap());
        let id = id.to_string();
        let job = id.clone();
        realm
            .ledger
            .write_blocking(move |c| {
                credits::ensure_initial(c, 100)?;
                jobs::insert(
                    c,
                    &NewJob {
                        public_id: &job,
                        job_type: &op.job_type(),
                        request: &serde_json::json!({}),
                        request_version: op.version(),
                        credits_cost: 10,
                        request_id: "test",
                        api_key_id: None,
                    },
                )?;
                jobs::claim(c, 1, &crate::ledger::jobs::tests::by())
            })
            .unwrap();
        TestJob { realm, id, runs: Default::default(), _dir: dir }
    }

    /// Stores `image` as a PNG upload; its key.
    pub fn upload(&self, name: &str, image: &RgbImage) -> String {
        let mut bytes = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        let key = format!("uploads/{}/{name}", crate::ids::new_id());
        self.realm.store.put(&key, &bytes).unwrap();
        key
    }

    pub fn context(&self, op: Operation, models: Arc<dyn ModelStore>) -> JobContext {
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if run > 1 {
            // Claimed again, as a job run a second time is: a new lease token.
            let id = self.id.clone();
            self.realm.ledger.write_blocking(move |c| crate::ledger::jobs::tests::reclaimed(c, &id, run)).unwrap();
        }
        self.context_with(op.stages(), models, Arc::new(JobControl::leased(run)))
    }

    /// A context for a stage list of the test's own, stopped through `control`.
    pub fn context_with(
        &self,
        stages: &'static [Stage],
        models: Arc<dyn ModelStore>,
        control: Arc<JobControl>,
    ) -> JobContext {
        JobContext::new(
            self.id.clone(),
            models,
            self.realm.clone(),
            control,
            Arc::new(FailPoints::default()),
            MemoryBudget::new(4 << 30),
            stages,
        )
    }

    pub fn events(&self) -> Vec<EventRow> {
        let id = self.id.clone();
        self.realm.ledger.read_blocking(move |c| jobs::events_since(c, &id, 0, 1000)).unwrap()
    }
}
