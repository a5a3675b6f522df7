//! Euler (diffusers' `EulerDiscreteScheduler`) and Euler ancestral
//! (`EulerAncestralDiscreteScheduler`): σ-space latents x = x₀ + σ·ε, the UNet's input scaled by
//! 1/√(σ²+1).

use super::{sigmas, variance_preserving, x0_of, Plan, Scheduler, Step};
use crate::diffusion::schedule::{interp, Prediction, SchedulerConfig, Spacing, Unsupported};

#[derive(Debug, Clone)]
pub struct Euler {
    plan: Plan,
}

impl Euler {
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Euler, Unsupported> {
        let prediction = config.prediction()?;
        let all = sigmas(config)?;
        let ts = config.euler_timesteps(steps)?;
        let mut s: Vec<f64> = ts.iter().map(|&t| interp(&all, t)).collect();
        s.push(0.0);
        let max = s.iter().cloned().fold(0.0, f64::max);
        let init_noise_sigma = match config.spacing()? {
            Spacing::Linspace | Spacing::Trailing => max,
            Spacing::Leading => (max * max + 1.0).sqrt(),
        };
        let steps = ts.iter().enumerate().map(|(i, &t)| Step { timestep: t, from: s[i], to: s[i + 1] }).collect();
        Ok(Euler { plan: Plan { prediction, steps, init_noise_sigma } })
    }

    /// One Euler move from σ `from` down to `down`, plus `up` of fresh noise (ancestral).
    fn move_latents(&self, from: f64, down: f64, up: f64, latents: &mut [f32], output: &[f32], noise: &[f32]) {
        for (k, (x, &o)) in latents.iter_mut().zip(output).enumerate() {
            let (xf, of) = (*x as f64, o as f64);
            let x0 = match self.plan.prediction {
                Prediction::Epsilon => xf - from * of,
                Prediction::V => of * (-from / (from * from + 1.0).sqrt()) + xf / (from * from + 1.0),
            };
            let derivative = (xf - x0) / from;
            let n = if up > 0.0 { noise.get(k).copied().unwrap_or(0.0) as f64 } else { 0.0 };
            *x = (xf + derivative * (down - from) + n * up) as f32;
        }
    }
}

impl Scheduler for Euler {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }

    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        x0.iter().zip(noise).map(|(&x, &n)| (x as f64 + level * n as f64) as f32).collect()
    }

    fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32> {
        let from = self.plan.steps[i].from;
        // In the variance-preserving form: the latents scaled as the UNet saw them.
        let scale = 1.0 / (from * from + 1.0).sqrt();
        let ab = variance_preserving(from);
        latents
            .iter()
            .zip(output)
            .map(|(&x, &o)| x0_of(self.plan.prediction, ab, x as f64 * scale, o as f64) as f32)
            .collect()
    }

    fn model_input(&self, i: usize, latents: &[f32]) -> Vec<f32> {
        let scale = 1.0 / (self.plan.steps[i].from.powi(2) + 1.0).sqrt();
        latents.iter().map(|v| (*v as f64 * scale) as f32).collect()
    }

    fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], noise: &[f32]) {
        let Step { from, to, .. } = self.plan.steps[i];
        self.move_latents(from, to, 0.0, latents, output, noise);
    }
}

/// Euler with fresh noise each step (the ancestral sampler).
#[derive(Debug, Clone)]
pub struct EulerAncestral(Euler);

impl EulerAncestral {
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<EulerAncestral, Unsupported> {
        Ok(EulerAncestral(Euler::new(config, steps)?))
    }
}

impl Scheduler for EulerAncestral {
    fn plan(&self) -> &Plan {
        self.0.plan()
    }

    fn plan_mut(&mut self) -> &mut Plan {
        self.0.plan_mut()
    }

    fn adds_noise(&self) -> bool {
        true
    }

    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        self.0.noised(level, x0, noise)
    }

    fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32> {
        self.0.predicted_x0(i, latents, output)
    }

    fn model_input(&self, i: usize, latents: &[f32]) -> Vec<f32> {
        self.0.model_input(i, latents)
    }

    fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], noise: &[f32]) {
        let Step { from, to, .. } = self.0.plan.steps[i];
        let (down, up) = if from > 0.0 {
            let up = (to * to * (from * from - to * to) / (from * from)).max(0.0).sqrt();
            ((to * to - up * up).max(0.0).sqrt(), up)
        } else {
            (to, 0.0)
        };
        self.0.move_latents(from, down, up, latents, output, noise);
    }
}
