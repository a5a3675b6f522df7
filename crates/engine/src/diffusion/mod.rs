//! The diffusion runtime over ONNX (issue 14), built bottom-up. Here so far: the noise
//! schedules and the samplers a diffusers export names, checked against an oracle UNet whose
//! output carries any latent exactly to a known target, and the seeded noise they start from.

pub mod noise;
pub mod sampler;
pub mod schedule;
