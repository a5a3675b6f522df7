//! # The /v1 client
//!
//! One client for the studio's HTTP API, written once: `figur run/batch/watch --server`, the
//! desktop's imports into a studio server and the API tests all speak through it. Answers are
//! the engine's own `/v1` types (what the server serialises, read back); a refusal is an
//! [`Error::Refused`] carrying the envelope's code, message and field details, so callers
//! branch on codes, never on text.
//!
//! ```no_run
//! # async fn demo() -> Result<(), figur_client::Error> {
//! let studio = figur_client::Client::new("http://127.0.0.1:8686", "sk_live_…")?;
//! let photo = studio.upload_file("model.jpg".as_ref()).await?;
//! let body = serde_json::json!({"source_image_s3_key": photo.upload_key, "scene_type": "studio_sweep", "mood": "soft"});
//! let job = studio.dispatch("background-swap-with-spec", &body).await?;
//! let done = studio.follow(&job.job_id, &mut |e| eprintln!("{}", e.message)).await?;
//! studio.download(&done, "out".as_ref(), &job.job_id).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use figur_engine::domain::catalog::{Credits, UploadAccepted};
use figur_engine::domain::job::{DispatchAccepted, EventType, JobEvent, JobEvents};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How a call to the studio failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nobody answered (wrong address, server down, network).
    #[error("the studio at {base} does not answer: {why}")]
    Unreachable { base: String, why: String },
    /// The studio answered with its error envelope.
    #[error("{}", describe(.code, .message, .details))]
    Refused { status: u16, code: String, message: String, details: Vec<Value> },
    /// The studio answered something that is not the `/v1` contract (a proxy's page, a crash).
    #[error("the studio's answer is not what /v1 says: {0}")]
    Unexpected(String),
    /// The job ended in failure: its error code and message.
    #[error("{code}: {message}")]
    JobFailed { code: String, message: String },
    /// A local file could not be read or written.
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
}

