//! The /v1 routes: thin adapters from HTTP to engine calls.

pub mod account;
pub mod generative;
pub mod jobs;
pub mod library;
pub mod workflows;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::extract::MAX_JSON_BYTES;
use crate::AppState;

/// Upload bodies are read to the end up to this size (the 25 MB file limit is checked while
/// streaming, and the excess drained so the client reads a clean 413); beyond it the
/// connection is cut.
const MAX_UPLOAD_BODY: usize = 256 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(workflows::router())
        .route("/v1/jobs", get(jobs::list))
        .route("/v1/jobs/{public_id}", get(jobs::detail))
        .route("/v1/jobs/{public_id}/events", get(jobs::events))
        .route("/v1/jobs/{public_id}/cancel", post(jobs::cancel))
        .route("/v1/jobs/{public_id}/priority", post(jobs::priority))
        .route("/v1/jobs/{public_id}/pause", post(jobs::pause))
        .route("/v1/jobs/{public_id}/resume", post(jobs::resume))
        .route("/v1/jobs/{public_id}/vary", post(jobs::vary))
        .route("/v1/jobs/{public_id}/webhooks", get(jobs::webhooks))
        .route("/v1/queue", get(jobs::queue))
        .route("/v1/renders", get(library::renders))
        .route("/v1/renders/{public_id}", get(library::render))
        .route("/v1/catalog/models", get(library::catalog_models).post(library::add_catalog_model))
        .route("/v1/catalog/{resource}", get(library::catalog))
        .route("/v1/catalog/{resource}/{public_id}", get(library::catalog_entry))
        .route("/v1/uploads/{*upload_key}", axum::routing::patch(library::edit_upload))
        .route("/v1/tags", get(library::tags))
        .route("/v1/garment-categories", get(library::garment_categories))
        .route("/v1/compatibility/check", post(library::compatibility))
        .route("/v1/artifacts/{realm}/{*key}", get(library::artifact))
        .route("/v1/operations", get(account::operations))
        .route("/v1/credits", get(account::credits))
        .route("/v1/usage", get(account::usage))
        .route("/v1/health", get(account::health))
        .route("/metrics", get(account::metrics))
        .route("/v1/generative-models", get(generative::generative_models))
        .route("/v1/generative-models/defaults/{use}", axum::routing::put(generative::set_default_model))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .merge(
            Router::new()
                .route("/v1/uploads", post(library::upload).get(library::uploads))
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY)),
        )
}
