//! How a job ends when it does not succeed: the one failure type.
//!
//! A workflow returns [`JobError`]: a [`JobFailure`] (a [`FailureCode`] and a sentence about this
//! job), or one of the two outcomes that are not the job's fault — a cancel, and a studio
//! shutdown (which requeues the job instead of ending it). Every code a client, the CLI or the
//! desktop can see is a variant of [`FailureCode`], with its wire name, the words the desktop
//! shows for it and whether the job's credits come back. Nothing else spells a code: the UI's
//! words are generated from [`FailureCode::words`] into `ui/src/bindings.ts`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares the failure codes with their wire name, their words and their refund rule, so
/// that adding a code is one line and no code is described twice.
macro_rules! failure_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, refund: $refund:literal, $words:literal; )*) => {
        /// The `extra.error.code` of a `failed` event. Clients branch on these, never on messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub enum FailureCode {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl FailureCode {
            pub const ALL: &'static [FailureCode] = &[$(FailureCode::$variant),*];

            /// The name clients see (`NO_SUBJECT_FOUND`).
            pub fn as_str(self) -> &'static str {
                match self { $(FailureCode::$variant => $wire,)* }
            }

            /// What a designer reads when a job ends this way.
            pub fn words(self) -> &'static str {
                match self { $(FailureCode::$variant => $words,)* }
            }

            /// Whether the job's credits are given back.
            pub fn refunds(self) -> bool {
                match self { $(FailureCode::$variant => $refund,)* }
            }
        }
    };
}

failure_codes! {
    /// An input image (or the render or catalog entry it came from) could not be read.
    InputUnreadable = "INPUT_UNREADABLE", refund: true, "The image could not be read.";
    /// An input image is beyond the 100-megapixel limit.
    InputTooLarge = "INPUT_TOO_LARGE", refund: true, "The image is too large.";
    /// No person (or product) stands out in the photo.
    NoSubjectFound = "NO_SUBJECT_FOUND", refund: true, "No person or product could be found in the photo.";
    /// A garment photo holds no garment.
    GarmentNotFound = "GARMENT_NOT_FOUND", refund: true, "The garment photo seems to be empty.";
    /// A garment photo does not show the category it was dispatched as.
    CategoryMismatch = "CATEGORY_MISMATCH", refund: true, "The garment photo does not match the category you chose.";
    /// The person photo does not show the body region a garment needs.
    RegionNotVisible = "REGION_NOT_VISIBLE", refund: true,
        "The photo does not show the part of the body this garment needs.";
    /// A workflow needed a catalog model and the catalog has none.
    NoCatalogModel = "NO_CATALOG_MODEL", refund: true, "There is no model in the catalog yet.";
    /// A model the workflow needs is not installed (or the runtime is missing).
    ModelMissing = "MODEL_MISSING", refund: true,
        "A model the studio needs is not installed. Open Settings to fetch it.";
    /// The execution provider a model was asked to run on cannot start.
    ProviderUnavailable = "PROVIDER_UNAVAILABLE", refund: true,
        "The graphics card could not run the model. Settings can switch to the CPU.";
    /// A model the user brought could not run this request (its graphs failed, or its configs
    /// ask for what the runtime does not do); the message says what.
    ModelFailed = "MODEL_FAILED", refund: true, "The image model could not make this picture; the details say why.";
    /// An image model drew, but no draw passed the workflow's check (a model generator's
    /// picture must show one whole person facing the camera) in the tries allowed.
    GenerationRejected = "GENERATION_REJECTED", refund: true,
        "The image model did not draw a usable picture. Try another seed or model.";
    /// The graphics card ran out of memory running a model.
    GpuOutOfMemory = "GPU_OUT_OF_MEMORY", refund: true,
        "The graphics card ran out of memory. Try a smaller size, or switch to the CPU in Settings.";
    /// The studio's disk filled up while the job wrote its output.
    DiskFull = "DISK_FULL", refund: true, "The disk is full. Free some space and try again.";
    /// A bucket store (`--store s3://…`) refused a write or did not answer: no permission,
    /// a quota, the bucket gone, the endpoint away past its retries.
    StoreUnavailable = "STORE_UNAVAILABLE", refund: true,
        "The image store did not keep the picture. The details say why; the job's credits were refunded.";
    /// The workflow was switched off after the job was dispatched.
    OperationDisabled = "OPERATION_DISABLED", refund: true, "This workflow is switched off in this studio.";
    /// The job was stored by a version of the studio whose request this one cannot read.
    RequestOutdated = "REQUEST_OUTDATED", refund: true,
        "This job was made by another version of the studio and cannot run here. Dispatch it again.";
    /// A cancel ended the job (the outcome [`JobError::Cancelled`], as clients see it).
    JobCancelled = "JOB_CANCELLED", refund: true, "You cancelled this job.";
    /// Anything else: a bug, a crash, a ledger that refused a write.
    Internal = "INTERNAL", refund: true, "Something went wrong inside the studio. The job's credits were refunded.";
}

