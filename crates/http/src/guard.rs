//! The middleware every request passes: a request id, the loopback Host/Origin check (DNS
//! rebinding and browser CSRF), CORS for the studio's own origins, the error envelope, and the
//! request log.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use figur_engine::domain::job::RequestLogRow;
use figur_engine::{ApiError, Caller, ErrorCode, Mode};

use crate::error::{for_status, ErrorEnvelope};
use crate::AppState;

/// This request's id, for handlers that echo it (dispatch).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Filled in by the auth extractor so the request log knows who called.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(pub Arc<Mutex<Option<Caller>>>);

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .map(|(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host })
            .unwrap_or(host)
    };
    let name = name.to_ascii_lowercase();
    name == "localhost" || name == "::1" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Browser origins allowed to call: loopback pages and the desktop app's webview.
pub fn is_allowed_origin(origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    if origin == "tauri://localhost" || origin == "http://tauri.localhost" || origin == "https://tauri.localhost" {
        return true;
    }
    match origin.split_once("://") {
        Some(("http" | "https", rest)) => !rest.contains('/') && is_loopback_host(rest),
        _ => false,
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = figur_engine::ids::new_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let origin = header_str(req.headers(), header::ORIGIN).map(str::to_string);

    // An absolute-form request line (`GET http://host/v1/… HTTP/1.1`, as sent to a proxy) names
    // its own authority, which must pass the same loopback check as the Host header.
    let absolute_authority = req.uri().authority().map(|a| a.host().to_string());
    let refusal = if !state.allow_remote && !header_str(req.headers(), header::HOST).is_some_and(is_loopback_host) {
        Some(ApiError::new(ErrorCode::Forbidden, "requests must address the studio as localhost or 127.0.0.1"))
    } else if !state.allow_remote && absolute_authority.as_deref().is_some_and(|a| !is_loopback_host(a)) {
        Some(ApiError::new(ErrorCode::Forbidden, "the request line must address the studio as localhost or 127.0.0.1"))
    } else if origin.as_deref().is_some_and(|o| !is_allowed_origin(o)) {
        Some(ApiError::new(ErrorCode::Forbidden, "cross-origin requests from this origin are refused"))
    } else {
        None
    };

    let slot = CallerSlot::default();
    let mut response = match refusal {
        Some(e) => crate::error::HttpError(e).into_response(),
        None if method == Method::OPTIONS && origin.is_some() => preflight(),
        None => {
            req.extensions_mut().insert(RequestId(request_id.clone()));
            req.extensions_mut().insert(slot.clone());
            next.run(req).await
        }
    };

    envelope(&mut response, &request_id);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    if let Some(o) = origin.filter(|o| is_allowed_origin(o)) {
        if let Ok(v) = HeaderValue::from_str(&o) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            headers
                .insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-request-id, retry-after"));
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }

    let caller = slot.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !path.starts_with("/v1/artifacts/") {
        state.engine.log_request(
            caller.as_ref().map(|c| c.mode).unwrap_or(Mode::Live),
            RequestLogRow {
                request_id,
                api_key_id: caller.map(|c| c.key_id),
                method: method.to_string(),
                path,
                status: response.status().as_u16(),
                duration_us: started.elapsed().as_micros() as u64,
            },
        );
    }
    response
}

fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, idempotency-key, last-event-id"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

/// Writes the error envelope into any non-2xx response that has no body of its own.
fn envelope(response: &mut Response, request_id: &str) {
    let status = response.status();
    if status.is_success() || status.is_redirection() || status.is_informational() {
        return;
    }
    let error = response.extensions_mut().remove::<ApiError>().unwrap_or_else(|| for_status(status));
    let body = serde_json::to_vec(&ErrorEnvelope::new(&error, request_id)).unwrap_or_default();
    *response.body_mut() = Body::from(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().remove(header::CONTENT_LENGTH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_origins() {
        for ok in [
            "localhost",
            "localhost:8686",
            "127.0.0.1",
            "127.0.0.1:1",
            "127.5.5.5:80",
            "[::1]:8686",
            "[::1]",
            "LOCALHOST:1",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["evil.com", "evil.com:8686", "localhost.evil.com", "192.168.1.2:8686", "10.0.0.1", "[::2]:1", ""] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
        assert!(is_allowed_origin("http://localhost:5173"));
        assert!(is_allowed_origin("tauri://localhost"));
        assert!(!is_allowed_origin("https://evil.com"));
        assert!(!is_allowed_origin("http://localhost.evil.com"));
        assert!(!is_allowed_origin("null"));
        assert!(!is_allowed_origin("file://"));
    }
}
