//! Farm mode benchmark — `cargo bench --bench farm` (one run; not a timed test).
//!
//! On this machine, in one run, on the same disk (a throwaway PostgreSQL cluster from
//! `scripts/test-postgres`, default durability: fsync on, synchronous_commit on):
//! 1. durable dispatches/s through HTTP: one `figur serve` on the SQLite ledger (the baseline),
//!    one and two API servers (`serve --no-run`) on PostgreSQL, the clients split between them;
//! 2. completed jobs/s of a cheap workflow (0.5K background renders, ~0.1 s of CPU each) with
//!    1, 2 and 4 workers of concurrency 1, and the scaling efficiency against one worker — on a
//!    machine with N cores, more than N workers can only share them; then 2 workers again with
//!    the store in an S3 bucket (moto's server on loopback, `scripts/test-s3`) beside the mount's;
//! 3. claim latency: from a dispatch's commit to a waiting worker's `started` event (both
//!    timestamps written by the ledger), p50 and p99.
//!
//! Beside each PostgreSQL dispatch rate it prints what a dispatch cost the whole machine in CPU
//! time (from `/proc/stat`, every process: clients, servers, PostgreSQL) and how many
//! transactions that wrote PostgreSQL ran for each (transaction ids taken) — what decides, on a machine
//! whose cores carry everything, whether a second server can add anything.
//!
//! FIGUR_BENCH_N (dispatches per configuration), FIGUR_BENCH_ROUNDS (turns of one and two
//! servers, the order swapped each round), FIGUR_BENCH_CLIENTS, FIGUR_BENCH_JOBS (jobs for
//! the worker runs) change the sizes; FIGUR_BENCH_ONLY=dispatch stops after the dispatch rates;
//! FIGUR_BENCH_FIGUR names another `figur` binary to measure with the same harness.

