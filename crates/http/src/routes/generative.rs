//! Extension: the studio's generative models (Settings → Generative models, through a studio
//! server): the diffusion exports added on it and the default model each use takes.

use axum::extract::{Path, State};
use axum::Json;
use figur_engine::engine::generative::{DefaultModelChange, GenerativeView};
use figur_engine::{ApiError, Capability};

use crate::error::{ErrorEnvelope, HttpResult};
use crate::extract::{Authed, JsonValue};
use crate::AppState;

/// Extension: the diffusion exports added on this server (`figur models add`; add them on
/// every worker of a farm too) with kind, licence and size, and the default model each use
/// takes when a request names none.
#[utoipa::path(get, path = "/v1/generative-models", tag = "account",
    responses((status = 200, body = GenerativeView)),
    security(("bearer" = [])))]
pub async fn generative_models(State(state): State<AppState>, auth: Authed) -> HttpResult<Json<GenerativeView>> {
    auth.require(Capability::JobsRead)?;
    let engine = state.engine.clone();
    let view = tokio::task::spawn_blocking(move || engine.generative_view())
        .await
        .map_err(|_| ApiError::internal("listing the generative models crashed"))?;
    Ok(Json(view))
}

/// Extension: sets (or with `"model": null` clears) the default model one use takes when a
/// request names none — the server's, so every job dispatched through it from then on.
#[utoipa::path(put, path = "/v1/generative-models/defaults/{use}", tag = "account",
    params(("use" = String, Path,
        description = "`background-generator`, `model-generator`, `refine`, `harmonize` or `try-on`")),
    request_body = DefaultModelChange,
    responses(
        (status = 200, body = GenerativeView),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: no such use", body = ErrorEnvelope),
        (status = 422, description = "`model` not added, or unable to serve this use", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn set_default_model(
    State(state): State<AppState>,
    auth: Authed,
    Path(use_): Path<String>,
    JsonValue(body): JsonValue,
) -> HttpResult<Json<GenerativeView>> {
    // Choosing what every later job draws with is the studio's business: a full key.
    auth.require(Capability::JobsCreate)?;
    let change: DefaultModelChange = figur_engine::domain::requests::parse_body(body)?;
    let engine = state.engine.clone();
    let view = tokio::task::spawn_blocking(move || engine.change_default_model(&use_, change.model.as_deref()))
        .await
        .map_err(|_| ApiError::internal("saving the default model crashed"))??;
    Ok(Json(view))
}
