//! What each command does: open the engine on the data folder and call it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use figur_engine::domain::job::JobStatus;
use figur_engine::failpoints::FailPoints;
use figur_engine::{Caller, Capability, Engine, JobFilter};

use crate::cli::{CatalogCommand, Cli, Command, CreditsCommand, JobsCommand, KeysCommand, ServeArgs};
use crate::place::{mode, print_json, shutdown_signal, Place, SHUTDOWN_GRACE};

/// The engine for a one-shot command: nothing runs jobs here (a server may be running them).
fn open_tool(place: &Place) -> Result<Arc<Engine>> {
    let mut config = place.config();
    config.run_jobs = false;
    Engine::open(config).with_context(|| format!("opening the studio ({})", place.describe()))
}

pub async fn run(cli: Cli) -> Result<()> {
    let place = Place::from(cli.data)?;
    let dir = place.dir.clone();
    match cli.command {
        Command::Serve(args) => serve(place, args).await,
        Command::Worker(args) => crate::farm::worker(place, args).await,
        Command::Farm(cmd) => crate::farm::farm(open_tool(&place)?, cmd).await,
        Command::Run(args) => crate::run::run(place, args).await,
        Command::Batch(args) => crate::batch::batch(place, args).await,
        Command::Watch(args) => crate::watch::watch(place, args).await,
        Command::Keys(cmd) => keys(open_tool(&place)?, cmd).await,
        Command::Jobs(cmd) => jobs(open_tool(&place)?, cmd).await,
        Command::Credits(cmd) => credits(open_tool(&place)?, cmd).await,
        Command::Catalog(cmd) => catalog(open_tool(&place)?, cmd).await,
        Command::Models(cmd) => tokio::task::spawn_blocking(move || crate::models::run(cmd)).await?,
        Command::Generate(args) => crate::generate::generate(args).await,
        Command::Upscale(args) => crate::upscale::upscale_command(args).await,
        Command::Config { command } => crate::config::run(&dir, command),
        Command::Doctor { providers } => tokio::task::spawn_blocking(move || crate::models::doctor(providers)).await?,
        Command::FlatSheet { out, tile } => {
            let sheet =
                tokio::task::spawn_blocking(move || figur_pixels::render::flats::sheet(tile.clamp(24, 512))).await?;
            sheet.save(&out).with_context(|| out.display().to_string())?;
            println!("{}", out.display());
            Ok(())
        }
        Command::Samples => tokio::task::spawn_blocking(crate::models::samples).await?,
        Command::ContactSheet { out, photos } => crate::contact_sheet::contact_sheet(out, photos).await,
        Command::Openapi { out } => {
            let doc = figur_http::openapi::document();
            match out {
                Some(path) => std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{doc}"),
            }
            Ok(())
        }
    }
}

async fn serve(place: Place, args: ServeArgs) -> Result<()> {
    if args.no_run && !place.ledger.is_shared() {
        bail!("--no-run leaves the jobs to workers, which need a shared ledger (--ledger postgres://…)");
    }
    let mut config = place.config();
    if let Some(n) = args.concurrency {
        config.concurrency = n.max(1);
    }
    config.run_jobs = !args.paused && !args.no_run;
    config.worker.lease_ms = crate::farm::lease_ms(args.lease_seconds)?;
    config.max_wait = std::time::Duration::from_secs(args.max_wait);
    config.failpoints = Arc::new(FailPoints::from_env().map_err(anyhow::Error::msg).context("FIGUR_FAILPOINTS")?);
    let engine = crate::place::open_waiting(&place, config).await?;
    engine.start().await?;
    if let Some(first) = engine.ensure_first_key().await? {
        eprintln!("figur: {first}");
    }
    let tls = args.tls_cert.zip(args.tls_key).map(|(cert, key)| figur_http::tls::TlsFiles { cert, key });
    let server = figur_http::ServerConfig {
        listen: args.listen,
        allow_remote: args.allow_remote,
        tls,
        insecure_http: args.insecure_http,
        rate_limit: args.rate_limit,
        ..Default::default()
    };
    let bound = figur_http::bind(engine.clone(), &server).await?;
    // Tests and scripts read this line to find the port when listening on :0.
    println!("figur: listening on {} ({})", bound.base_url(), place.describe());
    bound.serve(shutdown_signal()).await?;
    tracing::info!("shutting down: requeueing running jobs");
    engine.shutdown(SHUTDOWN_GRACE).await;
    eprintln!("figur: stopped cleanly");
    Ok(())
}

async fn keys(engine: Arc<Engine>, cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Create { realm, capabilities, name } => {
            let caps = capabilities
                .iter()
                .map(|c| {
                    Capability::parse(c.trim())
                        .with_context(|| format!("unknown capability `{c}` (jobs:create, jobs:read)"))
                })
                .collect::<Result<Vec<_>>>()?;
            if caps.is_empty() {
                bail!("a key needs at least one capability");
            }
            let (row, plain) = engine.create_key(mode(realm), &caps, &name).await?;
            eprintln!(
                "Created {} key {} ({}) with {}. It is shown once; keep it safe:",
                row.mode,
                row.id,
                row.prefix,
                row.capabilities.join(", ")
            );
            println!("{plain}");
        }
        KeysCommand::List => {
            for k in engine.list_keys().await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{}  {}…  {:<4}  {:<7}  {:<22}  {}  {}",
                    k.id,
                    k.prefix,
                    k.mode,
                    state,
                    k.capabilities.join(","),
                    k.created_at,
                    k.name
                );
            }
        }
        KeysCommand::Revoke { key } => {
            let n = engine.revoke_key(&key).await?;
            println!("revoked {n} key(s)");
        }
        KeysCommand::WebhookSecret => println!("{}", engine.webhook_secret()),
    }
    Ok(())
}

