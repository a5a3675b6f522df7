//! Farm mode from the command line: `figur worker` runs jobs from a shared ledger without
//! serving HTTP; `figur farm status` shows the farm.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use figur_engine::failpoints::FailPoints;
use figur_engine::Engine;

use crate::cli::{FarmCommand, WorkerArgs};
use crate::place::{mode, print_json, shutdown_signal, Place, SHUTDOWN_GRACE};

/// A lease's length in milliseconds: long enough to be renewed (four times per lease) across
/// a busy machine's hiccups, short enough that a dead worker's jobs move on soon.
pub fn lease_ms(seconds: u64) -> Result<i64> {
    if !(1..=3600).contains(&seconds) {
        bail!("--lease-seconds must be between 1 and 3600");
    }
    Ok(seconds as i64 * 1000)
}

pub async fn worker(place: Place, args: WorkerArgs) -> Result<()> {
    if !place.ledger.is_shared() {
        bail!("a worker takes its jobs from a shared ledger: give --ledger postgres://… and --store DIR");
    }
    let mut config = place.config();
    if let Some(n) = args.concurrency {
        config.concurrency = n.max(1);
    }
    if let Some(name) = args.name {
        if name.is_empty() || name.len() > 100 {
            bail!("--name must be 1 to 100 characters");
        }
        config.worker.worker = name;
    }
    config.worker.lease_ms = lease_ms(args.lease_seconds)?;
    config.failpoints = Arc::new(FailPoints::from_env().map_err(anyhow::Error::msg).context("FIGUR_FAILPOINTS")?);
    let (name, concurrency) = (config.worker.worker.clone(), config.concurrency);
    let providers: Vec<&str> = config.models.providers().order.iter().map(|p| p.name()).collect();
    let providers = providers.join(",");
    let engine = crate::place::open_waiting(&place, config).await?;
    engine.start().await?;
    if let Some(listen) = args.metrics_listen {
        let at = figur_http::serve_metrics(engine.clone(), listen)
            .await
            .with_context(|| format!("--metrics-listen {listen}"))?;
        eprintln!("figur: worker metrics on http://{at}/metrics");
    }
    // Tests and scripts read this line to know the worker is claiming.
    println!("figur: worker {name} running (concurrency {concurrency}, providers {providers}; {})", place.describe());
    shutdown_signal().await;
    tracing::info!("shutting down: requeueing running jobs");
    engine.shutdown(SHUTDOWN_GRACE).await;
    eprintln!("figur: worker {name} stopped cleanly");
    Ok(())
}

pub async fn farm(engine: Arc<Engine>, cmd: FarmCommand) -> Result<()> {
    match cmd {
        FarmCommand::Status { realm, json } => {
            let status = engine.farm_status(mode(realm)).await?;
            if json {
                return print_json(&status);
            }
            println!("workers:");
            if status.workers.is_empty() {
                println!("  none has reported (start one with `figur worker --ledger … --store …`)");
            }
            for w in &status.workers {
                println!(
                    "  {:<28} {:<8} {} job(s) held, concurrency {}, providers {}, last report {:.1} s ago, up since {}",
                    w.row.id,
                    w.health,
                    w.jobs,
                    w.row.concurrency,
                    w.row.providers,
                    w.row.silent_ms as f64 / 1000.0,
                    w.row.started_at
                );
            }
            println!("running:");
            for j in &status.running {
                let left = j.lease_left_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0)).unwrap_or("-".into());
                println!(
                    "  {} {:<28} on {:<28} lease #{} ends in {left} (recovered {}×)",
                    j.job_id,
                    j.job_type,
                    j.worker.as_deref().unwrap_or("?"),
                    j.lease_token,
                    j.recoveries
                );
            }
            println!("queued:");
            for (job_type, n) in &status.queued {
                println!("  {job_type:<28} {n}");
            }
            println!(
                "finished: {} in the last minute, {} in the last 10 minutes",
                status.finished_last_minute, status.finished_last_10_minutes
            );
            Ok(())
        }
    }
}
