//! Farm mode end to end, on a real PostgreSQL (Debian's package, a throwaway cluster started by
//! `scripts/test-postgres`): API servers and workers as separate `figur` processes over one
//! ledger and one store; processes killed, paused and the database restarted mid-run; then the
//! ledger is read straight from PostgreSQL and its invariants checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::support::{default_set_cache, first_line, FIGUR};

const PG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-postgres");
/// Short leases, so a dead worker's jobs move on within the test.
const LEASE_SECONDS: &str = "2";

/// A PostgreSQL cluster of the test's own, stopped when dropped.
pub(crate) struct Cluster {
    dir: TempDir,
    url: String,
}

impl Cluster {
    pub(crate) fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(PG).arg("start").arg(dir.path().join("pg")).output().unwrap();
        assert!(out.status.success(), "the test cluster did not start: {}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Cluster { dir, url }
    }

    fn restart(&self) {
        self.pg("restart");
    }

    fn pg(&self, command: &str) {
        let out = Command::new(PG).arg(command).arg(self.dir.path().join("pg")).output().unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs `f` on a connection of its own, off the async runtime (the driver blocks).
    pub(crate) async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
    ) -> T {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.batch_execute("SET search_path TO figur_live").unwrap();
            f(&mut client)
        })
        .await
        .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(PG).arg("stop").arg(self.dir.path().join("pg")).output();
    }
}

/// One `figur` process of the farm.
pub(crate) struct Proc {
    name: String,
    child: Option<Child>,
    /// The address it serves (API servers).
    pub(crate) base: Option<String>,
    log: PathBuf,
}

impl Proc {
    fn spawn(farm: &Farm, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let log = farm.logs.path().join(format!("{name}.log"));
        let mut cmd = Command::new(FIGUR);
        cmd.args(args)
            .arg("--ledger")
            .arg(&farm.cluster.url)
            .args(farm.store.args(&farm.logs.path().join(format!("{name}-data"))))
            .envs(farm.store.env())
            .env("FIGUR_LOG", "warn")
            .env("FIGUR_CACHE_DIR", default_set_cache())
            .env_remove("FIGUR_FAILPOINTS")
            .env_remove("FIGUR_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let line = first_line(&mut child, name, &log);
        let base = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
        Proc { name: name.to_string(), child: Some(child), base, log }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM; the exit status once it has drained.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not stop on SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where a farm keeps its files: a folder every process is given (the mount), or a bucket.
pub(crate) enum FarmStore {
    Folder(TempDir),
    Bucket(crate::farm_s3::S3),
}

impl FarmStore {
    /// The flags that point a process at it (a bucket's processes each get a data folder of
    /// their own, `data`, as machines of a farm would).
    pub(crate) fn args(&self, data: &std::path::Path) -> Vec<std::ffi::OsString> {
        match self {
            FarmStore::Folder(dir) => vec!["--store".into(), dir.path().into()],
            FarmStore::Bucket(s3) => vec!["--store".into(), s3.url().into(), "--data-dir".into(), data.into()],
        }
    }

    /// The variables that reach it (a bucket's endpoint and the read-write user's keys).
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        match self {
            FarmStore::Folder(_) => Vec::new(),
            FarmStore::Bucket(s3) => s3.env(&s3.rw),
        }
    }

    /// The bytes stored under a live-realm key.
    pub(crate) async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        match self {
            FarmStore::Folder(dir) => std::fs::read(dir.path().join("live/store").join(key)).map_err(|e| e.to_string()),
            FarmStore::Bucket(s3) => s3.read(&format!("live/{key}")).await,
        }
    }
}

pub(crate) struct Farm {
    pub(crate) cluster: Cluster,
    pub(crate) store: FarmStore,
    logs: TempDir,
    pub(crate) key: String,
    pub(crate) http: reqwest::Client,
}

impl Farm {
    fn new() -> Farm {
        Farm::with_store(Cluster::start(), FarmStore::Folder(tempfile::tempdir().unwrap()))
    }

    pub(crate) fn with_store(cluster: Cluster, store: FarmStore) -> Farm {
        let logs = tempfile::tempdir().unwrap();
        let out = Command::new(FIGUR)
            .args(["keys", "create", "--ledger", &cluster.url])
            .args(store.args(&logs.path().join("keys-data")))
            .envs(store.env())
            .env("FIGUR_LOG", "warn")
            .env("FIGUR_CACHE_DIR", default_set_cache())
            .output()
            .unwrap();
        assert!(out.status.success(), "keys create: {}", String::from_utf8_lossy(&out.stderr));
        let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string();
        Farm { cluster, store, logs, key, http: reqwest::Client::new() }
    }

