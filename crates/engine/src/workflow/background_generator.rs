//! `background-generator`: a procedural studio backdrop from `scene_type`, `mood`,
//! `dominant_colors`, `resolution`, `aspect_ratio` and `seed`, filed as a catalog background.
//! Same spec and seed → identical bytes. The generator is `figur-procedural-backdrop-1`, or,
//! when `image_model` names a diffusion model the user added (`figur models add`), that model
//! draws a photographic backdrop from a prompt built of the request's words.

use serde_json::json;

use super::{denoise, prompts, Filing, JobContext, Output, Stage, Workflow};
use crate::diffusion::pipeline::Generate;
use crate::domain::catalog::CatalogResource;
use crate::domain::job::ArtifactRole;
use crate::domain::operation::OpClass;
use crate::domain::requests::{
    generator_problems, parse_aspect_ratio, BackgroundGeneratorRequest, Reference, Resolution,
};
use crate::error::FieldError;
use crate::failure::JobError;
use figur_pixels::color;
use figur_pixels::render::backdrop;
use figur_pixels::render::wording::{self, DrawnAs};

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

/// Checks a backdrop spec's text; shared with `background-swap-with-spec`. Scene and mood are
/// free text (anything is drawn as something, see [`read_spec`]); each colour must name one.
pub fn validate_spec(scene_type: &str, mood: &str, colors: Option<&[String]>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    for (field, text) in [("scene_type", scene_type), ("mood", mood)] {
        problems.extend(text_problem(field, text));
    }
    let colors = colors.unwrap_or_default();
    if colors.len() > MAX_COLORS {
        problems.push(FieldError::new("body", "dominant_colors", format!("at most {MAX_COLORS} colours"), "too_long"));
    }
    for (i, c) in colors.iter().enumerate() {
        let field = format!("dominant_colors.{i}");
        match text_problem(&field, c) {
            Some(problem) => problems.push(problem),
            None if wording::colour(c).is_none() => problems.push(FieldError::new(
                "body",
                &field,
                format!("`{c}` names no colour (e.g. sage, midnight blue, pale pink, #1F2A44)"),
                "vocabulary",
            )),
            None => {}
        }
    }
    problems
}

/// A descriptive field's text: not empty, not past [`wording::MAX_TEXT`] characters.
pub fn text_problem(field: &str, text: &str) -> Option<FieldError> {
    if text.is_empty() {
        return Some(FieldError::new("body", field, "must not be empty", "too_short"));
    }
    (text.chars().count() > wording::MAX_TEXT)
        .then(|| FieldError::new("body", field, format!("at most {} characters", wording::MAX_TEXT), "too_long"))
}

/// What a spec's free text draws, and where that is not what was asked.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    pub scene: &'static str,
    pub mood: &'static str,
    pub colors: Vec<color::Rgb>,
    pub drawn_as: DrawnAs,
}

