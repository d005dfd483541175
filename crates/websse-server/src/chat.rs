//! The chat API: `GET|POST /api/chat` start an answer, `GET /api/chat/{sid}` (or any of them with
//! `Last-Event-ID: <sid>:<seq>`) resumes one.
//!
//! An answer is generated once, by a background task (the embedded model below, or
//! [`upstream`]), into the answer log ([`crate::store`], in memory or in Redis); every
//! connection is only a reader with a cursor into it, and `POST /api/chat/{sid}/stop` is the one
//! way to end a generation early (a reader that goes away does not). That is what makes
//! resume exact: a reconnecting client gets the stored tokens after its cursor, then the live ones
//! as they are produced, and nothing twice.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::answer::Message;
use crate::errors::ApiError;
use crate::store::{Cursor, EndReason, Entry, OpenError, Producer};
use crate::{SharedState, model, upstream, util};

/// The model name announced in the `start` event of the embedded model.
pub(crate) const DEMO_MODEL: &str = "websse-demo";
/// Largest `bench_tokens`.
const MAX_BENCH_TOKENS: u64 = 100_000;
/// Largest pace, in characters or tokens per second.
const MAX_SPEED: f64 = 1_000_000.0;
/// Pause before breaking a connection on purpose, so what was written reaches the client.
pub(crate) const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// Knobs shared by the POST body (flattened into it) and the GET query (its own `Query`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Knobs {
    speed: Option<f64>,
    tokens_per_second: Option<f64>,
    bench_tokens: Option<u64>,
    drop_after: Option<u64>,
    max_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ChatBody {
    messages: Vec<Message>,
    #[serde(flatten)]
    knobs: Knobs,
}

/// The GET form's prompt. Its knobs are read as a second `Query<Knobs>` from the same query
/// string (unknown keys are ignored), not with `#[serde(flatten)]`, which loses number types in
/// query strings.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatQuery {
    prompt: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResumeQuery {
    last_event_id: Option<String>,
}

/// How fast the embedded model writes.
#[derive(Debug, Clone, Copy)]
enum Pace {
    CharsPerSecond(f64),
    TokensPerSecond(f64),
}

impl Pace {
    fn delay(self, token: &str) -> Duration {
        match self {
            Pace::CharsPerSecond(cps) => {
                let chars = token.chars().count().max(1);
                Duration::from_secs_f64(chars as f64 / cps)
            }
            Pace::TokensPerSecond(tps) => Duration::from_secs_f64(1.0 / tps),
        }
    }
}

fn check_rate(name: &str, value: Option<f64>) -> Result<Option<f64>, ApiError> {
    match value {
        Some(v) if !(v.is_finite() && v > 0.0 && v <= MAX_SPEED) => Err(ApiError::bad_request(
            format!("{name} must be a number above 0 and at most {MAX_SPEED}"),
        )),
        other => Ok(other),
    }
}

/// A validated chat request.
#[derive(Debug)]
struct ChatRequest {
    messages: Vec<Message>,
    pace: Pace,
    bench_tokens: Option<u64>,
    drop_after: Option<u64>,
    max_tokens: Option<u64>,
}

impl ChatRequest {
    fn new(messages: Vec<Message>, knobs: Knobs, default_speed: f64) -> Result<Self, ApiError> {
        let speed = check_rate("speed", knobs.speed)?;
        let tps = check_rate("tokens_per_second", knobs.tokens_per_second)?;
        let pace = match (tps, speed) {
            (Some(tps), _) => Pace::TokensPerSecond(tps),
            (None, Some(speed)) => Pace::CharsPerSecond(speed),
            (None, None) if default_speed.is_finite() => {
                Pace::CharsPerSecond(default_speed.clamp(1.0, MAX_SPEED))
            }
            (None, None) => Pace::CharsPerSecond(30.0),
        };
        if knobs.bench_tokens.is_some_and(|n| n > MAX_BENCH_TOKENS) {
            return Err(ApiError::bad_request(format!(
                "bench_tokens must be at most {MAX_BENCH_TOKENS}"
            )));
        }
        if knobs.bench_tokens.is_none() && !messages.iter().any(|m| m.role == "user") {
            return Err(ApiError::bad_request(
                "messages must contain at least one message with role \"user\"",
            ));
        }
        Ok(Self {
            messages,
            pace,
            bench_tokens: knobs.bench_tokens,
            drop_after: knobs.drop_after,
            max_tokens: knobs.max_tokens,
        })
    }