impl Error {
    /// The envelope's or the job's error code, when the studio gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Refused { code, .. } | Error::JobFailed { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// `CODE: message (field: why; …)`.
fn describe(code: &str, message: &str, details: &[Value]) -> String {
    let fields: Vec<String> = details
        .iter()
        .map(|d| {
            let loc: Vec<String> = d["loc"]
                .as_array()
                .into_iter()
                .flatten()
                .skip(1)
                .map(|v| v.to_string().trim_matches('"').to_string())
                .collect();
            format!("{}: {}", loc.join("."), d["msg"].as_str().unwrap_or_default())
        })
        .collect();
    if fields.is_empty() {
        format!("{code}: {message}")
    } else {
        format!("{code}: {message} ({})", fields.join("; "))
    }
}

/// A studio server, reached with one API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// `base`: the server's address (`http://127.0.0.1:8686`; a trailing `/` or `/v1` is dropped).
    pub fn new(base: &str, key: &str) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Unexpected(format!("cannot make an HTTP client: {e}")))?;
        Ok(Client::with_http(http, base, key))
    }

    /// Over a `reqwest::Client` of the caller's (its own TLS roots, timeouts).
    pub fn with_http(http: reqwest::Client, base: &str, key: &str) -> Client {
        let base = base.trim_end_matches('/').trim_end_matches("/v1").trim_end_matches('/').to_string();
        Client { http, base, key: key.to_string() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with the key; the answer's body as `T`, or the envelope as an error.
    async fn call<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, Error> {
        let unreachable = |e: reqwest::Error| Error::Unreachable { base: self.base.clone(), why: e.to_string() };
        let answer = request.bearer_auth(&self.key).send().await.map_err(unreachable)?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(unreachable)?;
        if !(200..300).contains(&status) {
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let e = &body["error"];
            return match (e["code"].as_str(), e["message"].as_str()) {
                (Some(code), Some(message)) => Err(Error::Refused {
                    status,
                    code: code.to_string(),
                    message: message.to_string(),
                    details: e["details"].as_array().cloned().unwrap_or_default(),
                }),
                _ => Err(Error::Unexpected(format!("HTTP {status} without an error envelope"))),
            };
        }
        serde_json::from_str(&text)
            .map_err(|e| Error::Unexpected(format!("{e} in {}", text.chars().take(200).collect::<String>())))
    }

    /// `POST /v1/uploads` of `bytes`, named `name`.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<UploadAccepted, Error> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.call(self.http.post(self.url("/v1/uploads")).multipart(form)).await
    }

    /// Uploads the file at `path` (named by its file name).
    pub async fn upload_file(&self, path: &Path) -> Result<UploadAccepted, Error> {
        let bytes = tokio::fs::read(path).await.map_err(|e| Error::File { path: path.into(), why: e.to_string() })?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_string();
        self.upload(&name, bytes).await
    }

    /// `POST /v1/{workflow}`: the job is durable when this returns.
    pub async fn dispatch(&self, workflow: &str, body: &Value) -> Result<DispatchAccepted, Error> {
        self.call(self.http.post(self.url(&format!("/v1/{workflow}"))).json(body)).await
    }

    /// `GET /v1/jobs/{job}/events` after `since`, waiting up to `wait` seconds for a new one.
    pub async fn events(&self, job: &str, since: i64, wait: u64) -> Result<JobEvents, Error> {
        self.call(self.http.get(self.url(&format!("/v1/jobs/{job}/events?since={since}&wait={wait}")))).await
    }

    /// Follows a job (long-polls) to its end, calling `on_event` for each event; the
    /// `succeeded` event, or [`Error::JobFailed`] with the job's code.
    pub async fn follow(&self, job: &str, on_event: &mut (dyn FnMut(&JobEvent) + Send)) -> Result<JobEvent, Error> {
        let mut since = 0;
        loop {
            let page = self.events(job, since, 25).await?;
            for event in page.events {
                since = since.max(event.seq);
                on_event(&event);
                match event.event_type {
                    EventType::Succeeded => return Ok(event),
                    EventType::Failed => {
                        let error = &event.extra["error"];
                        return Err(Error::JobFailed {
                            code: error["code"].as_str().unwrap_or("INTERNAL").to_string(),
                            message: error["message"].as_str().unwrap_or(&event.message).to_string(),
                        });
                    }
                    EventType::Queued | EventType::Stage => {}
                }
            }
        }
    }

    /// Saves a succeeded event's artifacts into `out` as `<job>-<n>-<kind>.png`; their paths.
    pub async fn download(&self, done: &JobEvent, out: &Path, job: &str) -> Result<Vec<PathBuf>, Error> {
        let file_error = |path: &Path, e: std::io::Error| Error::File { path: path.into(), why: e.to_string() };
        tokio::fs::create_dir_all(out).await.map_err(|e| file_error(out, e))?;
        let mut saved = Vec::new();
        for (i, artifact) in done.artifacts.iter().enumerate() {
            let bytes = self.fetch(&artifact.image_url).await?;
            let path = out.join(format!("{job}-{}-{}.png", i + 1, artifact.kind.replace('_', "-")));
            tokio::fs::write(&path, &bytes).await.map_err(|e| file_error(&path, e))?;
            saved.push(path);
        }
        Ok(saved)
    }

    /// An artifact's bytes by its signed URL (no key needed, none sent).
    pub async fn fetch(&self, image_url: &str) -> Result<Vec<u8>, Error> {
        let unreachable = |e: reqwest::Error| Error::Unreachable { base: self.base.clone(), why: e.to_string() };
        let answer = self.http.get(image_url).send().await.map_err(unreachable)?;
        if !answer.status().is_success() {
            return Err(Error::Unexpected(format!("the artifact answered HTTP {}", answer.status())));
        }
        Ok(answer.bytes().await.map_err(unreachable)?.to_vec())
    }

    /// A render's image: `GET /v1/renders/{id}`, then its signed URL.
    pub async fn render_image(&self, render_id: &str) -> Result<Vec<u8>, Error> {
        let render: Value = self.call(self.http.get(self.url(&format!("/v1/renders/{render_id}")))).await?;
        let url = render["image_url"]
            .as_str()
            .ok_or_else(|| Error::Unexpected(format!("render {render_id} has no image_url")))?;
        self.fetch(url).await
    }

    /// `GET /v1/credits`.
    pub async fn credits(&self) -> Result<Credits, Error> {
        self.call(self.http.get(self.url("/v1/credits"))).await
    }
}

#[cfg(test)]
mod tests;
