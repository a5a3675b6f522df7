//! The queue, in-process: the engine with its scheduler, jobs held at typed fault points by
//! gates the test opens, a clock the test moves and ids it knows in advance — so what is
//! asserted is what happened, never what a sleep hoped for. The jobs are background generators
//! at 0.5K (real work, no models needed).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Engine, EngineConfig};
use crate::auth::{Caller, Mode};
use crate::domain::job::{EventType, JobStatus};
use crate::failpoints::{Action, FailPoints, FaultPoint, Gate};
use crate::failure::FailureCode;
use crate::ids::SequentialIds;
use crate::ledger::jobs::{self, NewJob};
use crate::time::ManualClock;
use crate::workflow::Operation;
use crate::workflow::Stage;

/// Longest a test waits for a fact before it fails (a guard against hangs, not a timing).
pub(super) const LIMIT: Duration = Duration::from_secs(60);

/// 2030-01-01T00:00:00Z, where the tests' manual clocks start.
pub(super) const EPOCH_2030_MS: u64 = 1_893_456_000_000;

pub(super) fn config(dir: &std::path::Path, concurrency: usize, failpoints: &Arc<FailPoints>) -> EngineConfig {
    let mut config = EngineConfig::new(dir);
    config.concurrency = concurrency;
    config.failpoints = failpoints.clone();
    config.cache_dir = None;
    config
}

pub(super) async fn open(dir: &std::path::Path, concurrency: usize, failpoints: &Arc<FailPoints>) -> Arc<Engine> {
    start(config(dir, concurrency, failpoints)).await
}

pub(super) async fn start(config: EngineConfig) -> Arc<Engine> {
    let engine = Engine::open(config).unwrap();
    engine.start().await.unwrap();
    engine
}

pub(super) fn manual_clock() -> Arc<ManualClock> {
    ManualClock::at(std::time::UNIX_EPOCH + Duration::from_millis(EPOCH_2030_MS))
}

pub(super) fn owner() -> Caller {
    Caller::owner(Mode::Live)
}

pub(super) async fn dispatch(engine: &Engine, seed: u64) -> String {
    let body = json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": seed});
    engine.dispatch(&owner(), Operation::BackgroundGenerator, body, "test", None).await.unwrap().job_id
}

/// Waits (on the engine's own long-poll) for the job's terminal event.
pub(super) async fn ended(engine: &Engine, job: &str) -> crate::domain::job::JobEvent {
    let followed = tokio::time::timeout(LIMIT, engine.follow(Mode::Live, job, 0, |_| {})).await;
    followed.unwrap_or_else(|_| panic!("job {job} did not end")).unwrap()
}

pub(super) async fn status(engine: &Engine, job: &str) -> JobStatus {
    engine.job(Mode::Live, job).await.unwrap().status
}

/// Waits for a gate off the runtime's threads (its wait blocks).
pub(super) async fn arrivals(gate: &Arc<Gate>, n: usize) -> Vec<String> {
    let gate = gate.clone();
    tokio::task::spawn_blocking(move || gate.wait_for(n, LIMIT)).await.unwrap().expect("jobs reach the gate")
}