async fn jobs(engine: Arc<Engine>, cmd: JobsCommand) -> Result<()> {
    match cmd {
        JobsCommand::List { realm, status, limit } => {
            let status = match status {
                Some(s) => {
                    Some(JobStatus::parse(&s.to_ascii_uppercase()).with_context(|| format!("unknown status {s}"))?)
                }
                None => None,
            };
            let list = engine
                .list_jobs(mode(realm), JobFilter { limit: limit.clamp(1, 200), offset: 0, status, job_type: None })
                .await?;
            for job in list.jobs {
                let stage = job.latest_event.as_ref().and_then(|e| e.stage.clone()).unwrap_or_default();
                println!(
                    "{}  {:<32}  {:<11}  {:>3} cr  {}  {}",
                    job.public_id,
                    job.job_type,
                    job.status.as_str(),
                    job.credits_cost,
                    job.created_at,
                    stage
                );
            }
        }
        JobsCommand::Show { id, realm } => print_json(&engine.job(mode(realm), &id).await?)?,
        JobsCommand::Webhooks { id, realm } => print_json(&engine.webhook_deliveries(mode(realm), &id).await?)?,
        JobsCommand::Events { id, realm, since, follow } => {
            let mut cursor = since;
            loop {
                let page =
                    engine.job_events(mode(realm), &id, cursor, follow.then_some(Duration::from_secs(30))).await?;
                let mut ended = false;
                for event in &page.events {
                    println!("{}", serde_json::to_string(event)?);
                    cursor = event.seq;
                    ended |= event.event_type.is_terminal();
                }
                let status = engine.job(mode(realm), &id).await?.status;
                if !follow || ended || status.is_terminal() && page.events.is_empty() {
                    break;
                }
            }
        }
        JobsCommand::Cancel { id, realm } => print_json(&engine.cancel(&Caller::owner(mode(realm)), &id).await?)?,
        JobsCommand::Queue { realm, limit } => print_queue(&engine.queue(mode(realm), limit.clamp(1, 500), 0).await?),
        JobsCommand::Priority { id, priority, realm } => {
            print_json(&engine.set_priority(&Caller::owner(mode(realm)), &id, priority).await?)?
        }
        JobsCommand::Pause { id, realm } => print_json(&engine.pause(&Caller::owner(mode(realm)), &id).await?)?,
        JobsCommand::Resume { id, realm } => print_json(&engine.resume(&Caller::owner(mode(realm)), &id).await?)?,
        JobsCommand::Vary { id, count, realm } => {
            for accepted in engine.vary(&Caller::owner(mode(realm)), &id, count, "cli").await? {
                println!("{}", accepted.job_id);
            }
        }
    }
    Ok(())
}

/// One line per job, in run order: id, workflow, state, priority, progress.
fn print_queue(queue: &figur_engine::domain::job::JobList) {
    if queue.jobs.is_empty() {
        println!("the queue is empty");
    }
    for job in &queue.jobs {
        let state = match (job.status.as_str(), job.paused) {
            ("IN_PROGRESS", true) => "pausing",
            ("IN_PROGRESS", false) => "running",
            (_, true) => "paused",
            _ => "waiting",
        };
        let progress = job
            .latest_event
            .as_ref()
            .and_then(|e| e.extra.get("progress"))
            .and_then(|p| p.as_f64())
            .map(|p| format!("{:>3.0} %", p * 100.0))
            .unwrap_or_default();
        println!("{}  {:<28} {:<8} priority {:>4}  {progress}", job.public_id, job.job_type, state, job.priority);
    }
}

async fn catalog(engine: Arc<Engine>, cmd: CatalogCommand) -> Result<()> {
    match cmd {
        CatalogCommand::AddModel { photo, name, description, gender, realm } => {
            let owner = Caller::owner(mode(realm));
            let bytes = std::fs::read(&photo).with_context(|| photo.display().to_string())?;
            let file = photo.file_name().and_then(|n| n.to_str()).unwrap_or("model.jpg").to_string();
            let upload = engine.upload(&owner, &file, bytes).await?;
            let gender = gender.map(|g| serde_json::from_value(serde_json::json!(g.to_uppercase()))).transpose()?;
            let new = figur_engine::engine::NewCatalogModel {
                upload_key: upload.upload_key,
                display_name: name,
                description,
                gender,
            };
            print_json(&engine.add_catalog_model(&owner, new).await?)
        }
    }
}

async fn credits(engine: Arc<Engine>, cmd: CreditsCommand) -> Result<()> {
    match cmd {
        CreditsCommand::Show { realm } => print_json(&engine.credits(&Caller::owner(mode(realm))).await?),
        CreditsCommand::Set { balance, realm } => print_json(&engine.set_credits(mode(realm), balance).await?),
    }
}
