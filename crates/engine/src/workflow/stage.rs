//! The named steps jobs report: one durable `stage` event each, with progress. A workflow
//! lists its stages in order ([`Workflow::STAGES`](super::Workflow::STAGES)) and reports them
//! by value, so a misspelt stage does not compile.

/// A stage, named in events as its snake-case name (`"garments"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading and decoding the inputs.
    Decode,
    /// The person matte.
    Person,
    /// The person matte (edits: the subject may be a product).
    Matte,
    /// The matte's edge refined at full resolution.
    Refine,
    /// The body's landmarks.
    Pose,
    /// The face and its mesh.
    Face,
    /// Body regions found from the landmarks.
    Regions,
    /// Garments cut out, their landmarks found.
    Garments,
    /// Items cut out of a photo.
    Cutouts,
    /// Garments warped onto the body.
    Fit,
    /// A drawn figure.
    Figure,
    /// The look board laid out.
    Board,
    /// The background built or placed.
    Background,
    /// The subject placed on the background.
    Composite,
    /// A backdrop's palette.
    Palette,
    /// A backdrop's base gradient.
    Base,
    /// A backdrop's surface texture.
    Texture,
    /// A backdrop's light.
    Light,
    /// A garment's flat cut.
    Cut,
    /// A garment's fabric.
    Fabric,
    /// A diffusion model's denoising loop (an event per step).
    Denoise,
    /// The output encoded and stored.
    Finish,
    /// The output filed in the catalog.
    Catalog,
}

impl Stage {
    pub const ALL: [Stage; 23] = [
        Stage::Decode,
        Stage::Person,
        Stage::Matte,
        Stage::Refine,
        Stage::Pose,
        Stage::Face,
        Stage::Regions,
        Stage::Garments,
        Stage::Cutouts,
        Stage::Fit,
        Stage::Figure,
        Stage::Board,
        Stage::Background,
        Stage::Composite,
        Stage::Palette,
        Stage::Base,
        Stage::Texture,
        Stage::Light,
        Stage::Cut,
        Stage::Fabric,
        Stage::Denoise,
        Stage::Finish,
        Stage::Catalog,
    ];

    pub fn from_name(name: &str) -> Option<Stage> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Person => "person",
            Stage::Matte => "matte",
            Stage::Refine => "refine",
            Stage::Pose => "pose",
            Stage::Face => "face",
            Stage::Regions => "regions",
            Stage::Garments => "garments",
            Stage::Cutouts => "cutouts",
            Stage::Fit => "fit",
            Stage::Figure => "figure",
            Stage::Board => "board",
            Stage::Background => "background",
            Stage::Composite => "composite",
            Stage::Palette => "palette",
            Stage::Base => "base",
            Stage::Texture => "texture",
            Stage::Light => "light",
            Stage::Cut => "cut",
            Stage::Fabric => "fabric",
            Stage::Denoise => "denoise",
            Stage::Finish => "finish",
            Stage::Catalog => "catalog",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
