//! Webhooks (an extension): `webhook_url` at dispatch, and the job's terminal state POSTed there,
//! signed the Standard Webhooks way (<https://www.standardwebhooks.com>):
//!
//! - `webhook-id`: the job's id (the same on every retry: receivers deduplicate by it),
//! - `webhook-timestamp`: Unix seconds of this attempt,
//! - `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
//!   studio's webhook secret (`figur webhooks secret` prints it as `whsec_…`).
//!
//! The body is `{"type": "job.succeeded" | "job.failed", "timestamp": …, "data": <the job as
//! GET /v1/jobs/{id} shows it>}`, its artifacts' URLs signed as the POST is made. A 2xx answer
//! delivers it; 410 Gone stops; anything else (or no answer in the timeout) is retried with
//! backoff, and every attempt is recorded (`GET /v1/jobs/{id}/webhooks`).
//!
//! Deliveries are made by processes that serve the API (their public address signs the URLs):
//! `figur serve` on one machine, any API server of a farm. A worker never delivers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::Engine;
use crate::auth::Mode;
use crate::domain::job::JobStatus;
use crate::error::ApiError;
use crate::ledger::webhooks::{self, Attempt, Due, Next, WebhookDeliveries};

/// Longest webhook URL taken.
const MAX_URL_LEN: usize = 2048;

/// A webhook URL as `openapi.json` states it (`pattern`): http or https, a host name, an IPv4
/// address or a bracketed IPv6 one, an optional port, then any visible ASCII. The server holds
/// a URL to exactly this, so a client validating against the document agrees with it.
pub const WEBHOOK_URL_PATTERN: &str =
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?([/?#][!-~]*)?$";

/// Whether `text` matches [`WEBHOOK_URL_PATTERN`] as JSON Schema validators read it (Python's
/// and most others let `$` match before one final newline, so one is allowed, and dropped).
fn webhook_url_shape(text: &str) -> Option<&str> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| regex::Regex::new(WEBHOOK_URL_PATTERN).expect("the pattern compiles"));
    let text = text.strip_suffix('\n').unwrap_or(text);
    pattern.is_match(text).then_some(text)
}
/// Most deliveries one process makes at once per realm.
const IN_FLIGHT: i64 = 8;

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// The waits before the second, third, … attempt; one attempt more than waits in all.
    pub backoff: Vec<Duration>,
    /// How long a receiver has to answer one POST.
    pub timeout: Duration,
    /// How often an idle studio looks for deliveries due.
    pub poll: Duration,
}

impl Default for WebhookPolicy {
    /// Eight attempts over about four hours: a receiver down for a deploy or a reboot still
    /// gets its events.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        WebhookPolicy {
            backoff: vec![
                Duration::from_secs(10),
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
            ],
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

impl WebhookPolicy {
    /// What follows attempt `attempt` (1-based) that got `status` (None: no answer).
    pub fn next(&self, attempt: i64, status: Option<u16>) -> Next {
        match status {
            Some(s) if (200..300).contains(&s) => Next::Delivered,
            Some(410) => Next::GiveUp,
            _ => match self.backoff.get((attempt - 1).max(0) as usize) {
                Some(wait) => Next::RetryIn(wait.as_millis() as i64),
                None => Next::GiveUp,
            },
        }
    }
}

/// Takes the `webhook_url` extension out of a dispatch body (the workflow's own fields stay),
/// checked: an absolute `http` or `https` URL with a host, at most 2048 characters.
pub(super) fn take_webhook_url(body: &mut Value) -> Result<Option<String>, ApiError> {
    let Some(given) = body.as_object_mut().and_then(|o| o.remove("webhook_url")) else { return Ok(None) };
    let bad = |msg: &str| ApiError::field("body", "webhook_url", msg, "value_error");
    let text = match given {
        Value::Null => return Ok(None),
        Value::String(s) => s,
        _ => return Err(ApiError::field("body", "webhook_url", "must be a string (a URL)", "type_error")),
    };
    if text.chars().count() > MAX_URL_LEN {
        return Err(bad("must be at most 2048 characters"));
    }
    let Some(shaped) = webhook_url_shape(&text) else {
        return Err(bad("must be an http:// or https:// URL with a host (see the pattern in openapi.json)"));
    };
    // A URL of that shape the URL parser still refuses (a port past 65535, a malformed IPv6
    // address) is the studio's limit, not a rule the document can state.
    let url = reqwest::Url::parse(shaped)
        .map_err(|e| ApiError::field("body", "webhook_url", format!("is not a URL: {e}"), "unsupported"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::field("body", "webhook_url", "names no host", "unsupported"));
    }
    Ok(Some(shaped.to_string()))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `key`.
pub fn signature(key: &[u8; 32], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

impl Engine {
    /// The secret receivers verify signatures with, in Standard Webhooks' `whsec_` form.
    pub fn webhook_secret(&self) -> String {
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(self.signer.webhook_key()))
    }

    /// The job's webhook and every delivery attempt (404 for an unknown job; a job dispatched
    /// without one has no URL, state `none` and no attempts).
    pub async fn webhook_deliveries(&self, mode: Mode, job_id: &str) -> Result<WebhookDeliveries, ApiError> {
        if !crate::ids::is_ulid(job_id) {
            return Err(ApiError::job_not_found(job_id));
        }
        let id = job_id.to_string();
        let (exists, found) = self
            .realm(mode)
            .ledger
            .read(move |c| Ok((crate::ledger::jobs::get(c, &id)?.is_some(), webhooks::deliveries(c, &id)?)))
            .await?;
        if !exists {
            return Err(ApiError::job_not_found(job_id));
        }
        Ok(found.unwrap_or_else(|| WebhookDeliveries {
            job_id: job_id.to_string(),
            webhook_url: None,
            state: "none".into(),
            attempts: Vec::new(),
        }))
    }

    /// Delivers the realms' webhooks until shutdown (see the module's comment for who does).
    pub(super) fn start_webhook_delivery(self: &Arc<Self>) {
        let client = reqwest::Client::builder()
            .timeout(self.config.webhooks.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("figur-studio/", env!("CARGO_PKG_VERSION")))
            .build();
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot make the webhook client; webhooks wait for another server");
                return;
            }
        };
        for mode in [Mode::Live, Mode::Test] {
            let (me, client) = (self.clone(), client.clone());
            tokio::spawn(async move { me.deliver_webhooks(mode, client).await });
        }
    }

