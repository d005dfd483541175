//! `/test/markdown`: any text, streamed in the shape of a chat answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::answer::Message;
use crate::errors::ApiError;
use crate::{SharedState, util};

use super::MAX_TOTAL_DELAY_MS;

pub(super) fn routes() -> Router<SharedState> {
    Router::new().route("/test/markdown", get(markdown_get).post(markdown_post))
}

/// Longest text `/test/markdown` streams, in bytes.
const MAX_MARKDOWN_BYTES: usize = 256 * 1024;
/// Longest pause before one `/test/markdown` delta.
const MAX_MARKDOWN_DELAY_MS: u64 = 1_000;
/// The stream id in `/test/markdown`'s event ids (`md:<seq>`): the stream is a function of the
/// request, so there is nothing to look up on resume.
const MARKDOWN_SID: &str = "md";

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
    Ok(util::event_stream(Body::from_stream(body.into_stream())))
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
