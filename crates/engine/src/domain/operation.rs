//! The eleven workflows, their classes and default prices.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workflow, named as in its route (`POST /v1/<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Operation {
    TryOn,
    Extract,
    Look,
    ModelGenerator,
    BackgroundGenerator,
    ComplementaryGarmentGenerator,
    ProductToModelDirect,
    ProductToModelPhased,
    BackgroundSwapWithImage,
    BackgroundSwapWithSpec,
    ModelSwapWithImage,
}

/// How a workflow's output is filed: compose and edit jobs make renders; generators make catalog entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum OpClass {
    Compose,
    Edit,
    Generator,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::TryOn,
        Operation::Extract,
        Operation::Look,
        Operation::ModelGenerator,
        Operation::BackgroundGenerator,
        Operation::ComplementaryGarmentGenerator,
        Operation::ProductToModelDirect,
        Operation::ProductToModelPhased,
        Operation::BackgroundSwapWithImage,
        Operation::BackgroundSwapWithSpec,
        Operation::ModelSwapWithImage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::TryOn => "try-on",
            Operation::Extract => "extract",
            Operation::Look => "look",
            Operation::ModelGenerator => "model-generator",
            Operation::BackgroundGenerator => "background-generator",
            Operation::ComplementaryGarmentGenerator => "complementary-garment-generator",
            Operation::ProductToModelDirect => "product-to-model-direct",
            Operation::ProductToModelPhased => "product-to-model-phased",
            Operation::BackgroundSwapWithImage => "background-swap-with-image",
            Operation::BackgroundSwapWithSpec => "background-swap-with-spec",
            Operation::ModelSwapWithImage => "model-swap-with-image",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// `TRY_ON`, `BACKGROUND_GENERATOR`, …
    pub fn job_type(self) -> String {
        self.name().replace('-', "_").to_ascii_uppercase()
    }

    pub fn from_job_type(job_type: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|op| op.job_type() == job_type)
    }

    pub fn class(self) -> OpClass {
        match self {
            Operation::TryOn | Operation::Look | Operation::ProductToModelDirect | Operation::ProductToModelPhased => {
                OpClass::Compose
            }
            Operation::Extract
            | Operation::BackgroundSwapWithImage
            | Operation::BackgroundSwapWithSpec
            | Operation::ModelSwapWithImage => OpClass::Edit,
            Operation::ModelGenerator | Operation::BackgroundGenerator | Operation::ComplementaryGarmentGenerator => {
                OpClass::Generator
            }
        }
    }

    /// The price list of API.md; the engine's configuration may override it.
    pub fn default_credits(self) -> i64 {
        match self {
            Operation::TryOn | Operation::Look | Operation::ProductToModelDirect | Operation::ProductToModelPhased => {
                10
            }
            Operation::Extract => 1,
            _ => 5,
        }
    }
}

/// One row of `GET /v1/operations`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OperationInfo {
    pub name: String,
    pub op_class: OpClass,
    pub credits_cost: i64,
    /// False for workflows this build cannot run yet; dispatching one answers 503 `OPERATION_DISABLED`.
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OperationList {
    pub operations: Vec<OperationInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_job_types_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(Operation::from_job_type(&op.job_type()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), serde_json::json!(op.name()));
        }
        assert_eq!(Operation::TryOn.job_type(), "TRY_ON");
        assert_eq!(Operation::Look.class(), OpClass::Compose);
        assert_eq!(Operation::Extract.class(), OpClass::Edit);
    }
}
