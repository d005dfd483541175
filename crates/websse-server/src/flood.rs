//! `GET /test/flood` (`--test-endpoints`): N small events at full speed, for the browser
//! throughput bench (`cargo xtask bench --throughput-only`).
//!
//! The body is known from the query alone, so a client can check what it received:
//!
//! ```text
//! id: 1                                     (only with ids=true)
//! data: 00000001xxxxxxxx                    (size bytes: the 8-digit event number, then filler)
//!
//! ...                                       (events 2..=N alike)
//!
//! event: end
//! data: N
//!
//! ```
//!
//! then the body ends. No `retry`, no comments, nothing else: N events of exactly `size` data
//! bytes each, N x size data bytes in all, then one `end` event that tells a client to stop
//! (otherwise an EventSource reconnects at the end of the body). The events go out in chunks of
//! about [`CHUNK`] bytes, written as fast as the connection takes them.
//!
//! So that the bench measures the client and not the server (which xtask runs as a debug build,
//! on the same cores as the browser), a body of at most [`CACHE_MAX`] bytes is rendered once and
//! kept: the bench asks for the same flood again and again, and a repeat is served as slices of
//! that one buffer, with no per-event work. Larger floods are rendered chunk by chunk as they go.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Router, extract::rejection::QueryRejection};
use futures::StreamExt;
use serde::Deserialize;

use crate::errors::ApiError;
use crate::{SharedState, util};

/// Most events in one flood.
pub(crate) const MAX_EVENTS: u64 = 2_000_000;
/// Smallest and largest `size` (data bytes per event): room for the 8-digit number, and small.
const SIZE_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
/// Most data bytes in one flood (events x size).
const MAX_DATA_BYTES: u64 = 64 * 1024 * 1024;
/// About how many body bytes go into one chunk.
const CHUNK: usize = 32 * 1024;
/// Largest body kept rendered for repeats (one is kept: the last one rendered).
const CACHE_MAX: u64 = 32 * 1024 * 1024;

/// The last flood rendered whole, and its parameters.
static RENDERED: Mutex<Option<(Params, Bytes)>> = Mutex::new(None);

pub(crate) fn routes() -> Router<SharedState> {
    Router::new().route("/test/flood", get(flood))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_events")]
    events: u64,
    #[serde(default = "default_size")]
    size: usize,
    #[serde(default)]
    ids: bool,
    /// The data as OpenAI-shaped JSON (see [`JSON_HEAD`]) rather than digits and filler.
    #[serde(default)]
    json: bool,
}

/// With `json=true`, an event's data is `JSON_HEAD`, the 8-digit number, `JSON_MID`, filler
/// (the delta's content), then `JSON_TAIL`: `size` bytes in all (at least [`JSON_MIN`]).
const JSON_HEAD: &str = "{\"id\":\"chatcmpl-";
const JSON_MID: &str = "\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
const JSON_TAIL: &str = "\"},\"finish_reason\":null}]}";
const JSON_MIN: usize = JSON_HEAD.len() + 8 + JSON_MID.len() + JSON_TAIL.len();

fn default_events() -> u64 {
    10_000
}

fn default_size() -> usize {
    16
}

/// `GET /test/flood?events=N&size=B&ids=false&json=false`
async fn flood(
    State(state): State<SharedState>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !(1..=MAX_EVENTS).contains(&params.events) {
        return Err(ApiError::bad_request(format!(
            "events must be within 1..={MAX_EVENTS}"
        )));
    }
    if !SIZE_RANGE.contains(&params.size) {
        return Err(ApiError::bad_request(format!(
            "size must be within {}..={}",
            SIZE_RANGE.start(),
            SIZE_RANGE.end()
        )));
    }
    if params.json && params.size < JSON_MIN {
        return Err(ApiError::bad_request(format!(
            "with json=true, size must be at least {JSON_MIN}"
        )));
    }
    if params.events.saturating_mul(params.size as u64) > MAX_DATA_BYTES {
        return Err(ApiError::bad_request(format!(
            "events x size must be at most {MAX_DATA_BYTES} bytes"
        )));
    }
    let permit = Arc::clone(&state.streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("too many open streams; try again shortly"))?;

    let chunks = match rendered(params).await {
        Some(body) => {
            let starts = (0..body.len()).step_by(CHUNK);
            futures::stream::iter(starts.map(move |at| body.slice(at..body.len().min(at + CHUNK))))
                .left_stream()
        }
        None => {
            let mut writer = Writer::new(params);
            futures::stream::iter(std::iter::from_fn(move || writer.next_chunk())).right_stream()
        }
    };
    let chunks = chunks
        .take_until(util::shutdown_signal(state.config.shutdown.clone()))
        .map(move |chunk| {
            let _held = &permit;
            Ok::<_, std::convert::Infallible>(chunk)
        });
    Ok(util::event_stream(Body::from_stream(chunks)))
}

