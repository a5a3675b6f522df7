//! The registration list: the one place a workflow is named. Everything that differs per
//! workflow elsewhere is generated from it — here the [`Operation`] enum and the typed
//! [`WorkflowRequest`]; in `figur-http` the routes and their OpenAPI paths; in the desktop the
//! typed commands. Other crates expand it with `figur_engine::for_each_workflow!(their_macro)`.
//!
//! A line: the variant, the snake-case name (handlers, commands), the route name, the request
//! type and the [`Workflow`](super::Workflow) that runs it. The doc comment is the route's
//! summary.

/// Calls `$then! { … }` with every registered workflow (see the module documentation).
#[macro_export]
macro_rules! for_each_workflow {
    ($then:ident) => {
        $then! {
            /// Try-on: a person photo wearing one or more garments.
            TryOn, try_on, "try-on",
                $crate::domain::requests::TryOnRequest, $crate::workflow::try_on::TryOn;
            /// Extract: garment cutouts from a photo.
            Extract, extract, "extract",
                $crate::domain::requests::ExtractRequest, $crate::workflow::extract::Extract;
            /// Look: garments composed onto a mannequin.
            Look, look, "look",
                $crate::domain::requests::LookRequest, $crate::workflow::look::Look;
            /// Model generator: a catalog model from a spec.
            ModelGenerator, model_generator, "model-generator",
                $crate::domain::requests::ModelGeneratorRequest, $crate::workflow::model_generator::ModelGenerator;
            /// Background generator: a procedural studio backdrop, filed as a catalog background.
            BackgroundGenerator, background_generator, "background-generator",
                $crate::domain::requests::BackgroundGeneratorRequest,
                $crate::workflow::background_generator::BackgroundGenerator;
            /// Complementary garment generator: a catalog garment from a spec.
            ComplementaryGarmentGenerator, complementary_garment_generator, "complementary-garment-generator",
                $crate::domain::requests::ComplementaryGarmentGeneratorRequest,
                $crate::workflow::garment_generator::GarmentGenerator;
            /// Product to model, one pass: a product garment worn by a catalog model.
            ProductToModelDirect, product_to_model_direct, "product-to-model-direct",
                $crate::domain::requests::ProductToModelRequest, $crate::workflow::product_to_model::Direct;
            /// Product to model in phases (model pose → garment fit → finish).
            ProductToModelPhased, product_to_model_phased, "product-to-model-phased",
                $crate::domain::requests::ProductToModelRequest, $crate::workflow::product_to_model::Phased;
            /// Background swap with a catalog background image.
            BackgroundSwapWithImage, background_swap_with_image, "background-swap-with-image",
                $crate::domain::requests::BackgroundSwapWithImageRequest,
                $crate::workflow::background_swap::WithImage;
            /// Background swap with a background built from an inline spec.
            BackgroundSwapWithSpec, background_swap_with_spec, "background-swap-with-spec",
                $crate::domain::requests::BackgroundSwapWithSpecRequest,
                $crate::workflow::background_swap::WithSpec;
            /// Model swap: a render's garments kept, the person replaced by a catalog model.
            ModelSwapWithImage, model_swap_with_image, "model-swap-with-image",
                $crate::domain::requests::ModelSwapWithImageRequest, $crate::workflow::product_to_model::ModelSwap;
            /// Upscale (an extension): a photo or a render enlarged ×2 or ×4 by the learned upscaler.
            Upscale, upscale, "upscale",
                $crate::domain::requests::UpscaleRequest, $crate::workflow::upscale::Upscale;
        }
    };
}

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{JobContext, Output, Stage, Workflow};
use crate::domain::operation::OpClass;
use crate::domain::requests::{parse_body, Reference};
use crate::error::{ApiError, FieldError};
use crate::failure::{FailureCode, JobError};

