//! The diffusion runtime over ONNX (issue 14): the noise schedules and the samplers a diffusers
//! export names, the seeded noise they start from, and the denoising loop that drives a
//! brought export ([`pipeline::generate`]).

pub mod noise;
pub mod pipeline;
pub mod schedule;
pub mod scheduler;

#[cfg(test)]
pub(crate) mod tests;
