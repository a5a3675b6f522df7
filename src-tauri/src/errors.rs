//! Errors as the desktop shows them: every code the UI can meet (an engine answer, a job
//! failure, or one of the desktop's own), with the words for each generated into the bindings.

use figur_engine::ApiError;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::settings;

/// Failures of the desktop's own commands (files, settings, hot folders); jobs and engine calls
/// fail with the engine's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DesktopCode {
    FileUnreadable,
    SettingsInvalid,
    HotFolder,
}

impl DesktopCode {
    const ALL: [DesktopCode; 3] = [DesktopCode::FileUnreadable, DesktopCode::SettingsInvalid, DesktopCode::HotFolder];

    fn words(self) -> &'static str {
        match self {
            DesktopCode::FileUnreadable => "The file could not be read.",
            DesktopCode::SettingsInvalid => "That setting cannot be used.",
            DesktopCode::HotFolder => "The hot folder could not be changed.",
        }
    }
}

/// Every code the UI can meet: an engine answer, a job failure, or the desktop's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(untagged)]
pub enum UiCode {
    Api(figur_engine::ErrorCode),
    Job(figur_engine::FailureCode),
    Desktop(DesktopCode),
}

/// The words the UI shows for each code (in the bindings as `WORDS`; `ui/src/words.ts`).
pub(crate) fn words() -> std::collections::BTreeMap<String, &'static str> {
    let mut all: std::collections::BTreeMap<String, &'static str> =
        figur_engine::failure::words().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    for code in DesktopCode::ALL {
        let name = serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        all.insert(name, code.words());
    }
    all
}

/// An error as the UI shows it: words for the designer, the detail one click away.
#[derive(Debug, Clone, Serialize, Type)]
pub struct UiError {
    pub code: UiCode,
    pub message: String,
    /// The field-level details of a rejected request (`loc`, `msg`), as JSON text.
    pub detail: String,
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let detail = if e.details.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(&e.details).unwrap_or_default()
        };
        UiError { code: UiCode::Api(e.code), message: e.message, detail }
    }
}

pub(crate) fn io_error(what: &str, e: impl std::fmt::Display) -> UiError {
    UiError {
        code: UiCode::Desktop(DesktopCode::FileUnreadable),
        message: format!("{what}: {e}"),
        detail: String::new(),
    }
}

impl From<settings::Invalid> for UiError {
    fn from(e: settings::Invalid) -> Self {
        let detail = serde_json::json!([{"loc": ["settings", e.field], "msg": e.message}]);
        // Not `VALIDATION_ERROR`: the UI shows this message itself, already in plain words.
        UiError {
            code: UiCode::Desktop(DesktopCode::SettingsInvalid),
            message: e.message,
            detail: serde_json::to_string_pretty(&detail).unwrap_or_default(),
        }
    }
}