macro_rules! declare_workflows {
    ($( $(#[$doc:meta])* $variant:ident, $snake:ident, $name:literal, $request:ty, $workflow:ty; )*) => {
        /// A workflow, named as in its route (`POST /v1/<name>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub enum Operation {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Operation {
            pub const ALL: [Operation; [$(Operation::$variant),*].len()] = [$(Operation::$variant),*];

            /// The route name: `try-on`.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$variant => $name,)* }
            }

            pub fn class(self) -> OpClass {
                match self { $(Operation::$variant => <$workflow as Workflow>::CLASS,)* }
            }

            /// The price list of API.md; the engine's configuration may override it.
            pub fn default_credits(self) -> i64 {
                match self { $(Operation::$variant => <$workflow as Workflow>::PRICE,)* }
            }

            /// The version of the request form jobs of this workflow are stored in.
            pub fn version(self) -> u32 {
                match self { $(Operation::$variant => <$workflow as Workflow>::VERSION,)* }
            }

            /// The stages a job of this workflow reports, in order.
            pub fn stages(self) -> &'static [Stage] {
                match self { $(Operation::$variant => <$workflow as Workflow>::STAGES,)* }
            }

            /// How it runs on one photo alone, if it can ([`Workflow::ONE_PHOTO`]).
            pub fn one_photo(self) -> Option<super::OnePhoto> {
                match self { $(Operation::$variant => <$workflow as Workflow>::ONE_PHOTO,)* }
            }
        }

        /// A typed, structurally valid request of one workflow.
        #[derive(Debug, Clone, PartialEq)]
        pub enum WorkflowRequest {
            $( $variant($request), )*
        }

        impl WorkflowRequest {
            /// Parses `body` as `op`'s request; every failure names its field.
            pub fn parse(op: Operation, body: Value) -> Result<Self, ApiError> {
                if !body.is_object() {
                    return Err(ApiError::field("body", "", "the request body must be a JSON object", "type_error"));
                }
                let request = match op {
                    $( Operation::$variant => WorkflowRequest::$variant(parse_body::<$request>(body)?), )*
                };
                request.checked()
            }

            /// The request if its rules that need no ledger hold (counts, exactly-one-of, formats).
            pub fn checked(self) -> Result<Self, ApiError> {
                let problems = match &self {
                    $( WorkflowRequest::$variant(r) => <$workflow as Workflow>::structure(r), )*
                };
                if problems.is_empty() { Ok(self) } else { Err(ApiError::validation(problems)) }
            }

            /// The request with the studio's default models written in where it asks for them.
            pub fn with_defaults(mut self, defaults: &dyn Fn() -> crate::settings::ModelDefaults) -> Self {
                match &mut self { $(WorkflowRequest::$variant(r) => <$workflow as Workflow>::defaults(r, defaults),)* }
                self
            }

            pub fn operation(&self) -> Operation {
                match self { $(WorkflowRequest::$variant(_) => Operation::$variant,)* }
            }

            /// Everything this request points at, with the field path that points.
            pub fn references(&self) -> Vec<Reference> {
                match self { $(WorkflowRequest::$variant(r) => <$workflow as Workflow>::references(r),)* }
            }

            /// Checks of the workflow's own vocabulary (scene types, body types, generators).
            pub fn vocabulary(&self) -> Vec<FieldError> {
                match self { $(WorkflowRequest::$variant(r) => <$workflow as Workflow>::vocabulary(r),)* }
            }

            /// The typed request as the ledger keeps it (with [`Operation::version`]): absent
            /// options are left out, so the row holds what was asked, compactly.
            pub fn to_stored(&self) -> Value {
                let stored = match self { $(WorkflowRequest::$variant(r) => serde_json::to_value(r),)* };
                // Serializing plain data into a `Value` cannot fail.
                without_nulls(stored.unwrap_or(Value::Null))
            }

            /// A stored request back in its type. One stored by another version is upgraded by
            /// the workflow if it can, else the job fails `REQUEST_OUTDATED` (and is refunded).
            pub fn from_stored(op: Operation, version: u32, stored: Value) -> Result<Self, JobError> {
                let outdated = |why: String| FailureCode::RequestOutdated.with(format!(
                    "this {} job was stored as request version {version}; this studio reads version {}: {why}",
                    op.name(), op.version()
                ));
                match op {
                    $( Operation::$variant => {
                        let now = <$workflow as Workflow>::VERSION;
                        let request = if version == now {
                            serde_json::from_value::<$request>(stored).map_err(|e| outdated(e.to_string()))?
                        } else {
                            <$workflow as Workflow>::upgrade(version, stored)
                                .ok_or_else(|| outdated("it cannot be upgraded".into()))?
                        };
                        Ok(WorkflowRequest::$variant(request))
                    } )*
                }
            }

            /// Runs the workflow on this request.
            pub(crate) fn run(self, ctx: &mut JobContext) -> Result<Output, JobError> {
                match self { $(WorkflowRequest::$variant(r) => <$workflow as Workflow>::run(ctx, r),)* }
            }
        }
    };
}

