//! Every scheduler against the oracle UNet, whose right answer is known analytically.

use super::*;
use crate::diffusion::schedule::SchedulerConfig;

/// The scheduler families, by the class name an export gives.
const DDIM: &str = "DDIMScheduler";
const EULER: &str = "EulerDiscreteScheduler";
const EULER_A: &str = "EulerAncestralDiscreteScheduler";
const DPM: &str = "DPMSolverMultistepScheduler";

fn sd15(prediction: &str, spacing: &str) -> SchedulerConfig {
    with_class(DDIM, prediction, spacing)
}

fn with_class(class: &str, prediction: &str, spacing: &str) -> SchedulerConfig {
    SchedulerConfig {
        class_name: class.into(),
        beta_start: 0.00085,
        beta_end: 0.012,
        beta_schedule: "scaled_linear".into(),
        prediction_type: prediction.into(),
        timestep_spacing: spacing.into(),
        steps_offset: 1,
        set_alpha_to_one: true,
        ..SchedulerConfig::default()
    }
}

/// ᾱ at a (possibly fractional) timestep, interpolated in σ as the samplers do — written
/// out here from the definition, not taken from the code under test.
fn alpha_bar(config: &SchedulerConfig, t: f64) -> f64 {
    let ac = config.alphas_cumprod().unwrap();
    let sigma = |i: usize| ((1.0 - ac[i]) / ac[i]).sqrt();
    let (i, f) = (t.floor() as usize, t.fract());
    let s = if i + 1 < ac.len() { sigma(i) * (1.0 - f) + sigma(i + 1) * f } else { sigma(ac.len() - 1) };
    1.0 / (s * s + 1.0)
}

/// The oracle UNet: whatever latents it is given at timestep t, it predicts the noise (or
/// velocity) that carries them exactly to `target`. Every correct sampler then ends on it.
fn oracle(config: &SchedulerConfig, input: &[f32], t: f64, target: &[f32]) -> Vec<f32> {
    let a = alpha_bar(config, t);
    input
        .iter()
        .zip(target)
        .map(|(&x, &x0)| {
            let eps = (x as f64 - a.sqrt() * x0 as f64) / (1.0 - a).sqrt();
            let out = match config.prediction().unwrap() {
                Prediction::Epsilon => eps,
                Prediction::V => a.sqrt() * eps - (1.0 - a).sqrt() * x0 as f64,
            };
            out as f32
        })
        .collect()
}

/// Where a deterministic sampler's latents must be after a step that ends at noise level
/// `to`, given the noise direction `eps` of its latents before the step: with x₀ known
/// exactly, DDIM and DPM-Solver move x = √ᾱ·x₀ + √(1−ᾱ)·ε along ᾱ and Euler x = x₀ + σ·ε
/// along σ, keeping ε.
fn on_trajectory(class: &str, to: f64, x0: f32, eps: f64) -> f64 {
    match class {
        DDIM => to.sqrt() * x0 as f64 + (1.0 - to).sqrt() * eps,
        EULER | EULER_A => x0 as f64 + to * eps,
        _ => {
            let alpha = 1.0 / (to * to + 1.0).sqrt();
            alpha * x0 as f64 + to * alpha * eps
        }
    }
}

/// The noise direction of latents `x` at the step's starting level, in the sampler's space.
fn start_direction(class: &str, step: &Step, x: f32, x0: f32) -> f64 {
    let (x, x0) = (x as f64, x0 as f64);
    match class {
        DDIM => (x - step.from.sqrt() * x0) / (1.0 - step.from).sqrt(),
        EULER | EULER_A => (x - x0) / step.from,
        _ => {
            let alpha = 1.0 / (step.from * step.from + 1.0).sqrt();
            (x - alpha * x0) / (step.from * alpha)
        }
    }
}

/// Runs the sampler with the oracle; checks each step of the deterministic samplers against
/// the known move; returns the final latents.
fn run(config: &SchedulerConfig, steps: usize, target: &[f32]) -> Vec<f32> {
    let class = config.class_name.as_str();
    let mut sampler = for_config(config, steps).unwrap();
    // Fixed "noise", scaled as the pipeline scales it.
    let mut latents: Vec<f32> =
        (0..target.len()).map(|i| (i as f32 * 0.7).sin() * sampler.init_noise_sigma() as f32).collect();
    for i in 0..sampler.steps().len() {
        let step = sampler.steps()[i];
        let eps: Vec<f64> = latents.iter().zip(target).map(|(&x, &t)| start_direction(class, &step, x, t)).collect();
        let input = sampler.model_input(i, &latents);
        let output = oracle(config, &input, sampler.steps()[i].timestep, target);
        let noise: Vec<f32> = (0..target.len()).map(|k| ((k + i) as f32 * 1.3).cos()).collect();
        sampler.step(i, &mut latents, &output, &noise);
        if class != EULER_A {
            let to = sampler.steps()[i].to;
            for (k, x) in latents.iter().enumerate() {
                let expected = on_trajectory(class, to, target[k], eps[k]);
                let off = (*x as f64 - expected).abs();
                assert!(off < 1e-3 * (1.0 + expected.abs()), "{class} step {i}: {x} where {expected}");
            }
        }
    }
    latents
}

