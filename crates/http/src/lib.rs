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
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use figur_engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub limiter: Arc<extract::RateLimiter>,
    /// Requests per second per key (0: no limit); in a farm, shared by all its servers.
    pub rate_limit: u32,
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
    /// Serve HTTPS with this certificate and key. Required with `allow_remote` on a
    /// non-loopback address unless `insecure_http` says plain HTTP is meant.
    pub tls: Option<tls::TlsFiles>,
    /// Serve other machines over plain HTTP on purpose (a trusted network, or TLS ended by a
    /// proxy in front): keys and images then cross the network readable.
    pub insecure_http: bool,
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
            tls: None,
            insecure_http: false,
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
    #[error(
        "refusing to serve {0} over plain HTTP: API keys and images would cross the network readable. \
         Give --tls-cert and --tls-key (PEM files), or --insecure-http if that is what you mean"
    )]
    RemoteNeedsTls(SocketAddr),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

pub fn router(state: AppState) -> Router {
    // The document's own route sits here, beside the routes it describes, not among them.
    routes::router()
        .route("/v1/openapi.json", axum::routing::get(openapi::openapi))
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// A bound, not yet serving server: the address is known before requests flow.
pub struct Bound {
    listener: listener::EnvelopeListener,
    app: Router,
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
}

impl Bound {
    /// The server's base URL, e.g. `https://192.0.2.7:8686`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

/// Binds the listener and points the engine's signed URLs at it.
pub async fn bind(engine: Arc<Engine>, config: &ServerConfig) -> Result<Bound, ServeError> {
    let remote = !config.listen.ip().is_loopback();
    if remote && !config.allow_remote {
        return Err(ServeError::NotLoopback(config.listen));
    }
    if remote && config.tls.is_none() && !config.insecure_http {
        return Err(ServeError::RemoteNeedsTls(config.listen));
    }
    // The certificate is read before the port is taken: a bad file fails fast, naming itself.
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    if config.signs_urls {
        engine.set_public_base(&format!("{scheme}://{addr}"));
    }
    let state = AppState {
        engine,
        limiter: Arc::new(extract::RateLimiter::new(config.rate_limit)),
        rate_limit: config.rate_limit,
        allow_remote: config.allow_remote,
        only_key: config.only_key.clone(),
    };
    let listener = match acceptor {
        Some(acceptor) => listener::EnvelopeListener::tls(listener, acceptor)?,
        None => listener::EnvelopeListener::plain(listener)?,
    };
    Ok(Bound { listener, app: router(state), addr, scheme })
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

/// A worker's metrics endpoint (`figur worker --metrics-listen ADDR`): `GET /metrics` in
/// Prometheus' text format, nothing else, without a key — for the operator's scraper on the
/// farm's network. Serves until the runtime ends.
pub async fn serve_metrics(engine: Arc<Engine>, listen: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let engine = engine.clone();
            async move {
                match engine.metrics_text().await {
                    Ok(text) => {
                        ([(axum::http::header::CONTENT_TYPE, figur_engine::engine::METRICS_CONTENT_TYPE)], text)
                            .into_response()
                    }
                    Err(e) => error::HttpError(e).into_response(),
                }
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(address)
}
