//! The samplers a diffusers export names in `scheduler_config.json`: DDIM (η = 0), Euler,
//! Euler ancestral and DPM-Solver++ (2M), each for ε- and v-prediction. A run is a list of
//! [`Step`]s; for each, the pipeline scales the latents ([`Sampler::model_input`]), runs the UNet
//! at [`Step::timestep`], and hands its output to [`Sampler::step`]. Formulas as in diffusers.

use super::schedule::{interp, Prediction, SchedulerConfig, Unsupported};

/// Which sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ddim,
    Euler,
    EulerAncestral,
    DpmSolverPlusPlus2M,
}

impl Kind {
    /// From `_class_name` (PNDM, the SD 1.x default, runs as DDIM: same schedule, deterministic).
    pub fn from_class(name: &str) -> Result<Kind, Unsupported> {
        match name {
            "DDIMScheduler" | "PNDMScheduler" => Ok(Kind::Ddim),
            "EulerDiscreteScheduler" => Ok(Kind::Euler),
            "EulerAncestralDiscreteScheduler" => Ok(Kind::EulerAncestral),
            "DPMSolverMultistepScheduler" => Ok(Kind::DpmSolverPlusPlus2M),
            other => Err(Unsupported {
                field: "_class_name",
                value: other.to_string(),
                supported: "DDIMScheduler, PNDMScheduler, EulerDiscreteScheduler, \
                            EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler",
            }),
        }
    }
}

/// One denoising step: the UNet's timestep and the noise levels it moves between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What the UNet is given as its `timestep`.
    pub timestep: f64,
    /// σ now and after this step (Euler family, DPM); ᾱ now and after (DDIM).
    from: f64,
    to: f64,
}

/// A configured sampler for one run.
#[derive(Debug, Clone)]
pub struct Sampler {
    kind: Kind,
    prediction: Prediction,
    steps: Vec<Step>,
    /// The starting latents are noise times this.
    pub init_noise_sigma: f64,
    /// DPM-Solver's previous x₀ prediction, for the second-order update.
    previous_x0: Option<Vec<f32>>,
}

