//! `figur generate MODEL --prompt …` (or, for a try-on model, `--init PERSON --garment GARMENT
//! --mask MASK`): runs an added diffusion export from the shell, with a progress bar, the way a
//! user checks an export before using it in a workflow. Ctrl-C stops it before the next UNet
//! call.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use figur_engine::diffusion::pipeline::{self, Generate, Generated, Progress};
use figur_engine::diffusion::try_on::{self, Dress};
use figur_engine::failure::JobError;
use figur_models::diffusion::Export;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The added model (`figur models list` shows them).
    pub model: String,
    /// What to draw (every model but a try-on model, which reads no text).
    #[arg(long)]
    pub prompt: Option<String>,
    /// What the picture should not be (classifier-free guidance's other side).
    #[arg(long, default_value = "")]
    pub negative: String,
    /// Denoising steps [default: the model's own if tuned, else 25; a try-on model 50].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Guidance scale; 1 turns guidance off [default: the model's own if tuned, else 7.5; a
    /// try-on model 2.5].
    #[arg(long)]
    pub guidance: Option<f32>,
    /// The noise seed [default: random, printed so the picture can be made again].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Width × height in pixels, e.g. 512x768 [default: the size the model was trained at].
    #[arg(long)]
    pub size: Option<String>,
    /// Start from this picture (image to image); for a try-on model, the person.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// A try-on model's garment: an in-shop photo, or a photo of someone wearing it.
    #[arg(long)]
    pub garment: Option<PathBuf>,
    /// How much of --init to repaint: 0 keeps it, 1 repaints all.
    #[arg(long, default_value_t = 0.75)]
    pub strength: f32,
    /// Inpainting: white is repainted, black kept (needs --init); for a try-on model, white
    /// where the garment goes.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Execution providers, e.g. `cuda,cpu` [default: FIGUR_PROVIDERS, else auto].
    #[arg(long)]
    pub providers: Option<String>,
    /// Where to write the PNG.
    #[arg(long)]
    pub out: PathBuf,
}

/// `WIDTHxHEIGHT`.
fn parse_size(text: &str) -> Result<(u32, u32)> {
    let (w, h) = text.split_once(['x', 'X', '×']).context("--size is WIDTHxHEIGHT, e.g. 512x768")?;
    Ok((w.trim().parse().context("--size width")?, h.trim().parse().context("--size height")?))
}

/// A bar on a terminal, a line every tenth otherwise; stops when Ctrl-C was pressed.
struct Bar {
    stop: Arc<AtomicBool>,
    started: Instant,
    terminal: bool,
}

impl Progress for Bar {
    fn checkpoint(&mut self) -> Result<(), JobError> {
        match self.stop.load(Ordering::SeqCst) {
            true => Err(JobError::Cancelled),
            false => Ok(()),
        }
    }

    fn stepped(&mut self, done: usize, total: usize, _: &mut dyn FnMut() -> image::RgbImage) -> Result<(), JobError> {
        let per_step = self.started.elapsed().as_secs_f64() / done as f64;
        if self.terminal {
            let filled = done * 30 / total.max(1);
            eprint!("\r[{}{}] {done}/{total}  {per_step:.2} s/step ", "#".repeat(filled), ".".repeat(30 - filled));
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        } else if done == total || done * 10 / total.max(1) != (done - 1) * 10 / total.max(1) {
            eprintln!("step {done}/{total}  {per_step:.2} s/step");
        }
        Ok(())
    }
}

pub async fn generate(args: GenerateArgs) -> Result<()> {
    crate::place::until_ctrl_c(move |stop| run(args, stop)).await
}

