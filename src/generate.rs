//! `figur generate MODEL --prompt …`: runs an added diffusion export from the shell, with a
//! progress bar, the way a user checks an export before using it in a workflow. Ctrl-C stops
//! it before the next UNet call.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use figur_engine::diffusion::pipeline::{self, Generate, Progress};
use figur_engine::failure::JobError;
use figur_models::diffusion::Export;
use figur_models::Providers;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The added model (`figur models list` shows them).
    pub model: String,
    #[arg(long)]
    pub prompt: String,
    /// What the picture should not be (classifier-free guidance's other side).
    #[arg(long, default_value = "")]
    pub negative: String,
    #[arg(long, default_value_t = 25)]
    pub steps: usize,
    /// Guidance scale; 1 turns guidance (and the negative prompt) off.
    #[arg(long, default_value_t = 7.5)]
    pub guidance: f32,
    /// The noise seed [default: random, printed so the picture can be made again].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Width × height in pixels, e.g. 512x768 [default: the size the model was trained at].
    #[arg(long)]
    pub size: Option<String>,
    /// Start from this picture (image to image).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// How much of --init to repaint: 0 keeps it, 1 repaints all.
    #[arg(long, default_value_t = 0.75)]
    pub strength: f32,
    /// Inpainting: white is repainted, black kept (needs --init).
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
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    tokio::task::spawn_blocking(move || run(args, stop)).await?
}

fn run(args: GenerateArgs, stop: Arc<AtomicBool>) -> Result<()> {
    let cache = crate::place::cache()?;
    let providers = match &args.providers {
        Some(list) => Providers::parse(list),
        None => Providers::from_env(),
    }
    .map_err(anyhow::Error::msg)?;
    let opened = Instant::now();
    let export = Export::open(&cache, &args.model, &providers)?;
    eprintln!(
        "{}: {} on {}, opened in {:.1} s",
        args.model,
        export.record.pipeline,
        export.provider.name(),
        opened.elapsed().as_secs_f64()
    );
    let native = export.native_size.unwrap_or(512);
    let (width, height) = match &args.size {
        Some(text) => parse_size(text)?,
        None => (native, native),
    };
    let read = |path: &PathBuf| image::open(path).with_context(|| format!("cannot read {}", path.display()));
    let init = match &args.init {
        Some(path) => Some((read(path)?.to_rgb8(), args.strength)),
        None => None,
    };
    let mask = match &args.mask {
        Some(path) => Some(read(path)?.to_luma8()),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
            % 1_000_000_007
    });
    let req = Generate {
        prompt: args.prompt,
        negative: args.negative,
        steps: args.steps,
        guidance: args.guidance,
        seed,
        width,
        height,
        init,
        mask,
    };
    pipeline::check(&export, &req).map_err(anyhow::Error::msg)?;
    let mut bar = Bar { stop, started: Instant::now(), terminal: std::io::stderr().is_terminal() };
    let made = match pipeline::generate(&export, &req, &mut bar) {
        Ok(made) => made,
        Err(JobError::Cancelled) => bail!("stopped before it finished; nothing was written"),
        Err(JobError::Failed(f)) => bail!("{}: {}", f.code, f.message),
        Err(e) => bail!("{e:?}"),
    };
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
