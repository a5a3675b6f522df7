//! `figur upscale IN --scale 2|4 --out OUT`: a picture enlarged by Real-ESRGAN x4plus
//! (`figur models fetch realesrgan-x4plus`) in overlapping tiles, with a progress line per tile
//! band; ×2 averages each tile's ×4 result in 2×2 blocks. Ctrl-C stops it between tiles.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use figur_models::{Loaded, ModelError, Sessions};
use figur_pixels::vision::upscale::{upscale, TileModel, Tiling, MAX_OUTPUT_PIXELS};

/// The model's id (`models/realesrgan-x4plus.toml`).
const MODEL: &str = "realesrgan-x4plus";

#[derive(Debug, Args)]
pub struct UpscaleArgs {
    /// The picture to enlarge (PNG, JPEG, WebP…).
    pub input: PathBuf,
    /// 2 or 4.
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
    /// Execution providers, e.g. `cuda,cpu` [default: FIGUR_PROVIDERS, else auto].
    #[arg(long)]
    pub providers: Option<String>,
    /// Where to write the PNG.
    #[arg(long)]
    pub out: PathBuf,
}

/// The loaded upscaler as the tiling's model.
struct Esrgan(Arc<Loaded>);

impl TileModel for Esrgan {
    type Error = ModelError;
    fn scale(&self) -> u32 {
        4
    }
    fn enlarge(&self, pixels: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, ModelError> {
        let outputs = self.0.run_f32(vec![("input".into(), vec![1, 3, h as usize, w as usize], pixels)])?;
        outputs
            .into_iter()
            .find(|(name, _, _)| name == "output")
            .map(|(_, _, data)| data)
            .ok_or_else(|| ModelError::Run(format!("{MODEL} gave no `output`")))
    }
}

/// Why `w`×`h` cannot be enlarged `scale` times, if it cannot.
pub fn refuse(w: u32, h: u32, scale: u32) -> Option<String> {
    if scale != 2 && scale != 4 {
        return Some(format!("--scale {scale}: 2 or 4"));
    }
    let out = w as u64 * h as u64 * (scale as u64).pow(2);
    (out > MAX_OUTPUT_PIXELS).then(|| {
        format!(
            "{w}x{h} enlarged {scale}× is {:.0} megapixels; the limit is {} megapixels",
            out as f64 / 1e6,
            MAX_OUTPUT_PIXELS / 1_000_000
        )
    })
}

pub async fn upscale_command(args: UpscaleArgs) -> Result<()> {
    crate::place::until_ctrl_c(move |stop| run(args, stop)).await
}

fn run(args: UpscaleArgs, stop: Arc<AtomicBool>) -> Result<()> {
    let image = image::open(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?.to_rgb8();
    let (w, h) = image.dimensions();
    if let Some(why) = refuse(w, h, args.scale) {
        bail!("{why}");
    }
    let providers = crate::place::providers(args.providers.as_deref())?;
    let sessions = Sessions::new(crate::place::cache()?, providers, std::time::Duration::from_secs(60));
    let model = sessions.get(MODEL).map_err(|e| match e {
        ModelError::Missing(_) => anyhow::anyhow!("{MODEL} is not installed; run `figur models fetch {MODEL}`"),
        other => other.into(),
    })?;
    eprintln!("{MODEL} on {}", model.provider.name());
    let started = Instant::now();
    let tiling = Tiling::default();
    let mut progress = |done: usize, total: usize| {
        if stop.load(Ordering::SeqCst) {
            return Err(ModelError::Run("stopped".into()));
        }
        if done == total || done * 10 / total != (done - 1) * 10 / total {
            eprintln!("tile {done}/{total}  {:.1} s", started.elapsed().as_secs_f64());
        }
        Ok(())
    };
    let out = upscale(&image, &Esrgan(model), args.scale, tiling, &mut progress).map_err(|e| match e {
        ModelError::Run(m) if m == "stopped" => anyhow::anyhow!("stopped before it finished; nothing was written"),
        other => other.into(),
    })?;
    out.save(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({}x{}, ×{}) in {:.1} s",
        args.out.display(),
        out.width(),
        out.height(),
        args.scale,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
