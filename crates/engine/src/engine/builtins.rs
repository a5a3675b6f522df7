//! The built-in catalog: entries defined in `assets/catalog.json`, rendered by the engine's own
//! generators into each realm's store on first start (deterministic per seed), so a fresh
//! install has backgrounds to use without shipping binary images.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::job::ArtifactMeta;
use crate::ledger::catalog::{self, CatalogRow};
use crate::ledger::LedgerError;
use crate::realm::Realm;
use crate::workflow::background_generator::output_size;
use figur_pixels::color;
use figur_pixels::render::backdrop;

const CATALOG: &str = include_str!("../../../../assets/catalog.json");

#[derive(Debug, Deserialize)]
struct BuiltinEntry {
    public_id: String,
    resource: String,
    display_name: String,
    description: String,
    spec: Value,
}

#[derive(Debug, Deserialize)]
struct BackdropSpec {
    scene_type: String,
    mood: String,
    #[serde(default)]
    dominant_colors: Vec<String>,
    resolution: Option<crate::domain::requests::Resolution>,
    aspect_ratio: Option<String>,
    seed: u64,
}

fn entries() -> Result<Vec<BuiltinEntry>, LedgerError> {
    serde_json::from_str(CATALOG).map_err(|e| LedgerError::Corrupt(format!("assets/catalog.json: {e}")))
}

/// Cached built-ins are rendered anew when the renderer's output changes.
const RENDERER_VERSION: &str = backdrop::VERSION;

/// Adds every built-in entry the realms lack, rendering each image once for all of them (or
/// taking it from `cache`, where rendered built-ins are kept across data folders).
pub(super) fn seed(realms: &[&Realm], cache: Option<&std::path::Path>) -> Result<(), LedgerError> {
    for entry in entries()? {
        let mut missing = Vec::new();
        for realm in realms {
            let (id, resource) = (entry.public_id.clone(), entry.resource.clone());
            if realm.ledger.read_blocking(|c| catalog::get(c, &resource, &id))?.is_none() {
                missing.push(*realm);
            }
        }
        if missing.is_empty() {
            continue;
        }
        let (image_key, bytes, meta) = match entry.resource.as_str() {
            "backgrounds" => cached_backdrop(&entry, cache)?,
            other => return Err(LedgerError::Corrupt(format!("built-in {other} entries have no renderer yet"))),
        };
        for realm in missing {
            realm
                .store
                .put(&image_key, &bytes)
                .map_err(|e| LedgerError::Corrupt(format!("built-in {image_key}: {e}")))?;
            let row = CatalogRow {
                public_id: entry.public_id.clone(),
                resource: entry.resource.clone(),
                status: "active".into(),
                display_name: entry.display_name.clone(),
                spec: entry.spec.clone(),
                description: entry.description.clone(),
                image_key: image_key.clone(),
                meta: meta.clone(),
                generation_job_public_id: None,
                builtin: true,
                created_at: String::new(),
            };
            realm.ledger.write_blocking(move |c| catalog::insert(c, &row).map(|_| ()))?;
        }
    }
    Ok(())
}

/// A rendered built-in from the cache when present (checked by its hash), else rendered and cached.
fn cached_backdrop(
    entry: &BuiltinEntry,
    cache: Option<&std::path::Path>,
) -> Result<(String, Vec<u8>, ArtifactMeta), LedgerError> {
    let id =
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{RENDERER_VERSION}{}", entry.spec).as_bytes()));
    let path = cache.map(|dir| dir.join("builtins").join(format!("{id}.png")));
    if let Some(bytes) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        if let Ok(img) = image::load_from_memory(&bytes) {
            let meta = ArtifactMeta {
                width: img.width(),
                height: img.height(),
                mime: "image/png".into(),
                sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            };
            return Ok((format!("catalog/backgrounds/{}.png", entry.public_id), bytes, meta));
        }
    }
    let rendered = render_backdrop(entry)?;
    if let Some(path) = path {
        // Best effort: a cache that cannot be written only costs the next start a render.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .and_then(|_| std::fs::write(&tmp, &rendered.1))
            .and_then(|_| std::fs::rename(&tmp, &path));
    }
    Ok(rendered)
}

fn render_backdrop(entry: &BuiltinEntry) -> Result<(String, Vec<u8>, ArtifactMeta), LedgerError> {
    let bad = |e: String| LedgerError::Corrupt(format!("built-in {}: {e}", entry.public_id));
    let spec: BackdropSpec = serde_json::from_value(entry.spec.clone()).map_err(|e| bad(e.to_string()))?;
    let colors: Vec<_> = spec.dominant_colors.iter().filter_map(|c| color::parse(c)).collect();
    let (w, h) = output_size(spec.resolution, spec.aspect_ratio.as_deref());
    let image = backdrop::render(&backdrop::plan(&spec.scene_type, &spec.mood, &colors, w, h, spec.seed));
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(|e| bad(e.to_string()))?;
    let key = format!("catalog/backgrounds/{}.png", entry.public_id);
    let meta = ArtifactMeta {
        width: w,
        height: h,
        mime: "image/png".into(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
    };
    Ok((key, bytes, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_entries_are_valid() {
        let entries = entries().unwrap();
        assert!(entries.len() >= 4);
        for e in &entries {
            assert!(crate::ids::is_ulid(&e.public_id), "{}", e.public_id);
            let spec: BackdropSpec = serde_json::from_value(e.spec.clone()).unwrap();
            assert!(backdrop::SCENES.contains(&spec.scene_type.as_str()));
            assert!(backdrop::MOODS.contains(&spec.mood.as_str()));
            assert!(spec.dominant_colors.iter().all(|c| color::parse(c).is_some()));
        }
    }
}
