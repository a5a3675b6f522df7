//! Uploads, renders, the catalog, garment categories, compatibility and artifact files.

use super::jobs::require;
use super::Engine;
use crate::auth::{Caller, Capability, Mode};
use crate::domain::catalog::{
    CatalogEntry, LibraryImage, Render, RenderList, UploadAccepted, UploadList, CATALOG_RESOURCES,
};
use crate::domain::compatibility::{self, CompatibilityRequest, CompatibilityResponse, CompatibilityResult, Verdict};
use crate::domain::garments::{self, GarmentCategory};
use crate::error::{ApiError, ErrorCode};
use crate::ids::{is_ulid, new_id};
use crate::ledger::uploads::UploadRow;
use crate::ledger::{catalog, renders, uploads};
use crate::store::safe_file_name;
use crate::time::now_unix_ms;
use crate::upload;

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

    /// The library: uploads newest first, their image URLs signed now.
    pub async fn library(&self, mode: Mode, limit: u32, offset: u32) -> Result<UploadList, ApiError> {
        let rows = self.realm(mode).ledger.read(move |c| uploads::list(c, limit, offset)).await?;
        let uploads: Vec<LibraryImage> = rows
            .into_iter()
            .map(|l| LibraryImage {
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
            })
            .collect();
        Ok(UploadList { count: uploads.len(), uploads, limit, offset })
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
            realm.store.put(&key, &bytes).map_err(|e| {
                if e.is_disk_full() {
                    ApiError::new(ErrorCode::Unavailable, "the studio's disk is full; free some space and retry")
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
        resource: &str,
        status: Option<String>,
        gender: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<CatalogEntry>, ApiError> {
        check_resource(resource)?;
        one_of("status", status.as_deref(), &["active", "archived"])?;
        one_of("gender", gender.as_deref(), &["MALE", "FEMALE"])?;
        let resource = resource.to_string();
        let rows = self
            .realm(mode)
            .ledger
            .read(move |c| catalog::list(c, &resource, status.as_deref(), gender.as_deref(), limit, offset))
            .await?;
        Ok(rows.into_iter().map(|r| self.catalog_entry(mode, r)).collect())
    }

    pub async fn catalog_entry_by_id(&self, mode: Mode, resource: &str, id: &str) -> Result<CatalogEntry, ApiError> {
        check_resource(resource)?;
        let (resource_owned, key) = (resource.to_string(), id.to_string());
        let row = self.realm(mode).ledger.read(move |c| catalog::get(c, &resource_owned, &key)).await?;
        row.map(|r| self.catalog_entry(mode, r))
            .ok_or_else(|| ApiError::not_found(&format!("catalog {resource} entry"), id))
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
                ids.iter().map(|id| catalog::get(c, "complementary-garments", id)).collect::<Result<Vec<_>, _>>()
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
            .map_err(|_| ApiError::not_found("artifact", key))?;
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

fn check_resource(resource: &str) -> Result<(), ApiError> {
    if CATALOG_RESOURCES.contains(&resource) {
        Ok(())
    } else {
        Err(ApiError::not_found("catalog resource", resource))
    }
}

#[cfg(test)]
mod tests {
    use crate::auth::{Caller, Mode};
    use crate::engine::{Engine, EngineConfig};

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

        let page = engine.library(Mode::Live, 50, 0).await.unwrap();
        let keys: Vec<&str> = page.uploads.iter().map(|u| u.upload_key.as_str()).collect();
        assert_eq!(keys, [api.upload_key.as_str(), other.upload_key.as_str(), first.upload_key.as_str()]);
        assert_eq!(page.uploads[2].source_folder.as_deref(), Some("/shoot/day1"));
        assert_eq!(page.uploads[2].name, "a.png");
        assert!(page.uploads.iter().all(|u| u.image_url.contains("sig=")), "URLs are signed as the list is read");
        assert!(engine.library(Mode::Test, 50, 0).await.unwrap().uploads.is_empty(), "realms do not mix");
        engine.shutdown(std::time::Duration::from_secs(1)).await;
    }
}