    fn prompt(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str())
    }
}

/// `Last-Event-ID: <sid>:<seq>` split in two.
fn parse_event_id(id: &str) -> Result<(&str, u64), ApiError> {
    let malformed = || {
        ApiError::bad_request(format!(
            "Last-Event-ID {id:?} is not of the form <stream id>:<seq>"
        ))
    };
    let (sid, seq) = id.rsplit_once(':').ok_or_else(malformed)?;
    let seq = seq.parse::<u64>().map_err(|_| malformed())?;
    if sid.is_empty() {
        return Err(malformed());
    }
    Ok((sid, seq))
}

/// `GET /api/chat?prompt=...`
pub(crate) async fn get_chat(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: Result<Query<ChatQuery>, axum::extract::rejection::QueryRejection>,
    knobs: Result<Query<Knobs>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if let Some(id) = util::last_event_id(&headers) {
        let (sid, seq) = parse_event_id(id)?;
        return resume(&state, sid, Some(seq)).await;
    }
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Query(knobs) = knobs.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let prompt = match (query.prompt, knobs.bench_tokens) {
        (Some(prompt), _) => prompt,
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(ApiError::bad_request("missing query parameter \"prompt\""));
        }
    };
    let messages = vec![Message {
        role: "user".to_owned(),
        content: prompt,
    }];
    let request = ChatRequest::new(messages, knobs, state.config.default_speed)?;
    start(&state, request).await
}

/// `POST /api/chat` with `{"messages":[...], ...knobs}`.
pub(crate) async fn post_chat(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    if let Some(id) = util::last_event_id(&headers) {
        let (sid, seq) = parse_event_id(id)?;
        return resume(&state, sid, Some(seq)).await;
    }
    let body: ChatBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid chat request body: {e}")))?;
    let request = ChatRequest::new(body.messages, body.knobs, state.config.default_speed)?;
    start(&state, request).await
}

/// `GET /api/chat/{sid}`, resuming after `Last-Event-ID` (or `?last_event_id=`), or replaying the
/// whole answer without either.
pub(crate) async fn resume_chat(
    State(state): State<SharedState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, ApiError> {
    let id = util::last_event_id(&headers)
        .map(str::to_owned)
        .or(query.last_event_id);
    let seq = match id {
        Some(id) => {
            let (id_sid, seq) = parse_event_id(&id)?;
            if id_sid != sid {
                return Err(ApiError::bad_request(format!(
                    "Last-Event-ID {id:?} belongs to another stream than {sid:?}"
                )));
            }
            Some(seq)
        }
        None => None,
    };
    resume(&state, &sid, seq).await
}

fn acquire(state: &SharedState) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))
}

fn store_unavailable(e: &impl std::fmt::Display) -> ApiError {
    tracing::warn!("answer store failed: {e}");
    ApiError::busy(format!("the answer store is unavailable: {e}"))
}

async fn start(state: &SharedState, request: ChatRequest) -> Result<Response, ApiError> {
    let permit = acquire(state)?;
    let model = match &state.config.upstream {
        Some(up) if request.bench_tokens.is_none() => up.model.clone(),
        _ => DEMO_MODEL.to_owned(),
    };
    let producer = match state.answers.create(&model).await {
        Ok(producer) => producer,
        Err(OpenError::Store(e)) => return Err(store_unavailable(&e)),
        Err(other) => return Err(store_unavailable(&format!("{other:?}"))),
    };
    let sid = producer.sid().to_owned();
    let cursor = match state.answers.open(&sid, 0).await {
        Ok(cursor) => cursor,
        Err(e) => return Err(store_unavailable(&format!("{e:?}"))),
    };
    let shutdown = state.config.shutdown.clone();
    match (&state.config.upstream, request.bench_tokens) {
        (Some(up), None) => {
            tokio::spawn(upstream::generate(
                state.http.clone(),
                up.clone(),
                producer,
                request.messages.clone(),
                request.max_tokens,
                shutdown,
            ));
        }
        (_, bench) => {
            let tokens = match bench {
                Some(n) => model::bench_tokens(n),
                None => model::tokenize(&model::answer(request.prompt())),
            };
            tokio::spawn(generate(
                producer,
                tokens,
                request.pace,
                request.max_tokens,
                shutdown,
            ));
        }
    }
    tracing::debug!(%sid, "answer started");
    Ok(stream_response(
        state,
        sid,
        cursor,
        0,
        request.drop_after,
        permit,
    ))
}

