//! Operations, credits, usage, health and the OpenAPI document.

use axum::extract::State;
use axum::Json;
use figur_engine::domain::catalog::{Credits, UsageList};
use figur_engine::domain::operation::OperationList;
use figur_engine::Capability;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::HttpResult;
use crate::extract::{Authed, Params};
use crate::AppState;

/// Every workflow (the hosted API's eleven and the studio's extensions) with its class, price
/// and whether this build can run it.
#[utoipa::path(get, path = "/v1/operations", tag = "account",
    responses((status = 200, body = OperationList)),
    security(("bearer" = [])))]
pub async fn operations(State(state): State<AppState>, auth: Authed) -> HttpResult<Json<OperationList>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.operations()))
}

/// The credit balance of the key's realm.
#[utoipa::path(get, path = "/v1/credits", tag = "account",
    responses((status = 200, body = Credits)),
    security(("bearer" = [])))]
pub async fn credits(State(state): State<AppState>, auth: Authed) -> HttpResult<Json<Credits>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.credits(&auth.0).await?))
}

/// The debit/refund ledger, newest first.
#[utoipa::path(get, path = "/v1/usage", tag = "account",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = UsageList)),
    security(("bearer" = [])))]
pub async fn usage(State(state): State<AppState>, auth: Authed, params: Params) -> HttpResult<Json<UsageList>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    Ok(Json(state.engine.usage(&auth.0, limit, offset).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    pub version: String,
}

/// Extension: liveness, no key needed.
#[utoipa::path(get, path = "/v1/health", tag = "account", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// Extension: this server's metrics in Prometheus' text format — dispatches and their latency,
/// claim latency, job and stage durations per workflow, lease renewals, requeues, webhook
/// attempts, model open times, and (read from the ledger as it is scraped) the queue's depth
/// per workflow and priority, running jobs and a farm's workers.
#[utoipa::path(get, path = "/metrics", tag = "account",
    responses((status = 200, description = "Prometheus' text exposition format (version 0.0.4)",
        content_type = "text/plain", body = String)),
    security(("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, auth: Authed) -> HttpResult<axum::response::Response> {
    use axum::response::IntoResponse;
    auth.require(Capability::JobsRead)?;
    let text = state.engine.metrics_text().await?;
    Ok(([(axum::http::header::CONTENT_TYPE, figur_engine::engine::METRICS_CONTENT_TYPE)], text).into_response())
}
