//! `figur run WORKFLOW`: uploads local files, dispatches, shows the stages as they happen,
//! downloads the final images, and fails with the job's error code. It speaks HTTP either to a
//! running server (`--server URL --key KEY`) or to an embedded one it starts for the run on the
//! data folder, so both paths are the same client code as any script.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use figur_client::Client;
use figur_engine::domain::job::JobEvent;
use figur_engine::{Capability, Engine, Mode};

use crate::place::Place;
use serde_json::{json, Map, Value};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow, as in its path: try-on, extract, look, background-swap-with-spec…
    pub workflow: String,
    /// The request body from a JSON file (`-` for standard input); flags below add to it.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A body field: `name=value`, the value parsed as JSON when it is JSON (`max_items=3`,
    /// `render_params={"resolution":"2K"}`), else taken as text. Dots nest: `extraction_context.max_items=2`.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// Uploads a file and puts its upload key in a field: `source_image_s3_key=photo.jpg`.
    #[arg(long = "file", value_name = "NAME=PATH")]
    pub files: Vec<String>,
    /// try-on: the person photo (`user_image`).
    #[arg(long)]
    pub user_image: Option<PathBuf>,
    /// try-on, look: a garment photo and its category, `shirt.jpg:top` (repeat for several).
    #[arg(long = "item", value_name = "PATH:CATEGORY")]
    pub items: Vec<String>,
    /// extract: the photo (`trial_image`).
    #[arg(long)]
    pub trial_image: Option<PathBuf>,
    /// Swaps, model swap: the source photo (`source_image_s3_key`).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// product-to-model: the product photo (`product_image_s3_key`).
    #[arg(long)]
    pub product: Option<PathBuf>,
    /// Where the final images go.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// A running studio's base URL (e.g. http://127.0.0.1:8686); without it the run uses an
    /// embedded studio on the data folder.
    #[arg(long)]
    pub server: Option<String>,
    /// The API key for `--server`.
    #[arg(long, env = "FIGUR_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Embedded runs: use the test realm.
    #[arg(long)]
    pub test: bool,
}

/// Sets `path` (dots nest) in `body`.
fn set(body: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut at = body;
    for p in parts {
        let next = at.entry(p.to_string()).or_insert_with(|| json!({}));
        if !next.is_object() {
            *next = json!({});
        }
        at = next.as_object_mut().expect("just made an object");
    }
    at.insert(last.to_string(), value);
}

async fn build_body(args: &RunArgs, client: &Client) -> Result<Value> {
    let mut body: Map<String, Value> = match &args.json {
        Some(p) if p.as_os_str() == "-" => {
            serde_json::from_reader(std::io::stdin()).context("the body on standard input")?
        }
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p).with_context(|| p.display().to_string())?)
            .with_context(|| format!("{} is not a JSON object", p.display()))?,
        None => Map::new(),
    };
    for f in &args.fields {
        let (name, value) = f.split_once('=').ok_or_else(|| anyhow!("--field {f}: use NAME=VALUE"))?;
        set(&mut body, name, serde_json::from_str(value).unwrap_or_else(|_| json!(value)));
    }
    for f in &args.files {
        let (name, path) = f.split_once('=').ok_or_else(|| anyhow!("--file {f}: use NAME=PATH"))?;
        set(&mut body, name, json!(client.upload_file(Path::new(path)).await?.upload_key));
    }
    for (field, path) in [
        ("user_image", &args.user_image),
        ("trial_image", &args.trial_image),
        ("source_image_s3_key", &args.source),
        ("product_image_s3_key", &args.product),
    ] {
        if let Some(path) = path {
            set(&mut body, field, json!(client.upload_file(path).await?.upload_key));
        }
    }
    for item in &args.items {
        let (path, category) = item.rsplit_once(':').ok_or_else(|| anyhow!("--item {item}: use PATH:CATEGORY"))?;
        let key = client.upload_file(Path::new(path)).await?.upload_key;
        let items = body.entry("items").or_insert_with(|| json!([]));
        items
            .as_array_mut()
            .ok_or_else(|| anyhow!("`items` in the body is not a list"))?
            .push(json!({"trial_image": key, "trial_item_category": category}));
    }
    Ok(Value::Object(body))
}

