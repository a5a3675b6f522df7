//! `figur config`: the studio's settings in the data folder (the default model each use takes
//! when a request names none), shared with the desktop's Settings and a running server.

use std::path::Path;

use anyhow::{bail, Result};
use figur_engine::settings::{self, ModelUse};

use crate::cli::ConfigCommand;

/// `default-model.<use>` → the use.
fn key(text: &str) -> Result<ModelUse> {
    let uses: Vec<String> = ModelUse::ALL.iter().map(|u| format!("default-model.{}", u.as_str())).collect();
    match text.strip_prefix("default-model.").and_then(ModelUse::parse) {
        Some(use_) => Ok(use_),
        None => bail!("no setting `{text}`; the settings are: {}", uses.join(", ")),
    }
}

fn show(settings: &settings::StudioSettings) {
    for &use_ in ModelUse::ALL {
        let value = settings.default_models.get(&use_).map(String::as_str);
        let fallback = match use_ {
            ModelUse::Refine => "(none set: the first added inpainting model, if any)",
            ModelUse::Harmonize => "(none set: only when a request names a model)",
            ModelUse::TryOn => "(none set: the first added try-on model, if any; else the fit draws)",
            _ => "(none set: the procedural generator)",
        };
        println!("default-model.{} = {}", use_.as_str(), value.unwrap_or(fallback));
    }
}

pub fn run(dir: &Path, command: Option<ConfigCommand>) -> Result<()> {
    match command {
        None | Some(ConfigCommand::List) => show(&settings::load(dir)?),
        Some(ConfigCommand::Get { key: text }) => {
            let settings = settings::load(dir)?;
            match settings.default_models.get(&key(&text)?) {
                Some(name) => println!("{name}"),
                None => bail!("`{text}` is not set"),
            }
        }
        Some(ConfigCommand::Set { key: text, value }) => {
            let cache = crate::place::cache()?;
            let saved =
                settings::set_default_model(dir, &cache, key(&text)?, Some(&value)).map_err(anyhow::Error::msg)?;
            show(&saved);
        }
        Some(ConfigCommand::Unset { key: text }) => {
            let cache = crate::place::cache()?;
            show(&settings::set_default_model(dir, &cache, key(&text)?, None).map_err(anyhow::Error::msg)?);
        }
    }
    Ok(())
}
