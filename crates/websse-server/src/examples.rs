//! The classic example streams of SSE tutorials, for the app's inspector page, and their list at
//! `GET /api/examples`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;

use crate::errors::ApiError;
use crate::{SharedState, util};

/// Most events of a finite example stream.
const MAX_COUNT: u64 = 10_000;
/// Longest interval between events.
const MAX_INTERVAL_MS: u64 = 60_000;
/// Longest typewriter text, in characters.
const MAX_TEXT_CHARS: usize = 2_000;

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/examples", get(list))
        .route("/api/examples/events", get(events))
        .route("/api/examples/clock", get(clock))
        .route(
            "/api/examples/json-stream",
            get(json_stream).post(json_stream),
        )
        .route("/api/examples/ndjson", get(ndjson).post(ndjson))
        .route("/api/examples/ticker", get(ticker))
        .route("/api/examples/typewriter", get(typewriter))
}

/// One entry of `GET /api/examples`.
#[derive(Debug, Serialize)]
struct ExampleInfo {
    name: &'static str,
    url: &'static str,
    method: &'static str,
    description: &'static str,
    /// Named event types worth listening for (EventSource needs them spelled out).
    event_types: &'static [&'static str],
    /// How to cut the body into messages: `sse`, `ndjson` or `raw`.
    framing: &'static str,
    /// Query (GET) or JSON body (POST) parameters it understands.
    params: &'static [&'static str],
}

const EXAMPLES: &[ExampleInfo] = &[
    ExampleInfo {
        name: "events",
        url: "/api/examples/events?count=5&interval_ms=500",
        method: "GET",
        description: "Named `update` events with id, retry and JSON data, then a final `end` event; \
            the stream ends after `count` events. Reconnecting with Last-Event-ID continues after \
            that id, and once everything was sent the answer is 204 so EventSource stops.",
        event_types: &["update", "end"],
        framing: "sse",
        params: &["count", "interval_ms"],
    },
    ExampleInfo {
        name: "clock",
        url: "/api/examples/clock?interval_ms=1000",
        method: "GET",
        description: "A named `connecttime` event with the time of connection, then the current \
            time as an unnamed message every interval, forever.",
        event_types: &["connecttime", "message"],
        framing: "sse",
        params: &["interval_ms"],
    },
    ExampleInfo {
        name: "json-stream",
        url: "/api/examples/json-stream",
        method: "POST",
        description: "Raw JSON objects written one per chunk with no SSE framing and no \
            separators (content type application/json); read it with raw framing.",
        event_types: &[],
        framing: "raw",
        params: &["count", "interval_ms"],
    },
    ExampleInfo {
        name: "ndjson",
        url: "/api/examples/ndjson",
        method: "POST",
        description: "Newline-delimited JSON (application/x-ndjson): one JSON object per line; \
            GET works too.",
        event_types: &[],
        framing: "ndjson",
        params: &["count", "interval_ms"],
    },
    ExampleInfo {
        name: "ticker",
        url: "/api/examples/ticker?interval_ms=1000",
        method: "GET",
        description: "An endless ticker: an unnamed message with a counter and id every \
            interval; resumes after Last-Event-ID.",
        event_types: &["message"],
        framing: "sse",
        params: &["interval_ms"],
    },
    ExampleInfo {
        name: "typewriter",
        url: "/api/examples/typewriter?text=Hello%2C%20SSE!&interval_ms=80",
        method: "GET",
        description: "One character per `char` event, then a `done` event; ids count characters \
            and resume after Last-Event-ID.",
        event_types: &["char", "done"],
        framing: "sse",
        params: &["text", "interval_ms"],
    },
];

/// `GET /api/examples`
async fn list() -> Response {
    #[derive(Serialize)]
    struct List {
        examples: &'static [ExampleInfo],
    }
    axum::Json(List { examples: EXAMPLES }).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    count: Option<u64>,
    interval_ms: Option<u64>,
    text: Option<String>,
}

impl Params {
    fn count(&self, default: u64) -> Result<u64, ApiError> {
        match self.count {
            Some(n) if n > MAX_COUNT => Err(ApiError::bad_request(format!(
                "count must be at most {MAX_COUNT}"
            ))),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    }

    fn interval(&self, default_ms: u64) -> Result<Duration, ApiError> {
        match self.interval_ms {
            Some(ms) if ms > MAX_INTERVAL_MS => Err(ApiError::bad_request(format!(
                "interval_ms must be at most {MAX_INTERVAL_MS}"
            ))),
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(Duration::from_millis(default_ms)),
        }
    }
}

fn query(
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Params, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn permit(state: &SharedState) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))
}

/// The numeric part of `Last-Event-ID`, for the examples whose ids are counters.
fn resume_counter(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    util::last_event_id(headers)
        .map(|id| {
            id.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("Last-Event-ID {id:?} is not a number")))
        })
        .transpose()
}

/// The first counter to send: 1, or the one after `Last-Event-ID`; `None` when no counter
/// comes after it (answer 204).
fn next_counter(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    Ok(match resume_counter(headers)? {
        None => Some(1),
        Some(last) => last.checked_add(1),
    })
}

