//! What the diffusion and try-on benchmarks share: the median of a set of timings, and a
//! [`Progress`] that records when each denoising step was reported.

use std::time::Instant;

use figur_engine::diffusion::pipeline::Progress;
use figur_engine::JobError;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Records when each step was reported.
#[allow(dead_code)] // the diffusion benches use it; the others include this file for the median
pub struct Clock(pub Vec<Instant>);

impl Progress for Clock {
    fn checkpoint(&mut self) -> Result<(), JobError> {
        Ok(())
    }
    fn stepped(&mut self, _: usize, _: usize, _: &mut dyn FnMut() -> image::RgbImage) -> Result<(), JobError> {
        self.0.push(Instant::now());
        Ok(())
    }
}
