//! The chat API: `GET|POST /api/chat` start an answer, `GET /api/chat/{sid}` (or any of them with
//! `Last-Event-ID: <sid>:<seq>`) resumes one.
//!
//! An answer is generated once, by a background task (the embedded model below, or
//! [`upstream`]), into an [`Answer`] kept in the [`AnswerStore`](crate::answer::AnswerStore);
//! every connection is only a reader with a cursor into it. That is what makes
//! resume exact: a reconnecting client gets the stored tokens after its cursor, then the live ones
//! as they are produced, and nothing twice.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::answer::{Answer, AnswerState, DoneReason, Message};
use crate::errors::ApiError;
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
        return resume(&state, sid, Some(seq));
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
    start(&state, request)
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
        return resume(&state, sid, Some(seq));
    }
    let body: ChatBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid chat request body: {e}")))?;
    let request = ChatRequest::new(body.messages, body.knobs, state.config.default_speed)?;
    start(&state, request)
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
    resume(&state, &sid, seq)
}

fn acquire(state: &SharedState) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))
}

fn start(state: &SharedState, request: ChatRequest) -> Result<Response, ApiError> {
    let permit = acquire(state)?;
    let model = match &state.config.upstream {
        Some(up) if request.bench_tokens.is_none() => up.model.clone(),
        _ => DEMO_MODEL.to_owned(),
    };
    let answer = state.answers.create(model)?;
    let shutdown = state.config.shutdown.clone();
    match (&state.config.upstream, request.bench_tokens) {
        (Some(up), None) => {
            tokio::spawn(upstream::generate(
                state.http.clone(),
                up.clone(),
                Arc::clone(&answer),
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
                Arc::clone(&answer),
                tokens,
                request.pace,
                request.max_tokens,
                shutdown,
            ));
        }
    }
    tracing::debug!(sid = %answer.sid, "answer started");
    Ok(stream_response(
        state,
        answer,
        0,
        request.drop_after,
        permit,
    ))
}