    pub(crate) fn server(&self, name: &str) -> Proc {
        self.server_with(name, &[])
    }

    fn server_with(&self, name: &str, extra: &[&str]) -> Proc {
        let mut args = vec!["serve", "--no-run", "--listen", "127.0.0.1:0", "--lease-seconds", LEASE_SECONDS];
        args.extend_from_slice(extra);
        Proc::spawn(self, name, &args, &[])
    }

    pub(crate) fn worker(&self, name: &str, failpoints: Option<&str>) -> Proc {
        let env: Vec<(&str, &str)> = failpoints.map(|f| ("FIGUR_FAILPOINTS", f)).into_iter().collect();
        self.worker_with(name, &env)
    }

    pub(crate) fn worker_with(&self, name: &str, env: &[(&str, &str)]) -> Proc {
        let args = ["worker", "--name", name, "--concurrency", "2", "--lease-seconds", LEASE_SECONDS];
        Proc::spawn(self, name, &args, env)
    }

    /// A background render, durable before its 202: retried (same idempotency key) on the
    /// other servers while one is down or the database restarts. Its job id.
    pub(crate) async fn dispatch(&self, bases: &[String], n: usize) -> String {
        self.dispatch_body(bases, n, json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": n}))
            .await
    }

    async fn dispatch_body(&self, bases: &[String], n: usize, body: Value) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        for attempt in 0.. {
            let base = &bases[(n + attempt) % bases.len()];
            let sent = self
                .http
                .post(format!("{base}/v1/background-generator"))
                .bearer_auth(&self.key)
                .header("Idempotency-Key", format!("farm-{n}"))
                .json(&body)
                .timeout(Duration::from_secs(20))
                .send()
                .await;
            if let Ok(resp) = sent {
                let status = resp.status();
                let reply: Value = resp.json().await.unwrap_or(Value::Null);
                if status == 202 || status == 200 {
                    return reply["job_id"].as_str().unwrap().to_string();
                }
                assert!(status.is_server_error() || status == 429, "dispatch {n}: {status} {reply}");
            }
            assert!(Instant::now() < deadline, "dispatch {n} was never accepted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        unreachable!()
    }

    /// Dispatches `body` to `workflow` on `base`: the job's id.
    pub(crate) async fn job(&self, base: &str, workflow: &str, body: Value) -> String {
        let resp =
            self.http.post(format!("{base}/v1/{workflow}")).bearer_auth(&self.key).json(&body).send().await.unwrap();
        let status = resp.status();
        let reply: Value = resp.json().await.unwrap();
        assert_eq!(status, 202, "{workflow}: {reply}");
        reply["job_id"].as_str().unwrap().to_string()
    }

    /// A job's terminal event, long-polled from `base`.
    pub(crate) async fn end_of(&self, base: &str, job: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut since = 0;
        loop {
            let page: Value = self
                .http
                .get(format!("{base}/v1/jobs/{job}/events?since={since}&wait=10"))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for event in page["events"].as_array().unwrap() {
                since = event["seq"].as_i64().unwrap();
                if matches!(event["event_type"].as_str(), Some("succeeded" | "failed")) {
                    return event.clone();
                }
            }
            assert!(Instant::now() < deadline, "{job} never ended");
        }
    }

    pub(crate) async fn count(&self, sql: &'static str) -> i64 {
        self.cluster.query(move |c| c.query_one(sql, &[]).unwrap().get::<_, i64>(0)).await
    }

    pub(crate) async fn wait_for(&self, what: &str, sql: &'static str, want: i64) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let have = self.count(sql).await;
            if have == want {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {have}, never {want}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What the ledger must say after any run, whatever was killed: read from PostgreSQL itself.
pub(crate) async fn assert_ledger_invariants(farm: &Farm, jobs: usize) {
    let (events, ledger) = farm
        .cluster
        .query(|c| {
            let events = c
                .query("SELECT job_id, seq, event_type, artifacts_json FROM job_events ORDER BY job_id, seq", &[])
                .unwrap();
            let sums = c
                .query_one(
                    "SELECT (SELECT credits FROM credit_balance) \
                     + (SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves), \
                     (SELECT CAST(SUM(credits) AS BIGINT) FROM credit_ledger), \
                     (SELECT COUNT(*) FROM renders) + (SELECT COUNT(DISTINCT generation_job_public_id) FROM catalog), \
                     (SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'), \
                     (SELECT COUNT(*) FROM jobs)",
                    &[],
                )
                .unwrap();
            let events: Vec<(String, i64, String, String)> =
                events.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
            let filed_twice: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM (SELECT generation_job_public_id FROM catalog \
                     WHERE generation_job_public_id IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1) AS twice",
                    &[],
                )
                .unwrap()
                .get(0);
            assert_eq!(filed_twice, 0, "no job filed its result twice");
            let sums: (i64, i64, i64, i64, i64) = (sums.get(0), sums.get(1), sums.get(2), sums.get(3), sums.get(4));
            (events, sums)
        })
        .await;
    let (balance, ledger_sum, renders, succeeded, total) = ledger;
    assert_eq!(total as usize, jobs, "every dispatch is one job, retries included");
    assert_eq!(balance, ledger_sum, "the balance is the credit ledger's sum");
    assert_eq!(renders, succeeded, "one render or catalog entry per succeeded job: none filed twice");
    let mut timelines: BTreeMap<String, Vec<(i64, String, String)>> = BTreeMap::new();
    for (job, seq, kind, artifacts) in events {
        timelines.entry(job).or_default().push((seq, kind, artifacts));
    }
    assert_eq!(timelines.len(), jobs);
    for (job, timeline) in &timelines {
        let seqs: Vec<i64> = timeline.iter().map(|e| e.0).collect();
        assert_eq!(seqs, (1..=timeline.len() as i64).collect::<Vec<_>>(), "{job}: seqs contiguous");
        let terminal: Vec<usize> =
            (0..timeline.len()).filter(|&i| timeline[i].1 == "succeeded" || timeline[i].1 == "failed").collect();
        assert_eq!(terminal, [timeline.len() - 1], "{job}: exactly one terminal event, last");
        for artifact in serde_json::from_str::<Vec<Value>>(&timeline.last().unwrap().2).unwrap() {
            let key = artifact["key"].as_str().unwrap();
            let bytes = farm.store.read(key).await.unwrap_or_else(|e| panic!("{job}: {key}: {e}"));
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                artifact["meta"]["sha256"].as_str().unwrap(),
                "{job}: {key} is the file its event describes"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_and_three_workers_survive_kills_and_a_database_restart() {
    const JOBS: usize = 300;
    let farm = Arc::new(Farm::new());
    let mut server_a = farm.server("server-a");
    let mut server_b = farm.server("server-b");
    let bases = vec![server_a.base.clone().unwrap(), server_b.base.clone().unwrap()];
    // w1 holds every job it takes (its results never commit): killed, its jobs must move on.
    let mut w1 = farm.worker("w1", Some("finish=sleep(600000)"));
    let mut ids = Vec::with_capacity(JOBS);
    for n in 0..4 {
        ids.push(farm.dispatch(&bases, n).await);
    }
    farm.wait_for("jobs w1 holds", "SELECT COUNT(*) FROM jobs WHERE lease_owner = 'w1' AND status = 'IN_PROGRESS'", 2)
        .await;
    let mut w2 = farm.worker("w2", None);
    let mut w3 = farm.worker("w3", None);

    // A long-poll on one server wakes on another process's commits (NOTIFY), well inside its wait.
    let on_b = farm.dispatch(&bases[1..], 4).await;
    ids.push(on_b.clone());
    let asked = Instant::now();
    let poll = farm
        .http
        .get(format!("{}/v1/jobs/{on_b}/events?since=1&wait=25", bases[0]))
        .bearer_auth(&farm.key)
        .send()
        .await
        .unwrap();
    let events: Value = poll.json().await.unwrap();
    assert!(!events["events"].as_array().unwrap().is_empty(), "{events}");
    assert!(asked.elapsed() < Duration::from_secs(20), "the long-poll waited out its time: no wake-up");

    // 300 dispatches, round-robin, eight at a time; a worker and a server die, the database
    // restarts and another worker stalls past its lease on the way.
    // Every tenth job reports its end to a webhook receiver; any API server may deliver it.
    let (hook, posts) = crate::webhooks::receiver(200);
    let mut live_bases = bases.clone();
    let mut n = ids.len();
    let (mut killed_worker, mut killed_server, mut restarted, mut stalled) = (false, false, false, false);
    while n < JOBS {
        if n >= 250 && !stalled {
            // w3 stops past its lease (2 s) with jobs in hand and wakes: its jobs moved on, its
            // late writes are refused (the invariants below: every job ended exactly once).
            w3.signal("-STOP");
            tokio::time::sleep(Duration::from_secs(4)).await;
            w3.signal("-CONT");
            stalled = true;
        }
        if n >= 100 && !killed_worker {
            w1.kill();
            killed_worker = true;
        }
        if n >= 150 && !killed_server {
            server_b.kill();
            live_bases = vec![bases[0].clone()];
            killed_server = true;
        }
        if n >= 200 && !restarted {
            let farm = farm.clone();
            tokio::task::spawn_blocking(move || farm.cluster.restart()).await.unwrap();
            restarted = true;
        }
        let batch: Vec<usize> = (n..(n + 8).min(JOBS)).collect();
        let sent = futures_util::future::join_all(batch.iter().map(|&i| {
            let (farm, bases) = (farm.clone(), bases.clone());
            let live = live_bases.clone();
            let mut body = json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": i});
            if i % 10 == 0 {
                body["webhook_url"] = json!(hook);
            }
            async move { farm.dispatch_body(if i % 2 == 0 { &bases } else { &live }, i, body).await }
        }))
        .await;
        ids.extend(sent);
        n += batch.len();
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while farm.count("SELECT COUNT(*) FROM jobs WHERE status IN ('NOT_STARTED', 'IN_PROGRESS')").await > 0 {
        if Instant::now() > deadline {
            let stuck = farm
                .cluster
                .query(|c| {
                    c.query(
                        "SELECT public_id, status, lease_owner, lease_token, lease_expires_ms, recoveries, paused \
                         FROM jobs WHERE status IN ('NOT_STARTED', 'IN_PROGRESS')",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let (id, status, owner): (String, String, Option<String>) = (r.get(0), r.get(1), r.get(2));
                        let (token, ends, recoveries, paused): (i64, Option<i64>, i64, i64) =
                            (r.get(3), r.get(4), r.get(5), r.get(6));
                        format!("{id} {status} {owner:?} #{token} ends {ends:?} recovered {recoveries} paused {paused}")
                    })
                    .collect::<Vec<_>>()
                })
                .await;
            let now = farm.count("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)").await;
            panic!(
                "jobs never ended (now {now}): {stuck:?}\nw2: {}\nw3: {}\nserver-a: {}",
                w2.log(),
                w3.log(),
                server_a.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), JOBS, "every dispatch got a job of its own");
    assert_ledger_invariants(&farm, JOBS).await;
    let requeued_from_w1 = farm
        .count("SELECT COUNT(*) FROM job_events WHERE stage = 'requeued' AND extra_json::jsonb ->> 'worker' = 'w1'")
        .await;
    assert!(requeued_from_w1 >= 2, "w1's jobs were requeued naming it ({requeued_from_w1})");
    let succeeded = farm.count("SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'").await;
    assert_eq!(succeeded as usize, JOBS, "every job ran to success on the surviving workers");

    // Each webhook is delivered (at least once: a server killed mid-POST leaves its claim to
    // run out, and the other retries), and the receiver heard of every one of those jobs.
    let first_batched = 5;
    let hooked: std::collections::BTreeSet<String> =
        (first_batched..JOBS).filter(|i| i % 10 == 0).map(|i| ids[i].clone()).collect();
    let delivered = "SELECT COUNT(*) FROM webhooks WHERE state = 'delivered'";
    farm.wait_for("webhooks delivered", delivered, hooked.len() as i64).await;
    let heard: std::collections::BTreeSet<String> =
        posts.try_iter().map(|p| p.header("webhook-id").to_string()).collect();
    assert_eq!(heard, hooked, "the receiver heard of every hooked job");

    // `figur farm status` names the workers; the killed one is silent.
    let status = Command::new(FIGUR)
        .args(["farm", "status", "--json", "--ledger", &farm.cluster.url])
        .args(farm.store.args(&farm.logs.path().join("status-data")))
        .env("FIGUR_LOG", "warn")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let health: BTreeMap<String, String> = status["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["id"].as_str().unwrap().to_string(), w["health"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(health.get("w2").map(String::as_str), Some("running"), "{status}");
    assert_eq!(status["finished_last_10_minutes"], JOBS as i64, "{status}");

    // SIGTERM drains: the workers stop cleanly and say so.
    for w in [&mut w2, &mut w3] {
        assert!(w.terminate().success(), "{}", w.log());
    }
    assert!(server_a.terminate().success(), "{}", server_a.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_past_its_lease_cannot_commit_when_it_wakes() {
    let farm = Farm::new();
    let server = farm.server("server");
    let base = vec![server.base.clone().unwrap()];
    // The stale worker finishes its job slowly (4 s at `finish`), so it is caught holding it.
    let stale = farm.worker("stale", Some("finish=sleep(4000)"));
    let job = farm.dispatch(&base, 1).await;
    farm.wait_for(
        "the stale worker's job",
        "SELECT COUNT(*) FROM jobs WHERE lease_owner = 'stale' AND status = 'IN_PROGRESS'",
        1,
    )
    .await;
    stale.signal("-STOP");
    // Its lease ends; the job is requeued and a live worker runs it to the end.
    let fresh = farm.worker("fresh", None);
    farm.wait_for("the job's success", "SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'", 1).await;
    let before = farm.count("SELECT COUNT(*) FROM job_events").await;
    stale.signal("-CONT");
    // Wake it and give it time to try: its lease renewal and its commit are both refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stale.log().contains("taken over") {
        assert!(Instant::now() < deadline, "the stale worker never noticed: {}", stale.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(farm.count("SELECT COUNT(*) FROM job_events").await, before, "the stale worker wrote nothing");
    assert_ledger_invariants(&farm, 1).await;
    let keys = farm
        .cluster
        .query(move |c| {
            let row = c
                .query_one(
                    "SELECT artifacts_json FROM job_events WHERE job_id = $1 AND event_type = 'succeeded'",
                    &[&job],
                )
                .unwrap();
            row.get::<_, String>(0)
        })
        .await;
    assert!(keys.contains("/run-2/"), "the second run's files are its own: {keys}");
    assert!(!fresh.log().contains("panicked"), "{}", fresh.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_gets_its_rate_limit_once_across_all_the_api_servers() {
    let farm = Farm::new();
    // 3 requests a second: at most 6 in any 2-second window, whichever servers they reach.
    let (a, b) = (farm.server_with("a", &["--rate-limit", "3"]), farm.server_with("b", &["--rate-limit", "3"]));
    let (a, b) = (a.base.clone().unwrap(), b.base.clone().unwrap());
    let get = |base: &str| farm.http.get(format!("{base}/v1/credits")).bearer_auth(&farm.key).send();
    for attempt in 0.. {
        // Start at the top of a window (the database and this test read the same clock), so the
        // seven requests below all fall in one.
        let ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 2000;
        while ms() > 100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(get(&a).await.unwrap().status().as_u16());
        }
        // Server b has not been asked yet: only a shared count refuses this one.
        let on_b = get(&b).await.unwrap();
        let retry_after = on_b.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        statuses.push(on_b.status().as_u16());
        if ms() > 1500 && attempt < 3 {
            continue; // a slow machine crossed into the next window: not a fair try
        }
        assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429], "the seventh, on another server, is refused");
        assert!(retry_after.is_some(), "429 says when to come back");
        break;
    }
    // The next window gives the key its allowance again, on either server.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(get(&b).await.unwrap().status(), 200);
}

/// PostgreSQL down when a server starts: the server says it is waiting, stays up (backing off,
/// not exiting for a supervisor to restart in a loop), and serves once the database is back.
#[test]
fn a_server_waits_for_a_ledger_that_is_down_at_start() {
    let cluster = Cluster::start();
    cluster.pg("stop");
    let store = tempfile::tempdir().unwrap();
    let log = store.path().join("serve.log");
    let mut serve = Command::new(FIGUR)
        .args(["serve", "--listen", "127.0.0.1:0", "--ledger", &cluster.url, "--store"])
        .arg(store.path().join("store"))
        .env("FIGUR_LOG", "warn")
        .env("FIGUR_CACHE_DIR", default_set_cache())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(serve.try_wait().unwrap().is_none(), "it exited: {}", std::fs::read_to_string(&log).unwrap());
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("the shared ledger is not answering") && said.contains("trying again"), "{said}");
    cluster.pg("resume");
    let line = first_line(&mut serve, "figur serve", &log);
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    let _ = serve.kill();
    let _ = serve.wait();
}

/// A worker's metrics (`figur worker --metrics-listen`): the jobs it ran, their claim latency
/// and stages, and the farm's workers read from the ledger — no key on the worker's endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_its_metrics() {
    let farm = Farm::new();
    let server = farm.server("server");
    let base = vec![server.base.clone().unwrap()];
    let args = ["worker", "--name", "metered", "--lease-seconds", LEASE_SECONDS, "--metrics-listen", "127.0.0.1:0"];
    let worker = Proc::spawn(&farm, "metered", &args, &[]);
    let log = worker.log();
    let url = log
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in: {log}"))
        .to_string();
    farm.dispatch(&base, 7).await;
    farm.wait_for("the job's success", "SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'", 1).await;
    let text = farm.http.get(&url).send().await.unwrap().text().await.unwrap();
    let flow = "workflow=\"background-generator\"";
    for series in [
        format!("figur_job_seconds_count{{outcome=\"succeeded\",{flow}}} 1"),
        format!("figur_claim_seconds_count{{{flow}}} 1"),
        format!("figur_stage_seconds_count{{stage=\"texture\",{flow}}} 1"),
        "figur_workers{state=\"running\"} 1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == series), "{series} missing from:\n{text}");
    }
    // The API server's own endpoint wants a key.
    let r = farm.http.get(format!("{}/metrics", base[0])).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Dispatches without an idempotency key take the group-commit path whose jobs are rows of one
/// multi-row insert: through a database restart mid-run, every 202 names a job that exists once
/// and runs to its end, an attempt that failed made at most one job (it may have committed
/// before its answer was lost, as any keyless request may), and the balance is the ledger's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyless_dispatches_through_a_database_restart_each_make_one_job() {
    const DISPATCHES: usize = 240;
    let farm = Arc::new(Farm::new());
    let server = farm.server("server");
    let base = server.base.clone().unwrap();
    let _worker = farm.worker("w1", None);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (farm, base, next, failed) = (farm.clone(), base.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= DISPATCHES {
                        return accepted;
                    }
                    let body = json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": n});
                    let deadline = Instant::now() + Duration::from_secs(90);
                    loop {
                        let sent = farm
                            .http
                            .post(format!("{base}/v1/background-generator"))
                            .bearer_auth(&farm.key)
                            .json(&body)
                            .timeout(Duration::from_secs(20))
                            .send()
                            .await;
                        match sent {
                            Ok(resp) if resp.status() == 202 => {
                                let reply: Value = resp.json().await.unwrap();
                                accepted.push(reply["job_id"].as_str().unwrap().to_string());
                                break;
                            }
                            Ok(resp) => {
                                let status = resp.status();
                                assert!(status.is_server_error() || status == 429, "dispatch {n}: {status}");
                            }
                            Err(_) => {}
                        }
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert!(Instant::now() < deadline, "dispatch {n} was never accepted");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    // The database restarts while the clients dispatch.
    while next.load(std::sync::atomic::Ordering::SeqCst) < DISPATCHES / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart = farm.clone();
    tokio::task::spawn_blocking(move || restart.cluster.restart()).await.unwrap();
    let mut accepted = Vec::new();
    for client in clients {
        accepted.extend(client.await.unwrap());
    }
    assert_eq!(accepted.len(), DISPATCHES);
    farm.wait_for("every job ended", "SELECT COUNT(*) FROM jobs WHERE status IN ('NOT_STARTED', 'IN_PROGRESS')", 0)
        .await;
    let ids: Vec<String> = farm
        .cluster
        .query(|c| c.query("SELECT public_id FROM jobs", &[]).unwrap().iter().map(|r| r.get(0)).collect())
        .await;
    let ids: std::collections::BTreeSet<String> = ids.into_iter().collect();
    for id in &accepted {
        assert!(ids.contains(id), "the 202 for {id} named a job the ledger has");
    }
    let extra = ids.len() - accepted.len();
    let failed = failed.load(std::sync::atomic::Ordering::SeqCst);
    assert!(failed > 0, "the dispatches crossed the restart");
    assert!(extra <= failed, "{extra} jobs beyond the 202s, from {failed} failed attempts");
    assert_ledger_invariants(&farm, ids.len()).await;
}