/// Reads a spec (validated) for the procedural backdrop.
pub fn read_spec(scene_type: &str, mood: &str, colors: &[String]) -> ReadSpec {
    let (scene, moodd) = (wording::scene(scene_type), wording::mood(mood));
    let mut drawn_as = DrawnAs::default();
    drawn_as.note("scene_type", scene_type, scene.value, scene.exact);
    drawn_as.note("mood", mood, moodd.value, moodd.exact);
    let mut rgb = Vec::new();
    for (i, c) in colors.iter().enumerate() {
        if let Some(drawn) = wording::colour(c) {
            drawn_as.note(&format!("dominant_colors.{i}"), c, color::to_hex(drawn.value), drawn.exact);
            rgb.push(drawn.value);
        }
    }
    ReadSpec { scene: scene.value, mood: moodd.value, colors: rgb, drawn_as }
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
    /// A diffusion model denoises; the procedural generator lays out its palette, base,
    /// texture and light instead.
    const STAGES: &'static [Stage] = &[
        Stage::Denoise,
        Stage::Upscale,
        Stage::Palette,
        Stage::Base,
        Stage::Texture,
        Stage::Light,
        Stage::Finish,
        Stage::Catalog,
    ];

    fn structure(r: &BackgroundGeneratorRequest) -> Vec<FieldError> {
        let mut problems = super::upscale::config_problems(r.runtime_config.as_ref());
        generator_problems(&r.aspect_ratio, &r.display_name, &mut problems);
        problems
    }

    fn vocabulary(r: &BackgroundGeneratorRequest) -> Vec<FieldError> {
        validate_spec(&r.scene_type, &r.mood, r.dominant_colors.as_deref())
    }

    /// No `image_model`: the studio's default for this generator, if one is set.
    fn defaults(r: &mut Self::Request, defaults: &dyn Fn() -> crate::settings::ModelDefaults) {
        if r.image_model.is_none() {
            r.image_model = defaults().get(crate::settings::ModelUse::BackgroundGenerator).map(str::to_string);
        }
    }

    fn references(r: &BackgroundGeneratorRequest) -> Vec<Reference> {
        super::image_model_reference(r.image_model.as_deref(), MODEL_ID)
    }

    fn run(ctx: &mut JobContext, r: BackgroundGeneratorRequest) -> Result<Output, JobError> {
        let seed = r.seed.unwrap_or_else(|| ctx.default_seed());
        let (width, height) = output_size(r.resolution, r.aspect_ratio.as_deref());
        if let Some(model) = r.image_model.as_deref().filter(|m| *m != MODEL_ID) {
            return generate(ctx, &r, model, seed, (width, height));
        }
        let read = read_spec(&r.scene_type, &r.mood, r.dominant_colors.as_deref().unwrap_or_default());
        let plan = backdrop::plan(read.scene, read.mood, &read.colors, width, height, seed);

        let swatch = ctx.save_png(
            &image::DynamicImage::ImageRgb8(backdrop::swatch(&plan.palette)),
            "palette",
            ArtifactRole::Intermediate,
            "Palette: wall, floor, highlight",
        )?;
        let message = format!("palette {}{}", plan.palette.hexes().join(" "), read.drawn_as.suffix());
        ctx.stage_with(
            Stage::Palette,
            message,
            vec![swatch],
            json!({ "palette": plan.palette.hexes(), "seed": seed, "drawn_as": read.drawn_as }),
        )?;

        ctx.stage(Stage::Base, format!("laying out a {} {width}×{height}", read.scene.replace('_', " ")))?;
        let mut check = || ctx.checkpoint();
        let mut canvas = backdrop::base(&plan, &mut check)?;
        ctx.stage(Stage::Texture, "adding surface texture")?;
        let mut check = || ctx.checkpoint();
        backdrop::texture(&plan, &mut canvas, &mut check)?;
        ctx.stage(Stage::Light, format!("lighting for a {} mood", read.mood))?;
        let mut check = || ctx.checkpoint();
        backdrop::light(&plan, &mut canvas, &mut check)?;
        ctx.stage(Stage::Finish, "grading, grain and dither")?;
        let mut check = || ctx.checkpoint();
        let image = backdrop::finish(&plan, &canvas, &mut check)?;
        drop(canvas);

        let label = format!("{} · {}", title(read.scene), read.mood);
        let background =
            ctx.save_png(&image::DynamicImage::ImageRgb8(image), "background", ArtifactRole::Final, &label)?;
        ctx.stage(Stage::Catalog, "filing the backdrop in the catalog")?;

        let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
        let spec = serde_json::to_value(&r).unwrap_or_default();
        let mut description = format!(
            "{} backdrop, {} mood, palette {}, {width}×{height}, seed {seed}",
            title(read.scene),
            read.mood,
            plan.palette.hexes().join(" ")
        );
        if !read.drawn_as.is_empty() {
            description = format!("{description} ({})", read.drawn_as.sentence());
        }
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), json!(seed));
        extra.insert("width".into(), json!(width));
        extra.insert("height".into(), json!(height));
        extra.insert("palette".into(), json!(plan.palette.hexes()));
        extra.insert(
            "provenance".into(),
            json!({ "generator": MODEL_ID, "scene_type": read.scene, "mood": read.mood, "drawn_as": read.drawn_as }),
        );
        Ok(Output {
            finals: vec![background],
            filing: Filing::Catalog { resource: CatalogResource::Backgrounds, display_name, description, spec },
            extra,
        })
    }
}

/// The size a model draws a `width`×`height` picture at: its own native side on the long edge
/// (512 when its config says none), the short edge in proportion, both rounded to the model's
/// multiple. The picture is then scaled and centre-cropped to the size asked for.
pub fn generation_size(native: u32, multiple: u32, (width, height): (u32, u32)) -> (u32, u32) {
    let round = |v: f64| ((v / multiple as f64).round() as u32).max(1) * multiple;
    let long = round(native as f64);
    if width >= height {
        (long, round(native as f64 * height as f64 / width as f64))
    } else {
        (round(native as f64 * width as f64 / height as f64), long)
    }
}

