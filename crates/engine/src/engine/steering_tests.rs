//! Steering, through the engine and its scheduler: what the scheduler takes next after a
//! priority, a pause and a resume, and a running job paused and run again. Jobs are held at
//! fault-point gates (see `queue_tests`), so the order asserted is the order that happened.

use std::sync::Arc;

use super::queue_tests::{arrivals, balance, config, dispatch, ended, owner, start, status, LIMIT};
use crate::auth::Mode;
use crate::domain::job::{EventType, JobStatus};
use crate::error::ErrorCode;
use crate::failpoints::{Action, FailPoints, FaultPoint, Gate};
use crate::workflow::Stage;

/// Waits on the job's long-poll until a stage event named `stage` is in its timeline.
async fn until_stage(engine: &super::Engine, job: &str, stage: &str) {
    let wait = async {
        let mut since = 0;
        loop {
            let page = engine.job_events(Mode::Live, job, since, Some(super::MAX_WAIT)).await.unwrap();
            for e in &page.events {
                since = e.seq;
                if e.stage.as_deref() == Some(stage) {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(LIMIT, wait).await.unwrap_or_else(|_| panic!("job {job} never reached {stage}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_takes_priority_first_skips_held_jobs_and_runs_them_once_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Claim, Action::Gate(gate.clone()));
    let engine = start(config(dir.path(), 1, &failpoints)).await;
    // One permit: the first job is claimed and held at the gate; the rest wait in the queue.
    let first = dispatch(&engine, 0).await;
    assert_eq!(arrivals(&gate, 1).await, std::slice::from_ref(&first));
    let (b, c, d) = (dispatch(&engine, 1).await, dispatch(&engine, 2).await, dispatch(&engine, 3).await);
    assert_eq!(engine.set_priority(&owner(), &d, 5).await.unwrap().priority, 5);
    let held = engine.pause(&owner(), &b).await.unwrap();
    assert!(held.paused && held.status == JobStatus::NotStarted);
    let queue: Vec<_> = engine.queue(Mode::Live, 50, 0).await.unwrap().jobs.into_iter().map(|j| j.public_id).collect();
    assert_eq!(queue, [first.clone(), d.clone(), b.clone(), c.clone()], "running, then by priority, held in place");

    gate.open();
    for id in [&first, &d, &c] {
        assert_eq!(ended(&engine, id).await.event_type, EventType::Succeeded);
    }
    assert_eq!(arrivals(&gate, 3).await, [first, d, c], "the priority first, the held job skipped");
    assert_eq!(status(&engine, &b).await, JobStatus::NotStarted, "held while the queue ran dry");
    assert!(engine.resume(&owner(), &b).await.unwrap().paused.eq(&false));
    assert_eq!(ended(&engine, &b).await.event_type, EventType::Succeeded);
    let stages: Vec<_> =
        engine.job_events(Mode::Live, &b, 0, None).await.unwrap().events.into_iter().filter_map(|e| e.stage).collect();
    assert_eq!(stages[..3], ["paused", "resumed", "started"], "each change is on the timeline");
    engine.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_paused_goes_back_held_uncharged_twice_and_runs_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let failpoints = Arc::new(FailPoints::default());
    let gate = Gate::new();
    failpoints.set(FaultPoint::Stage(Stage::Texture), Action::Gate(gate.clone()));
    let engine = start(config(dir.path(), 1, &failpoints)).await;
    let before = balance(&engine).await;
    let id = dispatch(&engine, 7).await;
    arrivals(&gate, 1).await;
    let pausing = engine.pause(&owner(), &id).await.unwrap();
    assert!(pausing.paused && pausing.status == JobStatus::InProgress, "pausing: it runs to its next check point");
    gate.open();
    until_stage(&engine, &id, "paused").await;
    let held = engine.job(Mode::Live, &id).await.unwrap();
    assert!(held.paused && held.status == JobStatus::NotStarted && held.result.is_empty());
    // Held: nothing claims it while the scheduler idles.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(status(&engine, &id).await, JobStatus::NotStarted);

    engine.resume(&owner(), &id).await.unwrap();
    let last = ended(&engine, &id).await;
    assert_eq!(last.event_type, EventType::Succeeded);
    assert_eq!(
        balance(&engine).await,
        before - engine.job(Mode::Live, &id).await.unwrap().credits_cost,
        "charged once"
    );
    let events = engine.job_events(Mode::Live, &id, 0, None).await.unwrap().events;
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "seqs stay contiguous");
    let starts = events.iter().filter(|e| e.stage.as_deref() == Some("started")).count();
    assert_eq!(starts, 2, "started again from the beginning");

    let err = engine.pause(&owner(), &id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::JobFinished);
    let err = engine.set_priority(&owner(), &id, 101).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError, "the range is checked before the job");
    engine.shutdown(LIMIT).await;
}
