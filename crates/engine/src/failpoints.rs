//! Failure injection at typed points, for tests of the queue and of crash recovery.
//!
//! Configured from `FIGUR_FAILPOINTS="point=action;point=action"` (read once per engine) or set
//! in-process by tests. Points: `claim` (after a job is claimed), `stage` (the start of any
//! workflow stage), `stage:<name>` (one stage), `finish` (before a job's result commits); a
//! misspelt point is an error, never a silent no-op. Actions: `panic`, `error`, `abort` (kills
//! the process like a crash), `sleep(MS)`; in-process tests also have [`Action::Gate`], which
//! holds each job that reaches the point until the test opens it, so queue behaviour is tested
//! by waiting on facts instead of sleeping. With no failpoints configured a check is one
//! uncontended lock and an empty-map lookup.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::workflow::Stage;

/// Where a failure can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// A job was claimed; its workflow has not started.
    Claim,
    /// Any stage starts.
    AnyStage,
    /// This stage starts.
    Stage(Stage),
    /// The workflow has returned; its result is about to commit.
    Finish,
}

impl FaultPoint {
    pub fn parse(name: &str) -> Result<FaultPoint, String> {
        match name {
            "claim" => Ok(FaultPoint::Claim),
            "stage" => Ok(FaultPoint::AnyStage),
            "finish" => Ok(FaultPoint::Finish),
            _ => name
                .strip_prefix("stage:")
                .and_then(Stage::parse)
                .map(FaultPoint::Stage)
                .ok_or_else(|| format!("unknown failpoint `{name}` (claim, stage, stage:<name>, finish)")),
        }
    }
}

impl std::fmt::Display for FaultPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultPoint::Claim => f.write_str("claim"),
            FaultPoint::AnyStage => f.write_str("stage"),
            FaultPoint::Stage(s) => write!(f, "stage:{s}"),
            FaultPoint::Finish => f.write_str("finish"),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Action {
    Panic,
    Error,
    Abort,
    Sleep(Duration),
    /// Holds each job at the point until the gate opens (tests only).
    Gate(Arc<Gate>),
}

/// A barrier a test controls: jobs that reach it are counted, in order, and wait until it opens.
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    arrived: Vec<String>,
    open: bool,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Lets every held job (and every later one) through.
    pub fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    /// Waits until `n` jobs have reached the gate; their ids in arrival order. `None` if they
    /// did not within `limit` (a test's guard against a hang, not a timing assumption).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Option<Vec<String>> {
        let state = self.lock();
        let (state, _) =
            self.changed.wait_timeout_while(state, limit, |s| s.arrived.len() < n).unwrap_or_else(|p| p.into_inner());
        (state.arrived.len() >= n).then(|| state.arrived.clone())
    }

    fn pass(&self, job: &str) {
        let mut state = self.lock();
        state.arrived.push(job.to_string());
        self.changed.notify_all();
        while !state.open {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Default)]
pub struct FailPoints {
    points: Mutex<HashMap<FaultPoint, Action>>,
}

impl FailPoints {
    /// Parses `point=action;…`; unknown points and actions are reported, not ignored.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let points = FailPoints::default();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (point, action) =
                entry.split_once('=').ok_or_else(|| format!("failpoint `{entry}` is not point=action"))?;
            points.set(FaultPoint::parse(point.trim())?, parse_action(action.trim())?);
        }
        Ok(points)
    }

    pub fn from_env() -> Result<Self, String> {
        match std::env::var("FIGUR_FAILPOINTS") {
            Ok(spec) => Self::parse(&spec),
            Err(_) => Ok(Self::default()),
        }
    }

    pub fn set(&self, point: FaultPoint, action: Action) {
        self.lock().insert(point, action);
    }

    pub fn clear(&self, point: FaultPoint) {
        self.lock().remove(&point);
    }

    /// Runs the action configured for `point` as job `job` reaches it; `Err` for `error`.
    pub fn hit(&self, point: FaultPoint, job: &str) -> Result<(), String> {
        let action = self.lock().get(&point).cloned();
        match action {
            None => Ok(()),
            Some(Action::Sleep(d)) => {
                std::thread::sleep(d);
                Ok(())
            }
            Some(Action::Gate(gate)) => {
                gate.pass(job);
                Ok(())
            }
            Some(Action::Error) => Err(format!("injected failure at `{point}`")),
            Some(Action::Panic) => panic!("injected panic at `{point}`"),
            Some(Action::Abort) => {
                tracing::error!(%point, "injected abort: the process dies here like a crash");
                std::process::abort()
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FaultPoint, Action>> {
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
        let fp = FailPoints::parse("stage=sleep(1); finish=error; stage:texture=error").unwrap();
        assert!(fp.hit(FaultPoint::AnyStage, "j").is_ok());
        assert!(fp.hit(FaultPoint::Finish, "j").unwrap_err().contains("finish"));
        assert!(fp.hit(FaultPoint::Stage(Stage::Texture), "j").unwrap_err().contains("stage:texture"));
        assert!(fp.hit(FaultPoint::Claim, "j").is_ok());
        fp.clear(FaultPoint::Finish);
        assert!(fp.hit(FaultPoint::Finish, "j").is_ok());
        assert!(FailPoints::parse("x=explode").is_err());
        assert!(FailPoints::parse("nonsense").is_err());
        assert!(FailPoints::parse("stage:texure=error").unwrap_err().contains("stage:texure"), "a typo is refused");
    }

    #[test]
    fn a_gate_counts_arrivals_in_order_and_holds_them_until_it_opens() {
        let fp = Arc::new(FailPoints::default());
        let gate = Gate::new();
        fp.set(FaultPoint::Claim, Action::Gate(gate.clone()));
        let held: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|job| {
                let fp = fp.clone();
                let gate = gate.clone();
                // Arrive one after the other, so the order is known.
                let before = gate.wait_for(if job == "a" { 0 } else { 1 }, Duration::from_secs(10));
                assert!(before.is_some());
                std::thread::spawn(move || fp.hit(FaultPoint::Claim, job))
            })
            .collect();
        assert_eq!(gate.wait_for(2, Duration::from_secs(10)).unwrap(), ["a", "b"]);
        assert!(held.iter().all(|h| !h.is_finished()), "held until the gate opens");
        gate.open();
        for h in held {
            assert!(h.join().unwrap().is_ok());
        }
    }
}
