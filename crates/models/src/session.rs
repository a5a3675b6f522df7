//! Sessions: created lazily on an execution provider chosen by configuration, cached, unloaded
//! when idle. The provider that really runs is reported; a provider the user demanded that
//! cannot load is an error, never a silent CPU run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ort::ep;
use ort::session::Session;

use crate::diffusion::Export;
use crate::fetch::Cache;
use crate::{manifest, runtime, state, ModelError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cuda,
    Cpu,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Cuda => "cuda",
            Provider::Cpu => "cpu",
        }
    }
}

/// The providers to try, in order. `explicit`: the user named them (`--providers`,
/// `FIGUR_PROVIDERS`), so each must load; otherwise GPU is tried and CPU is the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Providers {
    pub order: Vec<Provider>,
    pub explicit: bool,
}

impl Providers {
    /// GPU when it loads, else CPU.
    pub fn auto() -> Self {
        Providers { order: vec![Provider::Cuda, Provider::Cpu], explicit: false }
    }

    /// `"cuda,cpu"`, `"cpu"`…; empty or `auto` means [`Providers::auto`].
    pub fn parse(list: &str) -> Result<Self, String> {
        let list = list.trim();
        if list.is_empty() || list == "auto" {
            return Ok(Self::auto());
        }
        let order = list
            .split(',')
            .map(|p| match p.trim() {
                "cuda" => Ok(Provider::Cuda),
                "cpu" => Ok(Provider::Cpu),
                other => Err(format!("unknown execution provider `{other}` (cuda, cpu)")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Providers { order, explicit: true })
    }

    /// From `FIGUR_PROVIDERS`, else auto.
    pub fn from_env() -> Result<Self, String> {
        Self::parse(&std::env::var("FIGUR_PROVIDERS").unwrap_or_default())
    }
}

/// A model ready to run, and where it runs.
pub struct Loaded {
    pub id: String,
    pub session: Mutex<Session>,
    pub provider: Provider,
    pub sha256: String,
    last_used: Mutex<Instant>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("id", &self.id).field("provider", &self.provider).finish()
    }
}

/// Opens a session on the first provider in `providers` that loads.
pub fn open(cache: &Cache, id: &str, providers: &Providers) -> Result<Loaded, ModelError> {
    let manifest = manifest::find(id).ok_or_else(|| ModelError::Unknown(id.to_string()))?;
    let installed = state::installed(cache, &manifest).ok_or_else(|| ModelError::Missing(id.to_string()))?;
    let (session, provider) = commit(cache, &cache.model_file(id), id, providers)?;
    Ok(Loaded {
        id: id.to_string(),
        session: Mutex::new(session),
        provider,
        sha256: installed.sha256,
        last_used: Mutex::new(Instant::now()),
    })
}

/// A session for the graph at `path` (`label` names it in logs), on the first provider in
/// `providers` that loads it: with an explicit list, the first that fails is the error.
pub fn commit(
    cache: &Cache,
    path: &std::path::Path,
    label: &str,
    providers: &Providers,
) -> Result<(Session, Provider), ModelError> {
    let env = runtime::init(cache, providers.order.contains(&Provider::Cuda))?;
    let mut last_error = String::new();
    for (i, provider) in providers.order.iter().enumerate() {
        let last = i + 1 == providers.order.len();
        let dispatch = match provider {
            Provider::Cuda => ep::CUDA::default().build().error_on_failure(),
            // ort's `CPU::default()` turns ONNX Runtime's arena off; every run then allocates
            // and frees its activations afresh (a third of a small UNet's step, measured).
            Provider::Cpu => ep::CPU::default().with_arena_allocator(true).build().error_on_failure(),
        };
        let built = Session::builder(env)
            .and_then(|b| b.with_execution_providers([dispatch]).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(path));
        match built {
            Ok(session) => return Ok((session, *provider)),
            Err(e) => {
                last_error = e.to_string();
                if providers.explicit || last {
                    return Err(ModelError::Provider { provider: provider.name(), detail: last_error });
                }
                tracing::info!(model = label, provider = provider.name(), error = %e, "execution provider unavailable; trying the next");
            }
        }
    }
    Err(ModelError::Provider { provider: "none", detail: last_error })
}

/// Sessions by model id, opened on first use and dropped after `idle` without use.
pub struct Sessions {
    cache: Cache,
    providers: Mutex<Providers>,
    idle: Duration,
    loaded: Mutex<HashMap<String, Arc<Loaded>>>,
    /// Brought diffusion exports by name, opened and unloaded the same way.
    exports: Mutex<HashMap<String, Arc<Export>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("providers", &self.providers()).finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(cache: Cache, providers: Providers, idle: Duration) -> Self {
        Sessions {
            cache,
            providers: Mutex::new(providers),
            idle,
            loaded: Mutex::new(HashMap::new()),
            exports: Mutex::new(HashMap::new()),
        }
    }

