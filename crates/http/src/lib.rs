//! # The /v1 API on localhost
//!
//! An axum server over the [`figur_engine::Engine`]. Routes are one-line adapters; everything
//! around them lives in the [`guard`] middleware (request ids, the loopback Host/Origin check,
//! CORS for the studio's own origins, the error envelope, the request log) and the
//! [`extract`]ors (bearer keys with a per-key rate limit, strict JSON, query parameters).
//! The OpenAPI 3.1 document is generated from the same types ([`openapi`]).

pub mod error;
pub mod extract;
pub mod guard;
pub mod listener;
pub mod openapi;
pub mod routes;
pub mod strict_json;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use figur_engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub limiter: Arc<extract::RateLimiter>,
    /// Accept any Host header (the user asked to serve beyond this machine).
    pub allow_remote: bool,
    /// Accept only this API key (by key id); others get 403. The desktop's private server,
    /// which serves the window its images, takes only the desktop's own key.
    pub only_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Required to listen on a non-loopback address.
    pub allow_remote: bool,
    /// Requests per second per API key, and per client address for requests without a valid
    /// key (bursts of twice that); 0 turns the limit off.
    pub rate_limit: u32,
    /// Point the engine's signed image URLs at this server (the one server that serves them;
    /// a second server, such as the desktop's optional public API, leaves them alone).
    pub signs_urls: bool,
    /// See [`AppState::only_key`].
    pub only_key: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8686)),
            allow_remote: false,
            rate_limit: 100,
            signs_urls: true,
            only_key: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0}: it is not a loopback address; add --allow-remote to serve other machines")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

pub fn router(state: AppState) -> Router {
    routes::router()
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// A bound, not yet serving server: the address is known before requests flow.
pub struct Bound {
    listener: listener::EnvelopeListener,
    app: Router,
    pub addr: SocketAddr,
}

/// Binds the listener and points the engine's signed URLs at it.
pub async fn bind(engine: Arc<Engine>, config: &ServerConfig) -> Result<Bound, ServeError> {
    if !config.listen.ip().is_loopback() && !config.allow_remote {
        return Err(ServeError::NotLoopback(config.listen));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr()?;
    if config.signs_urls {
        engine.set_public_base(&format!("http://{addr}"));
    }
    let state = AppState {
        engine,
        limiter: Arc::new(extract::RateLimiter::new(config.rate_limit)),
        allow_remote: config.allow_remote,
        only_key: config.only_key.clone(),
    };
    Ok(Bound { listener: listener::EnvelopeListener(listener), app: router(state), addr })
}

impl Bound {
    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        axum::serve(self.listener, self.app.into_make_service_with_connect_info::<listener::ClientAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
