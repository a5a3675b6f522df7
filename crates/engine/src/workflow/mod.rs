//! Workflows: one type per workflow, with its name, its own request checks and a `run` made of
//! named stages. The [`JobContext`] is a workflow's only door to the world: it reports stages
//! (one durable event each), checks for cancellation, and stores artifacts.

pub mod backdrops;
pub mod background_generator;
pub mod background_swap;
mod context;
pub mod denoise;
pub mod extract;
#[cfg(test)]
pub(crate) mod fakes;
pub mod garment_generator;
#[cfg(test)]
mod golden_tests;
pub mod harmonize;
pub mod look;
pub mod model_generator;
mod model_photo;
pub mod models;
pub mod person;
pub mod product_to_model;
pub mod prompts;
pub mod refine;
pub mod registry;
mod stage;
pub mod subject;
pub mod try_on;
pub mod try_on_model;
pub mod upscale;
pub mod wear;

use serde_json::Value;

#[cfg(test)]
pub(crate) use context::LEDGER_CANCEL_POLL;
pub use context::{artifact_folder, JobContext, JobControl};
pub use registry::{Operation, WorkflowRequest};
pub use stage::Stage;

use crate::domain::catalog::RenderOrigin;
use crate::domain::job::StoredArtifact;
use crate::domain::operation::OpClass;
use crate::domain::requests::{ModelNeed, Reference};
use crate::error::FieldError;
use crate::failure::JobError;

/// Where a succeeded job's output is filed, besides the job's own result.
#[derive(Debug, Clone)]
pub enum Filing {
    /// A gallery render (compose and edit workflows); its image is the first final artifact.
    Render { origin: RenderOrigin, category: Option<String> },
    /// A catalog entry (generators); its image is the first final artifact.
    Catalog {
        resource: crate::domain::catalog::CatalogResource,
        display_name: String,
        description: String,
        spec: Value,
    },
}

#[derive(Debug, Clone)]
pub struct Output {
    pub finals: Vec<StoredArtifact>,
    pub filing: Filing,
    /// Merged into the `succeeded` event's `extra` (seed, parameters, model ids…).
    pub extra: serde_json::Map<String, Value>,
}

/// A workflow run on one photo alone: the field its upload key goes in, a request that works
/// with only that added (JSON), and what a picker calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OnePhoto {
    pub input: &'static str,
    pub body: &'static str,
    pub label: &'static str,
}

/// One workflow: its typed request, its stages, its price, and how it runs. Workflows hold no
/// state: everything a run needs (inputs, models, memory, stage events) comes through the
/// [`JobContext`]. Registered by one line in [`registry`]'s list.
pub trait Workflow: 'static {
    /// The request body (`POST /v1/<name>`), stored typed with [`Workflow::VERSION`].
    type Request: serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + PartialEq + Send + 'static;
    const CLASS: OpClass;
    /// Default credits per job (API.md's price list).
    const PRICE: i64;
    /// The stored request's form: bump it when `Request` changes incompatibly, and teach
    /// [`Workflow::upgrade`] the old form (jobs waiting in a ledger outlive a version).
    const VERSION: u32 = 1;
    /// The stages `run` reports, in order (for progress fractions).
    const STAGES: &'static [Stage];
    /// How the workflow runs on one photo alone (batch runs, hot folders), if it can: every
    /// picker of such a workflow lists what this says, nothing else.
    const ONE_PHOTO: Option<OnePhoto> = None;

    /// Rules that need no ledger: counts, exactly-one-of, formats (422 before references).
    fn structure(_request: &Self::Request) -> Vec<FieldError> {
        Vec::new()
    }

    /// Uploads, catalog entries and renders the request points at (checked at dispatch).
    fn references(_request: &Self::Request) -> Vec<Reference> {
        Vec::new()
    }

    /// Checks of the workflow's own vocabulary, after availability (422).
    fn vocabulary(_request: &Self::Request) -> Vec<FieldError> {
        Vec::new()
    }

    /// At dispatch, before the checks: the studio's default models written into the request
    /// where it asks for the default (they are then stored with it, so the job keeps them).
    /// `defaults` reads the settings and the added models: call it only when the request asks.
    fn defaults(_request: &mut Self::Request, _defaults: &dyn Fn() -> crate::settings::ModelDefaults) {}

    /// A request stored by `version` (older or newer) in this version's form, if it can be.
    fn upgrade(_version: u32, _stored: Value) -> Option<Self::Request> {
        None
    }

    fn run(ctx: &mut JobContext, request: Self::Request) -> Result<Output, JobError>;
}

/// A generator's `image_model` when it names an added model rather than `builtin` (checked at
/// dispatch: it must be added).
pub(crate) fn image_model_reference(asked: Option<&str>, builtin: &'static str) -> Vec<Reference> {
    let name = asked.filter(|m| *m != builtin).map(str::to_string);
    name.map(|name| Reference::ImageModel { path: "image_model".into(), name, builtin, need: ModelNeed::Prompt })
        .into_iter()
        .collect()
}

/// The 422 for a generator asked for an `image_model` this build does not have (`None`: the
/// default, or the one it has).
pub(crate) fn image_model_problem(asked: Option<&str>, available: &str) -> Option<FieldError> {
    let model = asked.filter(|m| *m != available)?;
    Some(FieldError::new(
        "body",
        "image_model",
        format!("no generator `{model}` is installed; available: {available}"),
        "reference_error",
    ))
}