#[test]
fn every_sampler_carries_the_oracle_s_noise_to_its_target() {
    let target: Vec<f32> = (0..64).map(|i| (i as f32 / 32.0) - 1.0).collect();
    for class in [DDIM, EULER, EULER_A, DPM] {
        for prediction in ["epsilon", "v_prediction"] {
            for spacing in ["leading", "trailing", "linspace"] {
                for steps in [4, 25] {
                    let config = with_class(class, prediction, spacing);
                    let out = run(&config, steps, &target);
                    let worst = out.iter().zip(&target).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                    assert!(worst < 2e-3, "{class} {prediction} {spacing} {steps} steps: off by {worst}");
                }
            }
        }
    }
}

#[test]
fn a_wrong_oracle_is_caught() {
    // The test above can fail: a one-step sampler (SD-Turbo's trailing schedule) handed ε
    // where it expects v misses the target by far.
    let target: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
    let eps_config = sd15("epsilon", "trailing");
    let v_config = sd15("v_prediction", "trailing");
    let mut sampler = Ddim::new(&v_config, 1, 0.0).unwrap();
    let mut latents: Vec<f32> = (0..16).map(|i| (i as f32).sin()).collect();
    for i in 0..sampler.steps().len() {
        let output = oracle(&eps_config, &latents, sampler.steps()[i].timestep, &target);
        sampler.step(i, &mut latents, &output, &[]);
    }
    let worst = latents.iter().zip(&target).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst > 0.05, "{worst}");
}

#[test]
fn euler_starts_from_sigma_max_and_scales_its_input() {
    let sampler = Euler::new(&sd15("epsilon", "linspace"), 10).unwrap();
    assert!((sampler.init_noise_sigma() - 14.6146).abs() < 1e-3);
    let leading = Euler::new(&sd15("epsilon", "leading"), 10).unwrap();
    let first = leading.steps()[0].from;
    assert!((leading.init_noise_sigma() - (first * first + 1.0).sqrt()).abs() < 1e-9);
    let scaled = sampler.model_input(0, &[1.0]);
    assert!((scaled[0] as f64 - 1.0 / (14.6146f64.powi(2) + 1.0).sqrt()).abs() < 1e-5);
    assert_eq!(
        for_config(&with_class("LMSDiscreteScheduler", "epsilon", "leading"), 10).unwrap_err().field,
        "_class_name"
    );
    let pndm = for_config(&with_class("PNDMScheduler", "epsilon", "leading"), 10).unwrap();
    assert!(format!("{pndm:?}").starts_with("Ddim"), "PNDM runs as DDIM: {pndm:?}");
}

/// Stochastic DDIM (η = 1, CatVTON's sampler) still lands on the oracle's target: with x₀
/// known exactly, the fresh noise of each step is what the next step's ε-prediction removes.
/// With all-zero noise it follows the posterior mean; with noise, it must still end there.
#[test]
fn stochastic_ddim_lands_on_the_target_and_uses_its_noise() {
    let target: Vec<f32> = (0..32).map(|i| (i as f32 / 16.0) - 1.0).collect();
    let config = sd15("epsilon", "leading");
    let run_with = |scale: f32| {
        let mut ddim_steps = Ddim::new(&config, 20, 1.0).unwrap();
        assert!(ddim_steps.adds_noise());
        let mut latents: Vec<f32> = (0..32).map(|i| (i as f32 * 0.7).sin()).collect();
        for i in 0..ddim_steps.steps().len() {
            let output = oracle(&config, &latents, ddim_steps.steps()[i].timestep, &target);
            let noise: Vec<f32> = (0..32).map(|k| ((k + i) as f32 * 1.3).cos() * scale).collect();
            ddim_steps.step(i, &mut latents, &output, &noise);
        }
        latents
    };
    let quiet = run_with(0.0);
    let noisy = run_with(1.0);
    for (out, t) in [&quiet, &noisy].into_iter().flat_map(|o| o.iter().zip(&target)) {
        assert!((out - t).abs() < 2e-3, "{out} where {t}");
    }
    // Mid-run the noise shows: one step with and without it differ.
    let mut a = Ddim::new(&config, 20, 1.0).unwrap();
    let mut b = Ddim::new(&config, 20, 1.0).unwrap();
    let start: Vec<f32> = (0..32).map(|i| (i as f32 * 0.3).cos()).collect();
    let output = oracle(&config, &start, a.steps()[0].timestep, &target);
    let (mut x, mut y) = (start.clone(), start);
    a.step(0, &mut x, &output, &[1.0; 32]);
    b.step(0, &mut y, &output, &[0.0; 32]);
    assert!(x.iter().zip(&y).any(|(p, q)| (p - q).abs() > 1e-3), "η = 1 adds the step's noise");
}
