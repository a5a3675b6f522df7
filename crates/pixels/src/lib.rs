//! # Figur Studio's pixels
//!
//! Pure image work, below the engine: nothing here knows of jobs, models, stores or the ledger,
//! and the crate's dependencies make that a rule the compiler keeps. Models reach this code as
//! plain inputs through small traits the engine implements (tensors in, tensors out:
//! [`vision::matte::Segmenter`], [`vision::product::ForegroundModel`]); a job's checkpoint
//! comes in as a closure; errors go out as [`Error`], which the engine turns into its failure
//! codes.
//!
//! Layout, each layer using only those above it:
//! - [`color`], [`plane`]: colour spaces and named colours; float planes, box means and the
//!   guided filter — shared by everything below.
//! - [`format`]: which image format bytes are, the decoder guard, the JPEG and PNG wholeness
//!   checks and the size limits (the upload check and a job's decode agree on them).
//! - [`vision`]: photos in, pictures out — decode, matte, pose and face decoding, fitting,
//!   warping, compositing, the try-on and swap pixel steps.
//! - [`render`]: pictures made without models — backdrops, figures, garment flats, and the
//!   reading of free text into what can be drawn.

pub mod color;
pub mod format;
pub mod plane;
pub mod render;
pub mod vision;

/// What pixel work can fail with. The engine maps each to a job failure code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not a readable image (corrupt, truncated, another format).
    #[error("the image could not be read: {0}")]
    Unreadable(String),
    /// The image is readable but beyond the size limits.
    #[error("{0}")]
    TooLarge(String),
    /// A model gave back something its pixel code cannot use (a wrong export, a bug).
    #[error("{0}")]
    Model(String),
}
