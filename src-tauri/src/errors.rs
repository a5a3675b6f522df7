//! Errors as the desktop shows them: every code the UI can meet (an engine answer, a job
//! failure, or one of the desktop's own), with the words for each generated into the bindings.

use figur_engine::ApiError;
use serde::Serialize;
use specta::Type;

use crate::settings;

figur_engine::vocabulary! {
    /// Failures of the desktop's own commands (files, settings, hot folders); jobs and engine
    /// calls fail with the engine's codes.
    #[derive(Type)]
    pub enum DesktopCode { fn words -> &'static str;
        FileUnreadable = "FILE_UNREADABLE" => "The file could not be read.",
        SettingsInvalid = "SETTINGS_INVALID" => "That setting cannot be used.",
        HotFolder = "HOT_FOLDER" => "The hot folder could not be changed.",
        /// A studio server's answer without the `/v1` error envelope (a proxy's page, a crash).
        ServerUnexpected = "SERVER_UNEXPECTED" => "The studio server gave an answer the app does not understand.",
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
        all.insert(code.as_str().to_string(), code.words());
    }
    all
}

/// Every code the UI can meet, spelt as on the wire (in the bindings as `CODES`: the UI checks
/// a code read from JSON against it).
pub(crate) fn codes() -> Vec<&'static str> {
    let api = figur_engine::ErrorCode::ALL.iter().map(|c| c.as_str());
    let job = figur_engine::FailureCode::ALL.iter().map(|c| c.as_str());
    let mut all: Vec<&'static str> = api.chain(job).chain(DesktopCode::ALL.iter().map(|c| c.as_str())).collect();
    all.sort_unstable();
    all.dedup();
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
