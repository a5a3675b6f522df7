//! Diffusion runtime benchmark — `cargo bench --bench diffusion` (after `figur models fetch`).
//!
//! On the tiny export in Optimum's layout (`figur_models::tiny::diffusion::tiny_sd`, random
//! weights, a VAE that scales by 8) at 512² (64² latents), guidance on (one batched UNet call a
//! step), on the CPU provider or `FIGUR_PROVIDERS`, in one run and alternating:
//! 1. the UNet's bare `session.run` on the step's inputs (batch 2), from Rust;
//! 2. the engine's runtime, per step (the time between step reports: scaling, the UNet call
//!    through the export's adapters, guidance, the sampler's update, the noise) — its overhead
//!    outside the UNet is 2 − 1;
//! 3. the same loop in Python: onnxruntime and diffusers' own scheduler
//!    (`benches/diffusion_loop.py`, in a venv this bench makes under target/ — torch and
//!    diffusers from PyPI on the first run: about 6 GB with the CUDA libraries PyPI's torch
//!    brings; set FIGUR_BENCH_PYTHON=0 to skip it).
//!
//! Prints ratios; a number means something only beside its baseline from the same run.

use std::time::Instant;

use figur_engine::diffusion::pipeline::{generate, Generate};
use figur_models::diffusion::Export;
use figur_models::{brought, Cache, Providers};

#[path = "common/timing.rs"]
mod timing;
use timing::{median, Clock};

const SIDE: u32 = 512;
const STEPS: usize = 20;
/// The tiny UNet's channels: wide enough that a step does real work at 64² latents.
const WIDTH: i64 = 96;

fn main() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let providers = Providers::parse(&std::env::var("FIGUR_PROVIDERS").unwrap_or_else(|_| "cpu".into())).unwrap();
    let env = figur_models::runtime::init(&Cache::new(&real), providers.order.contains(&figur_models::Provider::Cuda))
        .expect("ONNX Runtime: run `figur models fetch` first");
    let work = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-diffusion");
    let _ = std::fs::remove_dir_all(&work);
    let (export_dir, cache_dir) = (work.join("export"), work.join("cache"));
    figur_models::tiny::diffusion::tiny_sd(&export_dir, WIDTH);
    let cache = Cache::new(&cache_dir);
    brought::add(&cache, "tiny-sd", &export_dir, "MIT", &mut |_| {}).unwrap();
    let export = Export::open(&cache, "tiny-sd", &providers).unwrap();
    println!(
        "diffusion runtime, tiny export (UNet {WIDTH} channels) at {SIDE}², {STEPS} steps, guidance 7.5, on {}",
        export.provider.name()
    );

    // 1. The bare UNet, on the inputs a guided step gives it.
    let mut unet =
        ort::session::Session::builder(env).unwrap().commit_from_file(export_dir.join("unet/model.onnx")).unwrap();
    let latent = (SIDE / 8) as usize;
    let sample = vec![0.5f32; 2 * 4 * latent * latent];
    let hidden = vec![0.1f32; 2 * 77 * 32];
    let mut bare_run = || {
        let start = Instant::now();
        let inputs = ort::inputs![
            "sample" => ort::value::Tensor::from_array((vec![2usize, 4, latent, latent], sample.clone())).unwrap(),
            "timestep" => ort::value::Tensor::from_array((vec![1usize], vec![500i64])).unwrap(),
            "encoder_hidden_states" => ort::value::Tensor::from_array((vec![2usize, 77, 32], hidden.clone())).unwrap(),
        ];
        let out = unet.run(inputs).unwrap();
        std::hint::black_box(out["out_sample"].try_extract_tensor::<f32>().unwrap().1[0]);
        start.elapsed()
    };

    // 2. The runtime.
    let request = Generate {
        prompt: "a red hat".into(),
        negative: String::new(),
        steps: STEPS,
        guidance: 7.5,
        seed: 1,
        width: SIDE,
        height: SIDE,
        init: None,
        mask: None,
    };
    let runtime_run = || {
        let mut clock = Clock(vec![Instant::now()]);
        generate(&export, &request, &mut clock).unwrap();
        // Steps after the first (the first also carries the text encoder's call).
        clock.0.windows(2).skip(1).map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0).collect::<Vec<_>>()
    };

    let _ = bare_run();
    let _ = runtime_run();
    let (mut bare, mut steps) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for _ in 0..STEPS {
            bare.push(bare_run().as_secs_f64() * 1000.0);
        }
        steps.extend(runtime_run());
    }
    let (bare, step) = (median(bare), median(steps));
    println!("  bare UNet session.run (batch 2) ................ {bare:>9.3} ms");
    println!("  engine runtime, per step ....................... {step:>9.3} ms");
    println!(
        "  overhead outside the UNet ...................... {:>9.3} ms  = {:.1} % of the UNet's time",
        step - bare,
        (step - bare) / bare * 100.0
    );

    // 3. Python: onnxruntime + diffusers' scheduler, the same loop.
    if std::env::var("FIGUR_BENCH_PYTHON").as_deref() == Ok("0") {
        println!("  python baseline: skipped (FIGUR_BENCH_PYTHON=0)");
        return;
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv-diffusion");
    let python = venv.join("bin/python");
    if !python.is_file() {
        println!("  (making the Python baseline's venv: onnxruntime, torch, diffusers from PyPI)");
        let ok =
            std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
                && std::process::Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "onnxruntime==1.31.1",
                        "numpy==2.4.6",
                        "torch==2.15.0",
                        "diffusers==0.42.1",
                    ])
                    .status()
                    .is_ok_and(|s| s.success());
        if !ok {
            println!("  python baseline: could not make its venv");
            let _ = std::fs::remove_dir_all(&venv);
            return;
        }
    }
    let mut python_steps = Vec::new();
    for _ in 0..3 {
        let out = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/diffusion_loop.py"))
            .arg(&export_dir)
            .arg(STEPS.to_string())
            .arg(SIDE.to_string())
            .env("OMP_NUM_THREADS", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string())
            .output();
        match out.ok().filter(|o| o.status.success()) {
            Some(o) => python_steps.extend(String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok()),
            None => {
                println!("  python baseline failed to run");
                return;
            }
        }
    }
    let python = median(python_steps);
    println!("  python onnxruntime + diffusers, per step ....... {python:>9.3} ms");
    println!(
        "  engine / python per step ....................... {:>9.3}x  (below 1: the engine is faster)",
        step / python
    );
}
