//! The models a job can run. A workflow reaches them only through [`JobContext::model`], which
//! records each one (id, sha256, provider) in the job's provenance by itself: what a result says
//! it was made with is what really ran.
//!
//! [`JobContext::model`]: super::JobContext::model

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use figur_models::diffusion::Export;
use figur_models::session::Output;
use figur_models::{Loaded, ModelError, Sessions};
use serde::Serialize;

use crate::failure::JobError;

/// A kind of model a workflow asks for; the id is the manifest's (`models/<id>.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// MediaPipe selfie segmentation: where the people are.
    PersonMatte,
    /// ISNet, opt-in: the best product matte, used when installed.
    ProductMatte,
    /// U²-Net's small model (u2netp), in the default set: the product matte otherwise (the
    /// background colour rule when neither is installed).
    ProductMatteSmall,
    /// Real-ESRGAN x4plus, converted from ncnn at fetch: the 4× upscaler.
    Upscaler,
    /// MediaPipe pose landmarks: 33 body points.
    Pose,
    /// BlazeFace: where the face is.
    FaceDetector,
    /// MediaPipe face mesh: the face's outline, kept untouched.
    FaceMesh,
}

impl ModelKind {
    pub fn id(self) -> &'static str {
        match self {
            ModelKind::PersonMatte => "person-matte",
            ModelKind::ProductMatte => "isnet",
            ModelKind::ProductMatteSmall => "u2netp",
            ModelKind::Upscaler => "realesrgan-x4plus",
            ModelKind::Pose => "pose-landmarks",
            ModelKind::FaceDetector => "face-detector",
            ModelKind::FaceMesh => "face-mesh",
        }
    }
}

/// One loaded model: named tensors in, named tensors out. The studio's are ONNX Runtime
/// sessions ([`Loaded`]); tests use fakes that compute a known output from their input.
pub trait Inference: Send + Sync {
    fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError>;
    /// The sha256 of the weights, for provenance.
    fn sha256(&self) -> &str;
    /// Where it runs: `cpu`, `cuda`, or a fake's name.
    fn provider(&self) -> &'static str;
}

impl Inference for Loaded {
    fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError> {
        Loaded::run_f32(self, inputs)
    }
    fn sha256(&self) -> &str {
        &self.sha256
    }
    fn provider(&self) -> &'static str {
        self.provider.name()
    }
}

/// A model ready to run.
pub type Model = Arc<dyn Inference>;

/// A model whose calls add their duration (µs) to a job's running total.
pub(crate) struct Timed {
    pub model: Model,
    pub total_us: Arc<AtomicU64>,
}

impl Inference for Timed {
    fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError> {
        let start = Instant::now();
        let out = self.model.run_f32(inputs);
        self.total_us.fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        out
    }
    fn sha256(&self) -> &str {
        self.model.sha256()
    }
    fn provider(&self) -> &'static str {
        self.model.provider()
    }
}

/// Where a job's models come from: the studio's sessions, or a fake set in tests.
pub trait ModelStore: Send + Sync {
    /// The model of `kind`; `ModelError::Missing` when it is not installed.
    fn get(&self, kind: ModelKind) -> Result<Model, ModelError>;

    /// An opt-in model: `None` when it is not installed (other errors are errors).
    fn get_installed(&self, kind: ModelKind) -> Result<Option<Model>, ModelError> {
        match self.get(kind) {
            Ok(model) => Ok(Some(model)),
            Err(ModelError::Missing(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A diffusion export the user added (`figur models add`), by name.
    fn export(&self, name: &str) -> Result<Arc<Export>, ModelError> {
        Err(ModelError::NotAdded(name.to_string()))
    }
}

impl ModelStore for Sessions {
    fn get(&self, kind: ModelKind) -> Result<Model, ModelError> {
        Ok(Sessions::get(self, kind.id())?)
    }

    fn export(&self, name: &str) -> Result<Arc<Export>, ModelError> {
        Sessions::export(self, name)
    }
}

/// One model a job ran: an item of `provenance.models` in its `succeeded` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelUse {
    pub id: String,
    pub sha256: String,
    pub provider: String,
}

/// Where the steps workflows share (person analysis, garment preparation) get their models and
/// check for a stop: the [`JobContext`](super::JobContext) in a job, which records what ran, or
/// [`Direct`] where no job is running (the catalog-model import, benchmarks).
pub trait ModelSource {
    fn model(&mut self, kind: ModelKind) -> Result<Model, JobError>;

    /// An opt-in model: `None` when it is not installed (other errors are errors).
    fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Model>, JobError>;

    /// Stops here if the work was cancelled.
    fn checkpoint(&mut self) -> Result<(), JobError>;
}

/// Models straight from a store, never cancelled, recording nothing.
#[derive(Clone, Copy)]
pub struct Direct<'a>(pub &'a dyn ModelStore);

impl ModelSource for Direct<'_> {
    fn model(&mut self, kind: ModelKind) -> Result<Model, JobError> {
        Ok(self.0.get(kind)?)
    }

    fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Model>, JobError> {
        Ok(self.0.get_installed(kind)?)
    }

    fn checkpoint(&mut self) -> Result<(), JobError> {
        Ok(())
    }
}

/// The person-matte model as the pixel code's [`Segmenter`](figur_pixels::vision::matte::Segmenter):
/// the 256² NHWC tensor in, the probability plane out.
pub struct ModelSegmenter(pub Model);

impl figur_pixels::vision::matte::Segmenter for ModelSegmenter {
    type Error = crate::failure::JobError;
    fn person_probability(&self, rgb: &[f32]) -> Result<Vec<f32>, Self::Error> {
        let side = figur_pixels::vision::matte::MODEL_SIDE;
        let outputs = self.0.run_f32(vec![("input_1".into(), vec![1, side, side, 3], rgb.to_vec())])?;
        outputs
            .into_iter()
            .next()
            .map(|(_, _, data)| data)
            .ok_or_else(|| crate::failure::JobError::internal("the matte model returned nothing"))
    }
}
