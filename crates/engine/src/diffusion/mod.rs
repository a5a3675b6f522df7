//! The diffusion runtime over ONNX (issue 14): the noise schedules and the samplers a diffusers
//! export names, the seeded noise they start from, and the denoising loop that drives a
//! brought export ([`pipeline::generate`]); the try-on pipeline over a CatVTON-layout export
//! ([`try_on::dress`]).

pub mod noise;
pub mod pipeline;
pub mod schedule;
pub mod scheduler;
pub mod try_on;

#[cfg(test)]
pub(crate) mod tests;
