//! Uploads, renders, the catalog, garment categories, compatibility, and signed artifact files.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use figur_engine::domain::catalog::{
    CatalogEntry, CatalogResource, CatalogStatus, LibraryEdit, LibraryImage, ListedCatalogResource, Render, RenderList,
    RenderOrigin, TagCount, UploadAccepted, UploadList,
};
use figur_engine::domain::compatibility::{CompatibilityRequest, CompatibilityResponse};
use figur_engine::domain::garments::GarmentCategory;
use figur_engine::domain::requests::UserCategory;
use figur_engine::engine::NewCatalogModel;
use figur_engine::{ApiError, Capability, ErrorCode, LibraryQuery, RenderFilter};

use crate::error::{ErrorEnvelope, HttpError, HttpResult};
use crate::extract::{Authed, JsonValue, Params};
use crate::AppState;

fn multipart_error(e: axum::extract::multipart::MultipartError) -> HttpError {
    let text = e.body_text();
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HttpError(ApiError::new(ErrorCode::PayloadTooLarge, "uploads are limited to 25 MB"))
    } else {
        HttpError(ApiError::new(ErrorCode::BadRequest, format!("the multipart body is malformed: {text}")))
    }
}

/// Upload an image (multipart field `file`; JPEG, PNG or WebP, checked from its bytes; ≤ 25 MB,
/// ≤ 100 megapixels). Free. Use the returned `upload_key` in request bodies.
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads",
    request_body(content_type = "multipart/form-data", description = "A `file` field holding the image"),
    responses(
        (status = 200, body = UploadAccepted),
        (status = 413, description = "Over 25 MB", body = ErrorEnvelope),
        (status = 415, description = "Not a JPEG, PNG or WebP image", body = ErrorEnvelope),
        (status = 422, description = "Unreadable, empty or too many pixels", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Authed,
    multipart: Result<Multipart, MultipartRejection>,
) -> HttpResult<Json<UploadAccepted>> {
    auth.require(Capability::JobsCreate)?;
    let mut multipart = multipart.map_err(|_| {
        HttpError(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the image as multipart/form-data in a `file` field",
        ))
    })?;
    // Every part is read before the file is looked at: a field the document does not declare
    // is refused wherever it comes, as unknown fields of a JSON body are.
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") || file.is_some() {
            let name = field.name().unwrap_or_default().to_string();
            let problem = if name == "file" {
                "one `file` per upload".to_string()
            } else {
                format!("unknown multipart field `{name}`; the image goes in `file`")
            };
            return Err(ApiError::field("body", &name, problem, "extra_forbidden").into());
        }
        let name = field.file_name().unwrap_or("image").to_string();
        // Past the limit, keep reading (and dropping) the rest: a client still sending then
        // reads a clean 413 instead of a broken connection.
        let (mut bytes, mut too_large) = (Vec::new(), false);
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if !too_large && bytes.len() + chunk.len() > figur_engine::MAX_UPLOAD_BYTES {
                too_large = true;
                bytes = Vec::new();
            }
            if !too_large {
                bytes.extend_from_slice(&chunk);
            }
        }
        if too_large {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge, "uploads are limited to 25 MB").into());
        }
        file = Some((name, bytes));
    }
    let Some((name, bytes)) = file else {
        return Err(ApiError::field("body", "file", "a multipart field named `file` is required", "missing").into());
    };
    if bytes.is_empty() {
        return Err(ApiError::field("body", "file", "the file is empty", "unreadable_image").into());
    }
    Ok(Json(state.engine.upload(&auth.0, &name, bytes).await?))
}

/// Extension: the library — uploads newest first, with their names, the folder a desktop
/// import read each from, tags, favourites, and image URLs signed now; narrowed by a search.
#[utoipa::path(get, path = "/v1/uploads", tag = "uploads",
    params(
        ("q" = Option<String>, Query, description = "Words that must each appear in the name, the folder or a tag (case-insensitive)"),
        ("tag" = Option<String>, Query, description = "Only uploads with this tag"),
        ("favourite" = Option<bool>, Query, description = "`true`: only favourites; `false`: only the others"),
        ("folder" = Option<String>, Query, description = "Only uploads imported from this folder"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = UploadList), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn uploads(State(state): State<AppState>, auth: Authed, params: Params) -> HttpResult<Json<UploadList>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    let favourite = match params.given("favourite").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::field("query", "favourite", "`true` or `false`", "bool_parsing").into()),
    };
    let query = LibraryQuery {
        text: params.str("q").filter(|q| !q.trim().is_empty()),
        tag: params.str("tag"),
        favourite,
        folder: params.str("folder"),
    };
    Ok(Json(state.engine.library(auth.0.mode, query, limit, offset).await?))
}

