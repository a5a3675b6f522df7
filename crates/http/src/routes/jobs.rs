//! Jobs: list, detail, the cursored event stream (long-poll and SSE), cancel; and the queue's
//! extensions: the queue in run order, priority, pause and resume.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use figur_engine::domain::job::WebhookDeliveries;
use figur_engine::domain::job::{
    JobDetail, JobEvent, JobEvents, JobList, JobStatus, PriorityRequest, Variations, VaryRequest,
};
use figur_engine::{ApiError, Capability, JobFilter};

use crate::error::{ErrorEnvelope, HttpResult};
use crate::extract::{Authed, JsonValue, Params, SINCE, WAIT};
use crate::guard::RequestId;
use crate::AppState;

/// How long one SSE poll of the ledger waits before looping (keep-alives flow meanwhile).
const SSE_POLL: Duration = Duration::from_secs(15);

/// List jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
        ("status" = Option<JobStatus>, Query, description = "Only jobs in this status"),
        ("job_type" = Option<String>, Query, description = "Only jobs of this type, e.g. BACKGROUND_GENERATOR"),
    ),
    responses((status = 200, body = JobList), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, auth: Authed, params: Params) -> HttpResult<Json<JobList>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    let status = match params.given("status") {
        None => None,
        Some(s) => Some(JobStatus::parse(&s).ok_or_else(|| {
            ApiError::field("query", "status", "one of NOT_STARTED, IN_PROGRESS, SUCCESS, FAILURE", "enum")
        })?),
    };
    let filter = JobFilter { limit, offset, status, job_type: params.str("job_type") };
    Ok(Json(state.engine.list_jobs(auth.0.mode, filter).await?))
}

/// A job, with its final artifacts once it succeeded and its latest event.
#[utoipa::path(get, path = "/v1/jobs/{public_id}", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses((status = 200, body = JobDetail), (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<JobDetail>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.job(auth.0.mode, &id).await?))
}

/// Extension: the job's webhook (`webhook_url` at dispatch) and every delivery attempt so far:
/// when, how long it took, the receiver's status or why there was none.
#[utoipa::path(get, path = "/v1/jobs/{public_id}/webhooks", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses((status = 200, body = WebhookDeliveries), (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn webhooks(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<WebhookDeliveries>> {
    auth.require(Capability::JobsRead)?;
    Ok(Json(state.engine.webhook_deliveries(auth.0.mode, &id).await?))
}

/// The job's events with `seq > since`, ascending.
///
/// `?wait=S` (extension, S ≤ 30) long-polls: the answer comes as soon as such an event exists,
/// or after S seconds with none. With `Accept: text/event-stream` the same stream comes as
/// Server-Sent Events (`id` = seq, `event` = event_type, `data` = the event), resuming after
/// `Last-Event-ID` or `since`, and closing after the terminal event.
#[utoipa::path(get, path = "/v1/jobs/{public_id}/events", tag = "jobs",
    params(
        ("public_id" = String, Path, description = "The job's ULID"),
        ("since" = Option<i64>, Query, description = "Exclusive cursor: the last seq seen (default 0: all)"),
        ("wait" = Option<u32>, Query, description = "Long-poll up to this many seconds (0–30)"),
    ),
    responses(
        (status = 200, description = "The events as JSON; with `Accept: text/event-stream`, as Server-Sent Events (one `JobEvent` each)",
            content((JobEvents = "application/json"), (JobEvent = "text/event-stream"))),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> HttpResult<Response> {
    auth.require(Capability::JobsRead)?;
    let mut since = params.int("since", 0, SINCE.0, SINCE.1)?;
    let wait = params.int("wait", 0, WAIT.0, WAIT.1)? as u64;
    let wants_sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    if !wants_sse {
        let wait = (wait > 0).then(|| Duration::from_secs(wait));
        return Ok(Json(state.engine.job_events(auth.0.mode, &id, since, wait).await?).into_response());
    }
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
        since = last;
    }
    // Fails with 404 before the stream starts if the job does not exist.
    let first = state.engine.job_events(auth.0.mode, &id, since, None).await?;
    Ok(sse(state, auth.0.mode, id, first).into_response())
}

struct Cursor {
    pending: VecDeque<JobEvent>,
    since: i64,
    done: bool,
}

