//! Failure injection at named points, for tests of the queue and of crash recovery.
//!
//! Configured from `FIGUR_FAILPOINTS="point=action;point=action"` (read once per engine) or set
//! in-process by tests. Actions: `panic`, `error`, `abort` (kills the process like a crash),
//! `sleep(MS)`. Points in the engine: `claim` (after a job is claimed), `stage` and
//! `stage:<name>` (at the start of a workflow stage), `finish` (before a job's result commits).
//! With no failpoints configured a check is one uncontended lock and an empty-map lookup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Panic,
    Error,
    Abort,
    Sleep(Duration),
}

#[derive(Debug, Default)]
pub struct FailPoints {
    points: Mutex<HashMap<String, Action>>,
}

impl FailPoints {
    /// Parses `point=action;…`; unknown actions are reported, not ignored.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let points = FailPoints::default();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (point, action) =
                entry.split_once('=').ok_or_else(|| format!("failpoint `{entry}` is not point=action"))?;
            points.set(point.trim(), parse_action(action.trim())?);
        }
        Ok(points)
    }

    pub fn from_env() -> Result<Self, String> {
        match std::env::var("FIGUR_FAILPOINTS") {
            Ok(spec) => Self::parse(&spec),
            Err(_) => Ok(Self::default()),
        }
    }

    pub fn set(&self, point: &str, action: Action) {
        self.lock().insert(point.to_string(), action);
    }

    pub fn clear(&self, point: &str) {
        self.lock().remove(point);
    }

    /// Runs the action configured for `point`; `Err` for the `error` action.
    pub fn hit(&self, point: &str) -> Result<(), String> {
        let action = self.lock().get(point).cloned();
        match action {
            None => Ok(()),
            Some(Action::Sleep(d)) => {
                std::thread::sleep(d);
                Ok(())
            }
            Some(Action::Error) => Err(format!("injected failure at `{point}`")),
            Some(Action::Panic) => panic!("injected panic at `{point}`"),
            Some(Action::Abort) => {
                tracing::error!(point, "injected abort: the process dies here like a crash");
                std::process::abort()
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Action>> {
        self.points.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn parse_action(action: &str) -> Result<Action, String> {
    match action {
        "panic" => Ok(Action::Panic),
        "error" => Ok(Action::Error),
        "abort" => Ok(Action::Abort),
        _ => {
            let ms = action
                .strip_prefix("sleep(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|ms| ms.parse::<u64>().ok())
                .ok_or_else(|| format!("unknown failpoint action `{action}`"))?;
            Ok(Action::Sleep(Duration::from_millis(ms)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fires() {
        let fp = FailPoints::parse("stage=sleep(1); finish=error").unwrap();
        assert!(fp.hit("stage").is_ok());
        assert!(fp.hit("finish").unwrap_err().contains("finish"));
        assert!(fp.hit("claim").is_ok());
        fp.clear("finish");
        assert!(fp.hit("finish").is_ok());
        assert!(FailPoints::parse("x=explode").is_err());
        assert!(FailPoints::parse("nonsense").is_err());
    }
}
