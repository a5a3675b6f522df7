//! `POST /v1/<workflow>`: one typed route per workflow, all through the same dispatch.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use figur_engine::domain::job::DispatchAccepted;
use figur_engine::Operation;

use crate::error::{ErrorEnvelope, HttpResult};
use crate::extract::{Authed, JsonValue};
use crate::guard::RequestId;
use crate::AppState;

async fn dispatch(
    state: &AppState,
    auth: &Authed,
    op: Operation,
    body: serde_json::Value,
    request_id: &str,
    headers: &HeaderMap,
) -> HttpResult<(StatusCode, Json<DispatchAccepted>)> {
    let idempotency_key = headers.get("idempotency-key").map(|v| v.to_str().unwrap_or_default());
    let accepted = state.engine.dispatch(&auth.0, op, body, request_id, idempotency_key).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// One handler per registered workflow, its OpenAPI path, the router and [`WorkflowPaths`],
/// all from the engine's registration list.
macro_rules! workflow_routes {
    ($( $(#[$doc:meta])* $variant:ident, $handler:ident, $name:literal, $body:ty, $workflow:ty; )*) => {
        $(
            $(#[$doc])*
            ///
            /// Answers 202 once the job, its `queued` event and its debit are durable. Poll
            /// `GET /v1/jobs/{public_id}/events` until `succeeded` or `failed`.
            #[utoipa::path(
                post,
                path = concat!("/v1/", $name),
                tag = "workflows",
                request_body = $body,
                params(("Idempotency-Key" = Option<String>, Header,
                    description = "Extension: the same key and body within 24 h returns the first answer and creates nothing")),
                responses(
                    (status = 202, description = "Dispatched", body = DispatchAccepted),
                    (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
                    (status = 401, description = "Missing or unknown key", body = ErrorEnvelope),
                    (status = 402, description = "Balance too low; no job was made", body = ErrorEnvelope),
                    (status = 403, description = "The key lacks `jobs:create`", body = ErrorEnvelope),
                    (status = 415, description = "Not JSON", body = ErrorEnvelope),
                    (status = 422, description = "A field is missing, unknown or invalid", body = ErrorEnvelope),
                    (status = 429, description = "Rate limited", body = ErrorEnvelope),
                    (status = 503, description = "`OPERATION_DISABLED`: this workflow is not available in this build; nothing was charged", body = ErrorEnvelope),
                ),
                security(("bearer" = []))
            )]
            pub async fn $handler(
                State(state): State<AppState>,
                auth: Authed,
                RequestId(request_id): RequestId,
                headers: HeaderMap,
                JsonValue(body): JsonValue,
            ) -> HttpResult<(StatusCode, Json<DispatchAccepted>)> {
                dispatch(&state, &auth, Operation::$variant, body, &request_id, &headers).await
            }
        )*

        pub fn router() -> axum::Router<AppState> {
            axum::Router::new()
                $(.route(concat!("/v1/", $name), axum::routing::post($handler)))*
        }

        /// The workflows' paths, merged into the API's document.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler),*))]
        pub struct WorkflowPaths;
    };
}

figur_engine::for_each_workflow!(workflow_routes);