/// Resume `sid` after event `after` (from the start without one).
///
/// An id whose events the log no longer holds (the answer expired, was evicted or trimmed, or
/// never existed) gets `410 Gone`, so a client never continues across a gap; an unknown answer
/// without an id is `404`.
async fn resume(state: &SharedState, sid: &str, after: Option<u64>) -> Result<Response, ApiError> {
    let from = after.map_or(0, |seq| seq.saturating_add(1));
    let permit = acquire(state)?;
    match state.answers.open(sid, from).await {
        Ok(cursor) => Ok(stream_response(
            state,
            sid.to_owned(),
            cursor,
            from,
            None,
            permit,
        )),
        Err(OpenError::Unknown) if after.is_none() => Err(ApiError::not_found(format!(
            "unknown or expired stream id {sid:?}"
        ))),
        Err(OpenError::Unknown | OpenError::Gone) => Err(ApiError::new(
            StatusCode::GONE,
            "gone",
            format!(
                "the events after {sid}:{} are no longer kept (the answer expired or was trimmed)",
                after.unwrap_or_default()
            ),
        )),
        // Everything, `done` included, was delivered: tell EventSource to stop.
        Err(OpenError::Complete) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(OpenError::Ahead { last }) => Err(ApiError::bad_request(format!(
            "Last-Event-ID {sid}:{} is ahead of the stream (at {sid}:{last})",
            after.unwrap_or_default()
        ))),
        Err(OpenError::Store(e)) => Err(store_unavailable(&e)),
    }
}

/// `POST /api/chat/{sid}/stop`: end the generation of `sid` with reason `stopped`, on whichever
/// instance produces it. `202 Accepted`: every reader will see the end shortly.
pub(crate) async fn stop_chat(
    State(state): State<SharedState>,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    match state.answers.stop(&sid).await {
        Ok(true) => {
            tracing::info!(%sid, "stop requested");
            Ok((
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "stream_id": sid })),
            )
                .into_response())
        }
        Ok(false) => Err(ApiError::not_found(format!(
            "unknown or expired stream id {sid:?}"
        ))),
        Err(e) => Err(store_unavailable(&e)),
    }
}

/// The SSE response reading the log of `sid` with `cursor`, positioned at `from`.
fn stream_response(
    state: &SharedState,
    sid: String,
    cursor: Box<dyn Cursor>,
    from: u64,
    drop_after: Option<u64>,
    permit: OwnedSemaphorePermit,
) -> Response {
    tracing::info!(%sid, from, "stream opened");
    let header = HeaderValue::from_str(&sid).ok();
    let reader = Reader {
        cursor,
        sid,
        drop_after,
        phase: Phase::Streaming,
        sent: 0,
        closed: None,
        _permit: permit,
    };
    let sse = Sse::new(reader.into_stream()).keep_alive(
        KeepAlive::new()
            .interval(state.config.keep_alive)
            .text("keep-alive"),
    );
    let mut response = sse.into_response();
    util::stream_headers(response.headers_mut());
    if let Some(value) = header {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-stream-id"), value);
    }
    response
}

#[derive(Serialize)]
struct StartData<'a> {
    stream_id: &'a str,
    model: &'a str,
}

#[derive(Serialize)]
struct DeltaData<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct DoneData<'a> {
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The event id `<sid>:<seq>`.
fn event_id(sid: &str, seq: u64) -> String {
    format!("{sid}:{seq}")
}

/// The SSE event of one log entry.
fn entry_event(sid: &str, seq: u64, entry: &Entry) -> Event {
    match entry {
        Entry::Start { model } => Event::default()
            .retry(Duration::from_millis(1000))
            .event("start")
            .id(event_id(sid, seq))
            .data(to_json(&StartData {
                stream_id: sid,
                model,
            })),
        Entry::Delta(text) => Event::default()
            .event("delta")
            .id(event_id(sid, seq))
            .data(to_json(&DeltaData { text })),
        // Not an entry of the log: no id, so a client cannot resume "after" it.
        Entry::End(EndReason::Gone) => Event::default().event("done").data(to_json(&DoneData {
            reason: EndReason::Gone.as_str(),
            message: None,
        })),
        Entry::End(reason) => Event::default()
            .event("done")
            .id(event_id(sid, seq))
            .data(to_json(&DoneData {
                reason: reason.as_str(),
                message: reason.message(),
            })),
    }
}

