//! The OpenAPI 3.1 document, generated from the Rust types and route annotations. The copy
//! checked in at the repository root (`openapi.json`) is kept equal to this by a test.

use figur_engine::domain::requests::{MOODS, SCENE_TYPES};
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::routes::{account, generative, jobs, library, workflows};

/// This document. No key needed.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "account",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> Response {
    let mut r = document().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Figur Studio API",
        description = "The local copy of the Figur /v1 API served by Figur Studio. Same paths, fields, enums, \
                       error codes and job lifecycle as the hosted API: dispatch → poll events → fetch the render. \
                       Operations marked 'Extension' exist only in the studio.",
        license(name = "MIT"),
    ),
    servers((url = "http://127.0.0.1:8686", description = "figur serve (default address)")),
    paths(
        jobs::list, jobs::detail, jobs::events, jobs::cancel, jobs::queue, jobs::priority, jobs::pause, jobs::resume,
        jobs::vary, jobs::webhooks,
        library::upload, library::uploads, library::edit_upload, library::tags, library::renders, library::render, library::catalog, library::catalog_models, library::catalog_entry,
        library::garment_categories, library::add_catalog_model, library::compatibility, library::artifact,
        account::operations, account::credits, account::usage, account::health, account::metrics,
        generative::generative_models, generative::set_default_model, openapi,
    ),
    components(schemas(figur_engine::domain::catalog::CatalogResource, figur_engine::domain::catalog::ListedCatalogResource)),
    modifiers(&BearerAuth),
    tags(
        (name = "workflows", description = "Dispatch a workflow: 202 with a job id"),
        (name = "jobs", description = "Follow, read and cancel jobs"),
        (name = "uploads", description = "Send images to the studio"),
        (name = "renders", description = "The gallery of finished compose and edit images"),
        (name = "catalog", description = "Models, backgrounds, complementary garments, garment categories"),
        (name = "artifacts", description = "Signed image URLs"),
        (name = "account", description = "Operations, credits, usage"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_live_… or sk_test_…")
                    .description(Some(
                        "An API key from `figur keys create`; sk_test_ keys work on an isolated test ledger",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the form checked into the repository).
pub fn document() -> String {
    let mut doc = ApiDoc::openapi().merge_from(workflows::WorkflowPaths::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut text = serde_json::to_value(&doc)
        .map(|mut value| {
            complete(&mut value);
            serde_json::to_string_pretty(&value).unwrap_or_default()
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// What the route annotations would repeat on every operation, added from what each operation
/// is: the answers the guard, the key check and the body extractor give anywhere, and the
/// bounds the query extractors enforce. Schemathesis (`tests/api/schemathesis.rs`) checks the
/// server against the result, so the two cannot drift apart.
fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    let operations = paths.values_mut().filter_map(Value::as_object_mut).flat_map(|ops| ops.values_mut());
    for operation in operations.filter_map(Value::as_object_mut) {
        let secured = operation.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
        let has_body = operation.get("requestBody").is_some();
        let has_query = operation
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query" || p["in"] == "header"));
        let mut answers: Vec<(&str, &str)> = vec![(
            "403",
            "`FORBIDDEN`: not addressed as localhost, a cross-origin caller, or a key without the capability",
        )];
        if secured {
            answers.push(("401", "`UNAUTHORIZED`: no API key, or one the studio does not know"));
            answers.push(("429", "`RATE_LIMITED`: too many requests for this key (or without a valid key, from this address); see `Retry-After`"));
            answers.push((
                "503",
                "`UNAVAILABLE`: the studio's disk is full, it is short of memory, or it is shutting down; retry",
            ));
        }
        if has_body {
            answers.push(("400", "`BAD_REQUEST`: the body is not well-formed"));
            answers.push(("413", "`PAYLOAD_TOO_LARGE`: the body is over the limit"));
            answers.push(("415", "`UNSUPPORTED_MEDIA_TYPE`: the body is not of the declared content type"));
        }
        if has_body || has_query {
            answers.push(("422", "`VALIDATION_ERROR`: a field is missing or invalid; `details` names it"));
        }
        let responses = operation.entry("responses").or_insert_with(|| json!({}));
        let Some(responses) = responses.as_object_mut() else { continue };
        for (status, description) in answers {
            responses.entry(status).or_insert_with(|| {
                json!({
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
                })
            });
        }
        if let Some(params) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
            for param in params.iter_mut().filter(|p| p["in"] == "query") {
                let bounds = param["name"].as_str().and_then(crate::extract::query_bounds);
                if let (Some((min, max)), Some(schema)) = (bounds, param.get_mut("schema")) {
                    schema["minimum"] = json!(min);
                    schema["maximum"] = json!(max);
                }
            }
            // The dispatch checks the key's length (1 to 255 characters).
            for param in params.iter_mut().filter(|p| p["in"] == "header" && p["name"] == "Idempotency-Key") {
                param["schema"]["minLength"] = json!(1);
                param["schema"]["maxLength"] = json!(255);
            }
        }
    }
    // The upload's one required field.
    doc["paths"]["/v1/uploads"]["post"]["requestBody"]["required"] = json!(true);
    if let Some(upload) = doc["paths"]["/v1/uploads"]["post"]["requestBody"]["content"].get_mut("multipart/form-data") {
        upload["schema"] = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"file": {
                "type": "string",
                "format": "binary",
                "description": "The image: JPEG, PNG or WebP (checked from its bytes), at most 25 MB and 100 megapixels"
            }},
            "required": ["file"]
        });
        upload["encoding"] = json!({"file": {"contentType": "image/jpeg, image/png, image/webp"}});
    }
    // Every workflow's body takes the webhook extension (the engine takes it out before the
    // workflow's own strict parsing).
    let requests: Vec<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .map(|ops| &ops["post"])
        .filter(|op| op["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t == "workflows")))
        .filter_map(|op| op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str())
        .filter_map(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_string)
        .collect();
    for request in requests {
        let properties = &mut doc["components"]["schemas"][&request]["properties"];
        if properties.is_object() {
            properties["webhook_url"] = json!({
                "type": ["string", "null"],
                "pattern": figur_engine::engine::WEBHOOK_URL_PATTERN,
                "maxLength": 2048,
                "description": "Extension: an http(s) URL the job's terminal state is POSTed to once it ends \
                    (Standard Webhooks signature headers; retried with backoff; attempts at GET /v1/jobs/{id}/webhooks)"
            });
        }
    }
    // Descriptive fields are free text, as on the hosted API (its generative models read them);
    // the procedural backdrop engine draws the nearest of these and says so in the job's events.
    let schemas = &mut doc["components"]["schemas"];
    for request in ["BackgroundGeneratorRequest", "BackgroundSwapWithSpecRequest"] {
        let properties = &mut schemas[request]["properties"];
        if properties.is_object() {
            properties["scene_type"]["examples"] = json!(SCENE_TYPES);
            properties["mood"]["examples"] = json!(MOODS);
            properties["dominant_colors"]["items"] = json!({"type": "string", "minLength": 1, "maxLength": 200});
        }
    }
    // An edit's source: exactly one of an upload and a render (both or neither: 422).
    for request in [
        "BackgroundSwapWithImageRequest",
        "BackgroundSwapWithSpecRequest",
        "ModelSwapWithImageRequest",
        "UpscaleRequest",
    ] {
        if schemas[request].is_object() {
            schemas[request]["oneOf"] = json!([
                {"required": ["source_image_s3_key"],
                 "properties": {"source_image_s3_key": {"type": "string"}, "source_render_public_id": {"type": "null"}}},
                {"required": ["source_render_public_id"],
                 "properties": {"source_render_public_id": {"type": "string"}, "source_image_s3_key": {"type": "null"}}}
            ]);
        }
    }
    // `runtime_config` stays open (the hosted API takes keys the studio ignores); the keys the
    // studio reads are typed: `true`, `false` or an added model's name.
    let model_choice = json!({"type": ["boolean", "string", "null"], "minLength": 1});
    let dressing: &[&str] = &["refine", "try_on_model"];
    for (request, keys) in [
        ("TryOnRequest", dressing),
        ("ProductToModelRequest", dressing),
        ("ModelSwapWithImageRequest", dressing),
        ("BackgroundSwapWithImageRequest", &["harmonize"][..]),
        ("BackgroundSwapWithSpecRequest", &["harmonize"][..]),
    ] {
        let config = &mut schemas[request]["properties"]["runtime_config"];
        if config.is_object() {
            config["properties"] = keys.iter().map(|k| (k.to_string(), model_choice.clone())).collect();
            config["additionalProperties"] = json!(true);
        }
    }
    // The upscaler enlarges ×4, and ×2 by averaging its result.
    let scale = &mut schemas["UpscaleRequest"]["properties"]["scale"];
    if scale.is_object() {
        *scale = json!({
            "anyOf": [{"type": "integer", "enum": [2, 4]}, {"type": "null"}],
            "description": "2 or 4 (the default)"
        });
    }
    // A generator's `runtime_config.upscale`: `false` frames what the model drew by resampling.
    for request in ["ModelGeneratorRequest", "BackgroundGeneratorRequest"] {
        let config = &mut schemas[request]["properties"]["runtime_config"];
        if config.is_object() {
            config["properties"] = json!({"upscale": {"type": ["boolean", "null"]}});
            config["additionalProperties"] = json!(true);
        }
    }
    // Unsigned fields take what their Rust type holds, and no more (a seed is a u64).
    unsigned_maxima(schemas);
    // Tags: 1–40 characters as sent, no control characters.
    let tags = &mut schemas["LibraryEdit"]["properties"]["tags"];
    if tags.is_object() {
        tags["items"] = json!({"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"});
    }
}

/// Gives every unsigned integer schema (`minimum: 0` with utoipa's `int64`/`int32` format) the
/// maximum of its Rust type, where the type is all that bounds it.
fn unsigned_maxima(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let unsigned = fields.get("minimum") == Some(&json!(0)) && !fields.contains_key("maximum");
            let max = match fields.get("format").and_then(Value::as_str) {
                Some("int64") if unsigned => Some(json!(u64::MAX)),
                Some("int32") if unsigned => Some(json!(u32::MAX)),
                _ => None,
            };
            if let Some(max) = max {
                fields.insert("maximum".into(), max);
            }
            fields.values_mut().for_each(unsigned_maxima);
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned_maxima),
        _ => {}
    }
}