/// An SSE response with our headers, keep-alive comments, the stream permit and shutdown.
fn sse_response<S>(state: &SharedState, stream: S, permit: OwnedSemaphorePermit) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let stop = util::shutdown_signal(state.config.shutdown.clone());
    let stream = stream.take_until(stop).map(move |event| {
        let _held = &permit;
        Ok::<_, std::convert::Infallible>(event)
    });
    let mut response = Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(state.config.keep_alive)
                .text("keep-alive"),
        )
        .into_response();
    util::stream_headers(response.headers_mut());
    response
}

/// A stream that yields `f(i)` for `i` in `range`, sleeping `interval` before each but the first.
fn paced<T, F>(
    range: impl Iterator<Item = u64> + Send + 'static,
    interval: Duration,
    f: F,
) -> impl Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(u64) -> T + Send + 'static,
{
    let mut first = true;
    futures::stream::iter(range)
        .then(move |i| {
            let wait = !std::mem::replace(&mut first, false);
            async move {
                if wait && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                i
            }
        })
        .map(f)
}

/// `GET /api/examples/events?count=N&interval_ms=M`
async fn events(
    State(state): State<SharedState>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let count = params.count(5)?;
    let interval = params.interval(500)?;
    let Some(start) = next_counter(&headers)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if start > count + 1 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let permit = permit(&state)?;
    let stream = paced(start..=count + 1, interval, move |n| {
        if n > count {
            return Event::default()
                .event("end")
                .id(n.to_string())
                .data(serde_json::json!({ "total": count }).to_string());
        }
        let event = Event::default();
        let event = if n == start {
            event.retry(Duration::from_millis(3000))
        } else {
            event
        };
        event.event("update").id(n.to_string()).data(
            serde_json::json!({
                "n": n,
                "of": count,
                "time": util::format_utc(util::epoch_millis()),
            })
            .to_string(),
        )
    });
    Ok(sse_response(&state, stream, permit))
}

/// `GET /api/examples/clock`
async fn clock(
    State(state): State<SharedState>,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let interval = params.interval(1000)?.max(Duration::from_millis(10));
    let permit = permit(&state)?;
    let stream = paced(0.., interval, |i| {
        let now = util::format_utc(util::epoch_millis());
        if i == 0 {
            Event::default().event("connecttime").data(now)
        } else {
            Event::default().data(now)
        }
    });
    Ok(sse_response(&state, stream, permit))
}

/// `GET /api/examples/ticker`
async fn ticker(
    State(state): State<SharedState>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let interval = params.interval(1000)?.max(Duration::from_millis(10));
    let Some(start) = next_counter(&headers)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let permit = permit(&state)?;
    let stream = paced(start..=u64::MAX, interval, |n| {
        Event::default()
            .id(n.to_string())
            .data(serde_json::json!({ "tick": n }).to_string())
    });
    Ok(sse_response(&state, stream, permit))
}

/// `GET /api/examples/typewriter?text=...`
async fn typewriter(
    State(state): State<SharedState>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let interval = params.interval(80)?;
    let text = params
        .text
        .clone()
        .unwrap_or_else(|| "Hello from websse: one character per event.".to_owned());
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(format!(
            "text must be at most {MAX_TEXT_CHARS} characters"
        )));
    }
    let total = chars.len() as u64;
    let Some(start) = next_counter(&headers)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if start > total + 1 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let permit = permit(&state)?;
    let stream = paced(start..=total + 1, interval, move |n| {
        let Some(c) = usize::try_from(n - 1).ok().and_then(|i| chars.get(i)) else {
            return Event::default()
                .event("done")
                .id(n.to_string())
                .data(serde_json::json!({ "chars": total }).to_string());
        };
        // A data line cannot hold a line break; send it as JSON so every character round-trips.
        Event::default()
            .event("char")
            .id(n.to_string())
            .data(serde_json::json!({ "c": c.to_string() }).to_string())
    });
    Ok(sse_response(&state, stream, permit))
}

/// Parameters of the raw JSON examples: query on GET, optional JSON body on POST.
fn raw_params(
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Params, ApiError> {
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return query(params);
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON parameters: {e}")))
}

/// A raw (unframed) stream of `count` JSON objects, each followed by `separator`.
fn raw_response(
    state: &SharedState,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
    content_type: &'static str,
    separator: &'static str,
) -> Result<Response, ApiError> {
    let params = raw_params(params, body)?;
    let count = params.count(5)?;
    let interval = params.interval(300)?;
    let permit = permit(state)?;
    let stop = util::shutdown_signal(state.config.shutdown.clone());
    let stream = paced(1..=count, interval, move |n| {
        let object = serde_json::json!({
            "n": n,
            "of": count,
            "time": util::format_utc(util::epoch_millis()),
        });
        Bytes::from(format!("{object}{separator}"))
    })
    .take_until(stop)
    .map(move |bytes| {
        let _held = &permit;
        Ok::<_, std::convert::Infallible>(bytes)
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    util::stream_headers(response.headers_mut());
    Ok(response)
}

/// `POST /api/examples/json-stream`: JSON objects back to back, one per chunk, no framing.
async fn json_stream(
    State(state): State<SharedState>,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    raw_response(&state, params, body, "application/json", "")
}

/// `GET|POST /api/examples/ndjson`: one JSON object per line.
async fn ndjson(
    State(state): State<SharedState>,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    raw_response(&state, params, body, "application/x-ndjson", "\n")
}
