//! The desktop's own settings, kept in `<config dir>/figur-studio/desktop.json` (beside, not
//! inside, the data folder, since one of them is where the data folder is): the local `/v1` API
//! for scripts (on or off, its port), the execution provider, and the data folder.
//!
//! The window loads its images from a private loopback server on a random port that accepts
//! only the desktop's own key; the API for scripts is a second server on the port chosen here,
//! started and stopped as the switch changes. The provider applies at once (models reopen on
//! the new choice); a new data folder applies at the next start, since the ledger is open.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use figur_engine::Engine;
use serde::{Deserialize, Serialize};
use specta::Type;

/// What the user chose in Settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct DesktopSettings {
    /// Serve the local `/v1` API for scripts on `api_port` (loopback only).
    pub api_enabled: bool,
    pub api_port: u16,
    /// `auto` (GPU when it loads, else CPU), `cpu` or `cuda` (the GPU, or an error).
    pub provider: String,
    /// The data folder from the next start; `None`: the platform's default.
    pub data_dir: Option<String>,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings { api_enabled: false, api_port: 8686, provider: "auto".into(), data_dir: None }
    }
}

/// Why settings were refused, naming the field (the UI puts the message beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { field, message: message.into() }
}

/// `$XDG_CONFIG_HOME/figur-studio/desktop.json`, else `~/.config/figur-studio/desktop.json`.
pub fn path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("figur-studio/desktop.json")
}

/// The saved settings; defaults when there are none, or when the file is unreadable (said in
/// the log, never fatal: the studio must open).
pub fn load(path: &Path) -> DesktopSettings {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "desktop settings unreadable; using defaults");
            DesktopSettings::default()
        }),
        Err(_) => DesktopSettings::default(),
    }
}

/// Writes the settings atomically (a temporary file renamed over the old one).
pub fn save(path: &Path, settings: &DesktopSettings) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

/// The providers a Settings choice names: one of `auto`, `cpu`, `cuda` (not a list).
pub fn providers(choice: &str) -> Result<figur_models::Providers, Invalid> {
    match choice {
        "auto" | "cpu" | "cuda" => figur_models::Providers::parse(choice).map_err(|e| invalid("provider", e)),
        other => Err(invalid("provider", format!("Unknown provider `{other}`: choose auto, cpu or cuda."))),
    }
}

/// Checks a choice before anything is applied. The data folder must be absolute and writable
/// (it is created if missing).
pub fn validate(s: &DesktopSettings) -> Result<figur_models::Providers, Invalid> {
    if s.api_port < 1024 {
        return Err(invalid("api_port", "Choose a port from 1024 to 65535."));
    }
    let providers = providers(&s.provider)?;
    if let Some(dir) = &s.data_dir {
        let dir = Path::new(dir);
        if !dir.is_absolute() {
            return Err(invalid("data_dir", "Give the data folder as a full path (starting with /)."));
        }
        let probe = dir.join(".figur-write-check");
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&probe, b""))
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| invalid("data_dir", format!("The studio cannot write to {}: {e}", dir.display())))?;
    }
    Ok(providers)
}

/// The data folder to open: `FIGUR_DATA_DIR` wins (scripts, tests), then Settings, then the
/// platform's default.
pub fn data_dir(settings: &DesktopSettings) -> PathBuf {
    if let Some(dir) = std::env::var_os("FIGUR_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = &settings.data_dir {
        return PathBuf::from(dir);
    }
    figur_engine::engine::default_data_dir().unwrap_or_else(|| PathBuf::from("figur-studio"))
}

/// The optional API server for scripts.
#[derive(Default)]
pub struct PublicApi {
    running: Mutex<Option<Running>>,
}

struct Running {
    port: u16,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl PublicApi {
    /// Where scripts reach the API, when it is on.
    pub fn base(&self) -> Option<String> {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|r| r.base.clone())
    }

    /// Starts, moves or stops the server to match `enabled` and `port`.
    pub async fn apply(&self, engine: &Arc<Engine>, enabled: bool, port: u16) -> Result<(), Invalid> {
        let current = self.running.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|r| r.port);
        if current == Some(port) && enabled {
            return Ok(());
        }
        self.stop();
        if !enabled {
            return Ok(());
        }
        let config =
            figur_http::ServerConfig { listen: ([127, 0, 0, 1], port).into(), signs_urls: false, ..Default::default() };
        let bound = figur_http::bind(engine.clone(), &config)
            .await
            .map_err(|e| invalid("api_port", format!("Port {port} cannot be used ({e}); choose another.")))?;
        let base = bound.base_url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(bound.serve(async move {
            let _ = stopped.await;
        }));
        tracing::info!(%base, "local API for scripts on");
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(Running { port, base, stop });
        Ok(())
    }

    pub fn stop(&self) {
        if let Some(r) = self.running.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = r.stop.send(());
            tracing::info!(base = %r.base, "local API for scripts off");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_choices_name_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("conf/desktop.json");
        assert_eq!(load(&file), DesktopSettings::default(), "none saved yet");
        let chosen = DesktopSettings {
            api_enabled: true,
            api_port: 9123,
            provider: "cpu".into(),
            data_dir: Some(dir.path().join("studio").display().to_string()),
        };
        assert!(validate(&chosen).is_ok());
        save(&file, &chosen).unwrap();
        assert_eq!(load(&file), chosen);
        std::fs::write(&file, b"{not json").unwrap();
        assert_eq!(load(&file), DesktopSettings::default(), "a damaged file does not stop the studio");

        let field = |s: DesktopSettings| validate(&s).unwrap_err().field;
        assert_eq!(field(DesktopSettings { api_port: 80, ..chosen.clone() }), "api_port");
        assert_eq!(field(DesktopSettings { provider: "tpu".into(), ..chosen.clone() }), "provider");
        assert_eq!(field(DesktopSettings { data_dir: Some("relative/dir".into()), ..chosen.clone() }), "data_dir");
        assert_eq!(field(DesktopSettings { data_dir: Some("/proc/figur".into()), ..chosen }), "data_dir");
    }
}
