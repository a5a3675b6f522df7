//! What `GET /v1/operations` lists: each workflow's class, price and availability. The
//! workflows themselves are named once, in `workflow::registry`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a workflow's output is filed: compose and edit jobs make renders; generators make catalog entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum OpClass {
    Compose,
    Edit,
    Generator,
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
