//! The diffusion runtime as a job stage: the export opened through the job context (so
//! provenance names it, with its digest and provider), working memory reserved from the
//! shared budget for the resolution and the model's size, a durable event per denoising step
//! with its progress and, every `preview_every` steps, a cheap preview artifact; a cancel
//! stops the run before the next UNet call.

use image::DynamicImage;

use super::{JobContext, Stage};
use crate::diffusion::pipeline::{self, Generate, Generated, Progress};
use crate::domain::job::{ArtifactRole, StoredArtifact};
use crate::failure::JobError;
use figur_models::diffusion::Export;
use figur_models::Provider;

/// Host memory a run needs beyond the weights' sessions: the images and latents, and on the
/// CPU the UNet's activations (its convolutions grow with the picture's area and the model's
/// size; its first self-attention scores with the area squared) or the VAE decoder's
/// full-resolution activations, whichever is larger. An estimate, on the safe side.
pub fn memory_needed(export: &Export, width: u32, height: u32) -> u64 {
    let area = width as u64 * height as u64;
    let latent_area = area / (export.vae_scale as u64).pow(2).max(1);
    let buffers = area * 3 * 4 * 4 + latent_area * 9 * 4 * 8;
    if export.provider == Provider::Cuda {
        return buffers;
    }
    // Scaled to Stable Diffusion 1.5 (≈ 3.4 GB of fp32 UNet weights at 64×64 latents).
    let size = (export.bytes as f64 / 3.4e9).clamp(0.001, 4.0);
    let convolutions = (latent_area as f64 * 2.0 * 320.0 * 4.0 * 30.0 * size) as u64;
    let attention = (2.0 * 8.0 * (latent_area as f64).powi(2) * 4.0 * size.min(1.0)) as u64;
    let decoder = (area as f64 * 128.0 * 4.0 * 4.0 * size.min(1.0)) as u64;
    buffers + (convolutions + attention).max(decoder)
}

pub use crate::diffusion::pipeline::{GUIDANCE, STEPS};

/// The steps and guidance workflows run `export` with: the model's own when it was tuned
/// (`figur models add/tune --steps --guidance`), else [`STEPS`] and [`GUIDANCE`].
pub fn tuned(export: &Export) -> (usize, f32) {
    (export.record.steps.unwrap_or(STEPS), export.record.guidance.unwrap_or(GUIDANCE))
}

/// Reports a run's steps as the job's events.
struct StageProgress<'a> {
    ctx: &'a mut JobContext,
    stage: Stage,
    preview_every: usize,
}

impl Progress for StageProgress<'_> {
    fn checkpoint(&mut self) -> Result<(), JobError> {
        self.ctx.checkpoint()
    }

    fn stepped(
        &mut self,
        done: usize,
        total: usize,
        preview: &mut dyn FnMut() -> image::RgbImage,
    ) -> Result<(), JobError> {
        let mut artifacts = Vec::new();
        if self.preview_every > 0 && done.is_multiple_of(self.preview_every) && done < total {
            let image = DynamicImage::ImageRgb8(preview());
            artifacts.push(self.ctx.save_png(&image, "preview", ArtifactRole::Intermediate, format!("step {done}"))?);
        }
        self.ctx.stage_step(self.stage, done, total, format!("step {done} of {total}"), artifacts)
    }
}

