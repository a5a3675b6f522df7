//! The studio's own settings: which added diffusion model each use takes when a request names
//! none. They live in the data folder (`settings.json`, written atomically) so that `figur
//! config`, the desktop's Settings and a running API server share them; the engine reads the
//! file as it is at each dispatch, so a `figur config set` reaches a server already running.
//!
//! Defaults are resolved when a job is dispatched and written into its stored request, so a
//! queued job keeps the model it was dispatched with and its provenance says which.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::domain::requests::ModelNeed;

crate::vocabulary! {
    /// What a default model is for (`default-model.<use>` in `figur config`, a key of
    /// `settings.json`).
    #[derive(PartialOrd, Ord)]
    pub enum ModelUse {
        /// `background-generator` without `image_model`.
        BackgroundGenerator = "background-generator",
        /// `model-generator` without `image_model`.
        ModelGenerator = "model-generator",
        /// Try-on, product-to-model and model swap: the inpainting pass after the fit.
        Refine = "refine",
        /// Background swaps with `runtime_config.harmonize`: the image-to-image pass at the edge.
        Harmonize = "harmonize",
        /// Try-on, product-to-model and model swap: a try-on model (CatVTON layout) draws the
        /// garments instead of the fit and refinement.
        TryOn = "try-on",
    }
}

impl ModelUse {
    /// What a model for this use must be able to do.
    pub fn need(self) -> ModelNeed {
        match self {
            ModelUse::BackgroundGenerator | ModelUse::ModelGenerator => ModelNeed::Prompt,
            ModelUse::Refine | ModelUse::Harmonize => ModelNeed::PromptFromPicture,
            ModelUse::TryOn => ModelNeed::TryOn,
        }
    }

