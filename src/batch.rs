//! `figur batch WORKFLOW --recipe recipe.toml INPUTS…`: one job per input image, a bounded
//! number at once, each item's progress on its own line, resumable (a re-run skips inputs that
//! already succeeded with the same bytes and recipe), a summary table and `report.json` at the end.
//!
//! The recipe names the body field the input goes into and the rest of the body:
//!
//! ```toml
//! input = "source_image_s3_key"
//! [body]
//! output_preset = "ecommerce_square"
//! scene_type = "studio_sweep"
//! mood = "bright"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Semaphore};

use crate::run::Connection;
use figur_engine::domain::job::JobEvent;

#[derive(Debug, Args)]
pub struct BatchArgs {
    pub workflow: String,
    /// The recipe: the input's field and the rest of the request body (TOML).
    #[arg(long)]
    pub recipe: PathBuf,
    /// Image files and folders (their images, not recursive).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where results, the resume state and report.json go.
    #[arg(long, default_value = "batch-out")]
    pub out: PathBuf,
    /// Jobs at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    #[arg(long)]
    pub server: Option<String>,
    #[arg(long, env = "FIGUR_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Recipe {
    /// The body field that receives each input's upload key.
    pub input: String,
    #[serde(default)]
    pub body: toml::Table,
}

/// One input's outcome, as the report and the resume state keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub input: String,
    pub sha256: String,
    pub status: String,
    pub job_id: Option<String>,
    pub outputs: Vec<String>,
    pub error: Option<String>,
}

const STATE: &str = ".figur-batch.json";

/// The resume key: the input's bytes and the recipe, so a changed photo or recipe runs again.
fn fingerprint(bytes: &[u8], workflow: &str, recipe_text: &str) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.update(workflow.as_bytes());
    h.update(recipe_text.as_bytes());
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn batch(place: crate::place::Place, args: BatchArgs) -> Result<()> {
    let recipe_text = std::fs::read_to_string(&args.recipe).with_context(|| args.recipe.display().to_string())?;
    let recipe: Recipe =
        toml::from_str(&recipe_text).with_context(|| format!("{} is not a valid recipe", args.recipe.display()))?;
    let body_template: Value = serde_json::to_value(&recipe.body)?;
    let inputs = figur_engine::files::images_in(&args.inputs, usize::MAX);
    if inputs.is_empty() {
        bail!("no images among the inputs");
    }
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let state_path = args.out.join(STATE);
    let previous: BTreeMap<String, Item> =
        std::fs::read_to_string(&state_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let state = Arc::new(Mutex::new(previous));

    let conn = Connection::open(&place, args.server.as_deref(), args.key.clone(), false).await?;
    let client = Arc::new(conn);
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let total = inputs.len();
    eprintln!("{total} input(s), {} at once, results in {}", args.concurrency.max(1), args.out.display());
    let mut tasks = Vec::new();
    for (n, input) in inputs.into_iter().enumerate() {
        let (client, permits, state) = (client.clone(), permits.clone(), state.clone());
        let (workflow, field, template, out, state_path) =
            (args.workflow.clone(), recipe.input.clone(), body_template.clone(), args.out.clone(), state_path.clone());
        let recipe_text = recipe_text.clone();
        tasks.push(tokio::spawn(async move {
            let name = input.display().to_string();
            let tag = format!("[{}/{total}] {name}", n + 1);
            let bytes = match std::fs::read(&input) {
                Ok(b) => b,
                Err(e) => {
                    return Item {
                        input: name,
                        sha256: String::new(),
                        status: "failed".into(),
                        job_id: None,
                        outputs: vec![],
                        error: Some(e.to_string()),
                    }
                }
            };
            let sha = fingerprint(&bytes, &workflow, &recipe_text);
            if let Some(done) = state.lock().await.get(&sha).filter(|i| i.status == "succeeded").cloned() {
                eprintln!("{tag}: already done ({}), skipped", done.job_id.as_deref().unwrap_or("-"));
                return Item { status: "skipped".into(), ..done };
            }
            let _permit = permits.acquire().await;
            let c = &client.client;
            let result: Result<(String, Vec<PathBuf>)> = async {
                let key = c.upload_file(&input).await?.upload_key;
                let mut body = template.clone();
                body.as_object_mut()
                    .ok_or_else(|| anyhow!("the recipe's body is not a table"))?
                    .insert(field.clone(), json!(key));
                let job = c
                    .dispatch(&workflow, &body)
                    .await
                    .with_context(|| format!("{workflow} refused the request"))?
                    .job_id;
                let mut last = String::new();
                let mut show = |e: &JobEvent| {
                    let stage = e.stage.clone().unwrap_or_else(|| e.event_type.as_str().to_string());
                    if stage != last {
                        eprintln!("{tag}: {stage}");
                        last = stage;
                    }
                };
                let done = c.follow(&job, &mut show).await?;
                let saved = c.download(&done, &out, &job).await?;
                Ok((job, saved))
            }
            .await;
            let item = match result {
                Ok((job, saved)) => Item {
                    input: name,
                    sha256: sha.clone(),
                    status: "succeeded".into(),
                    job_id: Some(job),
                    outputs: saved.iter().map(|p| p.display().to_string()).collect(),
                    error: None,
                },
                Err(e) => {
                    eprintln!("{tag}: FAILED {e:#}");
                    Item {
                        input: name,
                        sha256: sha.clone(),
                        status: "failed".into(),
                        job_id: None,
                        outputs: vec![],
                        error: Some(format!("{e:#}")),
                    }
                }
            };
            // Saved after every item: an interrupted batch resumes where it stopped.
            let mut s = state.lock().await;
            s.insert(sha, item.clone());
            let _ = std::fs::write(&state_path, serde_json::to_string_pretty(&*s).unwrap_or_default());
            item
        }));
    }
    let mut items = Vec::new();
    for t in tasks {
        items.push(t.await?);
    }
    if let Ok(conn) = Arc::try_unwrap(client) {
        conn.close().await;
    }
    let count = |s: &str| items.iter().filter(|i| i.status == s).count();
    println!("{:<10} {:<28} input", "status", "job");
    for i in &items {
        println!("{:<10} {:<28} {}", i.status, i.job_id.as_deref().unwrap_or("-"), i.input);
    }
    println!(
        "{} succeeded, {} skipped (done before), {} failed",
        count("succeeded"),
        count("skipped"),
        count("failed")
    );
    let report = args.out.join("report.json");
    std::fs::write(&report, serde_json::to_string_pretty(&json!({ "workflow": args.workflow, "items": items }))?)?;
    println!("report: {}", report.display());
    if count("failed") > 0 {
        bail!("{} input(s) failed; run the same command again to retry them", count("failed"));
    }
    Ok(())
}
