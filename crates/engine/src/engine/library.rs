//! Uploads, renders, the catalog, garment categories, compatibility and artifact files.

use super::jobs::require;
use super::Engine;
use crate::auth::{Caller, Capability, Mode};
use crate::domain::catalog::{
    CatalogEntry, CatalogResource, LibraryEdit, LibraryImage, Render, RenderList, TagCount, UploadAccepted, UploadList,
};
use crate::domain::compatibility::{self, CompatibilityRequest, CompatibilityResponse, CompatibilityResult, Verdict};
use crate::domain::garments::{self, GarmentCategory};
use crate::error::{ApiError, ErrorCode};
use crate::ids::{is_ulid, new_id};
use crate::ledger::uploads::{LibraryQuery, Listed, UploadRow};
use crate::ledger::{catalog, renders, uploads};
use crate::store::safe_file_name;
use crate::time::now_unix_ms;
use crate::upload;

/// Tags are compared as written here: trimmed, inner spaces collapsed to one, lower case.
pub fn normalise_tag(tag: &str) -> String {
    tag.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

const MAX_TAGS: usize = 30;
const MAX_TAG_CHARS: usize = 40;

/// A tag list as stored: normalised, each once, sorted; the field at fault named.
fn normalise_tags(tags: &[String]) -> Result<Vec<String>, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::field("body", "tags", format!("at most {MAX_TAGS} tags"), "value_error"));
    }
    let mut out = Vec::with_capacity(tags.len());
    for (i, given) in tags.iter().enumerate() {
        // As `openapi.json` says: 1–40 characters as sent, none of them a control character.
        let chars = given.chars().count();
        if chars == 0 || chars > MAX_TAG_CHARS || given.chars().any(char::is_control) {
            let problem = format!("a tag is 1–{MAX_TAG_CHARS} characters of text, without control characters");
            return Err(ApiError::field("body", &format!("tags.{i}"), problem, "value_error"));
        }
        // Only spaces: no tag at all (nothing is left to show or search by).
        let tag = normalise_tag(given);
        if !tag.is_empty() {
            out.push(tag);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct RenderFilter {
    pub origin: Option<String>,
    pub category: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// Where an upload comes from: an API upload is always a new upload (as the hosted API does); a
/// desktop import reuses an upload of the same content and remembers its folder.
enum Origin {
    Api,
    Import { source_folder: Option<String> },
}

/// Upload checks run at most this many at once (they are CPU-bound; their memory is reserved
/// from the engine's budget by [`upload::inspect`]).
static UPLOAD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

impl Engine {
    /// Checks and stores an image; `name` is the client's file name (only its shape is kept).
    pub async fn upload(&self, caller: &Caller, name: &str, bytes: Vec<u8>) -> Result<UploadAccepted, ApiError> {
        self.store_upload(caller, name, bytes, Origin::Api).await
    }

    /// A desktop import: like [`Engine::upload`], remembering the folder the file came from, and
    /// answering with the existing upload when the same image is already in the library.
    pub async fn import(
        &self,
        caller: &Caller,
        name: &str,
        bytes: Vec<u8>,
        source_folder: Option<String>,
    ) -> Result<UploadAccepted, ApiError> {
        self.store_upload(caller, name, bytes, Origin::Import { source_folder }).await
    }

    /// The library: the uploads `query` selects, newest first, their image URLs signed now.
    pub async fn library(
        &self,
        mode: Mode,
        query: LibraryQuery,
        limit: u32,
        offset: u32,
    ) -> Result<UploadList, ApiError> {
        let query = LibraryQuery { tag: query.tag.map(|t| normalise_tag(&t)), ..query };
        let (rows, total) = self.realm(mode).ledger.read(move |c| uploads::search(c, &query, limit, offset)).await?;
        let uploads: Vec<LibraryImage> = rows.into_iter().map(|l| self.library_image(mode, l)).collect();
        Ok(UploadList { count: uploads.len(), uploads, limit, offset, total })
    }

    fn library_image(&self, mode: Mode, l: Listed) -> LibraryImage {
        LibraryImage {
            image_url: self.signed_url(mode, &l.upload.key),
            upload_key: l.upload.key,
            name: l.upload.original_name,
            source_folder: l.upload.source_folder,
            mime: l.upload.mime,
            width: l.upload.width,
            height: l.upload.height,
            bytes: l.upload.bytes,
            sha256: l.upload.sha256,
            created_at: l.created_at,
            tags: l.tags,
            favourite: l.favourite,
        }
    }

    /// Tags an upload or marks it a favourite (absent fields stay as they are).
    pub async fn edit_upload(
        &self,
        caller: &Caller,
        upload_key: &str,
        edit: LibraryEdit,
    ) -> Result<LibraryImage, ApiError> {
        require(caller, Capability::JobsCreate)?;
        let tags = edit.tags.as_deref().map(normalise_tags).transpose()?;
        let key = upload_key.to_string();
        // One write: the changes and the upload as it now lists (`None`: no such upload).
        let listed = self
            .realm(caller.mode)
            .ledger
            .write(move |c| {
                let exists = match &tags {
                    Some(tags) => uploads::set_tags(c, &key, tags)?,
                    None => uploads::get(c, &key)?.is_some(),
                };
                if !exists {
                    return Ok(None);
                }
                if let Some(favourite) = edit.favourite {
                    uploads::set_favourite(c, &key, favourite)?;
                }
                uploads::listed_by_key(c, &key)
            })
            .await?;
        let listed = listed.ok_or_else(|| ApiError::not_found("upload", upload_key))?;
        Ok(self.library_image(caller.mode, listed))
    }

    /// A render as a library image, to use as the input of another workflow ("Use as input").
    /// The same render given twice is one library image.
    pub async fn render_to_library(&self, caller: &Caller, render_id: &str) -> Result<UploadAccepted, ApiError> {
        let bytes = self.render_image(caller.mode, render_id).await?;
        self.import(caller, &format!("render-{render_id}.png"), bytes, None).await
    }

    /// Every tag in the library with how many uploads carry it, most used first.
    pub async fn library_tags(&self, mode: Mode) -> Result<Vec<TagCount>, ApiError> {
        let counts = self.realm(mode).ledger.read(uploads::tag_counts).await?;
        Ok(counts.into_iter().map(|(tag, count)| TagCount { tag, count }).collect())
    }

    fn accepted(&self, mode: Mode, row: UploadRow) -> UploadAccepted {
        UploadAccepted {
            image_url: self.signed_url(mode, &row.key),
            upload_key: row.key,
            mime: row.mime,
            width: row.width,
            height: row.height,
            bytes: row.bytes,
            sha256: row.sha256,
        }
    }

    async fn store_upload(
        &self,
        caller: &Caller,
        name: &str,
        bytes: Vec<u8>,
        origin: Origin,
    ) -> Result<UploadAccepted, ApiError> {
        require(caller, Capability::JobsCreate)?;
        let _permit = UPLOAD_CHECKS.acquire().await.map_err(|_| ApiError::internal("upload checks closed"))?;
        let realm = self.realm(caller.mode).clone();
        let name = name.to_string();
        let budget = self.config.memory.clone();
        // Hashing, the check and the write all happen off the async runtime.
        let (row, new) = tokio::task::spawn_blocking(move || -> Result<(UploadRow, bool), ApiError> {
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            if let Origin::Import { .. } = origin {
                if let Some(row) = realm.ledger.read_blocking(|c| uploads::by_content(c, &sha256))? {
                    return Ok((row, false));
                }
            }
            let inspected = upload::inspect(&bytes, &budget)?;
            let key = format!("uploads/{}/{}", new_id(), safe_file_name(&name, inspected.ext));
            realm.store.put_new(&key, &bytes).map_err(|e| {
                if e.is_disk_full() {
                    ApiError::new(ErrorCode::Unavailable, "the studio's disk is full; free some space and retry")
                } else if e.is_remote() {
                    ApiError::new(ErrorCode::Unavailable, format!("the image store did not take the upload: {e}"))
                } else {
                    tracing::error!(error = %e, "could not store an upload");
                    ApiError::internal("the upload could not be stored")
                }
            })?;
            let row = UploadRow {
                key,
                mime: inspected.mime.into(),
                width: inspected.width,
                height: inspected.height,
                bytes: bytes.len() as u64,
                sha256,
                original_name: name.chars().take(255).collect(),
                source_folder: match origin {
                    Origin::Import { source_folder } => source_folder,
                    Origin::Api => None,
                },
            };
            Ok((row, true))
        })
        .await
        .map_err(|_| ApiError::internal("the upload check crashed"))??;
        if new {
            let stored = row.clone();
            self.realm(caller.mode).ledger.write(move |c| uploads::insert(c, &stored)).await?;
        }
        Ok(self.accepted(caller.mode, row))
    }

    pub async fn renders(&self, mode: Mode, filter: RenderFilter) -> Result<RenderList, ApiError> {
        one_of("origin", filter.origin.as_deref(), &["compose", "edit"])?;
        let f = filter.clone();
        let rows = self
            .realm(mode)
            .ledger
            .read(move |c| renders::list(c, f.origin.as_deref(), f.category.as_deref(), f.limit, f.offset))
            .await?;
        let renders: Vec<Render> = rows.into_iter().map(|r| self.render(mode, r)).collect();
        Ok(RenderList { count: renders.len(), renders, limit: filter.limit, offset: filter.offset })
    }

    pub async fn render_by_id(&self, mode: Mode, id: &str) -> Result<Render, ApiError> {
        let key = id.to_string();
        let row = if is_ulid(id) { self.realm(mode).ledger.read(move |c| renders::get(c, &key)).await? } else { None };
        row.map(|r| self.render(mode, r)).ok_or_else(|| ApiError::not_found("render", id))
    }

    /// The bytes of a render's image (for exports).
    pub async fn render_image(&self, mode: Mode, id: &str) -> Result<Vec<u8>, ApiError> {
        let key = id.to_string();
        let row = if is_ulid(id) { self.realm(mode).ledger.read(move |c| renders::get(c, &key)).await? } else { None };
        let row = row.ok_or_else(|| ApiError::not_found("render", id))?;
        let realm = self.realm(mode).clone();
        tokio::task::spawn_blocking(move || realm.store.read(&row.image_key))
            .await
            .map_err(|_| ApiError::internal("reading the render crashed"))?
            .map_err(|e| ApiError::internal(format!("the render's image cannot be read: {e}")))
    }

    pub async fn catalog(
        &self,
        mode: Mode,
        resource: CatalogResource,
        status: Option<String>,
        gender: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<CatalogEntry>, ApiError> {
        one_of("status", status.as_deref(), &["active", "archived"])?;
        one_of("gender", gender.as_deref(), &["MALE", "FEMALE"])?;
        let rows = self
            .realm(mode)
            .ledger
            .read(move |c| catalog::list(c, resource.as_str(), status.as_deref(), gender.as_deref(), limit, offset))
            .await?;
        Ok(rows.into_iter().map(|r| self.catalog_entry(mode, r)).collect())
    }

    pub async fn catalog_entry_by_id(
        &self,
        mode: Mode,
        resource: CatalogResource,
        id: &str,
    ) -> Result<CatalogEntry, ApiError> {
        let key = id.to_string();
        let row = self.realm(mode).ledger.read(move |c| catalog::get(c, resource.as_str(), &key)).await?;
        row.map(|r| self.catalog_entry(mode, r))
            .ok_or_else(|| ApiError::not_found(&format!("catalog {resource} entry"), id))
    }

    /// Why these garment categories (keys) cannot be worn together, one sentence each (empty:
    /// they can), by the stylist rules `look` and `/v1/compatibility/check` use.
    pub fn look_conflicts(&self, keys: &[&str]) -> Vec<String> {
        crate::workflow::look::conflicts(keys).into_iter().map(|e| e.msg).collect()
    }

    pub fn garment_categories(&self) -> &'static [GarmentCategory] {
        garments::CATEGORIES
    }

    /// Checks catalog garments against a product's category, in request order.
    pub async fn compatibility(
        &self,
        mode: Mode,
        req: CompatibilityRequest,
    ) -> Result<CompatibilityResponse, ApiError> {
        let product = garments::by_id(&req.product_garment_category_public_id)
            .ok_or_else(|| ApiError::not_found("garment category", &req.product_garment_category_public_id))?;
        if req.candidate_complementary_image_public_ids.len() > 200 {
            return Err(ApiError::field(
                "body",
                "candidate_complementary_image_public_ids",
                "at most 200 candidates",
                "too_long",
            ));
        }
        let ids = req.candidate_complementary_image_public_ids.clone();
        let rows = self
            .realm(mode)
            .ledger
            .read(move |c| {
                ids.iter()
                    .map(|id| catalog::get(c, CatalogResource::ComplementaryGarments.as_str(), id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let results = req
            .candidate_complementary_image_public_ids
            .iter()
            .zip(rows)
            .map(|(id, row)| {
                let category = row.as_ref().and_then(|r| {
                    r.spec.get("garment_category_public_id").and_then(|v| v.as_str()).and_then(garments::by_id)
                });
                let (verdict, reason) = match (row, category) {
                    (None, _) => {
                        (Verdict::CatalogRefMissing, format!("no catalog complementary garment has the id {id}"))
                    }
                    (Some(_), None) => {
                        (Verdict::CatalogRefMissing, "the catalog entry names no known garment category".into())
                    }
                    (Some(_), Some(cat)) => match compatibility::check(product, cat) {
                        Ok(()) => {
                            (Verdict::Compatible, format!("{} goes with {}", cat.display_name, product.display_name))
                        }
                        Err(why) => (Verdict::Incompatible, why),
                    },
                };
                CompatibilityResult {
                    public_id: id.clone(),
                    compatible: verdict == Verdict::Compatible,
                    verdict,
                    reason,
                }
            })
            .collect();
        Ok(CompatibilityResponse {
            product_garment_category_public_id: req.product_garment_category_public_id,
            results,
        })
    }

    /// A thumbnail (PNG, longest side `size` snapped to 128, 256 or 512) of the image a signed
    /// URL names, made once and cached under `<data dir>/thumbs` (store files never change).
    pub async fn artifact_thumbnail(
        &self,
        realm: &str,
        key: &str,
        exp: i64,
        sig: &str,
        size: u32,
    ) -> Result<Vec<u8>, ApiError> {
        let side = [128u32, 256, 512].into_iter().find(|s| *s >= size).unwrap_or(512);
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        let cached = self.data_dir().join("thumbs").join(realm).join(format!("{digest}-{side}.png"));
        if let Ok(bytes) = tokio::fs::read(&cached).await {
            // The signature still decides: a cached thumbnail is no way around an expired link.
            self.artifact_file(realm, key, exp, sig).await.map(|_| ())?;
            return Ok(bytes);
        }
        let (bytes, _) = self.artifact_file(realm, key, exp, sig).await?;
        tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
            let img = image::load_from_memory(&bytes).map_err(|_| ApiError::not_found("image", "thumbnail source"))?;
            let mut png = Vec::new();
            img.thumbnail(side, side)
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| ApiError::internal(format!("thumbnail: {e}")))?;
            if let Some(dir) = cached.parent() {
                let _ = std::fs::create_dir_all(dir);
                let tmp = cached.with_extension(format!("{}.tmp", std::process::id()));
                if std::fs::write(&tmp, &png).is_ok() {
                    let _ = std::fs::rename(&tmp, &cached);
                }
            }
            Ok(png)
        })
        .await
        .map_err(|_| ApiError::internal("making the thumbnail crashed"))?
    }

    /// The bytes and type of a store file named by a signed URL. No API key needed; the
    /// signature is the permission.
    pub async fn artifact_file(
        &self,
        realm: &str,
        key: &str,
        exp: i64,
        sig: &str,
    ) -> Result<(Vec<u8>, &'static str), ApiError> {
        let mode = Mode::parse(realm).ok_or_else(|| ApiError::not_found("artifact", key))?;
        if !self.signer.verify(realm, key, exp, sig, now_unix_ms() / 1000) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this artifact link is invalid or has expired; fetch a fresh one",
            ));
        }
        let store = self.realm(mode).store.clone();
        let key_owned = key.to_string();
        let bytes = tokio::task::spawn_blocking(move || store.read(&key_owned))
            .await
            .map_err(|_| ApiError::internal("reading the artifact crashed"))?
            .map_err(|e| match e {
                e @ crate::store::StoreError::Remote(_) => {
                    ApiError::new(ErrorCode::Unavailable, format!("the artifact cannot be read now: {e}"))
                }
                _ => ApiError::not_found("artifact", key),
            })?;
        let mime = match key.rsplit('.').next() {
            Some("png") => "image/png",
            Some("jpg") | Some("jpeg") => "image/jpeg",
            Some("webp") => "image/webp",
            _ => "application/octet-stream",
        };
        Ok((bytes, mime))
    }
}

/// A query parameter that, when given, must be one of `allowed`.
fn one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => {
            Err(ApiError::field("query", name, format!("one of {}", allowed.join(", ")), "enum"))
        }
        _ => Ok(()),
    }
}

