//! Settings' generative models: the diffusion exports added with `figur models add` (kind,
//! licence, size) and the default model each use takes when a request names none — the same
//! `settings.json` in the data folder that `figur config` writes and the engine reads.

use tauri::State;

use figur_engine::settings::ModelUse;

use crate::errors::UiError;
use crate::settings::Invalid;
use crate::Studio;

pub use figur_engine::engine::generative::{AddedModel, DefaultModel, GenerativeView, ModelChoice};

fn view(studio: &Studio) -> GenerativeView {
    studio.engine.generative_view()
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
