//! The noise schedule of a diffusers export (`scheduler/scheduler_config.json`): the betas, the
//! cumulative alphas, and which training timesteps a run of N steps visits. Formulas as in
//! diffusers' schedulers (`DDIMScheduler`, `EulerDiscreteScheduler`,
//! `DPMSolverMultistepScheduler`), computed in f64.

use serde::Deserialize;

/// The fields of `scheduler_config.json` the runtime reads, with diffusers' defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    #[serde(rename = "_class_name")]
    pub class_name: String,
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: String,
    pub prediction_type: String,
    pub timestep_spacing: String,
    pub steps_offset: usize,
    pub set_alpha_to_one: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            class_name: "DDIMScheduler".into(),
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: "linear".into(),
            prediction_type: "epsilon".into(),
            timestep_spacing: "leading".into(),
            steps_offset: 0,
            set_alpha_to_one: true,
        }
    }
}

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    V,
}

/// Which training timesteps a run visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// A config the runtime cannot follow, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scheduler_config.json: {field} `{value}` is not supported ({supported})")]
pub struct Unsupported {
    pub field: &'static str,
    pub value: String,
    pub supported: &'static str,
}

impl SchedulerConfig {
    pub fn prediction(&self) -> Result<Prediction, Unsupported> {
        match self.prediction_type.as_str() {
            "epsilon" => Ok(Prediction::Epsilon),
            "v_prediction" => Ok(Prediction::V),
            other => Err(unsupported("prediction_type", other, "epsilon, v_prediction")),
        }
    }

    pub fn spacing(&self) -> Result<Spacing, Unsupported> {
        match self.timestep_spacing.as_str() {
            "leading" => Ok(Spacing::Leading),
            "trailing" => Ok(Spacing::Trailing),
            "linspace" => Ok(Spacing::Linspace),
            other => Err(unsupported("timestep_spacing", other, "leading, trailing, linspace")),
        }
    }

    /// β for each training timestep.
    pub fn betas(&self) -> Result<Vec<f64>, Unsupported> {
        let n = self.num_train_timesteps;
        let line = |a: f64, b: f64| -> Vec<f64> {
            (0..n).map(|i| if n == 1 { a } else { a + (b - a) * i as f64 / (n - 1) as f64 }).collect()
        };
        match self.beta_schedule.as_str() {
            "linear" => Ok(line(self.beta_start, self.beta_end)),
            "scaled_linear" => {
                Ok(line(self.beta_start.sqrt(), self.beta_end.sqrt()).into_iter().map(|b| b * b).collect())
            }
            "squaredcos_cap_v2" => {
                let alpha_bar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
                Ok((0..n)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999)
                    })
                    .collect())
            }
            other => Err(unsupported("beta_schedule", other, "linear, scaled_linear, squaredcos_cap_v2")),
        }
    }

    /// ᾱ for each training timestep: the cumulative product of 1 − β.
    pub fn alphas_cumprod(&self) -> Result<Vec<f64>, Unsupported> {
        let mut product = 1.0;
        Ok(self
            .betas()?
            .into_iter()
            .map(|b| {
                product *= 1.0 - b;
                product
            })
            .collect())
    }

    /// The integer timesteps of an `steps`-step run, first (noisiest) first, as DDIM and Euler
    /// set them (Euler's `linspace` keeps fractions: see [`SchedulerConfig::euler_timesteps`]).
    pub fn timesteps(&self, steps: usize) -> Result<Vec<f64>, Unsupported> {
        let n = self.num_train_timesteps;
        let steps = steps.clamp(1, n);
        Ok(match self.spacing()? {
            Spacing::Linspace => linspace(0.0, (n - 1) as f64, steps).into_iter().rev().map(f64::round).collect(),
            Spacing::Leading => {
                let ratio = n / steps;
                (0..steps).rev().map(|i| (i * ratio + self.steps_offset) as f64).collect()
            }
            Spacing::Trailing => trailing(n, steps),
        })
    }

    /// Euler's timesteps: as [`SchedulerConfig::timesteps`], but `linspace` is not rounded.
    pub fn euler_timesteps(&self, steps: usize) -> Result<Vec<f64>, Unsupported> {
        let n = self.num_train_timesteps;
        match self.spacing()? {
            Spacing::Linspace => Ok(linspace(0.0, (n - 1) as f64, steps.clamp(1, n)).into_iter().rev().collect()),
            _ => self.timesteps(steps),
        }
    }

    /// DPM-Solver's timesteps: `steps + 1` points spaced over the range, the last dropped.
    pub fn dpm_timesteps(&self, steps: usize) -> Result<Vec<f64>, Unsupported> {
        let n = self.num_train_timesteps;
        let steps = steps.clamp(1, n);
        Ok(match self.spacing()? {
            Spacing::Linspace => {
                let mut t: Vec<f64> =
                    linspace(0.0, (n - 1) as f64, steps + 1).into_iter().rev().map(f64::round).collect();
                t.pop();
                t
            }
            Spacing::Leading => {
                let ratio = n / (steps + 1);
                (1..=steps).rev().map(|i| (i * ratio + self.steps_offset) as f64).collect()
            }
            Spacing::Trailing => trailing(n, steps),
        })
    }
}

