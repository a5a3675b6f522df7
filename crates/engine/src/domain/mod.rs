//! The nouns of the /v1 contract: the shapes that cross the engine's edge.

pub mod catalog;
pub mod compatibility;
pub mod garments;
pub mod job;
pub mod operation;
pub mod requests;
