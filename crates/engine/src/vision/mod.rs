//! Vision stages: pure functions on images, each tested on synthetic images (models behind
//! traits, faked in tests). Decode → matte → refine → composite → frame.

pub mod composite;
pub mod decode;
pub mod face;
pub mod face_mesh;
pub mod foreground;
pub mod guided;
pub mod matte;
pub mod pose;
pub mod product;
pub mod regions;
pub mod sample;
