//! The backgrounds the swaps put a subject on, made once and reused. A catalog studio runs one
//! recipe over a whole folder: every job of a batch asks for the same spec at the same size, or
//! covers the same catalog image to the same size, and rendering a 4K backdrop costs more than
//! the rest of the swap. So a spec's backdrop is rendered once per spec, seed and size and kept
//! in the realm's store (`cache/backdrops/<digest>.png`, lossless: the cached picture is the
//! rendered one, byte for byte), and the most recent backgrounds stay decoded in memory.

use std::sync::{Arc, Mutex};

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::background_generator::ReadSpec;
use super::JobContext;
use crate::failure::JobError;
use figur_pixels::render::backdrop;
use figur_pixels::vision::{composite, encode};

/// Decoded backgrounds kept in memory (a 4K one is 48 MiB).
const KEPT: usize = 2;

/// The most recently used backgrounds, newest last, by cache key.
static RECENT: Mutex<Vec<(String, Arc<RgbImage>)>> = Mutex::new(Vec::new());

fn recent(key: &str) -> Option<Arc<RgbImage>> {
    let mut kept = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let at = kept.iter().position(|(k, _)| k == key)?;
    let entry = kept.remove(at);
    let image = entry.1.clone();
    kept.push(entry);
    Some(image)
}

fn keep(key: String, image: Arc<RgbImage>) {
    let mut kept = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|(k, _)| *k != key);
    kept.push((key, image));
    let excess = kept.len().saturating_sub(KEPT);
    kept.drain(..excess);
}

/// How a background was come by, for the stage's message and facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Rendered,
    /// Read back from the store, rendered by an earlier job.
    Stored,
    /// Still decoded in memory from an earlier job.
    Kept,
}

impl Made {
    pub fn name(self) -> &'static str {
        match self {
            Made::Rendered => "rendered",
            Made::Stored => "stored",
            Made::Kept => "kept",
        }
    }
}