    /// Why `record` cannot serve this use, if it cannot.
    pub fn unsuitable(self, record: &figur_models::brought::Record) -> Option<String> {
        self.need().unmet(record).map(|why| format!("{why} (for {})", self.as_str()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioSettings {
    /// The added model each use takes when a request names none.
    #[serde(default)]
    pub default_models: BTreeMap<ModelUse, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid settings: {source}")]
    Invalid { path: PathBuf, source: serde_json::Error },
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("settings.json")
}

/// The settings in `data_dir` (defaults when there is no file yet).
pub fn load(data_dir: &Path) -> Result<StudioSettings, SettingsError> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Invalid { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StudioSettings::default()),
        Err(source) => Err(SettingsError::Io { path, source }),
    }
}

/// Writes the settings whole (a temporary file renamed over the old one: a crash leaves the
/// old settings or the new, never half of either).
pub fn save(data_dir: &Path, settings: &StudioSettings) -> Result<(), SettingsError> {
    let path = path(data_dir);
    let io = |source| SettingsError::Io { path: path.clone(), source };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let temporary = data_dir.join(format!(".settings.json.{}", std::process::id()));
    let json = serde_json::to_vec_pretty(settings).unwrap_or_default();
    std::fs::write(&temporary, json).map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)
}

/// Sets (or with `None` clears) the default model for `use_` in `data_dir`'s settings, after
/// checking the model is added and can serve the use. Returns the settings now saved.
pub fn set_default_model(
    data_dir: &Path,
    cache: &figur_models::Cache,
    use_: ModelUse,
    name: Option<&str>,
) -> Result<StudioSettings, String> {
    let mut settings = load(data_dir).map_err(|e| e.to_string())?;
    match name {
        Some(name) => {
            let record = figur_models::brought::find(cache, name).ok_or_else(|| {
                let added: Vec<String> = figur_models::brought::list(cache).into_iter().map(|r| r.name).collect();
                format!(
                    "no model `{name}` is added (added: {}); add it with `figur models add {name} --from DIR`",
                    if added.is_empty() { "none".to_string() } else { added.join(", ") }
                )
            })?;
            if let Some(why) = use_.unsuitable(&record) {
                return Err(why);
            }
            settings.default_models.insert(use_, name.to_string());
        }
        None => {
            settings.default_models.remove(&use_);
        }
    }
    save(data_dir, &settings).map_err(|e| e.to_string())?;
    Ok(settings)
}

/// The settings in `data_dir` as they are now; an unreadable file counts as no settings
/// (logged): a bad hand edit must not stop dispatches.
pub fn load_or_default(data_dir: &Path) -> StudioSettings {
    load(data_dir).unwrap_or_else(|e| {
        tracing::warn!("{e}; using no default models");
        StudioSettings::default()
    })
}

/// The default models as last resolved, and what they were resolved from (the settings file's
/// bytes, the added models' folder names): every dispatch that asks for a default needs them,
/// and parsing every model's record each time would cost more than the dispatch. (Not
/// modification times: two writes within one clock tick share one.)
#[derive(Debug, Default)]
pub struct ResolvedDefaults {
    resolved: RwLock<Option<(ResolvedFrom, ModelDefaults)>>,
}

impl ResolvedDefaults {
    /// The default models now (see [`ModelDefaults::resolve`]), resolved again only when the
    /// settings file or the set of added models changed (tuning a model does not change what
    /// defaults need).
    pub fn defaults(&self, data_dir: &Path, cache: &figur_models::Cache) -> ModelDefaults {
        let settings = std::fs::read(path(data_dir)).unwrap_or_default();
        let mut models: Vec<std::ffi::OsString> = std::fs::read_dir(cache.root().join("brought"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        models.sort();
        let from = ResolvedFrom { settings, models };
        if let Some((seen, defaults)) = self.resolved.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if *seen == from {
                return defaults.clone();
            }
        }
        let defaults = ModelDefaults::resolve(&load_or_default(data_dir), &figur_models::brought::list(cache));
        *self.resolved.write().unwrap_or_else(|p| p.into_inner()) = Some((from, defaults.clone()));
        defaults
    }
}

/// What resolved defaults were resolved from.
#[derive(Debug, PartialEq, Eq)]
pub struct ResolvedFrom {
    settings: Vec<u8>,
    models: Vec<std::ffi::OsString>,
}

/// The model each use takes when a request names none, as far as the models are still added:
/// the setting, else for refinement the first added inpainting model and for try-on the first
/// added try-on model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelDefaults(pub BTreeMap<ModelUse, String>);

impl ModelDefaults {
    pub fn resolve(settings: &StudioSettings, added: &[figur_models::brought::Record]) -> ModelDefaults {
        let mut out = BTreeMap::new();
        for &use_ in ModelUse::ALL {
            let set = settings.default_models.get(&use_);
            let chosen = match set {
                Some(name) => added.iter().find(|r| &r.name == name),
                None if use_ == ModelUse::Refine => {
                    added.iter().find(|r| r.pipeline == "inpainting" && r.image_to_image)
                }
                None if use_ == ModelUse::TryOn => added.iter().find(|r| r.is_try_on()),
                None => None,
            };
            match chosen {
                Some(record) if use_.unsuitable(record).is_none() => {
                    out.insert(use_, record.name.clone());
                }
                _ if set.is_some() => {
                    tracing::warn!(
                        "the default model for {} is not added (or cannot serve it); none used",
                        use_.as_str()
                    )
                }
                _ => {}
            }
        }
        ModelDefaults(out)
    }