impl Sampler {
    pub fn new(config: &SchedulerConfig, kind: Kind, steps: usize) -> Result<Sampler, Unsupported> {
        let prediction = config.prediction()?;
        let ac = config.alphas_cumprod()?;
        let sigmas: Vec<f64> = ac.iter().map(|a| ((1.0 - a) / a).sqrt()).collect();
        let sigma_at = |t: f64| interp(&sigmas, t);
        let (steps, init_noise_sigma) = match kind {
            Kind::Ddim => {
                let ts = config.timesteps(steps)?;
                let ratio = (config.num_train_timesteps / ts.len()) as f64;
                let final_alpha = if config.set_alpha_to_one { 1.0 } else { ac[0] };
                let alpha = |t: f64| if t >= 0.0 { ac[t as usize] } else { final_alpha };
                let steps = ts.iter().map(|&t| Step { timestep: t, from: alpha(t), to: alpha(t - ratio) }).collect();
                (steps, 1.0)
            }
            Kind::Euler | Kind::EulerAncestral => {
                let ts = config.euler_timesteps(steps)?;
                let mut s: Vec<f64> = ts.iter().map(|&t| sigma_at(t)).collect();
                s.push(0.0);
                let max = s.iter().cloned().fold(0.0, f64::max);
                let init = match config.spacing()? {
                    super::schedule::Spacing::Linspace | super::schedule::Spacing::Trailing => max,
                    super::schedule::Spacing::Leading => (max * max + 1.0).sqrt(),
                };
                let steps =
                    ts.iter().enumerate().map(|(i, &t)| Step { timestep: t, from: s[i], to: s[i + 1] }).collect();
                (steps, init)
            }
            Kind::DpmSolverPlusPlus2M => {
                let ts = config.dpm_timesteps(steps)?;
                let mut s: Vec<f64> = ts.iter().map(|&t| sigma_at(t)).collect();
                s.push(0.0); // final_sigmas_type "zero": the last step lands on the clean sample
                let steps =
                    ts.iter().enumerate().map(|(i, &t)| Step { timestep: t, from: s[i], to: s[i + 1] }).collect();
                (steps, 1.0)
            }
        };
        Ok(Sampler { kind, prediction, steps, init_noise_sigma, previous_x0: None })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether [`Sampler::step`] takes fresh noise (Euler ancestral) — drawing it costs.
    pub fn adds_noise(&self) -> bool {
        self.kind == Kind::EulerAncestral
    }

    /// Image to image: keeps the last `strength` share of the steps (diffusers' `get_timesteps`:
    /// ⌊steps × strength⌋ of them). Strength 0 keeps none: the image comes back as it went in.
    pub fn start_at(&mut self, strength: f64) {
        let n = self.steps.len();
        let keep = ((n as f64 * strength.clamp(0.0, 1.0)).floor() as usize).min(n);
        self.steps.drain(..n - keep);
    }

    /// Clean latents `x0` noised to the level the run starts from (image to image), with
    /// standard normal `noise`: the scheduler's `add_noise` at the first step's timestep.
    pub fn noised_to_start(&self, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        match self.steps.first() {
            Some(step) => self.noised(step.from, x0, noise),
            None => x0.to_vec(),
        }
    }

    /// Clean latents noised to the level step `i` ends at (the last step's is clean): what
    /// inpainting with a 4-channel UNet keeps outside the mask after that step.
    pub fn noised_after(&self, i: usize, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        self.noised(self.steps[i].to, x0, noise)
    }

    /// x₀ and noise mixed at a noise level in this sampler's space (ᾱ for DDIM, σ otherwise).
    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        let (a, b) = match self.kind {
            Kind::Ddim => (level.sqrt(), (1.0 - level).sqrt()),
            Kind::Euler | Kind::EulerAncestral => (1.0, level),
            // DPM-Solver's latents are variance preserving: α = 1/√(σ²+1), σ_vp = σ·α.
            Kind::DpmSolverPlusPlus2M => {
                let alpha = 1.0 / (level * level + 1.0).sqrt();
                (alpha, level * alpha)
            }
        };
        x0.iter().zip(noise).map(|(&x, &n)| (a * x as f64 + b * n as f64) as f32).collect()
    }

    /// The clean latents the model's `output` at step `i` points to (a preview of where the
    /// run is going).
    pub fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32> {
        let from = self.steps[i].from;
        let (a, b) = match self.kind {
            Kind::Ddim => (from.sqrt(), (1.0 - from).sqrt()),
            Kind::Euler | Kind::EulerAncestral | Kind::DpmSolverPlusPlus2M => {
                let alpha = 1.0 / (from * from + 1.0).sqrt();
                (alpha, from * alpha)
            }
        };
        // In the variance-preserving form x = a·x₀ + b·ε (the Euler family's latents scaled).
        let scale = if matches!(self.kind, Kind::Euler | Kind::EulerAncestral) {
            1.0 / (from * from + 1.0).sqrt()
        } else {
            1.0
        };
        latents
            .iter()
            .zip(output)
            .map(|(&x, &o)| {
                let (x, o) = (x as f64 * scale, o as f64);
                let x0 = match self.prediction {
                    Prediction::Epsilon => (x - b * o) / a,
                    Prediction::V => a * x - b * o,
                };
                x0 as f32
            })
            .collect()
    }

    /// The latents as the UNet takes them at step `i` (the Euler family scales by 1/√(σ²+1)).
    pub fn model_input(&self, i: usize, latents: &[f32]) -> Vec<f32> {
        match self.kind {
            Kind::Euler | Kind::EulerAncestral => {
                let scale = 1.0 / (self.steps[i].from.powi(2) + 1.0).sqrt();
                latents.iter().map(|v| (*v as f64 * scale) as f32).collect()
            }
            Kind::Ddim | Kind::DpmSolverPlusPlus2M => latents.to_vec(),
        }
    }

