//! Image making that needs no model: colours, noise and procedural backdrops.

pub mod backdrop;
pub mod figure;
pub mod flats;
pub mod noise;
pub mod wording;