    /// The cache the sessions open models from (and where brought models are added).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The providers new sessions try.
    pub fn providers(&self) -> Providers {
        self.providers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Switches the providers (the desktop's Settings): cached sessions are dropped so every
    /// model opens again on the new choice; a session running a stage now finishes where it is.
    pub fn set_providers(&self, providers: Providers) {
        *self.providers.lock().unwrap_or_else(|p| p.into_inner()) = providers;
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.exports.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn get(&self, id: &str) -> Result<Arc<Loaded>, ModelError> {
        self.unload_idle();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(model) = loaded.get(id) {
            *model.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            return Ok(model.clone());
        }
        let model = Arc::new(open(&self.cache, id, &self.providers())?);
        loaded.insert(id.to_string(), model.clone());
        Ok(model)
    }

    /// The brought diffusion export `name`, its four sessions opened on first use.
    pub fn export(&self, name: &str) -> Result<Arc<Export>, ModelError> {
        self.unload_idle();
        let mut exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
        // Still the model added under this name (not removed, re-added or tuned since)? Its
        // record says; reading it costs far less than a denoising step.
        let current = crate::brought::find(&self.cache, name);
        if let Some(export) = exports.get(name).filter(|e| current.as_ref() == Some(&e.record)) {
            export.touch();
            return Ok(export.clone());
        }
        let export = Arc::new(Export::open(&self.cache, name, &self.providers())?);
        exports.insert(name.to_string(), export.clone());
        Ok(export)
    }

    /// Drops sessions unused for the idle time (a session in use stays: its `Arc` is held).
    pub fn unload_idle(&self) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.retain(|_, m| {
            Arc::strong_count(m) > 1 || m.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed() < self.idle
        });
        drop(loaded);
        let mut exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
        exports.retain(|_, e| Arc::strong_count(e) > 1 || e.idle_for() < self.idle);
    }

    pub fn loaded_count(&self) -> usize {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).len()
            + self.exports.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One output of [`Loaded::run_f32`]: name, shape, values.
pub type Output = (String, Vec<i64>, Vec<f32>);

impl Loaded {
    /// Runs the model on f32 inputs given as (name, shape, values); returns every output.
    pub fn run_f32(&self, inputs: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, ModelError> {
        let err = |e: ort::Error| ModelError::Run(format!("{}: {e}", self.id));
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let values = inputs
            .into_iter()
            .map(|(name, shape, data)| ort::value::Tensor::from_array((shape, data)).map(|t| (name, t)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let names: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let outputs = session.run(values).map_err(err)?;
        names
            .into_iter()
            .map(|name| {
                let (shape, data) = outputs[name.as_str()].try_extract_tensor::<f32>().map_err(err)?;
                Ok((name, shape.to_vec(), data.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_lists() {
        assert_eq!(Providers::parse("").unwrap(), Providers::auto());
        assert!(!Providers::auto().explicit);
        let p = Providers::parse("cuda, cpu").unwrap();
        assert_eq!((p.order, p.explicit), (vec![Provider::Cuda, Provider::Cpu], true));
        assert!(Providers::parse("tpu").unwrap_err().contains("tpu"));
    }
}
