//! Test endpoints (`--test-endpoints`): scripted responses with exact bytes, chunk boundaries and
//! delays, a resumable ticker, a per-scenario log of connections, an echo, and a chat-shaped
//! stream of any given text (`/test/markdown`). Every scenario has its own `{key}`, so tests
//! running side by side do not see each other.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::answer::Message;
use crate::errors::{ApiError, Verbatim};
use crate::{SharedState, util};

/// Most scenario keys kept; the least recently used one is forgotten first.
const MAX_KEYS: usize = 1024;
/// Longest scenario key.
const MAX_KEY_LEN: usize = 128;
/// Most responses in one script.
const MAX_RESPONSES: usize = 64;
/// Most chunks in one response.
const MAX_CHUNKS: usize = 4096;
/// Longest delay before one chunk.
const MAX_DELAY_MS: u64 = 30_000;
/// Longest sum of delays in one response.
const MAX_TOTAL_DELAY_MS: u64 = 120_000;
/// Most connections logged per key; older entries are dropped.
const MAX_LOG: usize = 256;
/// Longest request body kept in the log (bytes).
const MAX_LOGGED_BODY: usize = 16 * 1024;
/// Most events of one ticker.
const MAX_TICKS: u64 = 10_000;
/// Shortest and longest interval between ticks.
const TICK_INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=10_000;
/// Longest text `/test/markdown` streams, in bytes.
const MAX_MARKDOWN_BYTES: usize = 256 * 1024;
/// Longest pause before one `/test/markdown` delta.
const MAX_MARKDOWN_DELAY_MS: u64 = 1_000;
/// The stream id in `/test/markdown`'s event ids (`md:<seq>`): the stream is a function of the
/// request, so there is nothing to look up on resume.
const MARKDOWN_SID: &str = "md";

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/test/script/{key}",
            post(put_script).delete(delete_scenario),
        )
        .route("/test/sse/{key}", any(serve_script))
        .route("/test/ticker/{key}", get(ticker))
        .route("/test/log/{key}", get(get_log))
        .route("/test/echo", any(echo))
        .route("/test/markdown", get(markdown_get).post(markdown_post))
}

/// How a scripted body ends.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum End {
    /// Finish the body cleanly.
    #[default]
    Close,
    /// Keep it open (bounded by `Config::hold_max`) until the client goes away.
    Hold,
    /// Break the connection without finishing the body.
    Abort,
}

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

/// A validated response, ready to serve any number of times.
#[derive(Debug)]
struct Scripted {
    status: StatusCode,
    headers: HeaderMap,
    chunks: Vec<(Duration, Bytes)>,
    end: End,
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

/// What became of one logged connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Open,
    Completed,
    ClientDisconnected,
    Aborted,
}

#[derive(Debug, Clone, Serialize)]
struct LogEntry {
    #[serde(skip)]
    id: u64,
    method: String,
    headers: BTreeMap<String, String>,
    body: String,
    last_event_id: Option<String>,
    /// Which scripted response was served (0-based), if any.
    response: Option<usize>,
    outcome: Outcome,
    /// When the request arrived, in milliseconds since the Unix epoch.
    started_ms: u64,
    /// When the outcome was settled (the body ended or the client went away), same clock.
    ended_ms: Option<u64>,
    /// Ticker connections: the id of the newest event handed to the connection so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_sent: Option<u64>,
}

#[derive(Debug, Default)]
struct Scenario {
    responses: Vec<Arc<Scripted>>,
    served: usize,
    log: VecDeque<LogEntry>,
    last_used: u64,
}

/// All scenarios, bounded in keys and log length.
#[derive(Debug, Default)]
pub(crate) struct TestStore {
    inner: Mutex<StoreInner>,
}

#[derive(Debug, Default)]
struct StoreInner {
    scenarios: HashMap<String, Scenario>,
    clock: u64,
}

impl StoreInner {
    /// The scenario for `key`, created if needed (forgetting the least recently used one when
    /// there are too many).
    fn scenario(&mut self, key: &str) -> &mut Scenario {
        self.clock += 1;
        let now = self.clock;
        if !self.scenarios.contains_key(key) && self.scenarios.len() >= MAX_KEYS {
            let oldest = self
                .scenarios
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.scenarios.remove(&oldest);
            }
        }
        let scenario = self.scenarios.entry(key.to_owned()).or_default();
        scenario.last_used = now;
        scenario
    }
}