enum Phase {
    Streaming,
    /// `drop_after` was reached: the next poll breaks the connection.
    Break,
    Ended,
}

/// One connection's view of an answer: a cursor into its log.
struct Reader {
    cursor: Box<dyn Cursor>,
    sid: String,
    drop_after: Option<u64>,
    phase: Phase,
    sent: u64,
    /// Why the stream closed, once it did on our side; `None` at drop means the client went away.
    closed: Option<&'static str>,
    _permit: OwnedSemaphorePermit,
}

impl Reader {
    fn into_stream(self) -> impl Stream<Item = Result<Event, std::io::Error>> + Send + 'static {
        futures::stream::unfold(self, |mut reader| async move {
            let item = reader.next_item().await?;
            Some((item, reader))
        })
    }

    async fn next_item(&mut self) -> Option<Result<Event, std::io::Error>> {
        match self.phase {
            Phase::Ended => return None,
            Phase::Break => {
                self.phase = Phase::Ended;
                self.closed = Some("broken on purpose (drop_after)");
                // Let hyper flush the events already written before the connection breaks.
                tokio::time::sleep(FLUSH_PAUSE).await;
                return Some(Err(std::io::Error::other(
                    "drop_after reached: breaking the connection",
                )));
            }
            Phase::Streaming => {}
        }
        let (seq, entry) = match self.cursor.next().await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(sid = %self.sid, "reading the answer failed: {e}");
                self.phase = Phase::Ended;
                self.closed = Some("store error");
                let message = format!("the answer store failed: {e}");
                return Some(Ok(Event::default().event("done").data(to_json(
                    &DoneData {
                        reason: "error",
                        message: Some(&message),
                    },
                ))));
            }
        };
        let event = entry_event(&self.sid, seq, &entry);
        self.sent += 1;
        if let Entry::End(reason) = &entry {
            self.phase = Phase::Ended;
            self.closed = Some(reason.as_str());
        } else if self.drop_after == Some(seq) {
            self.phase = Phase::Break;
        }
        Some(Ok(event))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        tracing::info!(
            sid = %self.sid,
            events = self.sent,
            reason = self.closed.unwrap_or("client gone"),
            "stream closed"
        );
    }
}

/// The embedded model: write `tokens` into the log at `pace`, then its end.
async fn generate(
    mut producer: Box<dyn Producer>,
    tokens: Vec<String>,
    pace: Pace,
    max_tokens: Option<u64>,
    shutdown: Option<watch::Receiver<bool>>,
) {
    let reason = produce(producer.as_mut(), tokens, pace, max_tokens, shutdown).await;
    tracing::info!(sid = %producer.sid(), reason = reason.as_str(), "answer ended");
    producer.finish(reason).await;
}

async fn produce(
    producer: &mut dyn Producer,
    tokens: Vec<String>,
    pace: Pace,
    max_tokens: Option<u64>,
    shutdown: Option<watch::Receiver<bool>>,
) -> EndReason {
    let stop_now = producer.stop_requested();
    let shutdown_now = shutdown.clone();
    let stop = util::stop_signal(producer.stop_requested(), shutdown);
    tokio::pin!(stop);
    let mut due = tokio::time::Instant::now();
    let mut since_yield = 0u32;
    for (i, token) in tokens.into_iter().enumerate() {
        if max_tokens.is_some_and(|max| i as u64 >= max) {
            return EndReason::Stopped;
        }
        due += pace.delay(&token);
        if due > tokio::time::Instant::now() {
            since_yield = 0;
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = &mut stop => return EndReason::Stopped,
            }
        } else {
            // Behind schedule (a very fast pace): let the readers run now and then.
            since_yield += 1;
            if since_yield >= 64 {
                since_yield = 0;
                tokio::task::yield_now().await;
                if util::is_shutting_down(shutdown_now.as_ref()) || *stop_now.borrow() {
                    return EndReason::Stopped;
                }
            }
        }
        if let Err(e) = producer.push(&token).await {
            return EndReason::Error(format!("the answer store refused a delta: {e}"));
        }
    }
    EndReason::Finished
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse() {
        assert_eq!(parse_event_id("abc:3").ok(), Some(("abc", 3)));
        assert_eq!(parse_event_id("a:b:7").ok(), Some(("a:b", 7)));
        for bad in ["abc", ":3", "abc:", "abc:-1", "abc:x"] {
            assert!(parse_event_id(bad).is_err(), "{bad}");
        }
    }
}
