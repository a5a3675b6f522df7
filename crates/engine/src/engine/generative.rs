//! The studio's generative models as Settings shows them, on this machine or through a studio
//! server's `/v1/generative-models`: the diffusion exports added with `figur models add` (kind,
//! licence, size) and the default model each use takes when a request names none — the data
//! folder's `settings.json`, which `figur config` writes and dispatch reads.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Engine;
use crate::error::ApiError;
use crate::settings::ModelUse;

/// One added export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ModelChoice {
    pub name: String,
    pub licence: String,
}

/// The added models and each use's default.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GenerativeView {
    pub models: Vec<AddedModel>,
    pub defaults: Vec<DefaultModel>,
}

/// `PUT /v1/generative-models/defaults/{use}`: the model to take, or `null` for none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DefaultModelChange {
    pub model: Option<String>,
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

impl Engine {
    /// The added models and each use's default, as Settings lists them.
    pub fn generative_view(&self) -> GenerativeView {
        let added = self.added_models();
        let settings = self.studio_settings();
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

    /// Sets (or with `None` clears) the default model for the use named `key`, checked as
    /// `figur config set` checks it: 404 for a use that does not exist, 422 naming `model` for
    /// a model not added or unable to serve it.
    pub fn change_default_model(&self, key: &str, model: Option<&str>) -> Result<GenerativeView, ApiError> {
        let use_ = ModelUse::parse(key).ok_or_else(|| ApiError::not_found("model use", key))?;
        self.set_default_model(use_, model.filter(|m| !m.is_empty()))
            .map_err(|message| ApiError::field("body", "model", message, "value_error"))?;
        Ok(self.generative_view())
    }
}