impl TestStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the log entry `id` of `key`, if it is still kept.
    fn update(&self, key: &str, id: u64, f: impl FnOnce(&mut LogEntry)) {
        let mut inner = self.lock();
        if let Some(entry) = inner
            .scenarios
            .get_mut(key)
            .and_then(|s| s.log.iter_mut().rev().find(|e| e.id == id))
        {
            f(entry);
        }
    }

    fn set_outcome(&self, key: &str, id: u64, outcome: Outcome) {
        self.update(key, id, |entry| {
            entry.outcome = outcome;
            if outcome != Outcome::Open {
                entry.ended_ms = Some(util::epoch_millis());
            }
        });
    }

    /// Logs a new connection of `key` as open (the newest entry of its log); returns the entry's
    /// id.
    fn log_connection(
        inner: &mut StoreInner,
        key: &str,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
    ) -> u64 {
        inner.clock += 1;
        let id = inner.clock;
        let scenario = inner.scenario(key);
        if scenario.log.len() >= MAX_LOG {
            scenario.log.pop_front();
        }
        scenario.log.push_back(LogEntry {
            id,
            method: method.as_str().to_owned(),
            headers: header_map_json(headers),
            body: body_text(body, MAX_LOGGED_BODY),
            last_event_id: headers
                .get("last-event-id")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            response: None,
            outcome: Outcome::Open,
            started_ms: util::epoch_millis(),
            ended_ms: None,
            last_sent: None,
        });
        id
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "scenario key must be 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 - _ ."
        )))
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

#[derive(Serialize)]
struct LogBody<'a> {
    connections: Vec<&'a LogEntry>,
}

/// `GET /test/log/{key}`: what the scenario's connections sent and how they ended.
async fn get_log(
    State(state): State<SharedState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let inner = state.tests.lock();
    let connections = inner
        .scenarios
        .get(&key)
        .map(|s| s.log.iter().collect())
        .unwrap_or_default();
    let body = serde_json::to_vec(&LogBody { connections }).unwrap_or_default();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        [(header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response())
}

fn header_map_json(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

fn body_text(body: &[u8], limit: usize) -> String {
    let cut = &body[..body.len().min(limit)];
    String::from_utf8_lossy(cut).into_owned()
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

/// Marks the log entry when the body is dropped before it finished: the client went away.
struct LogGuard {
    state: SharedState,
    key: String,
    id: u64,
    done: bool,
}

impl LogGuard {
    fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        self.state.tests.set_outcome(&self.key, self.id, outcome);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state
                .tests
                .set_outcome(&self.key, self.id, Outcome::ClientDisconnected);
        }
    }
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TickerParams {
    #[serde(default = "default_tick_interval")]
    interval_ms: u64,
    #[serde(default = "default_ticks")]
    count: u64,
}

fn default_tick_interval() -> u64 {
    100
}

fn default_ticks() -> u64 {
    100
}

/// `GET /test/ticker/{key}?interval_ms=100&count=100`: events `id: n` + `data: {"n":n,"of":count}`
/// for n = 1..=count, one every `interval_ms` on a steady clock (the first at once), then the
/// body ends. A numeric `Last-Event-ID: k` resumes at k + 1 (204 when nothing is left); any other
/// `Last-Event-ID` is a 400. Each connection is logged under `{key}` like `/test/sse/{key}`'s,
/// with `last_sent`, the id of the newest event handed to it.
async fn ticker(
    State(state): State<SharedState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    params: Result<Query<TickerParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !TICK_INTERVAL_MS.contains(&params.interval_ms) {
        return Err(ApiError::bad_request(format!(
            "interval_ms must be within {}..={}",
            TICK_INTERVAL_MS.start(),
            TICK_INTERVAL_MS.end()
        )));
    }
    if params.count > MAX_TICKS {
        return Err(ApiError::bad_request(format!(
            "count must be at most {MAX_TICKS}"
        )));
    }
    let start = match util::last_event_id(&headers) {
        None => 1,
        Some(id) => id
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| {
                ApiError::bad_request(format!("Last-Event-ID {id:?} is not a tick number"))
            })?,
    };
    let permit = Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))?;
    let id = {
        let mut inner = state.tests.lock();
        TestStore::log_connection(&mut inner, &key, &Method::GET, &headers, &[])
    };
    let mut guard = LogGuard {
        state: Arc::clone(&state),
        key: key.clone(),
        id,
        done: false,
    };
    if start > params.count {
        guard.finish(Outcome::Completed);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let body = TickerBody {
        next: start,
        count: params.count,
        interval: Duration::from_millis(params.interval_ms),
        due: tokio::time::Instant::now(),
        guard,
        shutdown: state.config.shutdown.clone(),
        _permit: permit,
    };
    let mut response = Response::new(Body::from_stream(body.into_stream()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    util::stream_headers(response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&key) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-test-key"), value);
    }
    Ok(response)
}

/// The body of one ticker connection: one event per tick until `count`, then the end.
struct TickerBody {
    next: u64,
    count: u64,
    interval: Duration,
    /// When the next event is due: a steady cadence, whatever the time spent writing.
    due: tokio::time::Instant,
    guard: LogGuard,
    shutdown: Option<watch::Receiver<bool>>,
    _permit: OwnedSemaphorePermit,
}

impl TickerBody {
    fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::unfold(self, |mut body| async move {
            let item = body.next_event().await?;
            Some((Ok(item), body))
        })
    }

    async fn next_event(&mut self) -> Option<Bytes> {
        if self.next > self.count {
            self.guard.finish(Outcome::Completed);
            return None;
        }
        tokio::select! {
            () = tokio::time::sleep_until(self.due) => {}
            () = util::shutdown_signal(self.shutdown.clone()) => {
                self.guard.finish(Outcome::Completed);
                return None;
            }
        }
        let n = self.next;
        self.next += 1;
        self.due += self.interval;
        let guard = &self.guard;
        guard
            .state
            .tests
            .update(&guard.key, guard.id, |entry| entry.last_sent = Some(n));
        Some(Bytes::from(format!(
            "id: {n}\ndata: {{\"n\":{n},\"of\":{}}}\n\n",
            self.count
        )))
    }
}

