//! The typed request bodies of the eleven workflows, and their parsing into field-named errors.
//!
//! Parsing is strict: unknown fields, missing required fields and bad enum values are 422s whose
//! `loc` names the field. Checks that need the ledger (does this upload key exist?) are listed
//! by [`WorkflowRequest::references`] and done by the engine.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "UPPERCASE")]
pub enum UserCategory {
    Male,
    Female,
}

/// Long side of the output: 512, 1024, 2048 or 4096 px.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Resolution {
    #[serde(rename = "0.5K")]
    Half,
    #[serde(rename = "1K")]
    #[default]
    One,
    #[serde(rename = "2K")]
    Two,
    #[serde(rename = "4K")]
    Four,
}

impl Resolution {
    pub fn long_side(self) -> u32 {
        match self {
            Resolution::Half => 512,
            Resolution::One => 1024,
            Resolution::Two => 2048,
            Resolution::Four => 4096,
        }
    }
}

/// Output framing for edits (decision, see API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OutputPreset {
    /// 2048×2048 on white.
    EcommerceSquare,
    /// 1600×2000.
    EcommercePortrait,
    /// 3:4, 2048 px long side.
    Lookbook,
    /// 1080×1920.
    SocialStory,
    /// The source's own size.
    Original,
}

impl OutputPreset {
    /// The output size; `original` keeps the source's size.
    pub fn size(self, source: (u32, u32)) -> (u32, u32) {
        match self {
            OutputPreset::EcommerceSquare => (2048, 2048),
            OutputPreset::EcommercePortrait => (1600, 2000),
            OutputPreset::Lookbook => (1536, 2048),
            OutputPreset::SocialStory => (1080, 1920),
            OutputPreset::Original => source,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TryOnItem {
    /// Upload key of the garment photo.
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub trial_image: String,
    /// A garment category `key` from `GET /v1/garment-categories`.
    pub trial_item_category: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RenderParams {
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TryOnRequest {
    /// Upload key of the person photo.
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub user_image: String,
    pub user_category: Option<UserCategory>,
    #[schema(min_items = 1, max_items = 8)]
    pub items: Vec<TryOnItem>,
    /// Extensions: `refine` (an inpainting model over the fitted draft) and `try_on_model` (a
    /// try-on model that draws the garments): each true, false or an added model's name.
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
    pub render_params: Option<RenderParams>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ExtractionContext {
    #[schema(minimum = 1, maximum = 10)]
    pub max_items: Option<u32>,
    pub product_name: Option<String>,
    pub product_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub trial_image: String,
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
    pub extraction_context: Option<ExtractionContext>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct LookRequest {
    pub user_category: Option<UserCategory>,
    #[schema(min_items = 1, max_items = 8)]
    pub items: Vec<TryOnItem>,
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/upscale` (an extension): a photo or a render enlarged by the learned upscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct UpscaleRequest {
    /// An upload key; exactly one of this and `source_render_public_id`.
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub source_image_s3_key: Option<String>,
    pub source_render_public_id: Option<String>,
    /// 2 or 4 (the default): the result's sides, in the source's.
    #[schema(minimum = 2, maximum = 4)]
    pub scale: Option<u32>,
}

/// Declares a generator request: the fields every generator shares, then its own.
macro_rules! generator_request {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The generator to use; `null` picks the studio's default.
            pub image_model: Option<String>,
            pub eval_enabled: Option<bool>,
            pub resolution: Option<Resolution>,
            /// `W:H` in whole numbers from 1 to 100, e.g. `1:1`, `3:4`, `16:9`; at most 4:1 either way.
            #[schema(pattern = "^([1-9][0-9]?|100):([1-9][0-9]?|100)$")]
            pub aspect_ratio: Option<String>,
            /// Same seed and spec → identical output. Omitted: a random seed, reported in the result.
            pub seed: Option<u64>,
            pub on_technical_failure: Option<String>,
            #[serde(default)]
            #[schema(max_length = 200)]
            pub display_name: String,
            #[schema(value_type = Option<Object>)]
            pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
            pub pilot_brand: Option<String>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }
    };
}

generator_request!(ModelGeneratorRequest {
    gender: UserCategory,
    #[schema(max_length = 64)]
    ethnicity: String,
    /// Free text (`petite`, `athletic`); drawn as the nearest of slim, average, athletic, curvy, plus.
    #[schema(min_length = 1, max_length = 200)]
    body_type: String,
    /// Free text (`25-34`, `30s`, `senior`); drawn as the overlapping bucket of 18-25, 26-35,
    /// 36-45, 46-60, 60+. Adults only: a range wholly under 18 is refused.
    #[schema(min_length = 1, max_length = 200)]
    age_range: String,
    /// Extension: `upscale` (`false`: what an added model drew is framed by resampling, not
    /// enlarged by the upscaler).
    #[schema(value_type = Option<Object>)]
    runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
});

generator_request!(BackgroundGeneratorRequest {
    /// Free text (`studio`, `raw concrete loft`); the procedural generator draws the nearest of
    /// `studio_sweep`, `gradient`, `paper`, `concrete`, `linen` and says so in the job's events.
    #[schema(min_length = 1, max_length = 200)]
    scene_type: String,
    /// Free text (`calm`, `golden hour`); drawn as the nearest of `bright`, `soft`, `neutral`,
    /// `warm`, `cool`, `moody`, `dramatic`.
    #[schema(min_length = 1, max_length = 200)]
    mood: String,
    /// Colour names (`sage`, `navy`), words (`midnight blue`) or `#RRGGBB`; the first is the
    /// dominant one.
    #[schema(max_items = 3)]
    dominant_colors: Option<Vec<String>>,
    /// Extension: `upscale` (`false`: what an added model drew is framed by resampling, not
    /// enlarged by the upscaler).
    #[schema(value_type = Option<Object>)]
    runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
});

generator_request!(ComplementaryGarmentGeneratorRequest {
    garment_category_public_id: String,
    /// A colour name, words (`midnight blue`, `dusty rose`) or `#RRGGBB`.
    #[schema(min_length = 1, max_length = 200)]
    color: String,
    /// Free text (`cashmere`, `raw denim`); drawn as the nearest material the flats know.
    #[schema(min_length = 1, max_length = 200)]
    material: String,
    /// Free text (`breton stripe`, `tartan`); drawn as the nearest pattern the flats know.
    #[schema(min_length = 1, max_length = 200)]
    pattern: String,
    /// Free text (`slim`, `oversized`); drawn as slim, regular or loose.
    #[schema(min_length = 1, max_length = 200)]
    fit: Option<String>,
    /// Free text (`cropped`, `midi`, `ankle`); drawn as the nearest length the flats know.
    #[schema(min_length = 1, max_length = 200)]
    length: Option<String>,
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct BackgroundSwapWithImageRequest {
    /// An upload key; exactly one of this and `source_render_public_id`.
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub source_image_s3_key: Option<String>,
    pub source_render_public_id: Option<String>,
    pub output_preset: OutputPreset,
    pub pilot_brand: Option<String>,
    /// A catalog background.
    pub background_image_public_id: String,
    /// Extension: `harmonize` (true or an added model's name; off unless asked).
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct BackgroundSwapWithSpecRequest {
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub source_image_s3_key: Option<String>,
    pub source_render_public_id: Option<String>,
    pub output_preset: OutputPreset,
    pub pilot_brand: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub scene_type: String,
    #[schema(min_length = 1, max_length = 200)]
    pub mood: String,
    #[schema(max_items = 3)]
    pub dominant_colors: Option<Vec<String>>,
    /// Extension: the backdrop's seed. Omitted: one taken from the spec, so every photo swapped
    /// onto the same spec gets the same backdrop (a batch's catalog matches, and the backdrop is
    /// rendered once per size and reused).
    pub seed: Option<u64>,
    /// Extension: `harmonize` (true or an added model's name; off unless asked).
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ModelSwapWithImageRequest {
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub source_image_s3_key: Option<String>,
    pub source_render_public_id: Option<String>,
    pub output_preset: OutputPreset,
    pub pilot_brand: Option<String>,
    /// A catalog model.
    pub model_image_public_id: String,
    /// Extensions: `refine` and `try_on_model` (true, false or an added model's name) — see
    /// try-on.
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Body of `product-to-model-direct` and `product-to-model-phased`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProductToModelRequest {
    #[schema(min_length = 1, max_length = 512, pattern = "^uploads(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")]
    pub product_image_s3_key: String,
    pub product_garment_category_public_id: String,
    /// A catalog model; omitted: the engine picks one and names it in the result.
    pub model_image_public_id: Option<String>,
    pub background_image_public_id: Option<String>,
    pub output_preset: Option<OutputPreset>,
    pub seed: Option<u64>,
    /// Extensions: `refine` and `try_on_model` (true, false or an added model's name) — see
    /// try-on.
    #[schema(value_type = Option<Object>)]
    pub runtime_config: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Something a request points at that must exist when the job is dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Upload {
        path: String,
        key: String,
    },
    Catalog {
        path: String,
        resource: crate::domain::catalog::CatalogResource,
        id: String,
    },
    Render {
        path: String,
        id: String,
    },
    GarmentCategoryKey {
        path: String,
        key: String,
    },
    GarmentCategoryId {
        path: String,
        id: String,
    },
    /// The source a workflow enlarges `scale` times (`image`: an upload key or a render id): the
    /// result must fit the upscaler's limits, said at dispatch before any work.
    Enlarged {
        path: String,
        image: Source,
        scale: u32,
    },
    /// An `image_model`: the workflow's built-in generator (`builtin`, empty where there is
    /// none), or a model the user added that can do what `need` says.
    ImageModel {
        path: String,
        name: String,
        builtin: &'static str,
        need: ModelNeed,
    },
}

/// An edit's source picture: an upload or a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Upload(String),
    Render(String),
}

/// What a model a request names must be able to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelNeed {
    /// Draw from a prompt (a generator's `image_model`).
    Prompt,
    /// Draw from a prompt starting from a picture (refinement, harmonisation): a VAE encoder.
    PromptFromPicture,
    /// Dress a person in a garment photo: a try-on model (CatVTON layout).
    TryOn,
}

impl ModelNeed {
    /// Why `record` cannot serve this need, if it cannot.
    pub fn unmet(self, record: &figur_models::brought::Record) -> Option<String> {
        let name = &record.name;
        match (self, record.is_try_on()) {
            (ModelNeed::TryOn, true) => None,
            (ModelNeed::TryOn, false) => Some(format!(
                "`{name}` is not a try-on model: dressing a person in a garment photo needs an export in the CatVTON layout"
            )),
            (_, true) => Some(format!(
                "`{name}` is a try-on model: it dresses a person in a garment and draws nothing from a prompt"
            )),
            (ModelNeed::PromptFromPicture, false) if !record.image_to_image => {
                Some(format!("`{name}` has no vae_encoder, so it cannot start from a picture"))
            }
            _ => None,
        }
    }
}

/// The item count rule try-on and look share: 1 to 8 garments.
pub(crate) fn items_problems(items: &[TryOnItem]) -> Vec<FieldError> {
    if items.is_empty() {
        vec![FieldError::new("body", "items", "at least one item is required", "too_short")]
    } else if items.len() > 8 {
        vec![FieldError::new("body", "items", "at most 8 items are allowed", "too_long")]
    } else {
        Vec::new()
    }
}

/// The uploads and garment categories of try-on and look items.
pub(crate) fn items_references(items: &[TryOnItem]) -> Vec<Reference> {
    let mut refs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        refs.push(Reference::upload(&format!("items.{i}.trial_image"), &item.trial_image));
        refs.push(Reference::GarmentCategoryKey {
            path: format!("items.{i}.trial_item_category"),
            key: item.trial_item_category.clone(),
        });
    }
    refs
}

/// An edit's source: an upload or a render.
pub(crate) fn source_references(key: &Option<String>, render: &Option<String>) -> Vec<Reference> {
    let mut refs = Vec::new();
    if let Some(key) = key {
        refs.push(Reference::upload("source_image_s3_key", key));
    }
    if let Some(id) = render {
        refs.push(Reference::Render { path: "source_render_public_id".into(), id: id.clone() });
    }
    refs
}

impl Reference {
    pub(crate) fn upload(path: &str, key: &str) -> Self {
        Reference::Upload { path: path.into(), key: key.into() }
    }

    pub(crate) fn catalog(path: &str, resource: crate::domain::catalog::CatalogResource, id: &str) -> Self {
        Reference::Catalog { path: path.into(), resource, id: id.into() }
    }
}

pub(crate) fn generator_problems(aspect_ratio: &Option<String>, display_name: &str, problems: &mut Vec<FieldError>) {
    if let Some(ratio) = aspect_ratio {
        match aspect_ratio_sides(ratio) {
            None => problems.push(FieldError::new(
                "body",
                "aspect_ratio",
                "must be W:H with whole numbers from 1 to 100, e.g. 3:4",
                "value_error",
            )),
            // The shape is the schema's pattern; how far a ratio may stretch is the studio's.
            Some(_) if parse_aspect_ratio(ratio).is_none() => problems.push(FieldError::new(
                "body",
                "aspect_ratio",
                "a backdrop or figure goes at most to 4:1 either way (e.g. 3:4, 16:9)",
                "unsupported",
            )),
            Some(_) => {}
        }
    }
    if display_name.chars().count() > 200 {
        problems.push(FieldError::new("body", "display_name", "at most 200 characters", "too_long"));
    }
}

/// `"3:4"` → `(3, 4)`; ratios beyond 4:1 either way are refused (a 4K strip is no backdrop).
pub fn parse_aspect_ratio(ratio: &str) -> Option<(u32, u32)> {
    let (w, h) = aspect_ratio_sides(ratio)?;
    (w <= 4 * h && h <= 4 * w).then_some((w, h))
}

/// `W:H` exactly as `openapi.json`'s pattern `^([1-9][0-9]?|100):([1-9][0-9]?|100)$` says:
/// no spaces, signs or leading zeros, each side 1 to 100.
fn aspect_ratio_sides(ratio: &str) -> Option<(u32, u32)> {
    let side = |s: &str| -> Option<u32> {
        let digits = !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
        digits.then(|| s.parse().ok()).flatten().filter(|v| *v <= 100)
    };
    let (w, h) = ratio.split_once(':')?;
    Some((side(w)?, side(h)?))
}

/// An edit's source rule: exactly one of an upload and a render.
pub(crate) fn exactly_one_source(key: &Option<String>, render: &Option<String>) -> Vec<FieldError> {
    match (key, render) {
        (Some(_), None) | (None, Some(_)) => Vec::new(),
        (Some(_), Some(_)) => vec![FieldError::new(
            "body",
            "source_render_public_id",
            "give exactly one of source_image_s3_key and source_render_public_id, not both",
            "value_error",
        )],
        (None, None) => vec![FieldError::new(
            "body",
            "source_image_s3_key",
            "one of source_image_s3_key and source_render_public_id is required",
            "missing",
        )],
    }
}

/// Deserializes a JSON body with the failing field's path, turning serde's messages into `FieldError`s.
pub fn parse_body<T: DeserializeOwned>(mut body: serde_json::Value) -> Result<T, ApiError> {
    integral_numbers_as_integers(&mut body);
    serde_path_to_error::deserialize(body).map_err(|err| {
        let mut path: Vec<String> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let message = err.inner().to_string();
        let mut name_field = |field: String| {
            if path.last() != Some(&field) {
                path.push(field);
            }
        };
        let kind = if let Some(field) = backticked(&message, "missing field `") {
            name_field(field);
            "missing"
        } else if let Some(field) = backticked(&message, "unknown field `") {
            name_field(field);
            "extra_forbidden"
        } else if message.starts_with("unknown variant") {
            "enum"
        } else {
            "type_error"
        };
        // serde's message ends with ` at line L column C` only for text input; we parse values.
        ApiError::validation(vec![FieldError::new("body", &path.join("."), message, kind)])
    })
}

/// JSON Schema's `integer` is any number without a fraction, so `7.0` is one (and clients that
/// write every number as a float send it so); serde reads only `7` as an integer. This makes
/// every such number an integer before a body is read. Numbers past the 64-bit range stay as
/// they are and are refused as the fields' bounds (in `openapi.json`) say.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 {
                // The bounds as f64 are 2^63 and 2^64, outside their types: compare with `<`.
                if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
                    *value = Value::from(f as i64);
                } else if (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                    *value = Value::from(f as u64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_string())
}

/// The scenes and moods drawn exactly as named, published as `examples` of the free-text
/// `scene_type` and `mood` fields (any other text is read into the nearest of them).
pub use figur_pixels::render::backdrop::{MOODS, SCENES as SCENE_TYPES};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Operation, WorkflowRequest};
    use serde_json::json;

    fn loc(err: &ApiError) -> serde_json::Value {
        serde_json::to_value(&err.details[0].loc).unwrap()
    }

    #[test]
    fn missing_unknown_and_bad_enum_fields_are_named() {
        let err = WorkflowRequest::parse(Operation::TryOn, json!({"items": []})).unwrap_err();
        assert_eq!(loc(&err), json!(["body", "user_image"]));
        assert_eq!(err.details[0].kind, "missing");

        let err = WorkflowRequest::parse(
            Operation::TryOn,
            json!({"user_image": "u", "items": [{"trial_image": "t", "trial_item_category": "top", "colour": 1}]}),
        )
        .unwrap_err();
        assert_eq!(loc(&err), json!(["body", "items", 0, "colour"]));
        assert_eq!(err.details[0].kind, "extra_forbidden");

        let err = WorkflowRequest::parse(
            Operation::TryOn,
            json!({"user_image": "u", "user_category": "ROBOT", "items": [{"trial_image": "t", "trial_item_category": "top"}]}),
        )
        .unwrap_err();
        assert_eq!(loc(&err), json!(["body", "user_category"]));
        assert_eq!(err.details[0].kind, "enum");

        let err = WorkflowRequest::parse(
            Operation::TryOn,
            json!({"user_image": "u", "items": [], "render_params": {"resolution": "8K"}}),
        )
        .unwrap_err();
        assert_eq!(loc(&err), json!(["body", "render_params", "resolution"]));
    }

    #[test]
    fn structural_rules() {
        let err = WorkflowRequest::parse(Operation::TryOn, json!({"user_image": "u", "items": []})).unwrap_err();
        assert_eq!(loc(&err), json!(["body", "items"]));

        let err = WorkflowRequest::parse(
            Operation::BackgroundSwapWithSpec,
            json!({"output_preset": "lookbook", "scene_type": "studio_sweep", "mood": "soft"}),
        )
        .unwrap_err();
        assert_eq!(loc(&err), json!(["body", "source_image_s3_key"]));

        let err = WorkflowRequest::parse(
            Operation::BackgroundGenerator,
            json!({"scene_type": "gradient", "mood": "soft", "aspect_ratio": "9:1"}),
        )
        .unwrap_err();
        assert_eq!(loc(&err), json!(["body", "aspect_ratio"]));

        let err = WorkflowRequest::parse(Operation::Extract, json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(loc(&err), json!(["body"]));
    }

    #[test]
    fn references_name_their_fields() {
        let req = WorkflowRequest::parse(
            Operation::TryOn,
            json!({"user_image": "uploads/a/u.jpg", "items": [{"trial_image": "uploads/b/s.jpg", "trial_item_category": "top"}]}),
        )
        .unwrap();
        let refs = req.references();
        assert!(refs.contains(&Reference::Upload { path: "user_image".into(), key: "uploads/a/u.jpg".into() }));
        assert!(refs.contains(&Reference::Upload { path: "items.0.trial_image".into(), key: "uploads/b/s.jpg".into() }));
        assert!(refs.contains(&Reference::GarmentCategoryKey {
            path: "items.0.trial_item_category".into(),
            key: "top".into()
        }));
    }

    #[test]
    fn aspect_ratios() {
        assert_eq!(parse_aspect_ratio("3:4"), Some((3, 4)));
        assert_eq!(parse_aspect_ratio("16:9"), Some((16, 9)));
        assert_eq!(parse_aspect_ratio("0:1"), None);
        assert_eq!(parse_aspect_ratio("5:1"), None);
        assert_eq!(parse_aspect_ratio("wide"), None);
    }
}