/// Extension: tags an upload or marks it a favourite. `tags` replaces the upload's tags; absent
/// fields stay as they are. The path is the `upload_key` as the upload answered it.
#[utoipa::path(patch, path = "/v1/uploads/{upload_key}", tag = "uploads",
    params(("upload_key" = String, Path, description = "The upload's key, e.g. `uploads/01J…/photo.png`")),
    request_body = LibraryEdit,
    responses(
        (status = 200, body = LibraryImage),
        (status = 404, description = "`RESOURCE_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "A tag that is empty or too long, named by its index", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn edit_upload(
    State(state): State<AppState>,
    auth: Authed,
    Path(key): Path<String>,
    JsonValue(body): JsonValue,
) -> HttpResult<Json<LibraryImage>> {
    auth.require(Capability::JobsCreate)?;
    let edit: LibraryEdit = figur_engine::domain::requests::parse_body(body)?;
    Ok(Json(state.engine.edit_upload(&auth.0, &key, edit).await?))
}

/// Extension: every tag in the library with how many uploads carry it, most used first.
#[utoipa::path(get, path = "/v1/tags", tag = "uploads",
    responses((status = 200, body = Vec<TagCount>)),
    security(("bearer" = [])))]
pub async fn tags(State(state): State<AppState>, auth: Authed) -> HttpResult<Json<Vec<TagCount>>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.library_tags(auth.0.mode).await?))
}

/// Finished renders (the final images of compose and edit jobs), newest first.
#[utoipa::path(get, path = "/v1/renders", tag = "renders",
    params(
        ("origin" = Option<RenderOrigin>, Query, description = "`compose` or `edit`"),
        ("category" = Option<String>, Query, description = "A garment category key"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = RenderList), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn renders(State(state): State<AppState>, auth: Authed, params: Params) -> HttpResult<Json<RenderList>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    let filter = RenderFilter { origin: params.given("origin"), category: params.str("category"), limit, offset };
    Ok(Json(state.engine.renders(auth.0.mode, filter).await?))
}

/// A finished render; its id is the job's id.
#[utoipa::path(get, path = "/v1/renders/{public_id}", tag = "renders",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses((status = 200, body = Render), (status = 404, description = "`RESOURCE_NOT_FOUND`", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn render(State(state): State<AppState>, auth: Authed, Path(id): Path<String>) -> HttpResult<Json<Render>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.render_by_id(auth.0.mode, &id).await?))
}

/// A catalog resource (`backgrounds`, `complementary-garments`; `models` at its own path) as a
/// bare array.
#[utoipa::path(get, path = "/v1/catalog/{resource}", tag = "catalog",
    params(
        ("resource" = ListedCatalogResource, Path, description = "`backgrounds` or `complementary-garments` (`models`: `GET /v1/catalog/models`)"),
        ("status" = Option<CatalogStatus>, Query, description = "`active` or `archived`"),
        ("gender" = Option<UserCategory>, Query, description = "Models only: `MALE` or `FEMALE`"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = Vec<CatalogEntry>), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn catalog(
    State(state): State<AppState>,
    auth: Authed,
    Path(resource): Path<String>,
    params: Params,
) -> HttpResult<Json<Vec<CatalogEntry>>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    Ok(Json(
        state
            .engine
            .catalog(
                auth.0.mode,
                CatalogResource::named(&resource)?,
                params.given("status"),
                params.given("gender"),
                limit,
                offset,
            )
            .await?,
    ))
}

