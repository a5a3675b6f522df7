//! Vision stages: pure functions on images, each tested on synthetic images (models behind
//! traits, faked in tests). Decode → matte → refine → composite → frame.

pub mod agnostic;
pub mod board;
pub mod composite;
pub mod decode;
pub mod dress;
pub mod encode;
pub mod face;
pub mod face_mesh;
pub mod fit;
pub mod foreground;
pub mod garment;
pub mod limbs;
pub mod matte;
pub mod overlay;
pub mod place;
pub mod pose;
pub mod product;
pub mod regions;
pub mod repaint;
pub mod resample;
pub mod sample;
pub mod skin;
pub mod tps;
pub mod upscale;
