//! Server-Sent Events in the browser: one [`Stream`](futures_core::Stream) over the native
//! [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource) and over
//! [`fetch`](https://developer.mozilla.org/en-US/docs/Web/API/Window/fetch) +
//! [`ReadableStream`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream).
//!
//! Describe the request with [`SseRequest`], [`open`](SseRequest::open) it into an
//! [`EventStream`], and poll it. Both transports yield the same [`Item`]s: a [`Message`] (type,
//! data, last event id; parsed by [`websse_core`]) or a [`ConnectionState`] change.
//!
//! ```no_run
//! use futures::StreamExt;
//! use websse::{ConnectionState, Item, ReconnectPolicy, SseRequest, Transport};
//!
//! #[derive(serde::Deserialize)]
//! struct Delta {
//!     text: String,
//! }
//!
//! async fn chat(token: String) -> Result<String, websse::Error> {
//!     // fetch + ReadableStream: POST with a JSON body and headers; reconnects with
//!     // Last-Event-ID and backoff; dropping `stream` aborts the request.
//!     let mut stream = SseRequest::post("/api/chat")
//!         .json(&serde_json::json!({"messages": [{"role": "user", "content": "What is SSE?"}]}))?
//!         .headers_with(move || vec![("Authorization".into(), format!("Bearer {token}"))])
//!         .reconnect(ReconnectPolicy { max_attempts: Some(5), ..ReconnectPolicy::default() })
//!         .idle_timeout(std::time::Duration::from_secs(30))
//!         .open()?;
//!     let mut answer = String::new();
//!     while let Some(item) = stream.next().await {
//!         match item? {
//!             Item::Message(msg) if msg.event_type() == "delta" => {
//!                 answer.push_str(&msg.json::<Delta>()?.text);
//!             }
//!             Item::Message(msg) if msg.event_type() == "done" => break,
//!             Item::Message(_) => {}
//!             Item::State(ConnectionState::Reconnecting { attempt, delay }) => {
//!                 web_sys_log(&format!("reconnect #{attempt} in {delay:?}"));
//!             }
//!             Item::State(_) => {}
//!         }
//!     }
//!     Ok(answer)
//! }
//!
//! async fn ticker() -> Result<(), websse::Error> {
//!     // The native EventSource: GET only, the browser reconnects by itself. Name the event
//!     // types you want besides `message`.
//!     let mut messages = SseRequest::get("/api/examples/ticker")
//!         .transport(Transport::EventSource)
//!         .events(["tick"])
//!         .open()?
//!         .messages(); // skip state items
//!     while let Some(msg) = messages.next().await {
//!         let msg = msg?;
//!         web_sys_log(&format!("{} {}: {}", msg.last_event_id(), msg.event_type(), msg.data()));
//!     }
//!     Ok(())
//! }
//! # fn web_sys_log(_: &str) {}
//! ```
//!
//! # The stream contract
//! - It ends with `None` after a clean close: `204 No Content`, the [done
//!   sentinel](SseRequest::done_on_data), or a lost connection when the [`ReconnectPolicy`]
//!   allows no more attempts. A [`ConnectionState::Closed`] item comes just before.
//! - It ends with one fatal [`Error`] item followed by `None` after a failure (a 404, a
//!   `text/html` answer, an EventSource the browser closed, ...). [`Error::EventTooLarge`] is the
//!   one non-fatal error: the oversize event is skipped and the stream carries on.
//! - It is a [`FusedStream`](futures_core::FusedStream); [`EventStream::close`] ends it at once.
//! - Dropping it releases everything: the fetch is aborted through its `AbortController`, the
//!   body reader is cancelled, the EventSource is closed, every listener is removed and every
//!   timer cleared. No closure is ever leaked with `Closure::forget`.
//!
//! # The fetch transport
//! Behaves like the spec's EventSource where the spec speaks: `Accept: text/event-stream`, cache
//! mode `no-store`, and no other header unless asked (a cross-origin GET stays a simple request);
//! status 200 with `text/event-stream` (parameters ignored) opens; a network error or the end of
//! the body reconnects after the server's `retry` time, sending `Last-Event-ID` when the last event
//! id is not empty. Beyond the spec: 204 ends cleanly; 408, 429 and 5xx are retried (honouring
//! `Retry-After`) while other statuses are fatal; exponential backoff with jitter and a cap;
//! headers recomputed before each connect; an idle timeout; NDJSON and raw text [`Framing`]s; a
//! pause while the page is hidden.
//!
//! On targets other than `wasm32` the types compile (so shared code and unit tests build) but
//! [`SseRequest::open`] returns [`Error::UnsupportedTarget`].
#![deny(missing_docs)]

mod error;
// The framers and the response rules are used by the wasm fetch transport; natively they are
// compiled for their unit tests only.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod framing;
mod message;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod policy;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod request;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod stream;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use error::Error;
pub use message::{ConnectionState, Item, Message};
pub use policy::ReconnectPolicy;
pub use request::{Credentials, Framing, SseRequest, Transport};
pub use stream::{EventStream, Messages};
pub use websse_core;
