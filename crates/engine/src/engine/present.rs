//! Turning ledger rows into API shapes: store keys become signed, short-lived URLs here and
//! nowhere else.

use serde_json::Value;

use super::Engine;
use crate::auth::Mode;
use crate::domain::catalog::{CatalogEntry, CatalogStatus, Render, RenderOrigin};
use crate::domain::job::{Artifact, JobDetail, JobEvent, StoredArtifact};
use crate::ledger::catalog::CatalogRow;
use crate::ledger::jobs::{EventRow, JobRow};
use crate::ledger::renders::RenderRow;
use crate::time::now_unix_ms;

/// Expiries are rounded up to this many seconds so repeated reads give the same, cacheable URL.
const EXPIRY_BUCKET_S: i64 = 300;

/// Request fields that hold upload keys, and the URL sibling each becomes in a render's inputs.
const KEY_FIELDS: [(&str, &str); 4] = [
    ("user_image", "user_image_url"),
    ("trial_image", "trial_image_url"),
    ("source_image_s3_key", "source_image_url"),
    ("product_image_s3_key", "product_image_url"),
];

impl Engine {
    /// A signed URL for a store key of `mode`'s realm.
    pub fn signed_url(&self, mode: Mode, key: &str) -> String {
        let ttl = self.config.url_ttl.as_secs() as i64;
        let now = now_unix_ms() / 1000;
        let exp = ((now + ttl) / EXPIRY_BUCKET_S + 1) * EXPIRY_BUCKET_S;
        let base = self.public_base.read().unwrap_or_else(|p| p.into_inner()).clone();
        format!("{base}{}", self.signer.path(mode.as_str(), key, exp))
    }

    pub(super) fn artifact(&self, mode: Mode, a: &StoredArtifact) -> Artifact {
        Artifact {
            image_url: self.signed_url(mode, &a.key),
            kind: a.kind.clone(),
            role: a.role,
            label: a.label.clone(),
            meta: a.meta.clone(),
        }
    }

    pub(super) fn event(&self, mode: Mode, e: &EventRow) -> JobEvent {
        JobEvent {
            seq: e.seq,
            event_type: e.event_type,
            visibility: "public".into(),
            stage: e.stage.clone(),
            message: e.message.clone(),
            artifacts: e.artifacts.iter().map(|a| self.artifact(mode, a)).collect(),
            extra: e.extra.clone(),
            created_at: e.created_at.clone(),
        }
    }

    /// `latest` is the job's latest event; its artifacts are the result when it is `succeeded`.
    pub(super) fn job_detail(&self, mode: Mode, job: JobRow, latest: Option<EventRow>) -> JobDetail {
        let result = match &latest {
            Some(e) if e.event_type == crate::domain::job::EventType::Succeeded => {
                e.artifacts.iter().map(|a| self.artifact(mode, a)).collect()
            }
            _ => Vec::new(),
        };
        JobDetail {
            public_id: job.public_id,
            job_type: job.job_type,
            status: job.status,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            credits_cost: job.credits_cost,
            request: job.request,
            result,
            latest_event: latest.map(|e| self.event(mode, &e)),
            priority: job.priority,
            paused: job.paused,
        }
    }

    pub(super) fn render(&self, mode: Mode, r: RenderRow) -> Render {
        Render {
            image_url: self.signed_url(mode, &r.image_key),
            inputs: self.sign_inputs(mode, r.inputs),
            public_id: r.public_id,
            job_type: r.job_type,
            origin: if r.origin == "edit" { RenderOrigin::Edit } else { RenderOrigin::Compose },
            category: r.category,
            meta: r.meta,
            created_at: r.created_at,
        }
    }

    /// Replaces every upload key in a request with its signed URL sibling, recursively.
    fn sign_inputs(&self, mode: Mode, value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| match (KEY_FIELDS.iter().find(|(f, _)| *f == k), &v) {
                        (Some((_, url_field)), Value::String(key)) => {
                            (url_field.to_string(), Value::from(self.signed_url(mode, key)))
                        }
                        _ => (k, self.sign_inputs(mode, v)),
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.sign_inputs(mode, v)).collect()),
            other => other,
        }
    }

    pub(super) fn catalog_entry(&self, mode: Mode, c: CatalogRow) -> CatalogEntry {
        CatalogEntry {
            image_url: self.signed_url(mode, &c.image_key),
            public_id: c.public_id,
            status: if c.status == "archived" { CatalogStatus::Archived } else { CatalogStatus::Active },
            display_name: c.display_name,
            spec: c.spec,
            description: c.description,
            generation_job_public_id: c.generation_job_public_id,
            builtin: c.builtin,
            meta: c.meta,
            created_at: c.created_at,
        }
    }
}