#[derive(Serialize)]
struct EchoData<'a> {
    method: &'a str,
    headers: BTreeMap<String, String>,
    body: String,
}

/// `ANY /test/echo`: one `echo` event with the request's method, headers and body.
async fn echo(
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    let data = serde_json::to_string(&EchoData {
        method: method.as_str(),
        headers: header_map_json(&headers),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
    .unwrap_or_default();
    let mut response = Response::new(Body::from(format!("event: echo\ndata: {data}\n\n")));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    util::stream_headers(response.headers_mut());
    Ok(response)
}

/// What `/test/markdown` streams: the text from `text`, or the chat's own request shapes (the
/// `prompt` of its GET form, the last user message of its POST body), so the chat page can be
/// pointed at it; unknown fields (the chat's other knobs) are ignored.
#[derive(Debug, Default, Deserialize)]
struct MarkdownSpec {
    text: Option<String>,
    prompt: Option<String>,
    messages: Option<Vec<Message>>,
    /// Characters (not bytes) per delta; default 1.
    chunk: Option<usize>,
    /// Pause before each delta; default 0.
    delay_ms: Option<u64>,
    /// Break the first connection after the event with this sequence number.
    drop_after: Option<u64>,
}

/// `GET /test/markdown?text=...&chunk=N&delay_ms=M` (or `prompt=`).
async fn markdown_get(
    State(state): State<SharedState>,
    headers: HeaderMap,
    spec: Result<Query<MarkdownSpec>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(spec) = spec.map_err(|e| ApiError::bad_request(e.body_text()))?;
    markdown(&state, &headers, spec)
}

/// `POST /test/markdown` with `{"text": "...", "chunk": N, "delay_ms": M}` (or `messages`).
async fn markdown_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    let spec: MarkdownSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid markdown request: {e}")))?;
    markdown(&state, &headers, spec)
}

/// Streams the text the way `/api/chat` streams an answer: `start` (id `md:0`), one `delta`
/// `{"text": ...}` per `chunk` characters (ids `md:1`...), then `done` `{"reason":"finished"}`.
/// `Last-Event-ID: md:<k>` resumes after event k (204 once `done` was delivered), so a client's
/// reconnect continues exactly where the connection broke.
fn markdown(
    state: &SharedState,
    headers: &HeaderMap,
    spec: MarkdownSpec,
) -> Result<Response, ApiError> {
    let text = match (spec.text, spec.prompt, spec.messages) {
        (Some(text), _, _) | (None, Some(text), _) => text,
        (None, None, Some(messages)) => messages
            .into_iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content)
            .ok_or_else(|| ApiError::bad_request("messages has no message with role \"user\""))?,
        (None, None, None) => {
            return Err(ApiError::bad_request(
                "give the text as \"text\" (or \"prompt\", or a user message)",
            ));
        }
    };
    if text.len() > MAX_MARKDOWN_BYTES {
        return Err(ApiError::bad_request(format!(
            "the text is longer than {MAX_MARKDOWN_BYTES} bytes"
        )));
    }
    let chunk = spec.chunk.unwrap_or(1);
    if chunk == 0 || chunk > MAX_MARKDOWN_BYTES {
        return Err(ApiError::bad_request(format!(
            "chunk must be within 1..={MAX_MARKDOWN_BYTES}"
        )));
    }
    let delay_ms = spec.delay_ms.unwrap_or(0);
    let deltas = text.chars().count().div_ceil(chunk) as u64;
    if delay_ms > MAX_MARKDOWN_DELAY_MS {
        return Err(ApiError::bad_request(format!(
            "delay_ms must be at most {MAX_MARKDOWN_DELAY_MS}"
        )));
    }
    if delay_ms.saturating_mul(deltas) > MAX_TOTAL_DELAY_MS {
        return Err(ApiError::bad_request(format!(
            "the delays add up to more than {MAX_TOTAL_DELAY_MS} ms"
        )));
    }
    let done = deltas + 1;
    let (next, drop_after) = match util::last_event_id(headers) {
        None => (0, spec.drop_after),
        Some(id) => {
            let seq = id
                .strip_prefix(MARKDOWN_SID)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|seq| seq.parse::<u64>().ok())
                .filter(|&seq| seq <= done)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Last-Event-ID {id:?} is not an event of this stream ({MARKDOWN_SID}:0 to {MARKDOWN_SID}:{done})"
                    ))
                })?;
            if seq == done {
                // Everything, `done` included, was delivered: tell EventSource to stop.
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            (seq + 1, None)
        }
    };
    let permit = Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))?;
    let skip = usize::try_from(next.saturating_sub(1)).unwrap_or(usize::MAX);
    let pos = text
        .char_indices()
        .nth(skip.saturating_mul(chunk))
        .map_or(text.len(), |(i, _)| i);
    let body = MarkdownBody {
        text,
        pos,
        chunk,
        next,
        done,
        delay: Duration::from_millis(delay_ms),
        drop_after,
        breaking: false,
        shutdown: state.config.shutdown.clone(),
        _permit: permit,
    };
    let mut response = Response::new(Body::from_stream(body.into_stream()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    util::stream_headers(response.headers_mut());
    Ok(response)
}

/// The body of one `/test/markdown` connection, from event `next` to `done`.
struct MarkdownBody {
    text: String,
    /// Byte offset of the next delta's text.
    pos: usize,
    chunk: usize,
    next: u64,
    /// The sequence number of `done` (the number of deltas + 1).
    done: u64,
    delay: Duration,
    drop_after: Option<u64>,
    /// `drop_after` was reached: the next poll breaks the connection.
    breaking: bool,
    shutdown: Option<watch::Receiver<bool>>,
    _permit: OwnedSemaphorePermit,
}

impl MarkdownBody {
    fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::unfold(self, |mut body| async move {
            let item = body.next_event().await?;
            Some((item, body))
        })
    }

    async fn next_event(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.breaking {
            self.next = u64::MAX;
            self.breaking = false;
            // Let hyper flush the events already written, then break the connection.
            tokio::time::sleep(crate::chat::FLUSH_PAUSE).await;
            return Some(Err(std::io::Error::other("drop_after reached")));
        }
        let seq = self.next;
        let event = if seq == 0 {
            let data = serde_json::json!({ "stream_id": MARKDOWN_SID, "model": "markdown-test" });
            format!("retry: 1000\nevent: start\nid: {MARKDOWN_SID}:0\ndata: {data}\n\n")
        } else if seq < self.done {
            if !self.delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(self.delay) => {}
                    () = util::shutdown_signal(self.shutdown.clone()) => return None,
                }
            }
            let rest = &self.text[self.pos..];
            let end = rest
                .char_indices()
                .nth(self.chunk)
                .map_or(rest.len(), |(i, _)| i);
            self.pos += end;
            let data = serde_json::json!({ "text": &rest[..end] });
            format!("event: delta\nid: {MARKDOWN_SID}:{seq}\ndata: {data}\n\n")
        } else if seq == self.done {
            format!("event: done\nid: {MARKDOWN_SID}:{seq}\ndata: {{\"reason\":\"finished\"}}\n\n")
        } else {
            return None;
        };
        self.next += 1;
        if self.drop_after == Some(seq) {
            self.breaking = true;
        }
        Some(Ok(Bytes::from(event)))
    }
}
