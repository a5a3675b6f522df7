//! The models a job can run. A workflow reaches them only through [`JobContext::model`], which
//! records each one (id, sha256, provider) in the job's provenance by itself: what a result says
//! it was made with is what really ran.
//!
//! [`JobContext::model`]: super::JobContext::model

use std::sync::Arc;

use figur_models::{Loaded, Sessions};
use serde::Serialize;

use crate::failure::JobError;

/// A kind of model a workflow asks for; the id is the manifest's (`models/<id>.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// MediaPipe selfie segmentation: where the people are.
    PersonMatte,
    /// ISNet, opt-in: the product matte when installed (else the background colour is used).
    ProductMatte,
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
            ModelKind::Pose => "pose-landmarks",
            ModelKind::FaceDetector => "face-detector",
            ModelKind::FaceMesh => "face-mesh",
        }
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
    fn model(&mut self, kind: ModelKind) -> Result<Arc<Loaded>, JobError>;

    /// An opt-in model: `None` when it is not installed (other errors are errors).
    fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Arc<Loaded>>, JobError>;

    /// Stops here if the work was cancelled.
    fn checkpoint(&mut self) -> Result<(), JobError>;
}

/// Models straight from the sessions, never cancelled, recording nothing.
#[derive(Debug, Clone, Copy)]
pub struct Direct<'a>(pub &'a Sessions);

impl ModelSource for Direct<'_> {
    fn model(&mut self, kind: ModelKind) -> Result<Arc<Loaded>, JobError> {
        Ok(self.0.get(kind.id())?)
    }

    fn optional_model(&mut self, kind: ModelKind) -> Result<Option<Arc<Loaded>>, JobError> {
        match self.0.get(kind.id()) {
            Ok(model) => Ok(Some(model)),
            Err(figur_models::ModelError::Missing(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn checkpoint(&mut self) -> Result<(), JobError> {
        Ok(())
    }
}