pub(super) async fn balance(engine: &Engine) -> i64 {
    engine.credits(&owner()).await.unwrap().balance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_start_oldest_first_and_never_more_at_once_than_the_permits() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Claim, Action::Gate(gate.clone()));
    let known = SequentialIds::new(EPOCH_2030_MS);
    let mut config = config(dir.path(), 1, &failpoints);
    config.ids = known.clone();
    let engine = start(config).await;
    let mut ids = Vec::new();
    for seed in 0..3 {
        ids.push(dispatch(&engine, seed).await);
    }
    assert_eq!(ids, [known.nth(1), known.nth(2), known.nth(3)], "the ids the test was told");
    // One permit: the oldest job is claimed and held; the others wait in the queue.
    assert_eq!(arrivals(&gate, 1).await, ids[..1]);
    assert_eq!(status(&engine, &ids[0]).await, JobStatus::InProgress);
    for id in &ids[1..] {
        assert_eq!(status(&engine, id).await, JobStatus::NotStarted);
    }
    gate.open();
    for id in &ids {
        assert_eq!(ended(&engine, id).await.event_type, EventType::Succeeded);
    }
    assert_eq!(arrivals(&gate, 3).await, ids, "claimed in the order dispatched");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_a_stage_runs_ends_the_job_cancelled_and_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Stage(Stage::Texture), Action::Gate(gate.clone()));
    let engine = open(dir.path(), 1, &failpoints).await;
    let before = balance(&engine).await;
    let id = dispatch(&engine, 1).await;
    arrivals(&gate, 1).await;
    engine.cancel(&owner(), &id).await.unwrap();
    gate.open();
    let last = ended(&engine, &id).await;
    assert_eq!(last.event_type, EventType::Failed);
    assert_eq!(last.extra["error"]["code"], FailureCode::JobCancelled.as_str());
    assert_eq!(balance(&engine).await, before, "refunded");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_requeues_the_running_job_and_the_next_start_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Stage(Stage::Base), Action::Gate(gate.clone()));
    let engine = open(dir.path(), 1, &failpoints).await;
    let id = dispatch(&engine, 2).await;
    arrivals(&gate, 1).await;
    // The shutdown signals the job, which stops at its next check once the gate lets it go.
    let stopping = tokio::spawn({
        let engine = engine.clone();
        async move { engine.shutdown(LIMIT).await }
    });
    gate.open();
    stopping.await.unwrap();
    drop(engine);

    let engine = open(dir.path(), 1, &Arc::new(FailPoints::default())).await;
    let last = ended(&engine, &id).await;
    assert_eq!(last.event_type, EventType::Succeeded);
    let events = engine.job_events(Mode::Live, &id, 0, None).await.unwrap().events;
    let requeued = events.iter().filter(|e| e.stage.as_deref() == Some("requeued")).count();
    assert_eq!(requeued, 1, "one requeue, not counted as a crash");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stored_in_a_request_form_this_version_cannot_read_fails_outdated_and_is_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), 1, &Arc::new(FailPoints::default())).await;
    let before = balance(&engine).await;
    // As a later studio would store it: a request version this one does not know.
    let realm = engine.realm(Mode::Live).clone();
    let id = crate::ids::new_id();
    let job = id.clone();
    realm
        .ledger
        .write(move |c| {
            jobs::insert(
                c,
                &NewJob {
                    public_id: &job,
                    job_type: &Operation::BackgroundGenerator.job_type(),
                    request: &json!({"scene_type": "paper", "mood": "soft", "lighting": "rim"}),
                    request_version: Operation::BackgroundGenerator.version() + 1,
                    credits_cost: 5,
                    request_id: "later-studio",
                    api_key_id: None,
                },
            )
        })
        .await
        .unwrap();
    realm.work.notify_one();
    let last = ended(&engine, &id).await;
    assert_eq!(last.event_type, EventType::Failed);
    assert_eq!(last.extra["error"]["code"], FailureCode::RequestOutdated.as_str());
    assert_eq!(last.extra["refunded_credits"], 5);
    assert_eq!(balance(&engine).await, before, "the debit came back");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_at_finish_fails_the_job_internal_and_files_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    failpoints.set(FaultPoint::Finish, Action::Error);
    let engine = open(dir.path(), 1, &failpoints).await;
    let before = balance(&engine).await;
    let id = dispatch(&engine, 3).await;
    let last = ended(&engine, &id).await;
    assert_eq!(last.extra["error"]["code"], FailureCode::Internal.as_str());
    assert_eq!(balance(&engine).await, before);
    let entries = engine
        .catalog(Mode::Live, crate::domain::catalog::CatalogResource::Backgrounds, None, None, 200, 0)
        .await
        .unwrap();
    assert!(entries.iter().all(|e| e.generation_job_public_id.as_deref() != Some(id.as_str())), "nothing filed");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_holds_for_a_day_of_the_realm_s_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    let mut config = config(dir.path(), 1, &Arc::new(FailPoints::default()));
    config.clock = clock.clone();
    config.run_jobs = false;
    let engine = start(config).await;
    let body = |seed: u64| json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": seed});
    let caller = owner();
    let send = |seed: u64| engine.dispatch(&caller, Operation::BackgroundGenerator, body(seed), "t", Some("key-1"));
    let first = send(1).await.unwrap().job_id;
    assert_eq!(send(1).await.unwrap().job_id, first, "the same key and body: the first answer");
    assert!(send(2).await.is_err(), "the same key with another body, within the day: refused");
    let job = engine.job(Mode::Live, &first).await.unwrap();
    assert_eq!(job.created_at, "2030-01-01T00:00:00.000Z", "the ledger wrote the realm's time");

    clock.advance(Duration::from_millis(crate::ledger::idempotency::WINDOW_MS as u64 + 1));
    let later = send(2).await.unwrap().job_id;
    assert_ne!(later, first, "a day later the key is free again");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_another_process_reaches_a_running_job_when_its_poll_comes_round() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Stage(Stage::Base), Action::Gate(gate.clone()));
    let mut config = config(dir.path(), 1, &failpoints);
    config.clock = clock.clone();
    let engine = start(config).await;
    let stages_of = |events: &[crate::domain::job::JobEvent]| -> Vec<String> {
        events.iter().filter_map(|e| e.stage.clone()).collect()
    };

    // As `figur jobs cancel` in another process does: only the ledger's flag, no signal.
    let cancel_in_ledger = |id: String| {
        let realm = engine.realm(Mode::Live).clone();
        async move { realm.ledger.write(move |c| jobs::request_cancel(c, &id)).await.unwrap() }
    };

    // The clock stands still: the job never re-reads the ledger while it runs, finishes every
    // stage, and the ledger's own check at the end still ends it cancelled.
    let unpolled = dispatch(&engine, 4).await;
    arrivals(&gate, 1).await;
    cancel_in_ledger(unpolled.clone()).await;
    gate.open();
    let last = ended(&engine, &unpolled).await;
    assert_eq!(last.extra["error"]["code"], FailureCode::JobCancelled.as_str());
    let events = engine.job_events(Mode::Live, &unpolled, 0, None).await.unwrap().events;
    assert!(stages_of(&events).contains(&"catalog".to_string()), "{:?}", stages_of(&events));

    // The poll interval passes on the clock: the job sees the flag at its next check and stops
    // in the stage it is in.
    let gate = Gate::new();
    failpoints.set(FaultPoint::Stage(Stage::Base), Action::Gate(gate.clone()));
    let polled = dispatch(&engine, 5).await;
    arrivals(&gate, 1).await;
    cancel_in_ledger(polled.clone()).await;
    clock.advance(crate::workflow::LEDGER_CANCEL_POLL);
    gate.open();
    let last = ended(&engine, &polled).await;
    assert_eq!(last.extra["error"]["code"], FailureCode::JobCancelled.as_str());
    let events = engine.job_events(Mode::Live, &polled, 0, None).await.unwrap().events;
    let stages = stages_of(&events);
    assert!(stages.contains(&"base".to_string()) && !stages.contains(&"texture".to_string()), "{stages:?}");
    engine.shutdown(LIMIT).await;
}