/// What a generated picture needs to be made again, for its `extra.provenance` (the model's
/// digest and provider are in `provenance.models`, written by the scheduler).
pub fn provenance(
    model: &str,
    scheduler: &str,
    req: &Generate,
    made: &Generated,
) -> serde_json::Map<String, serde_json::Value> {
    let value = serde_json::json!({
        "generator": model,
        "prompt": req.prompt,
        "negative_prompt": req.negative,
        "steps": made.steps_run,
        "guidance": req.guidance,
        "scheduler": scheduler,
        "seed": req.seed,
        "generated_size": [req.width, req.height],
        "notes": made.notes,
    });
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// How a run's stage begins: what it is for (its event reads "{purpose} with {model}, N
/// steps") and the intermediate artifacts its first event carries.
pub struct Intro {
    pub purpose: String,
    pub artifacts: Vec<StoredArtifact>,
}

impl Intro {
    pub fn plain() -> Intro {
        Intro { purpose: "denoising".into(), artifacts: Vec::new() }
    }
}

/// Runs `req` on the added model `model` as stage `stage` of the job.
pub fn run(
    ctx: &mut JobContext,
    stage: Stage,
    model: &str,
    req: &Generate,
    preview_every: usize,
    intro: Intro,
) -> Result<Generated, JobError> {
    let export = ctx.diffusion_model(model)?;
    let message = format!("{} with {model}, {} steps", intro.purpose, req.steps);
    ctx.stage_with(stage, message, intro.artifacts, serde_json::json!({ "model": model }))?;
    let _memory = ctx.reserve_memory(memory_needed(&export, req.width, req.height))?;
    let mut progress = StageProgress { ctx, stage, preview_every };
    pipeline::generate(&export, req, &mut progress)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use figur_models::tiny::diffusion::Oracle;
    use figur_models::ModelError;

    use super::*;
    use crate::diffusion::tests::open;
    use crate::domain::job::EventType;
    use crate::workflow::fakes::TestJob;
    use crate::workflow::models::{Model, ModelKind, ModelStore};
    use crate::workflow::{JobControl, Operation};

    struct OneExport(Arc<Export>);

    impl ModelStore for OneExport {
        fn get(&self, kind: ModelKind) -> Result<Model, ModelError> {
            Err(ModelError::Missing(kind.id().into()))
        }
        fn export(&self, name: &str) -> Result<Arc<Export>, ModelError> {
            match name {
                "oracle" => Ok(self.0.clone()),
                other => Err(ModelError::NotAdded(other.into())),
            }
        }
    }

    const STAGES: &[Stage] = &[Stage::Decode, Stage::Denoise, Stage::Finish];

    fn request(steps: usize) -> Generate {
        Generate {
            prompt: "red hat".into(),
            negative: String::new(),
            steps,
            guidance: 3.0,
            seed: 1,
            width: 32,
            height: 32,
            init: None,
            mask: None,
        }
    }

    #[test]
    fn each_step_is_an_event_with_progress_previews_and_provenance() {
        let (_cache, export) = open(&Oracle::new());
        let job = TestJob::new(Operation::BackgroundGenerator);
        let mut ctx = job.context_with(STAGES, Arc::new(OneExport(export.clone())), Arc::new(JobControl::default()));
        let made = run(&mut ctx, Stage::Denoise, "oracle", &request(6), 2, Intro::plain()).unwrap();
        assert_eq!(made.steps_run, 6);
        let steps: Vec<_> = job.events().into_iter().filter(|e| e.stage.as_deref() == Some("denoise")).collect();
        assert_eq!(steps.len(), 7, "the stage's start and one event per step");
        let progress: Vec<f64> = steps.iter().map(|e| e.extra["progress"].as_f64().unwrap()).collect();
        assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
        assert!(progress[0] >= 1.0 / 3.0 && progress[6] <= 2.0 / 3.0, "within the stage's share: {progress:?}");
        assert_eq!(steps[3].extra["step"], 3);
        // A preview at steps 2 and 4 (not at the last: the result follows).
        let previews: Vec<_> = steps.iter().flat_map(|e| e.artifacts.iter()).collect();
        assert_eq!(previews.len(), 2);
        assert!(previews.iter().all(|a| a.role == ArtifactRole::Intermediate && a.meta.width == 32));
        let used = ctx.models_ran();
        assert_eq!(used.len(), 1);
        assert_eq!(
            (used[0].id.as_str(), used[0].sha256.as_str(), used[0].provider.as_str()),
            ("oracle", export.digest.as_str(), "cpu")
        );
    }

    #[test]
    fn a_cancel_ends_the_run_within_a_step() {
        let (_cache, export) = open(&Oracle::new());
        let job = TestJob::new(Operation::BackgroundGenerator);
        let control = Arc::new(JobControl::default());
        let mut ctx = job.context_with(STAGES, Arc::new(OneExport(export)), control.clone());
        // The cancel arrives from another thread (as `DELETE /v1/jobs/…` would) once step 3
        // is in the ledger; the run stops before the UNet call after the step then running.
        let (job_id, realm) = (job.id.clone(), job.realm.clone());
        let latest_step = move || {
            let id = job_id.clone();
            let events =
                realm.ledger.read_blocking(move |c| crate::ledger::jobs::events_since(c, &id, 0, 1000)).unwrap();
            events.iter().filter_map(|e| e.extra["step"].as_u64()).max().unwrap_or(0)
        };
        let watcher = std::thread::spawn(move || loop {
            if latest_step() >= 3 {
                control.cancel();
                // The step the run had reached when the cancel was set (a read of a shared
                // ledger takes a few steps' time, so the one that saw step 3 is not it).
                return latest_step();
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        });
        let err = run(&mut ctx, Stage::Denoise, "oracle", &request(400), 0, Intro::plain()).unwrap_err();
        let seen = watcher.join().unwrap();
        assert!(matches!(err, JobError::Cancelled));
        let last_step = job.events().iter().filter_map(|e| e.extra["step"].as_u64()).max().unwrap();
        assert!(last_step <= seen + 1, "cancelled after step {seen}, stopped after step {last_step} of 400");
        assert!(job.events().iter().all(|e| e.event_type != EventType::Succeeded));
    }

    #[test]
    fn a_model_not_added_is_model_missing_naming_the_add_command() {
        let (_cache, export) = open(&Oracle::new());
        let job = TestJob::new(Operation::BackgroundGenerator);
        let mut ctx = job.context_with(STAGES, Arc::new(OneExport(export)), Arc::new(JobControl::default()));
        match run(&mut ctx, Stage::Denoise, "sd15", &request(2), 0, Intro::plain()) {
            Err(JobError::Failed(f)) => {
                assert_eq!(f.code, crate::failure::FailureCode::ModelMissing);
                assert!(f.message.contains("figur models add sd15"), "{}", f.message);
            }
            other => panic!("{other:?}"),
        }
    }
}