fn resume(state: &SharedState, sid: &str, after: Option<u64>) -> Result<Response, ApiError> {
    let answer = state
        .answers
        .get(sid)
        .ok_or_else(|| ApiError::not_found(format!("unknown or expired stream id {sid:?}")))?;
    let next = match after {
        None => 0,
        Some(seq) => {
            let s = answer.state();
            let done_seq = s.tokens.len() as u64 + 1;
            if s.done.is_some() && seq >= done_seq {
                // Everything, `done` included, was delivered: tell EventSource to stop.
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            if seq >= done_seq {
                return Err(ApiError::bad_request(format!(
                    "Last-Event-ID {sid}:{seq} is ahead of the stream (at {sid}:{})",
                    done_seq - 1
                )));
            }
            seq.saturating_add(1)
        }
    };
    let permit = acquire(state)?;
    Ok(stream_response(state, answer, next, None, permit))
}

/// The SSE response reading `answer` from event `next` on.
fn stream_response(
    state: &SharedState,
    answer: Arc<Answer>,
    next: u64,
    drop_after: Option<u64>,
    permit: OwnedSemaphorePermit,
) -> Response {
    let sid = answer.sid.clone();
    let reader = Reader::new(answer, next, drop_after, permit);
    let sse = Sse::new(reader.into_stream()).keep_alive(
        KeepAlive::new()
            .interval(state.config.keep_alive)
            .text("keep-alive"),
    );
    let mut response = sse.into_response();
    util::stream_headers(response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&sid) {
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

enum Phase {
    Streaming,
    /// `drop_after` was reached: the next poll breaks the connection.
    Break,
    Ended,
}

/// One connection's view of an answer: a cursor and the events not yet sent.
struct Reader {
    answer: Arc<Answer>,
    rx: watch::Receiver<AnswerState>,
    next: u64,
    pending: VecDeque<(u64, Event)>,
    done_queued: bool,
    drop_after: Option<u64>,
    phase: Phase,
    _permit: OwnedSemaphorePermit,
}

impl Reader {
    fn new(
        answer: Arc<Answer>,
        next: u64,
        drop_after: Option<u64>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let rx = answer.subscribe();
        Self {
            answer,
            rx,
            next,
            pending: VecDeque::new(),
            done_queued: false,
            drop_after,
            phase: Phase::Streaming,
            _permit: permit,
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, std::io::Error>> + Send + 'static {
        futures::stream::unfold(self, |mut reader| async move {
            let item = reader.next_item().await?;
            Some((item, reader))
        })
    }

    /// Queue every event from `self.next` that the answer already has.
    fn collect(&mut self) {
        let answer = Arc::clone(&self.answer);
        let state = self.rx.borrow_and_update();
        if self.next == 0 {
            let data = to_json(&StartData {
                stream_id: &answer.sid,
                model: &answer.model,
            });
            let event = Event::default()
                .retry(Duration::from_millis(1000))
                .event("start")
                .id(event_id(&answer.sid, 0))
                .data(data);
            self.pending.push_back((0, event));
            self.next = 1;
        }
        let produced = state.tokens.len() as u64;
        while self.next <= produced {
            let index = usize::try_from(self.next - 1).unwrap_or(usize::MAX);
            let Some(token) = state.tokens.get(index) else {
                break;
            };
            let event = Event::default()
                .event("delta")
                .id(event_id(&answer.sid, self.next))
                .data(to_json(&DeltaData { text: token }));
            self.pending.push_back((self.next, event));
            self.next += 1;
        }
        if state.done.is_some() && self.next > produced + 1 {
            // Nothing more will come (cannot happen for a validated cursor; end rather than hang).
            self.done_queued = true;
        }
        if let Some(reason) = &state.done
            && self.next == produced + 1
        {
            let (reason, message) = match reason {
                DoneReason::Finished => ("finished", None),
                DoneReason::Stopped => ("stopped", None),
                DoneReason::Error(m) => ("error", Some(m.as_str())),
            };
            let event = Event::default()
                .event("done")
                .id(event_id(&answer.sid, self.next))
                .data(to_json(&DoneData { reason, message }));
            self.pending.push_back((self.next, event));
            self.next += 1;
            self.done_queued = true;
        }
    }

    async fn next_item(&mut self) -> Option<Result<Event, std::io::Error>> {
        loop {
            match self.phase {
                Phase::Ended => return None,
                Phase::Break => {
                    self.phase = Phase::Ended;
                    // Let hyper flush the events already written before the connection breaks.
                    tokio::time::sleep(FLUSH_PAUSE).await;
                    return Some(Err(std::io::Error::other(
                        "drop_after reached: breaking the connection",
                    )));
                }
                Phase::Streaming => {}
            }
            if let Some((seq, event)) = self.pending.pop_front() {
                if self.drop_after == Some(seq) {
                    self.phase = Phase::Break;
                }
                return Some(Ok(event));
            }
            if self.done_queued {
                self.phase = Phase::Ended;
                return None;
            }
            self.collect();
            if self.pending.is_empty() && self.rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.answer.unsubscribe();
    }
}

/// The embedded model: write `tokens` into `answer` at `pace`.
async fn generate(
    answer: Arc<Answer>,
    tokens: Vec<String>,
    pace: Pace,
    max_tokens: Option<u64>,
    shutdown: Option<watch::Receiver<bool>>,
) {
    let stop_rx = shutdown.clone();
    let stop = util::shutdown_signal(shutdown);
    tokio::pin!(stop);
    let mut due = tokio::time::Instant::now();
    let mut since_yield = 0u32;
    for (i, token) in tokens.into_iter().enumerate() {
        if max_tokens.is_some_and(|max| i as u64 >= max) || answer.abandoned() {
            answer.finish(DoneReason::Stopped);
            return;
        }
        due += pace.delay(&token);
        if due > tokio::time::Instant::now() {
            since_yield = 0;
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = &mut stop => {
                    answer.finish(DoneReason::Stopped);
                    return;
                }
            }
        } else {
            // Behind schedule (a very fast pace): let the readers run now and then.
            since_yield += 1;
            if since_yield >= 64 {
                since_yield = 0;
                tokio::task::yield_now().await;
                if util::is_shutting_down(stop_rx.as_ref()) {
                    answer.finish(DoneReason::Stopped);
                    return;
                }
            }
        }
        answer.push(token);
    }
    answer.finish(DoneReason::Finished);
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
