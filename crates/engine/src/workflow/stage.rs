//! The named steps jobs report: one durable `stage` event each, with progress. A workflow
//! lists its stages in order ([`Workflow::STAGES`](super::Workflow::STAGES)) and reports them
//! by value, so a misspelt stage does not compile.

crate::vocabulary! {
    /// A stage, named in events as its snake-case name (`"garments"`).
    pub enum Stage {
        /// Reading and decoding the inputs.
        Decode = "decode",
        /// The person matte.
        Person = "person",
        /// The person matte (edits: the subject may be a product).
        Matte = "matte",
        /// The matte's edge refined at full resolution.
        Refine = "refine",
        /// The body's landmarks.
        Pose = "pose",
        /// The face and its mesh.
        Face = "face",
        /// Body regions found from the landmarks.
        Regions = "regions",
        /// Garments cut out, their landmarks found.
        Garments = "garments",
        /// Items cut out of a photo.
        Cutouts = "cutouts",
        /// Garments warped onto the body.
        Fit = "fit",
        /// A drawn figure.
        Figure = "figure",
        /// The look board laid out.
        Board = "board",
        /// The background built or placed.
        Background = "background",
        /// The subject placed on the background.
        Composite = "composite",
        /// A backdrop's palette.
        Palette = "palette",
        /// A backdrop's base gradient.
        Base = "base",
        /// A backdrop's surface texture.
        Texture = "texture",
        /// A backdrop's light.
        Light = "light",
        /// A garment's flat cut.
        Cut = "cut",
        /// A garment's fabric.
        Fabric = "fabric",
        /// A diffusion model's denoising loop (an event per step).
        Denoise = "denoise",
        /// A picture enlarged by the upscaler, tile by tile (an event per band of tiles).
        Upscale = "upscale",
        /// The output encoded and stored.
        Finish = "finish",
        /// The output filed in the catalog.
        Catalog = "catalog",
    }
}
