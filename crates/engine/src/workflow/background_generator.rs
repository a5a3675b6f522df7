//! `background-generator`: a procedural studio backdrop from `scene_type`, `mood`,
//! `dominant_colors`, `resolution`, `aspect_ratio` and `seed`, filed as a catalog background.
//! Same spec and seed → identical bytes. The generator is `figur-procedural-backdrop-1`; the
//! `image_model` field is the slot where a learned generator would be named.

use serde_json::json;

use super::{Filing, JobContext, Output, Stage, Workflow};
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{generator_problems, parse_aspect_ratio, BackgroundGeneratorRequest, Resolution};
use crate::error::FieldError;
use crate::failure::JobError;
use crate::render::backdrop::{self, MOODS, SCENES};
use crate::render::color;

pub const MODEL_ID: &str = "figur-procedural-backdrop-1";
pub const MAX_COLORS: usize = 3;

#[derive(Debug)]
pub struct BackgroundGenerator;

/// Output size from the resolution (long side) and `W:H` aspect ratio (default 4:3 landscape).
pub fn output_size(resolution: Option<Resolution>, aspect_ratio: Option<&str>) -> (u32, u32) {
    let long = resolution.unwrap_or_default().long_side();
    let (w, h) = aspect_ratio.and_then(parse_aspect_ratio).unwrap_or((4, 3));
    if w >= h {
        (long, ((long as u64 * h as u64) / w as u64).max(1) as u32)
    } else {
        (((long as u64 * w as u64) / h as u64).max(1) as u32, long)
    }
}

/// Checks the backdrop vocabulary; shared with `background-swap-with-spec`.
pub fn validate_spec(scene_type: &str, mood: &str, colors: Option<&[String]>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if !SCENES.contains(&scene_type) {
        problems.push(FieldError::new(
            "body",
            "scene_type",
            format!("unknown scene_type `{scene_type}`; one of {}", SCENES.join(", ")),
            "enum",
        ));
    }
    if !MOODS.contains(&mood) {
        problems.push(FieldError::new(
            "body",
            "mood",
            format!("unknown mood `{mood}`; one of {}", MOODS.join(", ")),
            "enum",
        ));
    }
    let colors = colors.unwrap_or_default();
    if colors.len() > MAX_COLORS {
        problems.push(FieldError::new("body", "dominant_colors", format!("at most {MAX_COLORS} colours"), "too_long"));
    }
    for (i, c) in colors.iter().enumerate() {
        if color::parse(c).is_none() {
            problems.push(FieldError::new(
                "body",
                &format!("dominant_colors.{i}"),
                format!("`{c}` is neither a colour name (e.g. sage, navy, ivory) nor #RRGGBB"),
                "value_error",
            ));
        }
    }
    problems
}

fn title(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

impl Workflow for BackgroundGenerator {
    type Request = BackgroundGeneratorRequest;
    const CLASS: OpClass = OpClass::Generator;
    const PRICE: i64 = 5;
    const STAGES: &'static [Stage] =
        &[Stage::Palette, Stage::Base, Stage::Texture, Stage::Light, Stage::Finish, Stage::Catalog];

    fn structure(r: &BackgroundGeneratorRequest) -> Vec<FieldError> {
        let mut problems = Vec::new();
        generator_problems(&r.aspect_ratio, &r.display_name, &mut problems);
        problems
    }

    fn vocabulary(r: &BackgroundGeneratorRequest) -> Vec<FieldError> {
        let mut problems = validate_spec(&r.scene_type, &r.mood, r.dominant_colors.as_deref());
        problems.extend(super::image_model_problem(r.image_model.as_deref(), MODEL_ID));
        problems
    }

    fn run(ctx: &mut JobContext, r: BackgroundGeneratorRequest) -> Result<Output, JobError> {
        let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
        let (width, height) = output_size(r.resolution, r.aspect_ratio.as_deref());
        let colors: Vec<_> = r.dominant_colors.iter().flatten().filter_map(|c| color::parse(c)).collect();
        let plan = backdrop::plan(&r.scene_type, &r.mood, &colors, width, height, seed);

        let swatch = ctx.save_png(
            &image::DynamicImage::ImageRgb8(backdrop::swatch(&plan.palette)),
            "palette",
            ArtifactRole::Intermediate,
            "Palette: wall, floor, highlight",
        )?;
        ctx.stage_with(
            Stage::Palette,
            format!("palette {}", plan.palette.hexes().join(" ")),
            vec![swatch],
            json!({ "palette": plan.palette.hexes(), "seed": seed }),
        )?;

        ctx.stage(Stage::Base, format!("laying out a {} {width}×{height}", r.scene_type.replace('_', " ")))?;
        let mut check = || ctx.checkpoint();
        let mut canvas = backdrop::base(&plan, &mut check)?;
        ctx.stage(Stage::Texture, "adding surface texture")?;
        let mut check = || ctx.checkpoint();
        backdrop::texture(&plan, &mut canvas, &mut check)?;
        ctx.stage(Stage::Light, format!("lighting for a {} mood", r.mood))?;
        let mut check = || ctx.checkpoint();
        backdrop::light(&plan, &mut canvas, &mut check)?;
        ctx.stage(Stage::Finish, "grading, grain and dither")?;
        let mut check = || ctx.checkpoint();
        let image = backdrop::finish(&plan, &canvas, &mut check)?;
        drop(canvas);

        let label = format!("{} · {}", title(&r.scene_type), r.mood);
        let background =
            ctx.save_png(&image::DynamicImage::ImageRgb8(image), "background", ArtifactRole::Final, &label)?;
        ctx.stage(Stage::Catalog, "filing the backdrop in the catalog")?;

        let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
        let spec = serde_json::to_value(&r).unwrap_or_default();
        let description = format!(
            "{} backdrop, {} mood, palette {}, {width}×{height}, seed {seed}",
            title(&r.scene_type),
            r.mood,
            plan.palette.hexes().join(" ")
        );
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), json!(seed));
        extra.insert("width".into(), json!(width));
        extra.insert("height".into(), json!(height));
        extra.insert("palette".into(), json!(plan.palette.hexes()));
        extra.insert("provenance".into(), json!({ "generator": MODEL_ID, "scene_type": r.scene_type, "mood": r.mood }));
        Ok(Output {
            finals: vec![background],
            filing: Filing::Catalog { resource: "backgrounds", display_name, description, spec },
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_resolution_and_aspect() {
        assert_eq!(output_size(None, None), (1024, 768));
        assert_eq!(output_size(Some(Resolution::Half), Some("3:4")), (384, 512));
        assert_eq!(output_size(Some(Resolution::Four), Some("16:9")), (4096, 2304));
        assert_eq!(output_size(Some(Resolution::Two), Some("1:1")), (2048, 2048));
    }

    #[test]
    fn vocabulary_errors_name_the_field() {
        let p = validate_spec("moon", "soft", Some(&["sage".into(), "#12".into()]));
        let locs: Vec<_> = p.iter().map(|e| serde_json::to_value(&e.loc).unwrap()).collect();
        assert_eq!(locs, vec![json!(["body", "scene_type"]), json!(["body", "dominant_colors", 1])]);
        assert!(validate_spec("gradient", "moody", None).is_empty());
    }
}
