//! Diffusion models users bring (diffusers exports in Optimum's ONNX layout): the tokenizer,
//! the four graphs opened on a provider, and the download from a hub. The denoising loop that
//! drives them is the engine's (`figur_engine::diffusion`).

pub mod export;
pub mod tokenizer;

pub use export::Export;
pub use tokenizer::ClipTokenizer;