fn sse(
    state: AppState,
    mode: figur_engine::Mode,
    id: String,
    first: JobEvents,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let mut start = Cursor { pending: VecDeque::new(), since: 0, done: false };
    start.absorb(first.events);
    let stream = futures_util::stream::unfold(start, move |mut cursor| {
        let (state, id) = (state.clone(), id.clone());
        async move {
            loop {
                if let Some(event) = cursor.pending.pop_front() {
                    let sse = Event::default()
                        .id(event.seq.to_string())
                        .event(event.event_type.as_str())
                        .json_data(&event)
                        .unwrap_or_else(|_| Event::default().comment("unserialisable event"));
                    return Some((Ok(sse), cursor));
                }
                if cursor.done {
                    return None;
                }
                match state.engine.job_events(mode, &id, cursor.since, Some(SSE_POLL)).await {
                    Ok(page) => cursor.absorb(page.events),
                    Err(_) => return None,
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

impl Cursor {
    fn absorb(&mut self, events: Vec<JobEvent>) {
        for e in events {
            self.since = self.since.max(e.seq);
            self.done |= e.event_type.is_terminal();
            self.pending.push_back(e);
        }
    }
}

/// Cancels a job that has not finished: it ends `failed` with `JOB_CANCELLED` and a refund
/// (a running job at its next check point, within a second).
#[utoipa::path(post, path = "/v1/jobs/{public_id}/cancel", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses(
        (status = 202, body = JobDetail),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`JOB_NOT_CANCELLABLE`: it has already finished", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> HttpResult<(StatusCode, Json<JobDetail>)> {
    auth.require(Capability::JobsCreate)?;
    Ok((StatusCode::ACCEPTED, Json(state.engine.cancel(&auth.0, &id).await?)))
}

/// Extension: the queue — every waiting and running job, in the order they run: running first,
/// then waiting by priority (higher first) and age (older first). Held jobs (`paused`) keep
/// their places and are skipped until resumed.
#[utoipa::path(get, path = "/v1/queue", tag = "jobs",
    params(
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, body = JobList), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn queue(State(state): State<AppState>, auth: Authed, params: Params) -> HttpResult<Json<JobList>> {
    auth.require(Capability::JobsRead)?;
    let (limit, offset) = params.page()?;
    Ok(Json(state.engine.queue(auth.0.mode, limit, offset).await?))
}

/// Extension: gives a waiting or running job a priority (-100 to 100; higher runs first, equal
/// priorities oldest first; every dispatch starts at 0). A running job keeps running.
#[utoipa::path(post, path = "/v1/jobs/{public_id}/priority", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    request_body = PriorityRequest,
    responses(
        (status = 200, body = JobDetail),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`JOB_FINISHED`", body = ErrorEnvelope),
        (status = 422, description = "`priority` out of range", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn priority(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    JsonValue(body): JsonValue,
) -> HttpResult<Json<JobDetail>> {
    auth.require(Capability::JobsCreate)?;
    let request: PriorityRequest = figur_engine::domain::requests::parse_body(body)?;
    Ok(Json(state.engine.set_priority(&auth.0, &id, request.priority).await?))
}

/// Extension: holds a job. A waiting job is not started until resumed; a running one stops at
/// its next check point (within a second) and goes back to the queue, held — it starts again
/// from the beginning when resumed, charged once. Pausing a held job changes nothing.
#[utoipa::path(post, path = "/v1/jobs/{public_id}/pause", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses(
        (status = 200, body = JobDetail),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`JOB_FINISHED`", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn pause(State(state): State<AppState>, auth: Authed, Path(id): Path<String>) -> HttpResult<Json<JobDetail>> {
    auth.require(Capability::JobsCreate)?;
    Ok(Json(state.engine.pause(&auth.0, &id).await?))
}

/// Extension: lets a held job go; it runs in its turn.
#[utoipa::path(post, path = "/v1/jobs/{public_id}/resume", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID")),
    responses(
        (status = 200, body = JobDetail),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`JOB_FINISHED`", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<JobDetail>> {
    auth.require(Capability::JobsCreate)?;
    Ok(Json(state.engine.resume(&auth.0, &id).await?))
}

/// Extension: variations — the job's request dispatched again `count` times (1–8), each with a
/// new random seed where the workflow takes one (elsewhere each new job's id is its new draw).
/// Each is a dispatch of its own: charged, durable before this 202, followed like any job.
#[utoipa::path(post, path = "/v1/jobs/{public_id}/vary", tag = "jobs",
    params(("public_id" = String, Path, description = "The job's ULID (finished or not)")),
    request_body = VaryRequest,
    responses(
        (status = 202, body = Variations),
        (status = 402, description = "`INSUFFICIENT_BALANCE`", body = ErrorEnvelope),
        (status = 404, description = "`JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "`count` out of range", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn vary(
    State(state): State<AppState>,
    auth: Authed,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    JsonValue(body): JsonValue,
) -> HttpResult<(StatusCode, Json<Variations>)> {
    auth.require(Capability::JobsCreate)?;
    let request: VaryRequest = figur_engine::domain::requests::parse_body(body)?;
    let jobs = state.engine.vary(&auth.0, &id, request.count, &request_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Variations { jobs })))
}
