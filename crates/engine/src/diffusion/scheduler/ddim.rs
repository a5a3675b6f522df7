//! DDIM (diffusers' `DDIMScheduler`): deterministic at η = 0; at η = 1 each step adds fresh
//! noise of the posterior's variance, as CatVTON samples.

use super::{x0_of, Plan, Scheduler, Step};
use crate::diffusion::schedule::{Prediction, SchedulerConfig, Unsupported};

#[derive(Debug, Clone)]
pub struct Ddim {
    plan: Plan,
    eta: f64,
}

impl Ddim {
    pub fn new(config: &SchedulerConfig, steps: usize, eta: f64) -> Result<Ddim, Unsupported> {
        let prediction = config.prediction()?;
        let ac = config.alphas_cumprod()?;
        let ts = config.timesteps(steps)?;
        let ratio = (config.num_train_timesteps / ts.len().max(1)) as f64;
        let final_alpha = if config.set_alpha_to_one { 1.0 } else { ac[0] };
        let alpha = |t: f64| if t >= 0.0 { ac[t as usize] } else { final_alpha };
        let steps = ts.iter().map(|&t| Step { timestep: t, from: alpha(t), to: alpha(t - ratio) }).collect();
        Ok(Ddim { plan: Plan { prediction, steps, init_noise_sigma: 1.0 }, eta: eta.max(0.0) })
    }
}

impl Scheduler for Ddim {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }

    fn adds_noise(&self) -> bool {
        self.eta > 0.0
    }

    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        let (a, b) = (level.sqrt(), (1.0 - level).sqrt());
        x0.iter().zip(noise).map(|(&x, &n)| (a * x as f64 + b * n as f64) as f32).collect()
    }

    fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32> {
        let from = self.plan.steps[i].from;
        let ab = (from.sqrt(), (1.0 - from).sqrt());
        latents.iter().zip(output).map(|(&x, &o)| x0_of(self.plan.prediction, ab, x as f64, o as f64) as f32).collect()
    }

    fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], noise: &[f32]) {
        let Step { from: a, to: a_prev, .. } = self.plan.steps[i];
        // σ_t of diffusers' DDIM: η · √((1 − ᾱ_prev) / (1 − ᾱ_t) · (1 − ᾱ_t / ᾱ_prev)).
        let variance = ((1.0 - a_prev) / (1.0 - a)) * (1.0 - a / a_prev);
        let std_dev = self.eta * variance.max(0.0).sqrt();
        let direction = (1.0 - a_prev - std_dev * std_dev).max(0.0).sqrt();
        for (k, (x, &o)) in latents.iter_mut().zip(output).enumerate() {
            let (xf, of) = (*x as f64, o as f64);
            let (x0, eps) = match self.plan.prediction {
                Prediction::Epsilon => ((xf - (1.0 - a).sqrt() * of) / a.sqrt(), of),
                Prediction::V => (a.sqrt() * xf - (1.0 - a).sqrt() * of, a.sqrt() * of + (1.0 - a).sqrt() * xf),
            };
            let fresh = if std_dev > 0.0 { std_dev * noise.get(k).copied().unwrap_or(0.0) as f64 } else { 0.0 };
            *x = (a_prev.sqrt() * x0 + direction * eps + fresh) as f32;
        }
    }
}