/// The catalog's models (as `GET /v1/catalog/models` through the general route; this path also
/// takes additions, so it is routed, and documented, on its own).
#[utoipa::path(get, path = "/v1/catalog/models", tag = "catalog",
    params(
        ("status" = Option<CatalogStatus>, Query, description = "`active` or `archived`"),
        ("gender" = Option<UserCategory>, Query, description = "`MALE` or `FEMALE`"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = Vec<CatalogEntry>), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn catalog_models(
    state: State<AppState>,
    auth: Authed,
    params: Params,
) -> HttpResult<Json<Vec<CatalogEntry>>> {
    catalog(state, auth, Path("models".to_string()), params).await
}

/// One catalog entry.
#[utoipa::path(get, path = "/v1/catalog/{resource}/{public_id}", tag = "catalog",
    params(
        ("resource" = CatalogResource, Path, description = "`models`, `backgrounds` or `complementary-garments`"),
        ("public_id" = String, Path, description = "The entry's ULID"),
    ),
    responses((status = 200, body = CatalogEntry), (status = 404, description = "`RESOURCE_NOT_FOUND`", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn catalog_entry(
    State(state): State<AppState>,
    auth: Authed,
    Path((resource, id)): Path<(String, String)>,
) -> HttpResult<Json<CatalogEntry>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.catalog_entry_by_id(auth.0.mode, CatalogResource::named(&resource)?, &id).await?))
}

/// Garment categories: `trial_item_category` takes a `key`; generators and product-to-model take a `public_id`.
#[utoipa::path(get, path = "/v1/garment-categories", tag = "catalog",
    responses((status = 200, body = Vec<GarmentCategory>)),
    security(("bearer" = [])))]
pub async fn garment_categories(
    State(state): State<AppState>,
    auth: Authed,
) -> HttpResult<Json<&'static [GarmentCategory]>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.garment_categories()))
}

/// Extension: adds an owned model photo (an upload) to the catalog's models. The photo must
/// show one person, full or three-quarter body, with a pose the studio finds; otherwise 422
/// names `upload_key` and says why.
#[utoipa::path(post, path = "/v1/catalog/models", tag = "catalog",
    summary = "Extension: add a model photo to the catalog",
    request_body = NewCatalogModel,
    responses(
        (status = 201, body = CatalogEntry),
        (status = 422, description = "Unknown upload, or a photo that is not a usable model photo", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn add_catalog_model(
    State(state): State<AppState>,
    auth: Authed,
    JsonValue(body): JsonValue,
) -> HttpResult<(axum::http::StatusCode, Json<CatalogEntry>)> {
    let request: NewCatalogModel = figur_engine::domain::requests::parse_body(body)?;
    Ok((axum::http::StatusCode::CREATED, Json(state.engine.add_catalog_model(&auth.0, request).await?)))
}

/// Which catalog garments can be worn with a product of the given category, in request order.
#[utoipa::path(post, path = "/v1/compatibility/check", tag = "catalog",
    request_body = CompatibilityRequest,
    responses(
        (status = 200, body = CompatibilityResponse),
        (status = 404, description = "Unknown product category", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn compatibility(
    State(state): State<AppState>,
    auth: Authed,
    JsonValue(body): JsonValue,
) -> HttpResult<Json<CompatibilityResponse>> {
    auth.require(Capability::JobsRead)?;
    let request: CompatibilityRequest = figur_engine::domain::requests::parse_body(body)?;
    Ok(Json(state.engine.compatibility(auth.0.mode, request).await?))
}

/// A stored image behind a signed URL (as found in `image_url` fields). No API key: the
/// signature is the permission, and it expires.
#[utoipa::path(get, path = "/v1/artifacts/{realm}/{key}", tag = "artifacts",
    params(
        ("realm" = String, Path, description = "`live` or `test`"),
        ("key" = String, Path, description = "The stored file (may contain `/`)"),
        ("exp" = i64, Query, description = "Expiry, Unix seconds"),
        ("sig" = String, Query, description = "HMAC-SHA256 signature"),
        ("thumb" = Option<u32>, Query, description = "Extension: a cached PNG thumbnail, longest side 128, 256 or 512 (the next size up)"),
    ),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 403, description = "Invalid or expired signature", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ))]
pub async fn artifact(
    State(state): State<AppState>,
    Path((realm, key)): Path<(String, String)>,
    params: Params,
) -> HttpResult<Response> {
    let exp = params.int("exp", 0, 0, i64::MAX)?;
    let sig = params.str("sig").unwrap_or_default();
    let thumb = params.int("thumb", 0, 0, 4096)?;
    let (bytes, mime) = if thumb > 0 {
        (state.engine.artifact_thumbnail(&realm, &key, exp, &sig, thumb as u32).await?, "image/png")
    } else {
        state.engine.artifact_file(&realm, &key, exp, &sig).await?
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}
