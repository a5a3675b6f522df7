//! `POST /v1/<workflow>`: one typed route per workflow, all through the same dispatch.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use figur_engine::domain::job::DispatchAccepted;
use figur_engine::domain::operation::Operation;
use figur_engine::domain::requests::*;

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

macro_rules! workflow_routes {
    ($( $(#[$doc:meta])* $handler:ident = $op:expr, $path:tt, $body:ty; )*) => {
        $(
            $(#[$doc])*
            ///
            /// Answers 202 once the job, its `queued` event and its debit are durable. Poll
            /// `GET /v1/jobs/{public_id}/events` until `succeeded` or `failed`.
            #[utoipa::path(
                post,
                path = $path,
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
                dispatch(&state, &auth, $op, body, &request_id, &headers).await
            }
        )*

        pub fn router() -> axum::Router<AppState> {
            axum::Router::new()
                $(.route($path, axum::routing::post($handler)))*
        }
    };
}

workflow_routes! {
    /// Try-on: a person photo wearing one or more garments.
    try_on = Operation::TryOn, "/v1/try-on", TryOnRequest;
    /// Extract: garment cutouts from a photo.
    extract = Operation::Extract, "/v1/extract", ExtractRequest;
    /// Look: garments composed onto a mannequin.
    look = Operation::Look, "/v1/look", LookRequest;
    /// Model generator: a catalog model from a spec.
    model_generator = Operation::ModelGenerator, "/v1/model-generator", ModelGeneratorRequest;
    /// Background generator: a procedural studio backdrop, filed as a catalog background.
    background_generator = Operation::BackgroundGenerator, "/v1/background-generator", BackgroundGeneratorRequest;
    /// Complementary garment generator: a catalog garment from a spec.
    complementary_garment_generator = Operation::ComplementaryGarmentGenerator, "/v1/complementary-garment-generator", ComplementaryGarmentGeneratorRequest;
    /// Product to model, one pass: a product garment worn by a catalog model.
    product_to_model_direct = Operation::ProductToModelDirect, "/v1/product-to-model-direct", ProductToModelRequest;
    /// Product to model in phases (model pose → garment fit → finish).
    product_to_model_phased = Operation::ProductToModelPhased, "/v1/product-to-model-phased", ProductToModelRequest;
    /// Background swap with a catalog background image.
    background_swap_with_image = Operation::BackgroundSwapWithImage, "/v1/background-swap-with-image", BackgroundSwapWithImageRequest;
    /// Background swap with a background built from an inline spec.
    background_swap_with_spec = Operation::BackgroundSwapWithSpec, "/v1/background-swap-with-spec", BackgroundSwapWithSpecRequest;
    /// Model swap: a render's garments kept, the person replaced by a catalog model.
    model_swap_with_image = Operation::ModelSwapWithImage, "/v1/model-swap-with-image", ModelSwapWithImageRequest;
}
