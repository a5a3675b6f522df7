//! Nothing lost: crashes (SIGKILL, injected aborts), cancels, injected failures and shutdowns all
//! end in one terminal event, a refund where due, and an intact ledger.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{assert_timeline, Server};

const INITIAL: i64 = 10_000;

async fn events(server: &Server, job: &str) -> Vec<Value> {
    server.get(&format!("/v1/jobs/{job}/events")).await.body["events"].as_array().unwrap().clone()
}

fn integrity_ok(server: &Server) {
    for realm in ["live", "test"] {
        let conn = rusqlite::Connection::open(server.data_dir().join(realm).join("ledger.db")).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let (balance, sum): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT credits FROM credit_balance) + (SELECT COALESCE(SUM(credits), 0) FROM credit_reserves), \
                 (SELECT SUM(credits) FROM credit_ledger)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(balance, sum, "the balance is the ledger's sum");
    }
}

#[tokio::test]
async fn sigkill_while_jobs_run_loses_nothing() {
    let mut server = Server::start_with(&["--concurrency", "2"], &[("FIGUR_FAILPOINTS", "stage=sleep(250)")]).await;
    let mut jobs = Vec::new();
    for seed in 0..6 {
        let r = server.dispatch_backdrop(json!({ "seed": seed })).await;
        assert_eq!(r.status, 202);
        jobs.push(r.body["job_id"].as_str().unwrap().to_string());
    }
    // Wait until work is under way: some job has run a stage.
    for _ in 0..200 {
        if server.get("/v1/jobs?status=IN_PROGRESS").await.body["count"].as_u64().unwrap_or(0) > 0
            && events(&server, &jobs[0]).await.len() >= 3
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut before = Vec::new();
    for job in &jobs {
        before.push(events(&server, job).await);
    }
    let running = server.get("/v1/jobs?status=IN_PROGRESS").await.body["count"].as_u64().unwrap();
    assert!(running > 0, "the kill must hit running jobs");
    server.kill();

    let server = Server::start_in(server.dir.clone(), &[], &[]).await;
    let mut recovered = 0;
    for (job, seen) in jobs.iter().zip(before) {
        let after = server.wait_terminal(job).await;
        assert_timeline(&after);
        assert_eq!(after.last().unwrap()["event_type"], "succeeded", "{after:?}");
        // Every event seen before the crash is still there, unchanged.
        for (a, b) in seen.iter().zip(&after) {
            assert_eq!(a["seq"], b["seq"]);
            assert_eq!(a["event_type"], b["event_type"]);
            assert_eq!(a["stage"], b["stage"]);
        }
        if after.iter().any(|e| e["stage"] == "requeued") {
            recovered += 1;
            let requeued = after.iter().find(|e| e["stage"] == "requeued").unwrap();
            assert_eq!(requeued["extra"]["crash_recovery"], true);
        }
    }
    assert!(recovered as u64 >= running.min(1), "interrupted jobs were requeued with an event");
    assert_eq!(server.balance().await, INITIAL - 6 * 5);
    integrity_ok(&server);
}

#[tokio::test]
async fn a_job_that_keeps_crashing_the_process_is_given_up_after_two_recoveries() {
    let crash = [("FIGUR_FAILPOINTS", "stage:texture=abort")];
    let mut server = Server::start_with(&[], &crash).await;
    let job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    assert!(!server.wait_exit().success(), "the injected abort kills the process");
    for _ in 0..2 {
        // Each restart requeues the job, runs it, and dies again on the same stage.
        let mut again = Server::start_in(server.dir.clone(), &[], &crash).await;
        assert!(!again.wait_exit().success());
        server = again;
    }
    let server = Server::start_in(server.dir.clone(), &[], &crash).await;
    let timeline = server.wait_terminal(&job).await;
    assert_timeline(&timeline);
    let last = timeline.last().unwrap();
    assert_eq!(last["event_type"], "failed");
    assert_eq!(last["extra"]["error"]["code"], "INTERNAL");
    assert_eq!(last["extra"]["refunded_credits"], 5);
    let starts = timeline.iter().filter(|e| e["stage"] == "started").count();
    let requeues = timeline.iter().filter(|e| e["stage"] == "requeued").count();
    assert_eq!((starts, requeues), (3, 2), "{timeline:?}");
    assert_eq!(server.balance().await, INITIAL);
    // The studio itself is healthy.
    assert_eq!(server.get("/v1/health").await.status, 200);
    integrity_ok(&server);
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_at_the_next_check_point_and_refunds() {
    let server = Server::start_with(&["--concurrency", "1"], &[("FIGUR_FAILPOINTS", "stage=sleep(300)")]).await;
    let job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    // Wait for the job to be running.
    let mut seen = 0;
    for _ in 0..200 {
        seen = events(&server, &job).await.len();
        if seen >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen >= 3);
    let r = server.post(&format!("/v1/jobs/{job}/cancel"), json!({})).await;
    assert_eq!(r.status, 202);
    let timeline = server.wait_terminal(&job).await;
    assert_timeline(&timeline);
    let last = timeline.last().unwrap();
    assert_eq!(last["event_type"], "failed");
    assert_eq!(last["extra"]["error"]["code"], "JOB_CANCELLED");
    assert_eq!(last["extra"]["refunded_credits"], 5);
    // It stopped early: not every stage ran.
    assert!(!timeline.iter().any(|e| e["stage"] == "catalog"), "{timeline:?}");
    assert_eq!(server.get(&format!("/v1/jobs/{job}")).await.body["status"], "FAILURE");
    assert_eq!(server.balance().await, INITIAL);
    // Its files are gone, and no catalog entry was made.
    assert!(!server.data_dir().join("live/store/artifacts").join(&job).exists());
    let mine = server
        .get("/v1/catalog/backgrounds")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["generation_job_public_id"] == job.as_str())
        .count();
    assert_eq!(mine, 0);
}

#[tokio::test]
async fn cancelling_a_queued_job_ends_it_at_once_and_wakes_waiters() {
    let server = Arc::new(Server::start_with(&["--paused"], &[]).await);
    let job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    let waiter = {
        let (server, job) = (server.clone(), job.clone());
        tokio::spawn(async move { server.get(&format!("/v1/jobs/{job}/events?since=1&wait=25")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = server.post(&format!("/v1/jobs/{job}/cancel"), json!({})).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["status"], "FAILURE");
    let woken = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("the waiter is woken").unwrap();
    assert_eq!(woken.body["events"][0]["event_type"], "failed");
    assert_eq!(server.balance().await, INITIAL);
}

#[tokio::test]
async fn injected_failures_end_in_failed_events_with_refunds() {
    for (spec, message) in [("stage:light=panic", "crashed"), ("finish=error", "injected"), ("claim=error", "injected")]
    {
        let server = Server::start_with(&[], &[("FIGUR_FAILPOINTS", spec)]).await;
        let job = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
        let timeline = server.wait_terminal(&job).await;
        assert_timeline(&timeline);
        let last = timeline.last().unwrap();
        assert_eq!(last["event_type"], "failed", "{spec}");
        assert_eq!(last["extra"]["error"]["code"], "INTERNAL", "{spec}");
        assert!(last["extra"]["error"]["message"].as_str().unwrap().contains(message), "{spec}: {last}");
        assert_eq!(server.balance().await, INITIAL, "{spec}");
        // The server keeps serving.
        assert_eq!(server.dispatch_backdrop(json!({})).await.status, 202);
    }
}

#[tokio::test]
async fn sigterm_requeues_running_jobs_and_the_next_start_finishes_them() {
    let mut server = Server::start_with(&["--concurrency", "2"], &[("FIGUR_FAILPOINTS", "stage=sleep(300)")]).await;
    let jobs: Vec<String> = {
        let mut v = Vec::new();
        for seed in 0..3 {
            v.push(
                server.dispatch_backdrop(json!({ "seed": seed })).await.body["job_id"].as_str().unwrap().to_string(),
            );
        }
        v
    };
    for _ in 0..200 {
        if events(&server, &jobs[0]).await.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = server.terminate();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");

    let server = Server::start_in(server.dir.clone(), &[], &[]).await;
    for job in &jobs {
        let timeline = server.wait_terminal(job).await;
        assert_timeline(&timeline);
        assert_eq!(timeline.last().unwrap()["event_type"], "succeeded");
        for requeued in timeline.iter().filter(|e| e["stage"] == "requeued") {
            assert_eq!(requeued["extra"]["crash_recovery"], false, "a shutdown is not a crash");
        }
    }
    assert!(events(&server, &jobs[0]).await.iter().any(|e| e["stage"] == "requeued"));
    integrity_ok(&server);
}
