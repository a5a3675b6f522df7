//! Extension: a studio adds its own model photos to the catalog (`POST /v1/catalog/models`).
//! The photo must be an owned upload showing one person, full or three-quarter body, whose
//! pose is found — the things product-to-model and model-swap need.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::jobs::require;
use super::Engine;
use crate::auth::{Caller, Capability};
use crate::budget::VISION_BYTES_PER_PIXEL;
use crate::domain::catalog::CatalogEntry;
use crate::domain::catalog::CatalogResource;
use crate::domain::requests::UserCategory;
use crate::error::{ApiError, ErrorCode};
use crate::failure::FailureCode;
use crate::ids::new_id;
use crate::ledger::catalog::CatalogRow;
use crate::ledger::{catalog, uploads};
use crate::workflow::models::Direct;
use crate::workflow::person::{self, VISIBLE};
use figur_pixels::vision::decode;

/// Body of `POST /v1/catalog/models` (a Figur Studio extension).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogModel {
    /// Upload key of a photo the studio owns the rights to.
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub upload_key: String,
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub gender: Option<UserCategory>,
}

/// Longest an import waits for a worker or for memory before answering 503.
const ANALYSIS_WAIT: Duration = Duration::from_secs(60);

fn busy(why: &str) -> ApiError {
    let mut err = ApiError::new(ErrorCode::Unavailable, format!("{why}; retry shortly"));
    err.retry_after = Some(5);
    err
}

fn out_of_memory() -> ApiError {
    busy("the studio's memory budget is held by running jobs")
}

fn bad(reason: impl Into<String>) -> ApiError {
    ApiError::field("body", "upload_key", reason.into(), "unsuitable_model_photo")
}

impl Engine {
    pub async fn add_catalog_model(&self, caller: &Caller, new: NewCatalogModel) -> Result<CatalogEntry, ApiError> {
        require(caller, Capability::JobsCreate)?;
        if new.display_name.is_empty() || new.display_name.chars().count() > 200 {
            return Err(ApiError::field("body", "display_name", "1 to 200 characters", "length"));
        }
        let realm = self.realm(caller.mode).clone();
        let key = new.upload_key.clone();
        let upload = realm
            .ledger
            .read(move |c| uploads::get(c, &key))
            .await?
            .ok_or_else(|| ApiError::field("body", "upload_key", "no such upload", "unknown_upload"))?;
        // The analysis is a job's worth of work: it waits for a worker's permit like a job
        // (jobs and imports together never exceed the concurrency), and for its memory.
        let permit = tokio::time::timeout(ANALYSIS_WAIT, self.permits.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| busy("every worker is running a job"))?;
        let (models, memory) = (self.config.models.clone(), self.config.memory.clone());
        let store = realm.clone();
        let upload_key = upload.key.clone();
        let found = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, ApiError> {
            let _permit = permit;
            let bytes = store.store.read(&upload_key).map_err(|_| bad("the upload cannot be read"))?;
            let _decoding = memory.reserve(decode::decode_cost(&bytes), ANALYSIS_WAIT).ok_or_else(out_of_memory)?;
            let photo = decode::working_copy(decode::decode(&bytes).map_err(|e| bad(e.to_string()))?);
            let pixels = photo.width() as u64 * photo.height() as u64;
            let _analysing =
                memory.reserve(pixels * VISION_BYTES_PER_PIXEL, ANALYSIS_WAIT).ok_or_else(out_of_memory)?;
            let photo_height = photo.height();
            let analysis = person::analyse(&mut Direct(&*models), &photo).map_err(|e| match e.code() {
                Some(FailureCode::NoSubjectFound) => bad("no person was found in the photo"),
                _ => ApiError::new(crate::error::ErrorCode::Unavailable, e.message()),
            })?;
            if analysis.matte.people > 1 {
                return Err(bad(format!(
                    "{} people are in the photo; a catalog model photo shows one",
                    analysis.matte.people
                )));
            }
            let l = &analysis.landmarks;
            let seen = |i: usize| l[i].visibility >= VISIBLE;
            // No shoulders: `person::analyse` already refused it (`find_body`).
            let knee = |i: usize| l[i].visibility >= 0.7 && (l[i].y as u32) < photo_height;
            if !(seen(23) && seen(24) && (knee(25) || knee(26))) {
                return Err(bad("the photo must show the body at least to the knees (full or three-quarter body)"));
            }
            let full = seen(27) || seen(28);
            Ok(json!({ "framing": if full { "full_body" } else { "three_quarter" }, "face": analysis.face.is_some() }))
        })
        .await
        .map_err(|_| ApiError::internal("the model photo check crashed"))?;
        let found = found?;
        let row = CatalogRow {
            public_id: new_id(),
            resource: CatalogResource::Models.as_str().into(),
            status: "active".into(),
            display_name: new.display_name.trim().to_string(),
            spec: json!({
                "source": "upload",
                "upload_key": upload.key,
                "gender": new.gender,
                "framing": found["framing"],
            }),
            description: new.description,
            image_key: upload.key.clone(),
            meta: crate::domain::job::ArtifactMeta {
                width: upload.width,
                height: upload.height,
                mime: upload.mime.clone(),
                sha256: upload.sha256.clone(),
            },
            generation_job_public_id: None,
            builtin: false,
            created_at: String::new(),
        };
        let (stored, id) = (row.clone(), row.public_id.clone());
        realm.ledger.write(move |c| catalog::insert(c, &stored)).await?;
        self.catalog_entry_by_id(caller.mode, CatalogResource::Models, &id).await
    }
}