/// The whole body of a flood of at most [`CACHE_MAX`] bytes, rendered once (`None`: larger).
async fn rendered(params: Params) -> Option<Bytes> {
    // An upper bound of the body's size: data, `data: ` and the blank line, an id line.
    let per_event = params.size as u64 + 8 + if params.ids { 12 } else { 0 };
    if params.events.saturating_mul(per_event) > CACHE_MAX {
        return None;
    }
    let cached = RENDERED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some((key, body)) = cached
        && key == params
    {
        return Some(body);
    }
    let body = tokio::task::spawn_blocking(move || {
        let mut writer = Writer::new(params);
        let chunks: Vec<Bytes> = std::iter::from_fn(|| writer.next_chunk()).collect();
        Bytes::from(chunks.concat())
    })
    .await
    .ok()?;
    *RENDERED.lock().unwrap_or_else(PoisonError::into_inner) = Some((params, body.clone()));
    Some(body)
}

/// Writes the flood's body a chunk at a time.
#[derive(Debug)]
struct Writer {
    params: Params,
    /// The next event number (1-based); `events + 1` is the `end` event, beyond it nothing.
    next: u64,
    /// What comes before the 8-digit number in every event's data.
    head: &'static [u8],
    /// What comes after it (filler, in JSON when `json`), the same for every event.
    filler: Vec<u8>,
}

impl Writer {
    fn new(params: Params) -> Writer {
        let fill = |n: usize| (0..n).map(|i| b'a' + (i % 26) as u8);
        let (head, filler) = if params.json {
            let content = params.size.saturating_sub(JSON_MIN);
            let mut tail = JSON_MID.as_bytes().to_vec();
            tail.extend(fill(content));
            tail.extend_from_slice(JSON_TAIL.as_bytes());
            (JSON_HEAD.as_bytes(), tail)
        } else {
            (&b""[..], fill(params.size - 8).collect())
        };
        Writer {
            params,
            next: 1,
            head,
            filler,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        let last = self.params.events;
        if self.next > last + 1 {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK + self.params.size + 64);
        while self.next <= last && out.len() < CHUNK {
            let n = self.next;
            if self.params.ids {
                out.extend_from_slice(b"id: ");
                out.extend_from_slice(n.to_string().as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(self.head);
            out.extend_from_slice(&eight_digits(n));
            out.extend_from_slice(&self.filler);
            out.extend_from_slice(b"\n\n");
            self.next += 1;
        }
        if self.next == last + 1 && out.len() < CHUNK {
            out.extend_from_slice(format!("event: end\ndata: {last}\n\n").as_bytes());
            self.next += 1;
        }
        Some(Bytes::from(out))
    }
}

/// `n` as 8 decimal digits, zero-padded (the number's last 8 digits; events stay below 10^8).
fn eight_digits(mut n: u64) -> [u8; 8] {
    let mut digits = [b'0'; 8];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(events: u64, size: usize, ids: bool) -> String {
        let mut writer = Writer::new(Params {
            events,
            size,
            ids,
            json: false,
        });
        let chunks: Vec<Bytes> = std::iter::from_fn(|| writer.next_chunk()).collect();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK + size + 64));
        String::from_utf8(chunks.concat()).expect("ascii")
    }

    #[test]
    fn events_carry_their_number_and_filler_then_an_end_event() {
        assert_eq!(
            body(3, 10, false),
            "data: 00000001ab\n\ndata: 00000002ab\n\ndata: 00000003ab\n\nevent: end\ndata: 3\n\n"
        );
        assert_eq!(
            body(2, 8, true),
            "id: 1\ndata: 00000001\n\nid: 2\ndata: 00000002\n\nevent: end\ndata: 2\n\n"
        );
    }

    #[test]
    fn json_data_is_openai_shaped_and_of_the_size_asked() {
        let mut writer = Writer::new(Params {
            events: 1,
            size: 200,
            ids: false,
            json: true,
        });
        let body = String::from_utf8(writer.next_chunk().unwrap().to_vec()).unwrap();
        let data = body.lines().next().unwrap().strip_prefix("data: ").unwrap();
        assert_eq!(data.len(), 200);
        let value: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(value["id"], "chatcmpl-00000001");
        assert_eq!(
            value["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .len(),
            200 - JSON_MIN
        );
    }

    #[test]
    fn a_large_flood_spans_many_chunks_and_loses_nothing() {
        let text = body(100_000, 16, false);
        let data: Vec<&str> = text
            .split("\n\n")
            .filter_map(|block| block.strip_prefix("data: "))
            .collect();
        assert_eq!(data.len(), 100_000);
        assert!(data.iter().all(|d| d.len() == 16));
        assert_eq!(data[99_999], "00100000abcdefgh");
        assert!(text.ends_with("event: end\ndata: 100000\n\n"));
    }
}
