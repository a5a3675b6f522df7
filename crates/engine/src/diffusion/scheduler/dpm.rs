//! DPM-Solver++ 2M (diffusers' `DPMSolverMultistepScheduler`, its defaults): second order from
//! the previous step's x₀, first order on the first and the last step (`lower_order_final`);
//! the final σ is zero, so the run lands on the clean sample.

use super::{sigmas, variance_preserving, x0_of, Plan, Scheduler, Step};
use crate::diffusion::schedule::{interp, SchedulerConfig, Unsupported};

#[derive(Debug, Clone)]
pub struct DpmSolverPlusPlus2M {
    plan: Plan,
    /// The previous step's x₀ prediction, for the second-order update.
    previous_x0: Option<Vec<f32>>,
}

impl DpmSolverPlusPlus2M {
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<DpmSolverPlusPlus2M, Unsupported> {
        let prediction = config.prediction()?;
        let all = sigmas(config)?;
        let ts = config.dpm_timesteps(steps)?;
        let mut s: Vec<f64> = ts.iter().map(|&t| interp(&all, t)).collect();
        s.push(0.0); // final_sigmas_type "zero": the last step lands on the clean sample
        let steps = ts.iter().enumerate().map(|(i, &t)| Step { timestep: t, from: s[i], to: s[i + 1] }).collect();
        Ok(DpmSolverPlusPlus2M { plan: Plan { prediction, steps, init_noise_sigma: 1.0 }, previous_x0: None })
    }
}

impl Scheduler for DpmSolverPlusPlus2M {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }

    fn noised(&self, level: f64, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        // Variance preserving: α = 1/√(σ²+1), σ_vp = σ·α.
        let (a, b) = variance_preserving(level);
        x0.iter().zip(noise).map(|(&x, &n)| (a * x as f64 + b * n as f64) as f32).collect()
    }

    fn predicted_x0(&self, i: usize, latents: &[f32], output: &[f32]) -> Vec<f32> {
        let ab = variance_preserving(self.plan.steps[i].from);
        latents.iter().zip(output).map(|(&x, &o)| x0_of(self.plan.prediction, ab, x as f64, o as f64) as f32).collect()
    }

    fn step(&mut self, i: usize, latents: &mut [f32], output: &[f32], _noise: &[f32]) {
        let Step { from, to, .. } = self.plan.steps[i];
        // σ-space to (α, σ) of the variance-preserving process, and λ = log α − log σ.
        let ((alpha_s, sigma_s), (alpha_t, sigma_t)) = (variance_preserving(from), variance_preserving(to));
        let x0: Vec<f64> = latents
            .iter()
            .zip(output)
            .map(|(&x, &o)| x0_of(self.plan.prediction, (alpha_s, sigma_s), x as f64, o as f64))
            .collect();
        // λ_t is +∞ at σ = 0: then e^{−h} = 0 and the update lands on x₀.
        let lambda = |a: f64, s: f64| a.ln() - s.ln();
        let h = lambda(alpha_t, sigma_t) - lambda(alpha_s, sigma_s);
        let decay = (-h).exp(); // e^{−h}
        let ratio = if to > 0.0 { sigma_t / sigma_s } else { 0.0 };
        // Second order once there is a previous x₀; first order on the first step and the
        // last (the final σ is zero), as diffusers' `lower_order_final`.
        let first_order = i + 1 == self.plan.steps.len();
        let second = match (&self.previous_x0, first_order) {
            (Some(prev), false) if i > 0 => {
                let (a1, s1) = variance_preserving(self.plan.steps[i - 1].from);
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
