//! The OpenAPI 3.1 document, generated from the Rust types and route annotations. The copy
//! checked in at the repository root (`openapi.json`) is kept equal to this by a test.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{account, jobs, library, workflows};

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
        workflows::try_on, workflows::extract, workflows::look, workflows::model_generator,
        workflows::background_generator, workflows::complementary_garment_generator,
        workflows::product_to_model_direct, workflows::product_to_model_phased,
        workflows::background_swap_with_image, workflows::background_swap_with_spec, workflows::model_swap_with_image,
        jobs::list, jobs::detail, jobs::events, jobs::cancel,
        library::upload, library::renders, library::render, library::catalog, library::catalog_entry,
        library::garment_categories, library::add_catalog_model, library::compatibility, library::artifact,
        account::operations, account::credits, account::usage, account::health, account::openapi,
    ),
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
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut text = doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
