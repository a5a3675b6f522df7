//! Catalog entries, renders, uploads, credits and usage as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::vocabulary! {
    // The doc line is the schema's published description, kept word for word (it predates the
    // vocabulary macro, which replaced the `CATALOG_RESOURCES` list it names).
    /// A catalog resource as `openapi.json` names it in paths ([`CATALOG_RESOURCES`], typed).
    #[derive(ToSchema)]
    #[cfg_attr(feature = "specta", derive(specta::Type))]
    pub enum CatalogResource {
        Models = "models",
        Backgrounds = "backgrounds",
        ComplementaryGarments = "complementary-garments",
    }
}

/// The resources `GET /v1/catalog/{resource}` documents: `models` has a path of its own
/// (`/v1/catalog/models` also takes additions), so the document names each path once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ListedCatalogResource {
    Backgrounds,
    ComplementaryGarments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CatalogStatus {
    Active,
    Archived,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CatalogEntry {
    pub public_id: String,
    pub image_url: String,
    pub status: CatalogStatus,
    pub display_name: String,
    /// The spec the entry was made from (a generator request, or the built-in entry's spec).
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    pub description: String,
    /// The generator job that made it; null for built-in entries.
    pub generation_job_public_id: Option<String>,
    pub builtin: bool,
    pub meta: super::job::ArtifactMeta,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum RenderOrigin {
    Compose,
    Edit,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Render {
    /// The job's id.
    pub public_id: String,
    pub job_type: String,
    pub origin: RenderOrigin,
    pub category: Option<String>,
    pub image_url: String,
    pub meta: super::job::ArtifactMeta,
    /// The request, with every image key replaced by a signed `<field>_url` sibling.
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RenderList {
    pub renders: Vec<Render>,
    pub limit: u32,
    pub offset: u32,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UploadAccepted {
    /// Use this key in request bodies (`user_image`, `trial_image`, `source_image_s3_key`, …).
    pub upload_key: String,
    pub image_url: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
}

/// One image of the library (extension): an upload, listed with its name, the folder it was
/// imported from and when. `image_url` is signed when the list is read, never stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryImage {
    pub upload_key: String,
    pub image_url: String,
    /// The file's name as it was uploaded.
    pub name: String,
    /// The folder a desktop import read it from; absent for uploads made through the API.
    pub source_folder: Option<String>,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// A designer's tags: lower case, sorted.
    pub tags: Vec<String>,
    pub favourite: bool,
}

/// A page of the library, newest first (extension: `GET /v1/uploads`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UploadList {
    pub uploads: Vec<LibraryImage>,
    pub limit: u32,
    pub offset: u32,
    /// How many are on this page.
    pub count: usize,
    /// How many the search selects in all (every page).
    pub total: u64,
}

/// Extension: `PATCH /v1/uploads/{upload_key}` — what to change; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct LibraryEdit {
    /// Replaces the tags: each 1–40 characters without control characters, at most 30; stored
    /// trimmed, inner spaces collapsed to one, in lower case; repeats are kept once and a tag of
    /// only spaces is dropped.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub favourite: Option<bool>,
}

/// A tag of the library and how many uploads carry it (extension: `GET /v1/tags`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TagCount {
    pub tag: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Credits {
    pub balance: i64,
    /// Always `credits`.
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageKind {
    Debit,
    Refund,
    Adjustment,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageEntry {
    pub request_id: Option<String>,
    pub job_id: Option<String>,
    /// Negative for debits, positive for refunds.
    pub credits: i64,
    pub kind: UsageKind,
    pub balance_after: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageList {
    pub usage: Vec<UsageEntry>,
    pub limit: u32,
    pub offset: u32,
    pub count: usize,
}
