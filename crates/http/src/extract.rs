//! Extractors that turn a request into engine inputs, refusing bad ones with the right code:
//! the bearer key (401/403/429, with a per-address limit for requests without a valid key), a
//! strict JSON body (415/413/400/422), query parameters (422).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use figur_engine::{ApiError, Caller, Capability, ErrorCode};

use crate::error::HttpError;
use crate::guard::{CallerSlot, RequestId};
use crate::listener::ClientAddr;
use crate::AppState;

/// Bounds of the paging and cursor query parameters: checked by [`Params`], published in
/// `openapi.json` from here ([`query_bounds`]).
pub const LIMIT: (i64, i64) = (1, 200);
pub const OFFSET: (i64, i64) = (0, i32::MAX as i64);
pub const SINCE: (i64, i64) = (0, i64::MAX);
pub const WAIT: (i64, i64) = (0, figur_engine::engine::MAX_WAIT.as_secs() as i64);
/// A signed URL's expiry (Unix seconds) and thumbnail size.
pub const EXP: (i64, i64) = (0, i64::MAX);
pub const THUMB: (i64, i64) = (0, 4096);

/// The bounds of a query parameter by name, where the extractors enforce one everywhere.
pub fn query_bounds(name: &str) -> Option<(i64, i64)> {
    match name {
        "limit" => Some(LIMIT),
        "offset" => Some(OFFSET),
        "since" => Some(SINCE),
        "wait" => Some(WAIT),
        "exp" => Some(EXP),
        "thumb" => Some(THUMB),
        _ => None,
    }
}

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 4096;

/// Most bytes a JSON request body may have.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The authenticated caller, after the per-key rate limit.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl Authed {
    pub fn require(&self, capability: Capability) -> Result<(), HttpError> {
        if self.0.can(capability) {
            Ok(())
        } else {
            Err(HttpError(ApiError::new(
                ErrorCode::Forbidden,
                format!("this API key lacks the `{}` capability", capability.as_str()),
            )))
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "send your API key as `Authorization: Bearer sk_…`"));
        let caller = match presented {
            Ok(presented) => state.engine.authenticate(presented).await,
            Err(e) => Err(e),
        };
        // A request without a valid key counts against its client address, so guessing keys
        // is as slow as any other flood.
        let caller = caller.map_err(|e| unauthenticated(parts, state, e))?;
        if state.only_key.as_ref().is_some_and(|only| *only != caller.key_id) {
            return Err(HttpError(ApiError::new(
                ErrorCode::Forbidden,
                "this port serves the desktop app only; turn the local API on in the studio's Settings",
            )));
        }
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(caller.clone());
        }
        if let Err(wait) = state.limiter.check(&format!("key:{}", caller.key_id)) {
            return Err(HttpError(rate_limited("too many requests for this API key; slow down", wait)));
        }
        // In a farm the key's allowance is shared by every API server, not given by each.
        if let Err(wait) = state.engine.spend_shared_rate(&caller.key_id, state.rate_limit).await {
            return Err(HttpError(rate_limited(
                "too many requests for this API key across the studio's servers; slow down",
                wait,
            )));
        }
        Ok(Authed(caller))
    }
}

/// The refusal of a request without a valid key: its own error, or 429 once its client address
/// has spent its bucket.
fn unauthenticated(parts: &Parts, state: &AppState, e: ApiError) -> HttpError {
    let address = parts
        .extensions
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0 .0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    match state.limiter.check(&format!("address:{address}")) {
        Ok(()) => HttpError(e),
        Err(wait) => {
            HttpError(rate_limited("too many requests without a valid API key from this address; slow down", wait))
        }
    }
}

fn rate_limited(message: &str, wait: Duration) -> ApiError {
    let mut e = ApiError::new(ErrorCode::RateLimited, message);
    e.retry_after = Some(wait.as_secs().max(1));
    e
}

impl FromRequestParts<AppState> for RequestId {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_else(|| RequestId(figur_engine::ids::new_id())))
    }
}

/// A JSON body: `application/json` (415 otherwise), at most 1 MiB (413), well-formed (400), no
/// key twice in one object (422 naming it).
/// Field-level checks (422) belong to the engine's typed parsing.
#[derive(Debug)]
pub struct JsonValue(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(HttpError(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            HttpError(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("JSON bodies are limited to {MAX_JSON_BYTES} bytes"),
            ))
        })?;
        Ok(JsonValue(crate::strict_json::parse(&bytes).map_err(HttpError)?))
    }
}

/// Query parameters, parsed one by one so a bad one is a 422 naming it.
#[derive(Debug)]
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(|e| {
            HttpError(ApiError::field("query", "", format!("unreadable query string: {e}"), "value_error"))
        })?;
        Ok(Params(map))
    }
}

impl Params {
    /// A free-text parameter; given empty, as absent.
    pub fn str(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// A parameter as given, empty included: for enums and booleans, where `?status=` is a
    /// value the document does not allow (422), not an absent one.
    pub fn given(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, HttpError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse::<i64>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| {
                HttpError(ApiError::field(
                    "query",
                    name,
                    format!("must be a whole number from {min} to {max}"),
                    "range",
                ))
            }),
        }
    }

    /// `limit` (1–200, default 50) and `offset` (≥ 0, default 0).
    pub fn page(&self) -> Result<(u32, u32), HttpError> {
        Ok((self.int("limit", 50, LIMIT.0, LIMIT.1)? as u32, self.int("offset", 0, OFFSET.0, OFFSET.1)? as u32))
    }
}

/// Token buckets per API key (`key:ID`) and per client address (`address:IP`) for requests
/// without a valid key: `per_second` sustained, bursts of twice that.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    buckets: std::sync::Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second == 0` turns limiting off.
    pub fn new(per_second: u32) -> Self {
        RateLimiter { per_second: per_second as f64, buckets: Default::default() }
    }

    /// `Err(wait)` when the key must wait before its next request.
    pub fn check(&self, key_id: &str) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let burst = (self.per_second * 2.0).max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_BUCKETS {
            // Full buckets idle for a while hold nothing worth keeping (addresses come and go).
            buckets.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key_id.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_a_burst_then_refuses_then_refills() {
        let limiter = RateLimiter::new(5);
        assert!((0..10).all(|_| limiter.check("k").is_ok()));
        let wait = limiter.check("k").unwrap_err();
        assert!(wait <= Duration::from_millis(200));
        assert!(limiter.check("other").is_ok(), "keys have their own buckets");
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.check("k").is_ok());
        assert!(RateLimiter::new(0).check("k").is_ok());
    }
}
