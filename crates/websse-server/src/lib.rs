//! websse-server: the demo chat backend, the classic example streams and the scriptable test
//! endpoints of the websse project, as one [axum] application.
//!
//! [`app`] builds the whole [`Router`]; the `websse-server` binary and the integration tests both
//! use it, so what the tests see is what the demo serves.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let config = websse_server::Config {
//!     test_endpoints: true,
//!     ..websse_server::Config::default()
//! };
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, websse_server::app(config)).await
//! # }
//! ```
//!
//! The HTTP interface (chat stream format, resume, example streams, test endpoints and their
//! limits) is described in `docs/design.md`, section 3.
#![deny(missing_docs)]

mod answer;
mod chat;
mod csp;
mod errors;
mod examples;
mod flood;
mod model;
mod testing;
mod upstream;
mod util;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{any, get};
use tokio::sync::{Semaphore, watch};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

/// Where the chat answers come from when an upstream model is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// The chat-completions URL of an OpenAI-compatible server, for example
    /// `http://127.0.0.1:8081/v1/chat/completions`. A URL that does not end in
    /// `/chat/completions` gets that suffix appended (so `http://127.0.0.1:11434/v1` works).
    pub url: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The `model` field of the upstream request.
    pub model: String,
}

/// Settings of the application built by [`app`].
///
/// Every field is public; start from [`Config::default`] and change what you need.
#[derive(Debug, Clone)]
pub struct Config {
    /// Serve this directory (the Trunk build of the app) for paths that no API route matches,
    /// with `index.html` as the fallback for unknown paths (single-page app routing).
    ///
    /// These responses carry a strict `Content-Security-Policy`: scripts from this origin plus the
    /// page's own inline scripts by SHA-256 hash, `'wasm-unsafe-eval'` (no `'unsafe-eval'`, no
    /// `'unsafe-inline'`), styles from this origin, `connect-src 'self'` plus
    /// [`csp_connect_src`](Config::csp_connect_src).
    pub static_dir: Option<PathBuf>,
    /// More `connect-src` sources for the app's pages (e.g. `https://stream.example`), so the
    /// inspector can reach streams on other origins; by default it reaches only this one.
    /// Entries that are not a single CSP source expression are ignored with a warning.
    pub csp_connect_src: Vec<String>,
    /// Proxy chat requests to an OpenAI-compatible upstream instead of the embedded model.
    pub upstream: Option<UpstreamConfig>,
    /// Origins allowed by CORS (`*` allows any). Ignored when `test_endpoints` is on: the test
    /// endpoints need CORS open to every origin.
    pub allow_origins: Vec<String>,
    /// Serve the `/test/...` endpoints and open CORS to every origin.
    pub test_endpoints: bool,
    /// The most streams (chat, examples, scripted test responses) open at once; more get
    /// `503 Service Unavailable` with `Retry-After`.
    pub max_streams: usize,
    /// The most chat answers kept in memory for resuming.
    pub max_answers: usize,
    /// How long a finished answer stays resumable.
    pub answer_ttl: Duration,
    /// Interval of the `: keep-alive` comments on idle streams.
    pub keep_alive: Duration,
    /// Default pace of the embedded model, in characters per second.
    pub default_speed: f64,
    /// Longest time a scripted response with `"end":"hold"` stays open.
    pub hold_max: Duration,
    /// Largest request body accepted; larger ones get `413 Payload Too Large`.
    pub body_limit: usize,
    /// When this channel turns `true`, streams end (chat answers with reason `stopped`), so a
    /// graceful shutdown does not wait for endless streams.
    pub shutdown: Option<watch::Receiver<bool>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            static_dir: None,
            csp_connect_src: Vec::new(),
            upstream: None,
            allow_origins: Vec::new(),
            test_endpoints: false,
            max_streams: 256,
            max_answers: 1000,
            answer_ttl: Duration::from_secs(300),
            keep_alive: Duration::from_secs(15),
            default_speed: 30.0,
            hold_max: Duration::from_secs(60),
            body_limit: 64 * 1024,
            shutdown: None,
        }
    }
}

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) streams: Arc<Semaphore>,
    pub(crate) answers: answer::AnswerStore,
    pub(crate) tests: testing::TestStore,
    pub(crate) http: reqwest::Client,
}

pub(crate) type SharedState = Arc<AppState>;

/// Build the application: chat API, example streams, optional test endpoints and static files,
/// behind CORS, a request body limit, JSON error bodies and request tracing.
pub fn app(config: Config) -> Router {
    let max_streams = config.max_streams.max(1);
    let state = Arc::new(AppState {
        streams: Arc::new(Semaphore::new(max_streams)),
        answers: answer::AnswerStore::new(config.max_answers.max(1), config.answer_ttl),
        tests: testing::TestStore::default(),
        http: reqwest::Client::new(),
        config,
    });

    let mut router = Router::new()
        .route("/api/chat", get(chat::get_chat).post(chat::post_chat))
        .route("/api/chat/{sid}", get(chat::resume_chat))
        .merge(examples::routes())
        .route("/api/{*rest}", any(errors::api_not_found));
    if state.config.test_endpoints {
        router = router.merge(testing::routes()).merge(flood::routes());
    }
    router = router.route("/test/{*rest}", any(errors::api_not_found));

    let router = match &state.config.static_dir {
        Some(dir) => {
            let csp = Arc::new(csp::Csp::new(&state.config.csp_connect_src));
            let index = Arc::new(dir.join("index.html"));
            let files = Router::new()
                .fallback_service(
                    ServeDir::new(dir)
                        .fallback(axum::handler::Handler::with_state(spa_fallback, index)),
                )
                .layer(axum::middleware::from_fn_with_state(csp, csp::add_policy));
            router.fallback_service(files)
        }
        None => router.fallback(errors::api_not_found),
    };

    let cors = cors_layer(&state.config);
    let limit = state.config.body_limit;
    router
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::map_response(errors::json_error_bodies))
        .layer(cors)
        // Failed responses are routine here (scripted 5xx, deliberate aborts), so they are
        // logged at debug level like the rest; upstream failures are warned about separately.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
}

/// What a path that names no file gets: `index.html` for a route of the single-page app
/// (`/inspector`), but a 404 for a path with a file extension (`/typo.js`), so that a wrong
/// script or wasm path fails where it is made instead of loading the page as JavaScript.
async fn spa_fallback(
    axum::extract::State(index): axum::extract::State<Arc<std::path::PathBuf>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let path = request.uri().path();
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        let message = format!("no file at {path}");
        return (axum::http::StatusCode::NOT_FOUND, message).into_response();
    }
    match ServeFile::new(index.as_path()).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// Response headers a cross-origin script may read.
fn exposed_headers() -> [HeaderName; 3] {
    [
        HeaderName::from_static("x-stream-id"),
        HeaderName::from_static("retry-after"),
        HeaderName::from_static("x-test-key"),
    ]
}

fn cors_layer(config: &Config) -> CorsLayer {
    if config.test_endpoints {
        // Mirroring (rather than `*`) lets credentialed requests and `Authorization` through.
        return CorsLayer::very_permissive()
            .expose_headers(exposed_headers())
            .max_age(Duration::from_secs(600));
    }
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(exposed_headers())
        .max_age(Duration::from_secs(600));
    if config.allow_origins.iter().any(|o| o == "*") {
        return base.allow_origin(AllowOrigin::any());
    }
    let origins: Vec<HeaderValue> = config
        .allow_origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "ignoring an allowed origin that is not a valid header value");
                None
            }
        })
        .collect();
    base.allow_origin(AllowOrigin::list(origins))
}
