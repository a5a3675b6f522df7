//! Workflows: one type per workflow, with its name, its own request checks and a `run` made of
//! named stages. The [`JobContext`] is a workflow's only door to the world: it reports stages
//! (one durable event each), checks for cancellation, and stores artifacts.

pub mod background_generator;
pub mod background_swap;
mod context;
pub mod extract;
pub mod garment_generator;
pub mod look;
pub mod model_generator;
pub mod person;
pub mod product_to_model;
pub mod subject;
pub mod try_on;
pub mod wear;

use serde_json::Value;

pub use context::{JobContext, JobControl, SHUTDOWN_CODE};

use crate::domain::catalog::RenderOrigin;
use crate::domain::job::StoredArtifact;
use crate::domain::operation::Operation;
use crate::domain::requests::WorkflowRequest;
use crate::error::{FieldError, JobError};

/// Where a succeeded job's output is filed, besides the job's own result.
#[derive(Debug, Clone)]
pub enum Filing {
    /// A gallery render (compose and edit workflows); its image is the first final artifact.
    Render { origin: RenderOrigin, category: Option<String> },
    /// A catalog entry (generators); its image is the first final artifact.
    Catalog { resource: &'static str, display_name: String, description: String, spec: Value },
}

#[derive(Debug, Clone)]
pub struct Output {
    pub finals: Vec<StoredArtifact>,
    pub filing: Filing,
    /// Merged into the `succeeded` event's `extra` (seed, parameters, model ids…).
    pub extra: serde_json::Map<String, Value>,
}

pub trait Workflow: Send + Sync + 'static {
    fn operation(&self) -> Operation;

    /// The stages `run` reports, in order (for progress fractions).
    fn stages(&self) -> &'static [&'static str];

    /// Checks of this workflow's own vocabulary, beyond the shared request schema.
    fn validate(&self, _request: &WorkflowRequest) -> Vec<FieldError> {
        Vec::new()
    }

    fn run(&self, ctx: &mut JobContext, request: &WorkflowRequest) -> Result<Output, JobError>;
}

/// The 422 for a generator asked for an `image_model` this build does not have (`None`: the
/// default, or the one it has).
pub(crate) fn image_model_problem(asked: Option<&str>, available: &str) -> Option<FieldError> {
    let model = asked.filter(|m| *m != available)?;
    Some(FieldError::new(
        "body",
        "image_model",
        format!("no generator `{model}` is installed; available: {available}"),
        "enum",
    ))
}

/// The workflows this build can run; the others are listed as disabled.
pub fn builtin(models: std::sync::Arc<figur_models::Sessions>) -> Vec<std::sync::Arc<dyn Workflow>> {
    use std::sync::Arc;
    vec![
        Arc::new(background_generator::BackgroundGenerator),
        Arc::new(garment_generator::GarmentGenerator),
        Arc::new(model_generator::ModelGenerator),
        Arc::new(look::Look::new(models.clone())),
        Arc::new(background_swap::BackgroundSwap::new(Operation::BackgroundSwapWithImage, models.clone())),
        Arc::new(background_swap::BackgroundSwap::new(Operation::BackgroundSwapWithSpec, models.clone())),
        Arc::new(extract::Extract::new(models.clone())),
        Arc::new(try_on::TryOn::new(models.clone())),
        Arc::new(product_to_model::ProductToModel::new(Operation::ProductToModelDirect, models.clone())),
        Arc::new(product_to_model::ProductToModel::new(Operation::ProductToModelPhased, models.clone())),
        Arc::new(product_to_model::ModelSwap::new(models)),
    ]
}