fn run(args: GenerateArgs, stop: Arc<AtomicBool>) -> Result<()> {
    let cache = crate::place::cache()?;
    let providers = crate::place::providers(args.providers.as_deref())?;
    // What the model reads is known from its record: say a wrong flag before loading it.
    if let Some(record) = figur_models::brought::find(&cache, &args.model) {
        match (record.is_try_on(), args.prompt.is_some(), args.garment.is_some()) {
            (true, true, _) => bail!(
                "{} is a try-on model: it reads no prompt; it dresses --init (the person) in --garment where --mask is white",
                args.model
            ),
            (false, _, true) => bail!(
                "{} is a {} model: --garment is for a try-on model (CatVTON layout); describe the picture with --prompt",
                args.model,
                record.pipeline
            ),
            _ => {}
        }
    }
    let opened = Instant::now();
    let export = Export::open(&cache, &args.model, &providers)?;
    eprintln!(
        "{}: {} on {}, opened in {:.1} s",
        args.model,
        export.record.pipeline,
        export.provider.name(),
        opened.elapsed().as_secs_f64()
    );
    let read = |path: &PathBuf| image::open(path).with_context(|| format!("cannot read {}", path.display()));
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
            % 1_000_000_007
    });
    let size = args.size.as_deref().map(parse_size).transpose()?;
    let mut bar = Bar { stop, started: Instant::now(), terminal: std::io::stderr().is_terminal() };
    let made = match export.is_try_on() {
        true => {
            let need = |flag: &str, path: &Option<PathBuf>| {
                path.clone().with_context(|| format!("a try-on model needs {flag} (the person, the garment photo and the mask, white where the garment goes)"))
            };
            let (person, garment, mask) =
                (need("--init", &args.init)?, need("--garment", &args.garment)?, need("--mask", &args.mask)?);
            let (person, mask) = (read(&person)?.to_rgb8(), read(&mask)?.to_luma8());
            if person.dimensions() != mask.dimensions() {
                bail!(
                    "--mask is {:?} but --init is {:?}: the mask marks the person photo, so they match",
                    mask.dimensions(),
                    person.dimensions()
                );
            }
            let (width, height) = size.unwrap_or_else(|| try_on::size_of(&export));
            let (person, garment, mask) = try_on::prepare(&person, &read(&garment)?.to_rgb8(), &mask, (width, height));
            let req = Dress {
                person,
                garment,
                mask,
                steps: args.steps.unwrap_or(try_on::STEPS),
                guidance: args.guidance.unwrap_or(try_on::GUIDANCE),
                seed,
                width,
                height,
            };
            try_on::check(&export, &req).map_err(anyhow::Error::msg)?;
            finished(try_on::dress(&export, &req, &mut bar))?
        }
        false => {
            let prompt = args.prompt.clone().context("--prompt says what to draw")?;
            let native = export.native_size.unwrap_or(512);
            let (width, height) = size.unwrap_or((native, native));
            let init = match &args.init {
                Some(path) => Some((read(path)?.to_rgb8(), args.strength)),
                None => None,
            };
            let mask = match &args.mask {
                Some(path) => Some(read(path)?.to_luma8()),
                None => None,
            };
            let req = Generate {
                prompt,
                negative: args.negative.clone(),
                steps: args.steps.or(export.record.steps).unwrap_or(25),
                guidance: args.guidance.or(export.record.guidance).unwrap_or(7.5),
                seed,
                width,
                height,
                init,
                mask,
            };
            pipeline::check(&export, &req).map_err(anyhow::Error::msg)?;
            finished(pipeline::generate(&export, &req, &mut bar))?
        }
    };
    let (width, height) = made.image.dimensions();
    for note in &made.notes {
        eprintln!("note: {note}");
    }
    made.image.save(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({width}x{height}, {} steps, seed {seed}) in {:.1} s",
        args.out.display(),
        made.steps_run,
        bar.started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A run's result, or what stopped it in words.
fn finished(run: Result<Generated, JobError>) -> Result<Generated> {
    match run {
        Ok(made) => Ok(made),
        Err(JobError::Cancelled) => bail!("stopped before it finished; nothing was written"),
        Err(JobError::Failed(f)) => bail!("{}: {}", f.code, f.message),
        Err(e) => bail!("{e:?}"),
    }
}