impl CatalogResource {
    /// The resource a path names; an unknown one is a 404, as an unknown path is.
    pub fn named(word: &str) -> Result<CatalogResource, ApiError> {
        CatalogResource::parse(word).ok_or_else(|| ApiError::not_found("catalog resource", word))
    }
}

#[cfg(test)]
mod tests {
    use crate::auth::{Caller, Mode};
    use crate::domain::catalog::LibraryEdit;
    use crate::engine::{Engine, EngineConfig};
    use crate::error::ErrorCode;
    use crate::ledger::uploads::LibraryQuery;

    fn png(width: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::from_pixel(width, 4, image::Rgb([200, 40, 10]))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn an_image_imported_twice_is_kept_once_and_the_library_lists_it_with_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
        let owner = Caller::owner(Mode::Live);
        let first = engine.import(&owner, "a.png", png(8), Some("/shoot/day1".into())).await.unwrap();
        let again = engine.import(&owner, "copy-of-a.png", png(8), Some("/shoot/day2".into())).await.unwrap();
        assert_eq!(again.upload_key, first.upload_key, "the same bytes are the same library image");
        let other = engine.import(&owner, "b.png", png(9), None).await.unwrap();
        // An API upload is always a new upload, even of the same bytes.
        let api = engine.upload(&owner, "a.png", png(8)).await.unwrap();
        assert_ne!(api.upload_key, first.upload_key);

        let page = engine.library(Mode::Live, LibraryQuery::default(), 50, 0).await.unwrap();
        let keys: Vec<&str> = page.uploads.iter().map(|u| u.upload_key.as_str()).collect();
        assert_eq!(keys, [api.upload_key.as_str(), other.upload_key.as_str(), first.upload_key.as_str()]);
        assert_eq!(page.uploads[2].source_folder.as_deref(), Some("/shoot/day1"));
        assert_eq!(page.uploads[2].name, "a.png");
        assert!(page.uploads.iter().all(|u| u.image_url.contains("sig=")), "URLs are signed as the list is read");
        assert!(
            engine.library(Mode::Test, LibraryQuery::default(), 50, 0).await.unwrap().uploads.is_empty(),
            "realms do not mix"
        );
        engine.shutdown(std::time::Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn tags_are_normalised_and_found_and_bad_ones_name_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
        let owner = Caller::owner(Mode::Live);
        let a = engine.import(&owner, "a.png", png(8), None).await.unwrap();
        let b = engine.import(&owner, "b.png", png(9), None).await.unwrap();
        let edit = LibraryEdit {
            tags: Some(vec!["  Hero   Shot ".into(), "SS27".into(), "hero shot".into()]),
            favourite: Some(true),
        };
        let tagged = engine.edit_upload(&owner, &a.upload_key, edit).await.unwrap();
        assert_eq!((tagged.tags.clone(), tagged.favourite), (vec!["hero shot".to_string(), "ss27".to_string()], true));
        // Only what is given changes.
        let unfavoured = engine
            .edit_upload(&owner, &a.upload_key, LibraryEdit { favourite: Some(false), ..Default::default() })
            .await
            .unwrap();
        assert_eq!((unfavoured.tags, unfavoured.favourite), (tagged.tags, false));

        let by_tag = LibraryQuery { tag: Some("HERO  shot".into()), ..Default::default() };
        let found = engine.library(Mode::Live, by_tag, 50, 0).await.unwrap();
        assert_eq!(
            (found.total, found.uploads[0].upload_key.as_str()),
            (1, a.upload_key.as_str()),
            "the query tag is normalised too"
        );
        let tags = engine.library_tags(Mode::Live).await.unwrap();
        assert_eq!(tags.iter().map(|t| (t.tag.as_str(), t.count)).collect::<Vec<_>>(), [("hero shot", 1), ("ss27", 1)]);

        // A tag of only spaces is no tag (dropped); an empty one breaks the document's rule.
        let spaces = LibraryEdit { tags: Some(vec!["ok".into(), "   ".into()]), ..Default::default() };
        assert_eq!(engine.edit_upload(&owner, &b.upload_key, spaces).await.unwrap().tags, ["ok"]);
        let bad = LibraryEdit { tags: Some(vec!["ok".into(), "".into()]), ..Default::default() };
        let err = engine.edit_upload(&owner, &b.upload_key, bad).await.unwrap_err();
        assert_eq!(
            (err.code, err.details[0].loc.clone()),
            (ErrorCode::ValidationError, vec!["body".into(), "tags".into(), 1.into()])
        );
        let long = LibraryEdit { tags: Some(vec!["x".repeat(41)]), ..Default::default() };
        assert_eq!(engine.edit_upload(&owner, &b.upload_key, long).await.unwrap_err().code, ErrorCode::ValidationError);
        let err = engine.edit_upload(&owner, "uploads/nope.png", LibraryEdit::default()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFound);
        engine.shutdown(std::time::Duration::from_secs(1)).await;
    }
}