impl FailureCode {
    /// This code with a sentence about this job: `Err(FailureCode::NoSubjectFound.with("…"))?`.
    pub fn with(self, message: impl Into<String>) -> JobError {
        JobError::Failed(JobFailure { code: self, message: message.into() })
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed job's `extra.error`: its code and a sentence about this job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobFailure {
    pub code: FailureCode,
    pub message: String,
}

impl JobFailure {
    /// The `failed` event a cancel writes.
    pub fn cancelled() -> Self {
        JobFailure { code: FailureCode::JobCancelled, message: "the job was cancelled".into() }
    }
}

/// Why a workflow stopped before its output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The job fails: a `failed` event with this code, and (per the code) a refund.
    #[error("{}: {}", .0.code, .0.message)]
    Failed(JobFailure),
    /// A cancel arrived: the job ends `failed` with `JOB_CANCELLED`, refunded, its files removed.
    #[error("the job was cancelled")]
    Cancelled,
    /// The studio is shutting down: the job goes back to the queue and runs at the next start.
    #[error("the studio shut down while the job ran")]
    ShutDown,
    /// The job was paused: it goes back to the queue, held, and starts again when resumed.
    #[error("the job was paused")]
    Paused,
    /// The job's lease moved on to another run (this worker was too slow to renew it, and the
    /// job was requeued): this run stops and writes nothing more for it.
    #[error("the job's lease was taken over by another run")]
    Lost,
}

impl JobError {
    pub fn internal(message: impl Into<String>) -> Self {
        FailureCode::Internal.with(message)
    }

    /// The failure code, for a failure (not for a cancel or a shutdown).
    pub fn code(&self) -> Option<FailureCode> {
        match self {
            JobError::Failed(f) => Some(f.code),
            _ => None,
        }
    }

    /// The sentence about this job (for a cancel or a shutdown, what happened).
    pub fn message(&self) -> &str {
        match self {
            JobError::Failed(f) => &f.message,
            JobError::Cancelled => "the job was cancelled",
            JobError::ShutDown => "the studio shut down while the job ran; it will run again",
            JobError::Paused => "the job was paused; it starts again from the beginning when resumed",
            JobError::Lost => "the job's lease was taken over by another run, which ends it",
        }
    }
}

/// Pixel work's failures: unreadable and oversized inputs are the caller's to fix; a model's
/// unusable answer is the studio's.
impl From<figur_pixels::Error> for JobError {
    fn from(e: figur_pixels::Error) -> Self {
        use figur_pixels::Error as P;
        match e {
            P::Unreadable(_) => FailureCode::InputUnreadable.with(e.to_string()),
            P::TooLarge(why) => FailureCode::InputTooLarge.with(why),
            P::Model(why) => JobError::internal(why),
        }
    }
}

impl From<figur_models::ModelError> for JobError {
    fn from(e: figur_models::ModelError) -> Self {
        use figur_models::ModelError as M;
        let code = match e {
            M::RuntimeMissing(_) | M::Missing(_) | M::Unknown(_) | M::NotAdded(_) => FailureCode::ModelMissing,
            M::GpuOutOfMemory(_) => FailureCode::GpuOutOfMemory,
            M::Provider { .. } => FailureCode::ProviderUnavailable,
            M::Run(_) => FailureCode::Internal,
        };
        code.with(e.to_string())
    }
}

/// Every job failure and API error code with the words a designer reads, for the desktop's
/// bindings (a failure's words win where both name a code, as `INTERNAL` does).
pub fn words() -> std::collections::BTreeMap<&'static str, &'static str> {
    let api = crate::error::ErrorCode::ALL.iter().filter_map(|c| Some((c.as_str(), c.words()?)));
    api.chain(FailureCode::ALL.iter().map(|c| (c.as_str(), c.words()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_become_the_codes_a_user_can_act_on() {
        use figur_models::ModelError as M;
        let code = |e: M| match JobError::from(e) {
            JobError::Failed(f) => (f.code, f.message),
            other => panic!("{other:?}"),
        };
        let (c, message) = code(M::NotAdded("sd15".into()));
        assert!(c == FailureCode::ModelMissing && message.contains("figur models add sd15"), "{message}");
        assert_eq!(code(M::GpuOutOfMemory("sd15/unet: …".into())).0, FailureCode::GpuOutOfMemory);
        assert_eq!(code(M::Missing("pose-landmarks".into())).0, FailureCode::ModelMissing);
    }

    #[test]
    fn codes_serialize_as_their_wire_names_and_round_trip() {
        for &code in FailureCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
            assert_eq!(serde_json::from_value::<FailureCode>(serde_json::json!(code.as_str())).unwrap(), code);
            assert!(code.words().ends_with('.'), "{code}: words are a sentence");
        }
        assert_eq!(serde_json::to_value(JobFailure::cancelled()).unwrap()["code"], "JOB_CANCELLED");
        assert_eq!(JobError::ShutDown.code(), None, "a shutdown is an outcome, not a failure code");
    }
}
