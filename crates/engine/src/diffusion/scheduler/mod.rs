//! The schedulers a diffusers export names in `scheduler_config.json`, one small type each
//! behind [`Scheduler`] (diffusers' and candle's shape): DDIM (η = 0, or stochastic with η > 0
//! as CatVTON runs it), Euler, Euler ancestral and DPM-Solver++ (2M), each for ε- and
//! v-prediction. A run is a list of [`Step`]s; for each, the pipeline scales the latents
//! ([`Scheduler::model_input`]), runs the UNet at [`Step::timestep`], and hands its output to
//! [`Scheduler::step`]. Formulas as in diffusers.

mod ddim;
mod dpm;
mod euler;

pub use ddim::Ddim;
pub use dpm::DpmSolverPlusPlus2M;
pub use euler::{Euler, EulerAncestral};

use super::schedule::{Prediction, SchedulerConfig, Unsupported};

/// One denoising step: the UNet's timestep and the noise levels it moves between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What the UNet is given as its `timestep`.
    pub timestep: f64,
    /// The noise level now and after this step, in the scheduler's own space: ᾱ for DDIM, σ
    /// for the others.
    pub from: f64,
    pub to: f64,
}

/// What every scheduler knows of its run: what the UNet predicts, the steps, and the scale of
/// the starting noise.
#[derive(Debug, Clone)]
pub struct Plan {
    pub prediction: Prediction,
    pub steps: Vec<Step>,
    pub init_noise_sigma: f64,
}

/// A scheduler configured for one run.
pub trait Scheduler: std::fmt::Debug + Send {
    fn plan(&self) -> &Plan;
    fn plan_mut(&mut self) -> &mut Plan;

    /// x₀ and noise mixed at a noise level in this scheduler's space.
    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32>;

    /// The clean latents the model's `output` at step `i` points to (a preview of where the
    /// run is going).
    fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32>;

    /// Moves `latents` through step `i` given the UNet's `output` (after guidance). `noise`:
    /// fresh standard normal values, for the schedulers that [`Scheduler::adds_noise`].
    fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], noise: &[f32]);

    /// The latents as the UNet takes them at step `i`.
    fn model_input(&self, _i: usize, latents: &[f32]) -> Vec<f32> {
        latents.to_vec()
    }

    /// Whether [`Scheduler::step`] takes fresh noise — drawing it costs.
    fn adds_noise(&self) -> bool {
        false
    }

    fn steps(&self) -> &[Step] {
        &self.plan().steps
    }

    /// The starting latents are noise times this.
    fn init_noise_sigma(&self) -> f64 {
        self.plan().init_noise_sigma
    }

    /// Image to image: keeps the last `strength` share of the steps (diffusers' `get_timesteps`:
    /// ⌊steps × strength⌋ of them). Strength 0 keeps none: the image comes back as it went in.
    fn start_at(&mut self, strength: f64) {
        let steps = &mut self.plan_mut().steps;
        let n = steps.len();
        let keep = ((n as f64 * strength.clamp(0.0, 1.0)).floor() as usize).min(n);
        steps.drain(..n - keep);
    }

    /// Clean latents `x0` noised to the level the run starts from (image to image), with
    /// standard normal `noise`: the scheduler's `add_noise` at the first step's timestep.
    fn noised_to_start(&self, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        match self.steps().first() {
            Some(step) => self.noised(step.from, x0, noise),
            None => x0.to_vec(),
        }
    }

    /// Clean latents noised to the level step `i` ends at (the last step's is clean): what
    /// inpainting with a 4-channel UNet keeps outside the mask after that step.
    fn noised_after(&self, i: usize, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        self.noised(self.steps()[i].to, x0, noise)
    }
}

/// The scheduler `config` names, set up for `steps` steps (PNDM, the SD 1.x default, runs as
/// DDIM: same schedule, deterministic).
pub fn for_config(config: &SchedulerConfig, steps: usize) -> Result<Box<dyn Scheduler>, Unsupported> {
    Ok(match config.class_name.as_str() {
        "DDIMScheduler" | "PNDMScheduler" => Box::new(Ddim::new(config, steps, 0.0)?),
        "EulerDiscreteScheduler" => Box::new(Euler::new(config, steps)?),
        "EulerAncestralDiscreteScheduler" => Box::new(EulerAncestral::new(config, steps)?),
        "DPMSolverMultistepScheduler" => Box::new(DpmSolverPlusPlus2M::new(config, steps)?),
        other => {
            return Err(Unsupported {
                field: "_class_name",
                value: other.to_string(),
                supported: "DDIMScheduler, PNDMScheduler, EulerDiscreteScheduler, \
                            EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler",
            })
        }
    })
}

/// σ at each training timestep: √((1 − ᾱ) / ᾱ).
fn sigmas(config: &SchedulerConfig) -> Result<Vec<f64>, Unsupported> {
    Ok(config.alphas_cumprod()?.iter().map(|a| ((1.0 - a) / a).sqrt()).collect())
}

/// (a, b) of the variance-preserving form x = a·x₀ + b·ε at σ.
fn variance_preserving(sigma: f64) -> (f64, f64) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

/// x₀ from latents in the variance-preserving form x = a·x₀ + b·ε and the model's output.
fn x0_of(prediction: Prediction, (a, b): (f64, f64), x: f64, output: f64) -> f64 {
    match prediction {
        Prediction::Epsilon => (x - b * output) / a,
        Prediction::V => a * x - b * output,
    }
}

#[cfg(test)]
mod tests;