fn bar(progress: f64) -> String {
    let filled = (progress.clamp(0.0, 1.0) * 20.0).round() as usize;
    format!("[{}{}] {:>3.0}%", "#".repeat(filled), "-".repeat(20 - filled), progress * 100.0)
}

/// Dispatches and follows the job; returns the paths of the downloaded final images.
async fn follow(args: &RunArgs, client: &Client) -> Result<Vec<PathBuf>> {
    let body = build_body(args, client).await?;
    let job = client
        .dispatch(&args.workflow, &body)
        .await
        .with_context(|| format!("{} refused the request", args.workflow))?
        .job_id;
    eprintln!("job {job} ({})", args.workflow);
    let mut show = |e: &JobEvent| {
        let progress = e.extra["progress"].as_f64().unwrap_or(0.0);
        let stage = e.stage.as_deref().unwrap_or(e.event_type.as_str());
        eprintln!("{} {stage}: {}", bar(progress), e.message);
    };
    let done = client.follow(&job, &mut show).await.with_context(|| format!("job {job} failed"))?;
    Ok(client.download(&done, &args.out, &job).await?)
}

/// A studio to talk to: a running server, or an embedded one started for this command.
pub(crate) struct Connection {
    pub client: Client,
    embedded: Option<Embedded>,
}

struct Embedded {
    engine: Arc<Engine>,
    key_id: String,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), figur_http::ServeError>>,
}

impl Connection {
    pub(crate) async fn open(
        place: &Place,
        server: Option<&str>,
        key: Option<String>,
        test: bool,
    ) -> Result<Connection> {
        if let Some(server) = server {
            let key = key.ok_or_else(|| anyhow!("--server needs --key (or FIGUR_API_KEY)"))?;
            return Ok(Connection { client: Client::new(server, &key)?, embedded: None });
        }
        let engine =
            Engine::open(place.config()).with_context(|| format!("opening the studio ({})", place.describe()))?;
        engine.start().await?;
        let mode = if test { Mode::Test } else { Mode::Live };
        let (row, key) = engine.create_key(mode, &Capability::ALL, "figur (temporary)").await?;
        let server = figur_http::ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            allow_remote: false,
            rate_limit: 0,
            ..Default::default()
        };
        let bound = figur_http::bind(engine.clone(), &server).await?;
        let base = bound.base_url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(bound.serve(async move {
            let _ = stopped.await;
        }));
        Ok(Connection {
            client: Client::new(&base, &key)?,
            embedded: Some(Embedded { engine, key_id: row.id, stop, serving }),
        })
    }

    pub(crate) async fn close(self) {
        if let Some(e) = self.embedded {
            let _ = e.stop.send(());
            let _ = e.serving.await;
            let _ = e.engine.revoke_key(&e.key_id).await;
            e.engine.shutdown(Duration::from_secs(5)).await;
        }
    }
}

pub async fn run(place: Place, args: RunArgs) -> Result<()> {
    let conn = Connection::open(&place, args.server.as_deref(), args.key.clone(), args.test).await?;
    let result = follow(&args, &conn.client).await;
    conn.close().await;
    for path in result? {
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_nest_and_parse_as_json_when_they_can() {
        let mut body = Map::new();
        set(&mut body, "extraction_context.max_items", json!(2));
        set(&mut body, "extraction_context.product_name", json!("Linen shirt"));
        set(&mut body, "output_preset", json!("lookbook"));
        assert_eq!(
            Value::Object(body),
            json!({"extraction_context": {"max_items": 2, "product_name": "Linen shirt"}, "output_preset": "lookbook"})
        );
        assert_eq!(bar(0.5), "[##########----------]  50%");
    }
}