/// The seed a spec's backdrop takes when the request names none: the spec's own digest, so one
/// spec is one backdrop across a batch (and a request that wants another names a `seed`).
pub fn spec_seed(read: &ReadSpec) -> u64 {
    let digest = Sha256::digest(format!("{}|{}|{:?}", read.scene, read.mood, read.colors).as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

/// The backdrop of `read` at `size` with `seed`: kept, stored or rendered. Only a spec's own
/// backdrop (`seed` is [`spec_seed`]) is written to the store: that is the one a batch asks
/// for again, while a request's own seed (Vary sends a random one) is a one-off draw whose file
/// would only fill the disk.
pub fn spec_backdrop(
    ctx: &mut JobContext,
    read: &ReadSpec,
    size: (u32, u32),
    seed: u64,
) -> Result<(Arc<RgbImage>, Made), JobError> {
    let spec =
        format!("{}|{}|{}|{:?}|{}x{}|{seed}", backdrop::VERSION, read.scene, read.mood, read.colors, size.0, size.1);
    let key = format!("cache/backdrops/{}.png", hex::encode(Sha256::digest(spec.as_bytes())));
    let memo = format!("{}|{key}", ctx.store_label());
    if let Some(image) = recent(&memo) {
        return Ok((image, Made::Kept));
    }
    // Not in the store yet, or a file that no longer decodes: rendered (again), not a failure.
    if let Ok(image) = ctx.read_image(&key) {
        let image = Arc::new(image);
        keep(memo, image.clone());
        return Ok((image, Made::Stored));
    }
    let plan = backdrop::plan(read.scene, read.mood, &read.colors, size.0, size.1, seed);
    let image = Arc::new(backdrop::render_checked(&plan, &mut || ctx.checkpoint())?);
    // Not storing it only costs the next job a render: the job goes on.
    if seed == spec_seed(read) {
        match encode::png_rgb(&image, encode::Use::Intermediate) {
            Ok(bytes) => {
                if let Err(e) = ctx.store_put(&key, &bytes) {
                    tracing::warn!(key, error = %e, "could not keep the rendered backdrop");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not encode the rendered backdrop"),
        }
    }
    keep(memo, image.clone());
    Ok((image, Made::Rendered))
}

/// The catalog image `key` covering `size` (scaled and centre-cropped): kept or made.
pub fn covered(ctx: &mut JobContext, key: &str, size: (u32, u32)) -> Result<(Arc<RgbImage>, Made), JobError> {
    let memo = format!("cover|{}|{key}|{}x{}", ctx.store_label(), size.0, size.1);
    if let Some(image) = recent(&memo) {
        return Ok((image, Made::Kept));
    }
    let image = Arc::new(composite::cover(&ctx.read_image(key)?, size.0, size.1));
    keep(memo, image.clone());
    Ok((image, Made::Rendered))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::workflow::background_swap::WithSpec;
    use crate::workflow::fakes::{self, FakeModels, TestJob};
    use crate::workflow::Operation;
    use crate::workflow::Workflow;

    /// Swaps the photo onto a spec in `job`'s studio; the render and how its background was had.
    fn swap(job: &TestJob, photo: &str, seed: Option<u64>) -> (image::RgbImage, String) {
        let mut ctx = job.context(Operation::BackgroundSwapWithSpec, FakeModels::default_set());
        let mut body = json!({"source_image_s3_key": photo, "output_preset": "original",
                              "scene_type": "concrete", "mood": "cool", "dominant_colors": ["sage"]});
        if let Some(seed) = seed {
            body["seed"] = json!(seed);
        }
        let out = WithSpec::run(&mut ctx, serde_json::from_value(body).unwrap()).unwrap();
        let image = image::load_from_memory(&job.realm.store.read(&out.finals[0].key).unwrap()).unwrap().to_rgb8();
        (image, out.extra["background"].as_str().unwrap().to_string())
    }

    #[test]
    fn one_spec_is_one_backdrop_rendered_once_and_reused() {
        let job = TestJob::new(Operation::BackgroundSwapWithSpec);
        let photo = job.upload("person.png", &fakes::person_photo((240, 320), (60.0, 20.0, 120.0, 290.0)));
        let (first, made) = swap(&job, &photo, None);
        assert_eq!(made, "rendered");
        let cached: Vec<_> =
            std::fs::read_dir(job.realm.store.folder().unwrap().join("cache/backdrops")).unwrap().collect();
        assert_eq!(cached.len(), 1, "the backdrop is kept in the store");

        // Another job, same spec and size: the same picture, not drawn again.
        let (again, made) = swap(&job, &photo, None);
        assert_eq!(made, "kept");
        assert_eq!(again.as_raw(), first.as_raw());

        // Out of memory (another studio's backdrops pushed it out): read back from the store.
        super::RECENT.lock().unwrap().clear();
        let (stored, made) = swap(&job, &photo, None);
        assert_eq!((made.as_str(), stored.as_raw() == first.as_raw()), ("stored", true));

        // A damaged cache file is drawn again, not a failed job.
        super::RECENT.lock().unwrap().clear();
        let file = std::fs::read_dir(job.realm.store.folder().unwrap().join("cache/backdrops"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        std::fs::write(file.path(), b"not a png").unwrap();
        let (redrawn, made) = swap(&job, &photo, None);
        assert_eq!((made.as_str(), redrawn.as_raw() == first.as_raw()), ("rendered", true));

        // A seed of the request's own is another backdrop: a one-off, kept in memory only.
        let (seeded, made) = swap(&job, &photo, Some(99));
        assert_eq!(made, "rendered");
        assert_ne!(seeded.as_raw(), first.as_raw());
        let (again, made) = swap(&job, &photo, Some(99));
        assert_eq!((made.as_str(), again.as_raw() == seeded.as_raw()), ("kept", true));
        let cached = std::fs::read_dir(job.realm.store.folder().unwrap().join("cache/backdrops")).unwrap().count();
        assert_eq!(cached, 1, "only the spec's own backdrop is on disk");
    }
}