    async fn deliver_webhooks(self: Arc<Self>, mode: Mode, client: reqwest::Client) {
        let poll = self.config.webhooks.poll;
        while !self.stop_listening.load(Ordering::SeqCst) {
            // Only a process serving the API can sign URLs a receiver can fetch.
            if self.public_base().is_empty() {
                tokio::time::sleep(poll).await;
                continue;
            }
            let ledger = self.realm(mode).ledger.clone();
            let claimed = match ledger.read(webhooks::any_due).await {
                Ok(true) => ledger.write(|c| webhooks::claim_due(c, IN_FLIGHT)).await,
                Ok(false) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
            let due = match claimed {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for webhooks to deliver");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::time::sleep(poll).await;
                continue;
            }
            let mut posts = tokio::task::JoinSet::new();
            for d in due {
                let (me, client) = (self.clone(), client.clone());
                posts.spawn(async move { me.deliver_one(mode, &client, d).await });
            }
            while posts.join_next().await.is_some() {}
        }
    }

    /// One attempt: build the body, POST it, record what came of it.
    async fn deliver_one(&self, mode: Mode, client: &reqwest::Client, due: Due) {
        let started_at = crate::time::now_rfc3339();
        let clock = Instant::now();
        let (status, error) = match self.webhook_body(mode, &due.job_id).await {
            Ok(body) => self.post(client, &due, body).await,
            Err(e) => (None, Some(format!("the job could not be read: {}", e.message))),
        };
        let attempt = Attempt {
            started_at,
            duration_ms: clock.elapsed().as_millis() as i64,
            status_code: status.map(i64::from),
            error,
        };
        let next = self.config.webhooks.next(due.attempt, status);
        let outcome = match next {
            Next::Delivered => "delivered",
            Next::RetryIn(_) => "retry",
            Next::GiveUp => "gave_up",
        };
        crate::metrics::METRICS.webhook_attempts.with_label_values(&[outcome]).inc();
        match next {
            Next::Delivered => tracing::info!(job = %due.job_id, attempt = due.attempt, "webhook delivered"),
            _ => {
                tracing::warn!(job = %due.job_id, attempt = due.attempt, error = ?attempt.error, ?next, "webhook not delivered")
            }
        }
        if let Err(e) = self.realm(mode).ledger.write(move |c| webhooks::record(c, &due, &attempt, next)).await {
            // The claim runs out and another attempt is made: at least once, as promised.
            tracing::warn!(error = %e, "could not record a webhook attempt; it will be retried");
        }
    }

    async fn webhook_body(&self, mode: Mode, job_id: &str) -> Result<Vec<u8>, ApiError> {
        let job = self.job(mode, job_id).await?;
        let kind = if job.status == JobStatus::Success { "job.succeeded" } else { "job.failed" };
        let body = json!({ "type": kind, "timestamp": crate::time::now_rfc3339(), "data": job });
        Ok(serde_json::to_vec(&body).unwrap_or_default())
    }

    async fn post(&self, client: &reqwest::Client, due: &Due, body: Vec<u8>) -> (Option<u16>, Option<String>) {
        let timestamp = crate::time::now_unix_ms() / 1000;
        let signature = signature(&self.signer.webhook_key(), &due.job_id, timestamp, &body);
        let sent = client
            .post(&due.url)
            .header("content-type", "application/json")
            .header("webhook-id", &due.job_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
            Ok(answer) => (Some(answer.status().as_u16()), Some(format!("the receiver answered {}", answer.status()))),
            // reqwest's error alone says "error sending request"; its source says why.
            Err(e) => (None, Some(error_chain(&e))),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
