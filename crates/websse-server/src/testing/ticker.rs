//! `GET /test/ticker/{key}`: a resumable stream of numbered events on a steady clock.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::errors::ApiError;
use crate::{SharedState, util};

use super::check_key;
use super::store::{LogGuard, Outcome, TestStore};

pub(super) fn routes() -> Router<SharedState> {
    Router::new().route("/test/ticker/{key}", get(ticker))
}

/// Most events of one ticker.
const MAX_TICKS: u64 = 10_000;
/// Shortest and longest interval between ticks.
const TICK_INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=10_000;

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
    let mut response = util::event_stream(Body::from_stream(body.into_stream()));
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