#[path = "common/server.rs"]
mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-postgres");
const S3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-s3");
/// The `figur` measured: this build's, or another (`FIGUR_BENCH_FIGUR`, e.g. an earlier commit's
/// release build) to compare two builds with the same harness on the same machine. Set but
/// empty counts as unset (a script's `FIGUR_BENCH_FIGUR=$other` with nothing in it).
fn figur() -> std::path::PathBuf {
    std::env::var_os("FIGUR_BENCH_FIGUR")
        .filter(|path| !path.is_empty())
        .map_or_else(|| env!("CARGO_BIN_EXE_figur").into(), Into::into)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Where a farm keeps its files: the flags that say so and the variables that reach it.
#[derive(Clone)]
struct Store {
    flags: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
}

impl Store {
    /// A folder (the mount).
    fn folder(dir: &Path) -> Store {
        Store { flags: vec!["--store".into(), dir.into()], env: Vec::new() }
    }
}

/// A `figur` process of the farm; its first line of output read (and an address, if it serves).
struct Proc {
    child: Child,
    base: Option<String>,
}

impl Proc {
    fn spawn(args: &[&str], url: &str, store: &Store) -> Proc {
        let mut child = Command::new(figur())
            .args(args)
            .args(["--ledger", url])
            .args(&store.flags)
            .envs(store.env.iter().cloned())
            .env("FIGUR_LOG", std::env::var("FIGUR_BENCH_LOG").unwrap_or_else(|_| "error".into()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "figur {args:?} exited");
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let base = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
        Proc { child, base }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database in the cluster for one measurement: its own realms, queue and workers.
fn database(admin: &str, name: &str) -> String {
    let mut client = postgres::Client::connect(admin, postgres::NoTls).unwrap();
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// A key for the ledger at `url` (`sqlite` for one in `store`), and credits for every dispatch.
fn key(url: &str, store: &Store) -> String {
    let figur = |args: &[&str]| {
        let out = Command::new(figur())
            .args(args)
            .args(["--ledger", url])
            .args(&store.flags)
            .envs(store.env.iter().cloned())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    figur(&["credits", "set", "1000000000"]);
    figur(&["keys", "create"]).lines().last().unwrap().trim().to_string()
}

fn body(seed: usize) -> serde_json::Value {
    serde_json::json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K", "seed": seed})
}

/// Completed jobs/s of `jobs` 0.5K renders dispatched to one server and run by `workers` workers
/// of concurrency 1 over the ledger at `url` and `store`: from the first claim to the last
/// success, by the ledger's own timestamps (the workers' start-up is not the farm's throughput).
fn completed_rate(rt: &tokio::runtime::Runtime, url: &str, store: &Store, workers: usize, jobs: usize) -> f64 {
    let key = key(url, store);
    let serve = ["serve", "--no-run", "--listen", "127.0.0.1:0", "--rate-limit", "0"];
    let server = Proc::spawn(&serve, url, store);
    let base = server.base.clone().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        for i in 0..jobs {
            let r = http.post(format!("{base}/v1/background-generator")).bearer_auth(&key).json(&body(i));
            assert_eq!(r.send().await.unwrap().status(), 202);
        }
    });
    let live = format!("{url}?options=-c%20search_path%3Dfigur_live");
    // The server seeds the built-in catalog on a new store: let it finish first.
    std::thread::sleep(Duration::from_secs(3));
    let procs: Vec<Proc> = (0..workers)
        .map(|w| Proc::spawn(&["worker", "--concurrency", "1", "--name", &format!("w{w}")], url, store))
        .collect();
    while count(&live, "SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'") < jobs as i64 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut client = postgres::Client::connect(&live, postgres::NoTls).unwrap();
    let span = client.query_one("SELECT MIN(started_at), MAX(finished_at) FROM jobs", &[]).unwrap();
    let at = |s: String| humantime::parse_rfc3339(&s).unwrap();
    let (first, last): (String, String) = (span.get(0), span.get(1));
    drop((procs, server));
    jobs as f64 / at(last).duration_since(at(first)).unwrap().as_secs_f64()
}

/// Dispatches sent before the timed ones: connections opened, statements prepared.
const WARM_UP: usize = 100;

/// What `n` timed dispatches measured.
struct Dispatched {
    /// Dispatches per second.
    rate: f64,
    /// The machine's CPU time per dispatch (µs, every process).
    cpu_us: f64,
    /// Transactions that wrote (took a transaction id) per dispatch, on PostgreSQL.
    writes: f64,
}

/// `n` dispatches from `clients` concurrent clients, spread over `bases`, the ledger at
/// `postgres` if it is one (for its transaction count).
async fn dispatch_rate(bases: &[String], key: &str, n: usize, clients: usize, postgres: Option<&str>) -> Dispatched {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
    for (i, base) in bases.iter().cycle().take(WARM_UP).enumerate() {
        let r = http.post(format!("{base}/v1/background-generator")).bearer_auth(key).json(&body(i)).send().await;
        assert_eq!(r.unwrap().status(), 202);
    }
    let next = Arc::new(AtomicUsize::new(0));
    // The next transaction id; read off the runtime (the blocking client runs one of its own).
    let xid = || {
        postgres.map_or(0, |url| {
            let url = url.to_string();
            let sql = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint";
            std::thread::spawn(move || count(&url, sql)).join().unwrap()
        })
    };
    let (start, busy, first_xid) = (Instant::now(), busy_cpu(), xid());
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, base, key, next) = (http.clone(), bases[c % bases.len()].clone(), key.to_string(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let r =
                        http.post(format!("{base}/v1/background-generator")).bearer_auth(&key).json(&body(c)).send();
                    assert_eq!(r.await.unwrap().status(), 202);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let (elapsed, busy, xids) = (start.elapsed(), busy_cpu() - busy, xid() - first_xid);
    Dispatched {
        rate: n as f64 / elapsed.as_secs_f64(),
        cpu_us: busy.as_secs_f64() * 1e6 / n as f64,
        writes: xids as f64 / n as f64,
    }
}

/// The CPU time every process of the machine has used since boot (`/proc/stat`: user, nice,
/// system, irq, softirq; zero where there is no `/proc`).
fn busy_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        .filter(|(i, _)| [0, 1, 2, 5, 6].contains(i))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// The floor's reference: single-row INSERTs, each its own transaction (autocommit), from
/// `clients` connections at once — what PostgreSQL on this disk commits without any batching.
fn raw_insert_rate(url: &str, n: usize, clients: usize) -> f64 {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin.batch_execute("CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)").unwrap();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let insert = client.prepare("INSERT INTO bench_raw (v) VALUES ($1)").unwrap();
                for i in 0..n / clients {
                    client.execute(&insert, &[&format!("row {i}")]).unwrap();
                }
            });
        }
    });
    (n / clients * clients) as f64 / started.elapsed().as_secs_f64()
}

