//! `/test/script/{key}` and `/test/sse/{key}`: a scenario's scripted responses, served with
//! their exact bytes, chunk boundaries and delays, and each connection logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::errors::{ApiError, Verbatim};
use crate::{SharedState, util};

use super::store::{End, LogGuard, Outcome, Scripted, TestStore};
use super::{MAX_TOTAL_DELAY_MS, check_key};

pub(super) fn routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/test/script/{key}",
            post(put_script).delete(delete_scenario),
        )
        .route("/test/sse/{key}", any(serve_script))
}

/// Most responses in one script.
const MAX_RESPONSES: usize = 64;
/// Most chunks in one response.
const MAX_CHUNKS: usize = 4096;
/// Longest delay before one chunk.
const MAX_DELAY_MS: u64 = 30_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkSpec {
    text: Option<String>,
    bytes: Option<Vec<u8>>,
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    chunks: Vec<ChunkSpec>,
    #[serde(default)]
    end: End,
}

fn default_status() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptSpec {
    responses: Vec<ResponseSpec>,
}

impl Scripted {
    fn from_spec(index: usize, spec: ResponseSpec) -> Result<Self, ApiError> {
        let bad = |what: String| ApiError::bad_request(format!("responses[{index}]: {what}"));
        // Informational statuses (1xx) cannot end a response.
        let status = StatusCode::from_u16(spec.status)
            .ok()
            .filter(|s| (200..=599).contains(&s.as_u16()))
            .ok_or_else(|| bad(format!("status {} is not within 200..=599", spec.status)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &spec.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| bad(format!("invalid value for header {name}")))?;
            headers.append(name, value);
        }
        if status == StatusCode::OK && !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        if spec.chunks.len() > MAX_CHUNKS {
            return Err(bad(format!("more than {MAX_CHUNKS} chunks")));
        }
        let mut total_delay = 0u64;
        let mut chunks = Vec::with_capacity(spec.chunks.len());
        for (i, chunk) in spec.chunks.into_iter().enumerate() {
            if chunk.delay_ms > MAX_DELAY_MS {
                return Err(bad(format!("chunks[{i}].delay_ms is above {MAX_DELAY_MS}")));
            }
            total_delay += chunk.delay_ms;
            let bytes = match (chunk.text, chunk.bytes) {
                (Some(text), None) => Bytes::from(text),
                (None, Some(bytes)) => Bytes::from(bytes),
                _ => {
                    return Err(bad(format!(
                        "chunks[{i}] needs exactly one of \"text\" and \"bytes\""
                    )));
                }
            };
            chunks.push((Duration::from_millis(chunk.delay_ms), bytes));
        }
        if total_delay > MAX_TOTAL_DELAY_MS {
            return Err(bad(format!(
                "the delays add up to more than {MAX_TOTAL_DELAY_MS} ms"
            )));
        }
        Ok(Self {
            status,
            headers,
            chunks,
            end: spec.end,
        })
    }
}

/// `POST /test/script/{key}`: set the scenario's script and clear its log and counter.
async fn put_script(
    State(state): State<SharedState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    let spec: ScriptSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid script: {e}")))?;
    if spec.responses.is_empty() || spec.responses.len() > MAX_RESPONSES {
        return Err(ApiError::bad_request(format!(
            "a script needs 1 to {MAX_RESPONSES} responses"
        )));
    }
    let responses = spec
        .responses
        .into_iter()
        .enumerate()
        .map(|(i, r)| Scripted::from_spec(i, r).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let count = responses.len();
    let mut inner = state.tests.lock();
    let scenario = inner.scenario(&key);
    scenario.responses = responses;
    scenario.served = 0;
    scenario.log.clear();
    Ok(axum::Json(serde_json::json!({ "key": key, "responses": count })).into_response())
}

/// `DELETE /test/script/{key}`: forget the scenario.
async fn delete_scenario(
    State(state): State<SharedState>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_key(&key)?;
    state.tests.lock().scenarios.remove(&key);
    Ok(StatusCode::NO_CONTENT)
}

/// `ANY /test/sse/{key}`: serve the scenario's next scripted response and log the connection.
async fn serve_script(
    State(state): State<SharedState>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    let permit = Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))?;

    let (id, scripted) = {
        let mut inner = state.tests.lock();
        let id = TestStore::log_connection(&mut inner, &key, &method, &headers, &body);
        let scenario = inner.scenario(&key);
        let index = (!scenario.responses.is_empty())
            .then(|| scenario.served.min(scenario.responses.len() - 1));
        scenario.served = scenario.served.saturating_add(1);
        let scripted = index.and_then(|i| scenario.responses.get(i).cloned());
        if let Some(entry) = scenario.log.back_mut() {
            entry.response = index;
            if index.is_none() {
                entry.outcome = Outcome::Completed;
                entry.ended_ms = Some(entry.started_ms);
            }
        }
        (id, scripted)
    };
    let Some(scripted) = scripted else {
        return Err(ApiError::not_found(format!(
            "no script for scenario {key:?}; POST one to /test/script/{key}"
        )));
    };

    let bodiless = matches!(scripted.status.as_u16(), 204 | 304) || method == Method::HEAD;
    if bodiless || (scripted.chunks.is_empty() && scripted.end == End::Close) {
        // hyper never polls such a body, so it is complete as soon as the head is sent.
        state.tests.set_outcome(&key, id, Outcome::Completed);
        return Ok(scripted_response(&scripted, &key, Body::empty()));
    }
    let guard = LogGuard {
        state: Arc::clone(&state),
        key: key.clone(),
        id,
        done: false,
    };
    let body = ScriptBody {
        scripted: Arc::clone(&scripted),
        next: 0,
        guard,
        hold_max: state.config.hold_max,
        shutdown: state.config.shutdown.clone(),
        finished: false,
        _permit: permit,
    };
    Ok(scripted_response(
        &scripted,
        &key,
        Body::from_stream(body.into_stream()),
    ))
}

fn scripted_response(scripted: &Scripted, key: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = scripted.status;
    *response.headers_mut() = scripted.headers.clone();
    if let Ok(value) = HeaderValue::from_str(key) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-test-key"), value);
    }
    response.extensions_mut().insert(Verbatim);
    response
}

/// The body of a scripted response: its chunks one by one, then its end.
struct ScriptBody {
    scripted: Arc<Scripted>,
    next: usize,
    guard: LogGuard,
    hold_max: Duration,
    shutdown: Option<watch::Receiver<bool>>,
    finished: bool,
    _permit: OwnedSemaphorePermit,
}

impl ScriptBody {
    fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::unfold(self, |mut body| async move {
            let item = body.next_chunk().await?;
            Some((item, body))
        })
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.finished {
            return None;
        }
        if let Some((delay, bytes)) = self.scripted.chunks.get(self.next).cloned() {
            self.next += 1;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            return Some(Ok(bytes));
        }
        self.finished = true;
        match self.scripted.end {
            End::Close => {
                self.guard.finish(Outcome::Completed);
                None
            }
            End::Abort => {
                // Let hyper flush the chunks already written, then break the connection.
                tokio::time::sleep(crate::chat::FLUSH_PAUSE).await;
                self.guard.finish(Outcome::Aborted);
                Some(Err(std::io::Error::other("scripted abort")))
            }
            End::Hold => {
                tokio::select! {
                    () = tokio::time::sleep(self.hold_max) => {}
                    () = util::shutdown_signal(self.shutdown.clone()) => {}
                }
                self.guard.finish(Outcome::Completed);
                None
            }
        }
    }
}