fn unsupported(field: &'static str, value: &str, supported: &'static str) -> Unsupported {
    Unsupported { field, value: value.to_string(), supported }
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| if n == 1 { a } else { a + (b - a) * i as f64 / (n - 1) as f64 }).collect()
}

/// `round(arange(n, 0, -n/steps)) - 1`.
fn trailing(n: usize, steps: usize) -> Vec<f64> {
    let ratio = n as f64 / steps as f64;
    (0..steps).map(|i| (n as f64 - i as f64 * ratio).round() - 1.0).collect()
}

/// `np.interp(t, arange(len(values)), values)`: linear between integer points, clamped.
pub fn interp(values: &[f64], t: f64) -> f64 {
    let last = values.len().saturating_sub(1);
    let t = t.clamp(0.0, last as f64);
    let (i, f) = (t.floor() as usize, t.fract());
    if i >= last {
        values[last]
    } else {
        values[i] * (1.0 - f) + values[i + 1] * f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stable Diffusion 1.5's `scheduler_config.json` (PNDM's fields, read by every scheduler).
    pub(crate) fn sd15() -> SchedulerConfig {
        serde_json::from_value(serde_json::json!({
            "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false,
            "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null
        }))
        .unwrap()
    }

    #[test]
    fn stable_diffusion_s_schedule_has_its_known_extremes() {
        let ac = sd15().alphas_cumprod().unwrap();
        assert!((ac[0] - 0.99915).abs() < 1e-12);
        assert!((ac[999] - 0.004660).abs() < 1e-5, "{}", ac[999]);
        // SD 1.5's σ_max, the Euler sampler's starting noise.
        let sigma_max = ((1.0 - ac[999]) / ac[999]).sqrt();
        assert!((sigma_max - 14.6146).abs() < 1e-3, "{sigma_max}");
    }

    #[test]
    fn timesteps_follow_each_spacing_as_diffusers_does() {
        let leading = sd15().timesteps(50).unwrap();
        assert_eq!((leading[0], leading[1], leading[49], leading.len()), (981.0, 961.0, 1.0, 50));
        let trailing = SchedulerConfig { timestep_spacing: "trailing".into(), ..sd15() };
        assert_eq!(trailing.timesteps(4).unwrap(), [999.0, 749.0, 499.0, 249.0], "SD-Turbo's four steps");
        assert_eq!(trailing.timesteps(1).unwrap(), [999.0]);
        let linspace = SchedulerConfig { timestep_spacing: "linspace".into(), ..sd15() };
        assert_eq!(
            linspace.timesteps(10).unwrap(),
            [999.0, 888.0, 777.0, 666.0, 555.0, 444.0, 333.0, 222.0, 111.0, 0.0]
        );
        assert_eq!(linspace.euler_timesteps(3).unwrap(), [999.0, 499.5, 0.0], "Euler keeps fractions");
        // DPM-Solver spaces steps + 1 points and drops the last.
        assert_eq!(sd15().dpm_timesteps(4).unwrap(), [801.0, 601.0, 401.0, 201.0]);
        assert_eq!(linspace.dpm_timesteps(3).unwrap(), [999.0, 666.0, 333.0]);
    }

    #[test]
    fn the_cosine_schedule_caps_its_betas_and_unknown_fields_are_named() {
        let cos = SchedulerConfig { beta_schedule: "squaredcos_cap_v2".into(), ..SchedulerConfig::default() };
        let betas = cos.betas().unwrap();
        assert!(betas.iter().all(|b| *b > 0.0 && *b <= 0.999) && betas[999] == 0.999);
        let odd = SchedulerConfig { beta_schedule: "sigmoid".into(), ..SchedulerConfig::default() };
        assert_eq!(odd.betas().unwrap_err().field, "beta_schedule");
        let odd = SchedulerConfig { prediction_type: "sample".into(), ..SchedulerConfig::default() };
        assert_eq!(odd.prediction().unwrap_err().field, "prediction_type");
        assert_eq!(interp(&[0.0, 10.0, 20.0], 1.5), 15.0);
        assert_eq!(interp(&[0.0, 10.0, 20.0], 7.0), 20.0);
    }
}