    /// Moves `latents` through step `i` given the UNet's `output` (after guidance). `noise`:
    /// fresh standard normal values, used by Euler ancestral only.
    pub fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], noise: &[f32]) {
        let Step { from, to, .. } = self.steps[i];
        match self.kind {
            Kind::Ddim => {
                let (a, a_prev) = (from, to);
                for (x, &o) in latents.iter_mut().zip(output) {
                    let (xf, of) = (*x as f64, o as f64);
                    let (x0, eps) = match self.prediction {
                        Prediction::Epsilon => ((xf - (1.0 - a).sqrt() * of) / a.sqrt(), of),
                        Prediction::V => (a.sqrt() * xf - (1.0 - a).sqrt() * of, a.sqrt() * of + (1.0 - a).sqrt() * xf),
                    };
                    *x = (a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps) as f32;
                }
            }
            Kind::Euler | Kind::EulerAncestral => {
                let (down, up) = if self.kind == Kind::EulerAncestral && from > 0.0 {
                    let up = (to * to * (from * from - to * to) / (from * from)).max(0.0).sqrt();
                    ((to * to - up * up).max(0.0).sqrt(), up)
                } else {
                    (to, 0.0)
                };
                for (k, (x, &o)) in latents.iter_mut().zip(output).enumerate() {
                    let (xf, of) = (*x as f64, o as f64);
                    let x0 = match self.prediction {
                        Prediction::Epsilon => xf - from * of,
                        Prediction::V => of * (-from / (from * from + 1.0).sqrt()) + xf / (from * from + 1.0),
                    };
                    let derivative = (xf - x0) / from;
                    let n = if up > 0.0 { noise.get(k).copied().unwrap_or(0.0) as f64 } else { 0.0 };
                    *x = (xf + derivative * (down - from) + n * up) as f32;
                }
            }
            Kind::DpmSolverPlusPlus2M => {
                // σ-space to (α, σ) of the variance-preserving process, and λ = log α − log σ.
                let vp = |s: f64| (1.0 / (s * s + 1.0).sqrt(), s / (s * s + 1.0).sqrt());
                let ((alpha_s, sigma_s), (alpha_t, sigma_t)) = (vp(from), vp(to));
                let x0: Vec<f64> = latents
                    .iter()
                    .zip(output)
                    .map(|(&x, &o)| match self.prediction {
                        Prediction::Epsilon => (x as f64 - sigma_s * o as f64) / alpha_s,
                        Prediction::V => alpha_s * x as f64 - sigma_s * o as f64,
                    })
                    .collect();
                // λ_t is +∞ at σ = 0: then e^{−h} = 0 and the update lands on x₀.
                let lambda = |a: f64, s: f64| a.ln() - s.ln();
                let h = lambda(alpha_t, sigma_t) - lambda(alpha_s, sigma_s);
                let decay = (-h).exp(); // e^{−h}
                let ratio = if to > 0.0 { sigma_t / sigma_s } else { 0.0 };
                // Second order once there is a previous x₀; first order on the first step and
                // the last (the final σ is zero), as diffusers' `lower_order_final`.
                let first_order = i + 1 == self.steps.len();
                let second = match (&self.previous_x0, first_order) {
                    (Some(prev), false) if i > 0 => {
                        let prev_from = self.steps[i - 1].from;
                        let (a1, s1) = vp(prev_from);
                        let h0 = lambda(alpha_s, sigma_s) - lambda(a1, s1);
                        Some((prev, h0 / h))
                    }
                    _ => None,
                };
                for (k, x) in latents.iter_mut().enumerate() {
                    let d1 = match &second {
                        Some((prev, r0)) => (x0[k] - prev[k] as f64) / r0,
                        None => 0.0,
                    };
                    let xt = ratio * *x as f64 - alpha_t * (decay - 1.0) * x0[k] - 0.5 * alpha_t * (decay - 1.0) * d1;
                    *x = xt as f32;
                }
                self.previous_x0 = Some(x0.into_iter().map(|v| v as f32).collect());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schedule::SchedulerConfig;
    use super::*;

    fn sd15(prediction: &str, spacing: &str) -> SchedulerConfig {
        SchedulerConfig {
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
    fn on_trajectory(kind: Kind, to: f64, x0: f32, eps: f64) -> f64 {
        match kind {
            Kind::Ddim => to.sqrt() * x0 as f64 + (1.0 - to).sqrt() * eps,
            Kind::Euler | Kind::EulerAncestral => x0 as f64 + to * eps,
            Kind::DpmSolverPlusPlus2M => {
                let alpha = 1.0 / (to * to + 1.0).sqrt();
                alpha * x0 as f64 + to * alpha * eps
            }
        }
    }

    /// The noise direction of latents `x` at the step's starting level, in the sampler's space.
    fn start_direction(kind: Kind, step: &Step, x: f32, x0: f32) -> f64 {
        let (x, x0) = (x as f64, x0 as f64);
        match kind {
            Kind::Ddim => (x - step.from.sqrt() * x0) / (1.0 - step.from).sqrt(),
            Kind::Euler | Kind::EulerAncestral => (x - x0) / step.from,
            Kind::DpmSolverPlusPlus2M => {
                let alpha = 1.0 / (step.from * step.from + 1.0).sqrt();
                (x - alpha * x0) / (step.from * alpha)
            }
        }
    }

    /// Runs the sampler with the oracle; checks each step of the deterministic samplers against
    /// the known move; returns the final latents.
    fn run(config: &SchedulerConfig, kind: Kind, steps: usize, target: &[f32]) -> Vec<f32> {
        let mut sampler = Sampler::new(config, kind, steps).unwrap();
        // Fixed "noise", scaled as the pipeline scales it.
        let mut latents: Vec<f32> =
            (0..target.len()).map(|i| (i as f32 * 0.7).sin() * sampler.init_noise_sigma as f32).collect();
        for i in 0..sampler.steps().len() {
            let step = sampler.steps()[i];
            let eps: Vec<f64> = latents.iter().zip(target).map(|(&x, &t)| start_direction(kind, &step, x, t)).collect();
            let input = sampler.model_input(i, &latents);
            let output = oracle(config, &input, sampler.steps()[i].timestep, target);
            let noise: Vec<f32> = (0..target.len()).map(|k| ((k + i) as f32 * 1.3).cos()).collect();
            sampler.step(i, &mut latents, &output, &noise);
            if kind != Kind::EulerAncestral {
                let to = sampler.steps()[i].to;
                for (k, x) in latents.iter().enumerate() {
                    let expected = on_trajectory(kind, to, target[k], eps[k]);
                    let off = (*x as f64 - expected).abs();
                    assert!(off < 1e-3 * (1.0 + expected.abs()), "{kind:?} step {i}: {x} where {expected}");
                }
            }
        }
        latents
    }

    #[test]
    fn every_sampler_carries_the_oracle_s_noise_to_its_target() {
        let target: Vec<f32> = (0..64).map(|i| (i as f32 / 32.0) - 1.0).collect();
        for kind in [Kind::Ddim, Kind::Euler, Kind::EulerAncestral, Kind::DpmSolverPlusPlus2M] {
            for prediction in ["epsilon", "v_prediction"] {
                for spacing in ["leading", "trailing", "linspace"] {
                    for steps in [4, 25] {
                        let config = sd15(prediction, spacing);
                        let out = run(&config, kind, steps, &target);
                        let worst = out.iter().zip(&target).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                        assert!(worst < 2e-3, "{kind:?} {prediction} {spacing} {steps} steps: off by {worst}");
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
        let mut sampler = Sampler::new(&v_config, Kind::Ddim, 1).unwrap();
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
        let sampler = Sampler::new(&sd15("epsilon", "linspace"), Kind::Euler, 10).unwrap();
        assert!((sampler.init_noise_sigma - 14.6146).abs() < 1e-3);
        let leading = Sampler::new(&sd15("epsilon", "leading"), Kind::Euler, 10).unwrap();
        let first = leading.steps()[0].from;
        assert!((leading.init_noise_sigma - (first * first + 1.0).sqrt()).abs() < 1e-9);
        let scaled = sampler.model_input(0, &[1.0]);
        assert!((scaled[0] as f64 - 1.0 / (14.6146f64.powi(2) + 1.0).sqrt()).abs() < 1e-5);
        assert_eq!(Kind::from_class("LMSDiscreteScheduler").unwrap_err().field, "_class_name");
        assert_eq!(Kind::from_class("PNDMScheduler").unwrap(), Kind::Ddim);
    }
}