fn count(url: &str, sql: &str) -> i64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client.query_one(sql, &[]).unwrap().get(0)
}

fn main() {
    let n = env_usize("FIGUR_BENCH_N", 10000);
    let rounds = env_usize("FIGUR_BENCH_ROUNDS", 4).max(1);
    let clients = env_usize("FIGUR_BENCH_CLIENTS", 32);
    let jobs = env_usize("FIGUR_BENCH_JOBS", 120);
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(&base).unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let out = Command::new(PG).arg("start").arg(dir.path().join("pg")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new(PG).arg("stop").arg(&self.0).output();
        }
    }
    let _stop = Stop(dir.path().join("pg"));
    println!("farm benchmark — {cores} cores; PostgreSQL and SQLite on the same disk under {}", base.display());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    // 1. Durable dispatch, beside the database's own single-insert rate.
    let raw = raw_insert_rate(&database(&admin, "raw"), n, clients);
    let sqlite_dir = dir.path().join("sqlite");
    key("sqlite", &Store::folder(&sqlite_dir));
    let sqlite = common::BenchServer::start(&sqlite_dir, &["--paused"], &[]);
    let on_sqlite = rt.block_on(dispatch_rate(std::slice::from_ref(&sqlite.base), &sqlite.key, n, clients, None)).rate;
    drop(sqlite);
    // One and two API servers in turns, each turn on a fresh database, the order swapped every
    // round: whichever ran second would otherwise meet the first's WAL, checkpoints and grown
    // tables, and a drift of the machine would read as a difference between them.
    let serve = ["serve", "--no-run", "--listen", "127.0.0.1:0", "--rate-limit", "0"];
    #[derive(Default)]
    struct Runs {
        rates: Vec<f64>,
        cpu_us: Vec<f64>,
        writes: Vec<f64>,
    }
    let (mut ones, mut twos) = (Runs::default(), Runs::default());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [1, 2] } else { [2, 1] };
        for servers in order {
            let url = database(&admin, &format!("dispatch_{round}_{servers}"));
            let store = Store::folder(&dir.path().join(format!("dispatch-store-{round}-{servers}")));
            let key_pg = key(&url, &store);
            let procs: Vec<Proc> = (0..servers).map(|_| Proc::spawn(&serve, &url, &store)).collect();
            let bases: Vec<String> = procs.iter().map(|p| p.base.clone().unwrap()).collect();
            let measured = rt.block_on(dispatch_rate(&bases, &key_pg, n, clients, Some(&url)));
            drop(procs);
            let runs = if servers == 1 { &mut ones } else { &mut twos };
            runs.rates.push(measured.rate);
            runs.cpu_us.push(measured.cpu_us);
            runs.writes.push(measured.writes);
        }
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    let each = |rates: &[f64]| rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
    let (on_one, on_two) = (mean(&ones.rates), mean(&twos.rates));
    println!("  durable dispatches/s ({clients} clients, {n} each; PostgreSQL: the mean of {rounds} rounds):");
    println!(
        "    PostgreSQL's own single-row INSERTs, one commit each ....... {raw:>8.0} /s   (the floor's reference)"
    );
    println!("    SQLite ledger, one server (baseline) ..................... {on_sqlite:>8.0} /s");
    println!(
        "    PostgreSQL, one API server ................................. {on_one:>8.0} /s   ({:.2}× the baseline; rounds {})",
        on_one / on_sqlite,
        each(&ones.rates)
    );
    println!(
        "    PostgreSQL, two API servers ................................ {on_two:>8.0} /s   ({:.2}× the baseline, {:.2}× one server; rounds {})",
        on_two / on_sqlite,
        on_two / on_one,
        each(&twos.rates)
    );
    println!(
        "    what a dispatch cost, one / two servers: the machine's CPU {:.0} / {:.0} µs ({:.2}×), \
         PostgreSQL's writing transactions {:.3} / {:.3}",
        mean(&ones.cpu_us),
        mean(&twos.cpu_us),
        mean(&twos.cpu_us) / mean(&ones.cpu_us),
        mean(&ones.writes),
        mean(&twos.writes)
    );

    if std::env::var("FIGUR_BENCH_ONLY").as_deref() == Ok("dispatch") {
        return;
    }

    // 2. Completed jobs/s with 1, 2, 4 workers of concurrency 1; then 2 on an S3 bucket.
    println!("  completed jobs/s, {jobs} 0.5K background renders, workers of concurrency 1:");
    let mut rates = std::collections::BTreeMap::new();
    for workers in [1usize, 2, 4] {
        let url = database(&admin, &format!("workers{workers}"));
        let store = Store::folder(&dir.path().join(format!("workers{workers}-store")));
        let rate = completed_rate(&rt, &url, &store, workers, jobs);
        rates.insert(workers, rate);
        println!(
            "    {workers} worker(s), store on the mount ........................ {rate:>8.2} /s   (scaling efficiency {:.0} %)",
            100.0 * rate / (rates[&1] * workers as f64)
        );
    }
    let s3_dir = dir.path().join("s3");
    let started = Command::new(S3).arg("start").arg(&s3_dir).output().unwrap();
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    struct StopS3(std::path::PathBuf);
    impl Drop for StopS3 {
        fn drop(&mut self) {
            let _ = Command::new(S3).arg("stop").arg(&self.0).output();
        }
    }
    let _stop_s3 = StopS3(s3_dir.clone());
    let said: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", said["endpoint"].as_str().unwrap()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", said["rw"][0].as_str().unwrap()),
        ("AWS_SECRET_ACCESS_KEY", said["rw"][1].as_str().unwrap()),
    ];
    let bucket = Store {
        flags: vec!["--store".into(), "s3://figur/bench".into(), "--data-dir".into(), s3_dir.join("data").into()],
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let rate = completed_rate(&rt, &database(&admin, "bucket"), &bucket, 2, jobs);
    println!(
        "    2 workers, store in an S3 bucket (moto, loopback) ........... {rate:>8.2} /s   ({:.2}× the mount's)",
        rate / rates[&2]
    );

    // 3. Claim latency: one job at a time, two idle workers waiting.
    let url = database(&admin, "latency");
    let store = Store::folder(&dir.path().join("latency-store"));
    let key = key(&url, &store);
    let server = Proc::spawn(&serve, &url, &store);
    let _workers: Vec<Proc> = (0..2)
        .map(|w| Proc::spawn(&["worker", "--concurrency", "1", "--name", &format!("l{w}")], &url, &store))
        .collect();
    let live = format!("{url}?options=-c%20search_path%3Dfigur_live");
    let samples = env_usize("FIGUR_BENCH_CLAIMS", 200);
    rt.block_on(async {
        let http = reqwest::Client::new();
        for i in 0..samples {
            let r = http
                .post(format!("{}/v1/background-generator", server.base.as_deref().unwrap()))
                .bearer_auth(&key)
                .json(&body(i));
            assert_eq!(r.send().await.unwrap().status(), 202);
            // The next waits until this one is done: workers are idle when it commits.
            let live = live.clone();
            tokio::task::spawn_blocking(move || {
                let mut client = postgres::Client::connect(&live, postgres::NoTls).unwrap();
                let unfinished = "SELECT COUNT(*) FROM jobs WHERE status IN ('NOT_STARTED', 'IN_PROGRESS')";
                while client.query_one(unfinished, &[]).unwrap().get::<_, i64>(0) > 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .await
            .unwrap();
        }
    });
    let mut client = postgres::Client::connect(&live, postgres::NoTls).unwrap();
    let rows = client
        .query(
            "SELECT q.created_at, s.created_at FROM job_events q JOIN job_events s \
             ON s.job_id = q.job_id AND s.stage = 'started' WHERE q.event_type = 'queued'",
            &[],
        )
        .unwrap();
    let mut latencies: Vec<f64> = rows
        .iter()
        .map(|r| {
            let (queued, started): (String, String) = (r.get(0), r.get(1));
            let at = |s: &str| humantime::parse_rfc3339(s).unwrap();
            at(&started).duration_since(at(&queued)).unwrap_or_default().as_secs_f64() * 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "  claim latency, commit → started ({} jobs, idle workers) ...... p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}
