//! Settings' generative models: the diffusion exports added with `figur models add` (kind,
//! licence, size) and the default model each use takes when a request names none — the same
//! `settings.json` in the data folder that `figur config` writes and the engine reads.

use serde::Serialize;
use specta::Type;
use tauri::State;

use figur_engine::settings::ModelUse;

use crate::errors::UiError;
use crate::settings::Invalid;
use crate::Studio;

/// One added export.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AddedModel {
    pub name: String,
    /// `text-to-image` or `inpainting`, with `+ image to image` when it has a VAE encoder, or
    /// `try-on (CatVTON layout)`.
    pub kind: String,
    pub licence: String,
    /// Megabytes on disk.
    pub megabytes: f64,
}

/// One use's default and the added models that can serve it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DefaultModel {
    /// `background-generator`, `model-generator`, `refine`, `harmonize` or `try-on`.
    pub key: String,
    pub label: String,
    pub model: Option<String>,
    /// The added models that can serve it, with the licence each was added under (a studio
    /// picks knowing what it may sell).
    pub choices: Vec<ModelChoice>,
    /// What happens when none is set.
    pub otherwise: String,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct ModelChoice {
    pub name: String,
    pub licence: String,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct GenerativeView {
    pub models: Vec<AddedModel>,
    pub defaults: Vec<DefaultModel>,
}

fn label(use_: ModelUse) -> (&'static str, &'static str) {
    match use_ {
        ModelUse::BackgroundGenerator => ("Backdrops (background-generator)", "the procedural generator"),
        ModelUse::ModelGenerator => ("Model photos (model-generator)", "the drawn figure"),
        ModelUse::Refine => ("Try-on refinement", "the first added inpainting model, else no refinement"),
        ModelUse::Harmonize => ("Background-swap harmonising", "only when a request names a model"),
        ModelUse::TryOn => ("Try-on model (draws the garments)", "the first added try-on model, else the fitted draft"),
    }
}

fn view(studio: &Studio) -> GenerativeView {
    let added = studio.engine.added_models();
    let settings = studio.engine.studio_settings();
    let models = added
        .iter()
        .map(|r| AddedModel {
            name: r.name.clone(),
            kind: r.kind_words(),
            licence: r.licence.clone(),
            megabytes: (r.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / 1e6 * 10.0).round() / 10.0,
        })
        .collect();
    let defaults = ModelUse::ALL
        .iter()
        .map(|&use_| {
            let (label, otherwise) = label(use_);
            DefaultModel {
                key: use_.as_str().into(),
                label: label.into(),
                model: settings.default_models.get(&use_).cloned(),
                choices: added
                    .iter()
                    .filter(|r| use_.unsuitable(r).is_none())
                    .map(|r| ModelChoice { name: r.name.clone(), licence: r.licence.clone() })
                    .collect(),
                otherwise: otherwise.into(),
            }
        })
        .collect();
    GenerativeView { models, defaults }
}

#[tauri::command]
#[specta::specta]
pub fn generative_models(studio: State<'_, Studio>) -> GenerativeView {
    view(&studio)
}

/// Sets (or with `null` clears) the default model for `key`; checked like `figur config set`.
#[tauri::command]
#[specta::specta]
pub fn set_default_model(
    studio: State<'_, Studio>,
    key: String,
    model: Option<String>,
) -> Result<GenerativeView, UiError> {
    let use_ =
        ModelUse::parse(&key).ok_or_else(|| Invalid { field: "default_model", message: format!("no use `{key}`") })?;
    studio
        .engine
        .set_default_model(use_, model.as_deref().filter(|m| !m.is_empty()))
        .map_err(|message| Invalid { field: "default_model", message })?;
    Ok(view(&studio))
}

/// Adds a diffusion export from a folder (checked and hashed as `figur models add` does).
#[tauri::command]
#[specta::specta]
pub async fn add_model(
    studio: State<'_, Studio>,
    folder: String,
    name: String,
    licence: String,
) -> Result<GenerativeView, UiError> {
    let engine = studio.engine.clone();
    let added = tauri::async_runtime::spawn_blocking(move || {
        engine.add_model(name.trim(), std::path::Path::new(folder.trim()), &licence)
    })
    .await
    .map_err(|_| Invalid { field: "model", message: "the check crashed".into() })?;
    added.map_err(|message| Invalid { field: "model", message })?;
    Ok(view(&studio))
}

/// Removes an added model (and clears the defaults that named it).
#[tauri::command]
#[specta::specta]
pub fn remove_model(studio: State<'_, Studio>, name: String) -> Result<GenerativeView, UiError> {
    studio.engine.remove_model(&name).map_err(|message| Invalid { field: "model", message })?;
    Ok(view(&studio))
}