/// The backdrop drawn by a diffusion model the user added.
fn generate(
    ctx: &mut JobContext,
    r: &BackgroundGeneratorRequest,
    model: &str,
    seed: u64,
    (width, height): (u32, u32),
) -> Result<Output, JobError> {
    let colours = r.dominant_colors.clone().unwrap_or_default();
    let prompt = prompts::backdrop(&r.scene_type, &r.mood, &colours);
    let export = ctx.diffusion_model(model)?;
    let multiple = 8 * export.vae_scale as u32;
    let (gw, gh) = generation_size(export.native_size.unwrap_or(512), multiple, (width, height));
    let scheduler = export.record.scheduler.clone();
    let (steps, guidance) = denoise::tuned(&export);
    drop(export);
    let request = Generate {
        prompt: prompt.prompt.clone(),
        negative: prompt.negative.clone(),
        steps,
        guidance,
        seed,
        width: gw,
        height: gh,
        init: None,
        mask: None,
    };
    let mut made = denoise::run(ctx, Stage::Denoise, model, &request, 5, denoise::Intro::plain())?;
    let asked = super::upscale::asked(r.runtime_config.as_ref());
    let drawn = std::mem::take(&mut made.image);
    let (drawn, upscale) = super::upscale::enlarge_to(ctx, drawn, (width, height), asked, Stage::Upscale)?;
    ctx.stage(Stage::Finish, format!("framing the {}×{} picture to {width}×{height}", drawn.width(), drawn.height()))?;
    let image = figur_pixels::vision::composite::cover(&drawn, width, height);
    drop(drawn);
    let label = format!("{} · {}", r.scene_type.trim(), r.mood.trim());
    let background = ctx.save_png(&image::DynamicImage::ImageRgb8(image), "background", ArtifactRole::Final, &label)?;
    ctx.stage(Stage::Catalog, "filing the backdrop in the catalog")?;
    let display_name = if r.display_name.is_empty() { label.clone() } else { r.display_name.clone() };
    let spec = serde_json::to_value(r).unwrap_or_default();
    let description = format!("{label}, drawn by {model} at {gw}×{gh}, framed to {width}×{height}, seed {seed}");
    let mut extra = serde_json::Map::new();
    extra.insert("seed".into(), json!(seed));
    extra.insert("width".into(), json!(width));
    extra.insert("height".into(), json!(height));
    let mut provenance = denoise::provenance(model, &scheduler, &request, &made);
    provenance.insert("upscale".into(), upscale);
    extra.insert("provenance".into(), json!(provenance));
    Ok(Output {
        finals: vec![background],
        filing: Filing::Catalog { resource: CatalogResource::Backgrounds, display_name, description, spec },
        extra,
    })
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
    fn a_model_draws_at_its_own_size_in_proportion() {
        assert_eq!(generation_size(512, 64, (1024, 768)), (512, 384));
        assert_eq!(generation_size(768, 64, (2304, 4096)), (448, 768));
        assert_eq!(generation_size(512, 64, (4096, 1024)), (512, 128));
        assert_eq!(generation_size(32, 8, (1024, 768)), (32, 24));
    }

    #[test]
    fn vocabulary_errors_name_the_field() {
        let p = validate_spec("moon", "", Some(&["sage".into(), "banana vibes".into()]));
        let locs: Vec<_> = p.iter().map(|e| serde_json::to_value(&e.loc).unwrap()).collect();
        assert_eq!(locs, vec![json!(["body", "mood"]), json!(["body", "dominant_colors", 1])]);
        assert!(validate_spec("gradient", "moody", None).is_empty());
        assert!(validate_spec("studio", "calm", Some(&["midnight blue".into()])).is_empty());
        let long = "x".repeat(201);
        assert_eq!(validate_spec(&long, "soft", None)[0].kind, "too_long");
    }

    #[test]
    fn free_text_is_drawn_as_the_nearest_and_said() {
        let read = read_spec("studio", "calm", &["midnight blue".into(), "sage".into()]);
        assert_eq!((read.scene, read.mood, read.colors.len()), ("studio_sweep", "soft", 2));
        let d = &read.drawn_as.0;
        assert_eq!(d["scene_type"], json!({"asked": "studio", "drawn": "studio_sweep"}));
        assert_eq!(d["mood"]["drawn"], "soft");
        assert!(d.contains_key("dominant_colors.0") && !d.contains_key("dominant_colors.1"));
        let sentence = read.drawn_as.sentence();
        assert!(sentence.contains("scene_type \"studio\" drawn as studio_sweep"), "{sentence}");
        assert!(read_spec("paper", "warm", &[]).drawn_as.is_empty());
    }
}
