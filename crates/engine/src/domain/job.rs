//! The job model as the API shows it: statuses, events, artifacts, job detail and lists.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::vocabulary! {
    #[derive(ToSchema)]
    #[cfg_attr(feature = "specta", derive(specta::Type))]
    pub enum JobStatus {
        NotStarted = "NOT_STARTED",
        InProgress = "IN_PROGRESS",
        Success = "SUCCESS",
        Failure = "FAILURE",
    }
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Failure)
    }
}

crate::vocabulary! {
    #[derive(ToSchema)]
    #[cfg_attr(feature = "specta", derive(specta::Type))]
    pub enum EventType {
        Queued = "queued",
        Stage = "stage",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

impl EventType {
    pub fn is_terminal(self) -> bool {
        matches!(self, EventType::Succeeded | EventType::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum ArtifactRole {
    Intermediate,
    Final,
}

/// Facts about an artifact's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ArtifactMeta {
    pub width: u32,
    pub height: u32,
    pub mime: String,
    pub sha256: String,
}

/// An artifact as the ledger keeps it: its store key never leaves the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StoredArtifact {
    pub key: String,
    pub kind: String,
    pub role: ArtifactRole,
    pub label: String,
    pub meta: ArtifactMeta,
}

/// An artifact as clients see it: a short-lived signed URL in place of the store key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Artifact {
    /// Signed, short-lived URL served by the engine; usable without the API key (e.g. in `<img src>`).
    pub image_url: String,
    /// e.g. `background`, `on_model_render`, `garment_cutout`, `person_mask`, `pose_overlay`.
    pub kind: String,
    pub role: ArtifactRole,
    pub label: String,
    pub meta: ArtifactMeta,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobEvent {
    /// Monotonic per job, starting at 1; pass the last one seen as `since`.
    pub seq: i64,
    pub event_type: EventType,
    /// Always `public`.
    pub visibility: String,
    pub stage: Option<String>,
    pub message: String,
    pub artifacts: Vec<Artifact>,
    /// Progress, cost, error (`{code, message}`), refunded credits, timings, provenance.
    #[schema(value_type = Object)]
    pub extra: serde_json::Value,
    pub created_at: String,
}

/// `GET /v1/jobs/{public_id}/events`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobEvents {
    pub public_id: String,
    pub events: Vec<JobEvent>,
    /// The highest `seq` of the job so far (0 never occurs: every job has its `queued` event).
    pub latest_seq: i64,
}

/// `GET /v1/jobs/{public_id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobDetail {
    pub public_id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub credits_cost: i64,
    /// The request body as dispatched.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// The final artifacts; empty until the job succeeds.
    pub result: Vec<Artifact>,
    pub latest_event: Option<JobEvent>,
    /// Extension: higher runs first (-100 to 100; 0 unless a client gave another). Equal
    /// priorities run oldest first.
    pub priority: i32,
    /// Extension: held — a waiting job is not started until resumed; a running one stops at its
    /// next check point and waits, held. Always false once the job has finished.
    pub paused: bool,
}

/// Extension: `POST /v1/jobs/{public_id}/priority`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// -100 to 100; higher runs first; every dispatch starts at 0.
    #[schema(minimum = -100, maximum = 100)]
    pub priority: i64,
}

/// Extension: `POST /v1/jobs/{public_id}/vary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct VaryRequest {
    /// How many variations: 1 to 8.
    #[schema(minimum = 1, maximum = 8)]
    pub count: u32,
}

/// The jobs a vary dispatched, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Variations {
    pub jobs: Vec<DispatchAccepted>,
}

/// `GET /v1/jobs`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobList {
    pub jobs: Vec<JobDetail>,
    pub limit: u32,
    pub offset: u32,
    pub count: usize,
}

/// The 202 answer to a dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DispatchAccepted {
    pub request_id: String,
    pub job_id: String,
    pub status: JobStatus,
    pub credits_cost: i64,
}

/// A job's webhook and every delivery attempt so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WebhookDeliveries {
    pub job_id: String,
    /// `None`: the job was dispatched without one.
    pub webhook_url: Option<String>,
    /// `waiting` (the job has not ended, or a retry is due), `delivered`, `failed` (given up)
    /// or `none` (no webhook).
    pub state: String,
    pub attempts: Vec<WebhookAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WebhookAttempt {
    pub attempt: i64,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// One answered API request, for the request log (`figur` keeps who asked what, how it ended
/// and how long it took).
#[derive(Debug, Clone)]
pub struct RequestLogRow {
    pub request_id: String,
    pub api_key_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
}