for_each_workflow!(declare_workflows);

/// `value` with every `null` member of its objects removed (an absent `Option` reads back as
/// `None`, so nothing is lost).
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

impl Operation {
    /// `TRY_ON`, `BACKGROUND_GENERATOR`, … (the job's `job_type`).
    pub fn job_type(self) -> String {
        self.name().replace('-', "_").to_ascii_uppercase()
    }

    pub fn from_job_type(job_type: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|op| op.job_type() == job_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_job_types_round_trip() {
        for op in Operation::ALL {
            assert_eq!(serde_json::from_value::<Operation>(serde_json::json!(op.name())).unwrap(), op);
            assert_eq!(Operation::from_job_type(&op.job_type()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), serde_json::json!(op.name()));
            assert!(!op.stages().is_empty());
        }
        assert_eq!(Operation::TryOn.job_type(), "TRY_ON");
        assert_eq!(Operation::Look.class(), OpClass::Compose);
        assert_eq!(Operation::Extract.class(), OpClass::Edit);
    }

    /// What a one-photo workflow says it needs is a request it accepts: its body with an upload
    /// key in its input field parses, and is refused without it.
    #[test]
    fn one_photo_workflows_accept_their_own_body() {
        let one_photo: Vec<Operation> = Operation::ALL.into_iter().filter(|op| op.one_photo().is_some()).collect();
        assert_eq!(one_photo, [Operation::Extract, Operation::BackgroundSwapWithSpec]);
        for op in one_photo {
            let how = op.one_photo().unwrap();
            let mut body: Value = serde_json::from_str(how.body).unwrap();
            assert!(WorkflowRequest::parse(op, body.clone()).is_err(), "{} without its photo", op.name());
            body[how.input] = Value::from("uploads/01J0000000000000000000000/photo.jpg");
            WorkflowRequest::parse(op, body).unwrap_or_else(|e| panic!("{}: {e}", op.name()));
        }
    }

    #[test]
    fn a_stored_request_comes_back_typed_and_an_unreadable_one_fails_outdated() {
        let body = serde_json::json!({"trial_image": "uploads/a/b.jpg"});
        let request = WorkflowRequest::parse(Operation::Extract, body).unwrap();
        let stored = request.to_stored();
        let back = WorkflowRequest::from_stored(Operation::Extract, Operation::Extract.version(), stored).unwrap();
        assert_eq!(back, request);

        // A form this version cannot read, and a version it does not know: both REQUEST_OUTDATED.
        let odd = serde_json::json!({"trial_image": 7});
        let err = WorkflowRequest::from_stored(Operation::Extract, Operation::Extract.version(), odd).unwrap_err();
        assert_eq!(err.code(), Some(FailureCode::RequestOutdated));
        let later = serde_json::json!({"trial_image": "uploads/a/b.jpg"});
        let err = WorkflowRequest::from_stored(Operation::Extract, 99, later).unwrap_err();
        assert_eq!(err.code(), Some(FailureCode::RequestOutdated));
    }
}