    pub fn get(&self, use_: ModelUse) -> Option<&str> {
        self.0.get(&use_).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figur_models::brought::Record;

    fn record(name: &str, pipeline: &str, image_to_image: bool) -> Record {
        Record {
            name: name.into(),
            licence: "test".into(),
            pipeline: pipeline.into(),
            image_to_image,
            scheduler: "DDIMScheduler".into(),
            source: "test".into(),
            files: Vec::new(),
            steps: None,
            guidance: None,
        }
    }

    #[test]
    fn settings_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), StudioSettings::default());
        assert!(load_or_default(dir.path()).default_models.is_empty());
        let mut settings = StudioSettings::default();
        settings.default_models.insert(ModelUse::BackgroundGenerator, "sd15".into());
        save(dir.path(), &settings).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.contains("\"background-generator\": \"sd15\""), "{text}");
        assert_eq!(load(dir.path()).unwrap(), settings);
        assert_eq!(load_or_default(dir.path()), settings, "read as it is now");
        std::fs::write(path(dir.path()), "{not json").unwrap();
        assert!(matches!(load(dir.path()), Err(SettingsError::Invalid { .. })));
        assert_eq!(load_or_default(dir.path()), StudioSettings::default(), "a bad file is no settings");
    }

    #[test]
    fn resolved_defaults_follow_the_settings_and_the_added_models() {
        let (data, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cache = figur_models::Cache::new(models.path());
        let add = |r: &Record| {
            let dir = figur_models::brought::dir(&cache, &r.name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("record.json"), serde_json::to_string(r).unwrap()).unwrap();
        };
        let watched = ResolvedDefaults::default();
        assert_eq!(watched.defaults(data.path(), &cache), ModelDefaults::default());
        add(&record("inpaint", "inpainting", true));
        assert_eq!(watched.defaults(data.path(), &cache).get(ModelUse::Refine), Some("inpaint"), "added since");
        add(&record("sd", "text-to-image", true));
        let mut settings = StudioSettings::default();
        settings.default_models.insert(ModelUse::BackgroundGenerator, "sd".into());
        save(data.path(), &settings).unwrap();
        assert_eq!(watched.defaults(data.path(), &cache).get(ModelUse::BackgroundGenerator), Some("sd"), "set since");
        std::fs::remove_dir_all(figur_models::brought::dir(&cache, "sd")).unwrap();
        assert_eq!(watched.defaults(data.path(), &cache).get(ModelUse::BackgroundGenerator), None, "removed since");
    }

    #[test]
    fn defaults_name_only_added_models_that_can_serve() {
        let added = [record("sd15", "text-to-image", true), record("turbo", "text-to-image", false)];
        let mut settings = StudioSettings::default();
        settings.default_models.insert(ModelUse::BackgroundGenerator, "turbo".into());
        settings.default_models.insert(ModelUse::ModelGenerator, "gone".into());
        settings.default_models.insert(ModelUse::Harmonize, "turbo".into());
        let d = ModelDefaults::resolve(&settings, &added);
        assert_eq!(d.get(ModelUse::BackgroundGenerator), Some("turbo"));
        assert_eq!(d.get(ModelUse::ModelGenerator), None, "removed since");
        assert_eq!(d.get(ModelUse::Harmonize), None, "no encoder");
        assert_eq!(d.get(ModelUse::Refine), None, "no inpainting model added");
        let with_inpainting = [record("a", "text-to-image", true), record("inpaint", "inpainting", true)];
        let d = ModelDefaults::resolve(&StudioSettings::default(), &with_inpainting);
        assert_eq!(d.get(ModelUse::Refine), Some("inpaint"), "the first inpainting model when none is set");
        settings.default_models.insert(ModelUse::Refine, "a".into());
        assert_eq!(ModelDefaults::resolve(&settings, &with_inpainting).get(ModelUse::Refine), Some("a"));
    }

    #[test]
    fn a_try_on_model_serves_no_prompt_driven_use() {
        let catvton = record("catvton", "try-on", true);
        for &use_ in ModelUse::ALL.iter().filter(|&&u| u != ModelUse::TryOn) {
            let why = use_.unsuitable(&catvton).expect("refused");
            assert!(why.contains("`catvton` is a try-on model") && why.contains(use_.as_str()), "{why}");
        }
        // And the try-on use takes nothing else.
        assert_eq!(ModelUse::TryOn.unsuitable(&catvton), None);
        let why = ModelUse::TryOn.unsuitable(&record("sd", "inpainting", true)).expect("refused");
        assert!(why.contains("`sd` is not a try-on model"), "{why}");
        let mut settings = StudioSettings::default();
        settings.default_models.insert(ModelUse::BackgroundGenerator, "catvton".into());
        let resolved = ModelDefaults::resolve(&settings, &[record("sd", "inpainting", true), catvton]);
        assert_eq!(resolved.get(ModelUse::BackgroundGenerator), None);
        assert_eq!(resolved.get(ModelUse::TryOn), Some("catvton"), "the first try-on model when none is set");
    }
}
