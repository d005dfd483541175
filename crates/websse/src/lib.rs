//! Server-Sent Events in the browser: one [`Stream`](futures_core::Stream) over the native
//! [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource) and over
//! [`fetch`](https://developer.mozilla.org/en-US/docs/Web/API/Window/fetch) +
//! [`ReadableStream`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream).
//!
//! Describe the request with [`SseRequest`], [`open`](SseRequest::open) it into an
//! [`EventStream`], and poll it. Both transports yield the same [`Item`]s: a [`Message`] (type,
//! data, last event id; parsed by [`websse_core`]), a [`ConnectionState`] change, or a
//! [`Skipped`] notice when messages were lost and the stream carries on.
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
//! /// The app's credentials, shared by the header callback and the refresh hook.
//! #[derive(Clone, Default)]
//! struct Token(std::sync::Arc<std::sync::Mutex<String>>);
//!
//! impl Token {
//!     fn get(&self) -> String {
//!         self.0.lock().map(|t| t.clone()).unwrap_or_default()
//!     }
//!
//!     async fn refresh(self) {
//!         let fresh = fetch_new_token().await;
//!         if let Ok(mut token) = self.0.lock() {
//!             *token = fresh;
//!         }
//!     }
//! }
//!
//! async fn chat(token: Token) -> Result<String, websse::Error> {
//!     // fetch + ReadableStream: POST with a JSON body and headers; reconnects with
//!     // Last-Event-ID and backoff; dropping `stream` aborts the request.
//!     let mut stream = SseRequest::post("/api/chat")
//!         .json(&serde_json::json!({"messages": [{"role": "user", "content": "What is SSE?"}]}))
//!         .headers_with({
//!             let token = token.clone();
//!             move || vec![("Authorization".into(), format!("Bearer {}", token.get()))]
//!         })
//!         // A 401 (an expired token): refresh it, then reconnect at once with the same
//!         // Last-Event-ID; a second 401 in a row ends the stream with the error.
//!         .on_unauthorized(move || token.clone().refresh())
//!         .reconnect(ReconnectPolicy { max_attempts: Some(5), ..ReconnectPolicy::default() })
//!         .idle_timeout(std::time::Duration::from_secs(30))
//!         .open()?;
//!     let mut answer = String::new();
//!     while let Some(item) = stream.next().await {
//!         // An `Err` is fatal and the last item, so `?` is right here.
//!         match item? {
//!             Item::Message(msg) if msg.event_type() == "delta" => {
//!                 answer.push_str(&msg.json::<Delta>()?.text);
//!             }
//!             Item::Message(msg) if msg.event_type() == "done" => break,
//!             // "reconnecting (attempt 2, in 2 s): the server answered HTTP 503"
//!             Item::State(state @ ConnectionState::Reconnecting { .. }) => log(&state.to_string()),
//!             Item::Skipped(skipped) => log(&skipped.to_string()),
//!             _ => {}
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
//!         log(&format!("{} {}: {}", msg.last_event_id(), msg.event_type(), msg.data()));
//!     }
//!     Ok(())
//! }
//! # fn log(_: &str) {}
//! # async fn fetch_new_token() -> String { String::new() }
//! ```
//!
//! # The stream contract
//! - [`SseRequest::open`] starts connecting at once, on both transports, whether or not the
//!   stream is polled yet.
//! - It ends with `None` after a clean close: the [done sentinel](SseRequest::done_on_data),
//!   a [`CloseHandle`], a lost connection when the [`ReconnectPolicy`] allows no more attempts,
//!   or (fetch transport) `204 No Content` or a body that ended when the server cannot resume
//!   (see [`EndOfBody`]): a [`ConnectionState::Closed`] item, then `None`.
//!   [`EventStream::close`] ends it the same way.
//! - It ends with [`ConnectionState::Closed`], one [`Error`] item, then `None` after a failure
//!   (a 404, a `text/html` answer, an EventSource the browser closed, ...). So the last state a
//!   consumer sees is always `Closed`, and every `Err` is fatal and the last item: `item?` is
//!   right.
//! - A clean end of the response body (fetch transport) reconnects only when the server can
//!   resume: the stream has seen an event id (the new request sends `Last-Event-ID`), or it is
//!   an SSE `GET`, as the browser's `EventSource` would. A finished `POST` without ids (an
//!   OpenAI-style answer) is never sent again; NDJSON and raw text end with their body.
//!   [`SseRequest::end_of_body`] chooses otherwise. Errors reconnect per the policy.
//! - What lets it carry on is an item: [`Item::Skipped`] when an event over the
//!   [maximum size](SseRequest::max_event_size) was skipped or, on the EventSource transport, a
//!   consumer that fell behind lost messages ([`SseRequest::max_buffered`]);
//!   [`ConnectionState::Reconnecting`] with the [`Disconnect`] cause when a connection ended or
//!   never opened (a server that is down, or whose CORS headers refuse the page, shows up there
//!   at once instead of retrying silently).
//! - [`EventStream::reconnect`] (or [`CloseHandle::reconnect`]) replaces the connection now;
//!   the page coming back (`online`, a restore from the back/forward cache, a wake from sleep)
//!   ends a pending reconnect wait at once.
//! - It is a [`FusedStream`](futures_core::FusedStream).
//! - Dropping it releases everything: the fetch is aborted through its `AbortController`, the
//!   body reader is cancelled, the EventSource is closed, every listener is removed and every
//!   timer cleared. No closure is ever leaked with `Closure::forget`, and nothing evaluates code,
//!   so it works under a strict Content-Security-Policy (`script-src 'self' 'wasm-unsafe-eval'`).
//!
//! # Borrowed batches, for hot loops
//! On the fetch transport the messages that one chunk of the body completed are copied once into
//! one buffer, and each [`Item::Message`] shares it (no allocation per message; see [`Message`]).
//! A loop over a flood of small messages can also skip the item per message:
//! [`EventStream::next_batch`] yields a [`Batch`], every message that is ready at once (on the
//! fetch transport, all that one chunk of the body completed), lent out as [`MessageRef`]s;
//! [`MessageRef::json`] deserializes into types that borrow from the data, and
//! [`Batch::into_messages`] keeps them as [`Message`]s that share the buffer. A batch that holds
//! no message stands for one other item ([`Batch::item`]). It is the same stream, ending where
//! the [`Item`] stream ends, and the two may be mixed. A [`Subscription`] of a shared stream has
//! [`next_batch`](Subscription::next_batch) too: its batches lend out the chunk that every
//! subscriber reads.
//!
//! ```no_run
//! # async fn run() -> Result<(), websse::Error> {
//! #[derive(serde::Deserialize)]
//! struct Delta<'a> {
//!     text: &'a str,
//! }
//!
//! let mut stream = websse::SseRequest::post("/api/chat").open()?;
//! let mut answer = String::new();
//! while let Some(batch) = stream.next_batch().await {
//!     let batch = batch?;
//!     for msg in batch.messages() {
//!         answer.push_str(msg.json::<Delta>()?.text);
//!     }
//!     if let Some(websse::Item::State(state)) = batch.item() {
//!         log(&state.to_string());
//!     }
//! }
//! # Ok(())
//! # }
//! # fn log(_: &str) {}
//! ```
//!
//! # One connection, many consumers
//! [`SseRequest::share`] returns a [`SharedStream`]: every [`subscribe`](SharedStream::subscribe)
//! is a [`Subscription`], a stream of the same items over one connection, which opens with the
//! first subscriber and closes with the last. Sharing the same request again anywhere in the tab
//! (or the same [`share_key`](SseRequest::share_key)) joins the same stream, so components need
//! not pass it around. With [`across_tabs(true)`](SseRequest::across_tabs), the tabs of the origin
//! share one connection too: a leader tab (Web Locks) relays to the others (`BroadcastChannel`)
//! and hands over with `Last-Event-ID` when it goes; [`Item::Sharing`] tells who leads and how many
//! tabs share. See [`SharedStream`] for the guarantees (bounded per-subscriber queues,
//! de-duplication by event id across a handover, the fallback where the APIs are missing).
//!
//! # Tying a stream to a component
//! The stream is `!Send` (it holds JS objects); its [`CloseHandle`] is `Clone + Send + Sync`.
//! Poll the stream in the framework's local task and close it when the component goes:
//! - **Leptos**: `let handle = stream.close_handle(); on_cleanup(move || handle.close());` and
//!   poll it in `leptos::task::spawn_local`. Without the `on_cleanup`, the task (and the
//!   connection) outlive the component.
//! - **Dioxus**: poll it in `use_future` (cancelled with the component), or keep the handle and
//!   call `close` from `use_drop`.
//! - **Yew**: open it in `use_effect_with` and close (or drop) it in the effect's cleanup.
//! - **Plain wasm-bindgen**: keep the stream (or its handle) in the object that owns the UI;
//!   dropping or closing it ends everything.
//!
//! # The two transports
//! | | fetch (default) | EventSource |
//! |---|---|---|
//! | method, headers, body | any | GET only, none |
//! | reconnects | websse, with [`ReconnectPolicy`] | the browser, its own delay |
//! | `Reconnecting` says | attempt, delay, [`Disconnect`] cause | attempt; delay `None`, cause [`Disconnect::Unreported`] |
//! | `204 No Content` | clean end (`Closed`, then `None`) | the browser reports a failure: [`Error::EventSourceClosed`] |
//! | the body ends cleanly | reconnects if it can resume (an id seen, or an SSE `GET`), else ends; see [`EndOfBody`] | the browser reconnects |
//! | 408, 429, 5xx | retried per the policy; `Retry-After` honoured (bounded, and from the second attempt in a row never shorter than the policy's delay) | the browser gives up: [`Error::EventSourceClosed`] |
//! | 401 | with [`SseRequest::on_unauthorized`]: the hook runs, then one reconnect at once with fresh headers and the same `Last-Event-ID`; a second 401 in a row, or none: [`Error::Status`] | [`Error::EventSourceClosed`] |
//! | other 4xx and statuses, wrong content type | typed [`Error::Status`] / [`Error::ContentType`], fatal | [`Error::EventSourceClosed`] (the browser does not say which) |
//! | page comes back (`online`, back/forward cache, the machine woke) | a pending reconnect happens at once; a connection whose idle timer fired far too late is replaced ([`Disconnect::WokeUp`]) | the browser's own behaviour |
//! | [`EventStream::reconnect`] | replaces the connection now, with `Last-Event-ID` | closes the EventSource and opens a new one (no `Last-Event-ID`: the browser cannot be given one) |
//! | slow consumer | the body is read as fast as the stream is polled (TCP backpressure) | bounded queue, [`Skipped::Lagged`] |
//! | event types | all, or `message` and the ones named in [`SseRequest::events`] | `message` and the ones named in [`SseRequest::events`] |
//!
//! # Browser engines
//! The browser tests (every behaviour above, both transports) run in Chromium, Firefox ESR and
//! WebKitGTK on every `cargo xtask test`, and pass the same in all three: no engine difference
//! has reached the stream contract so far, so there is nothing for websse to hide yet. What
//! differed was test tooling only (WebDriver details; the leak probe needs the Chrome DevTools
//! Protocol and runs in Chromium alone).
//!
//! # The fetch transport
//! Behaves like the spec's EventSource where the spec speaks: `Accept: text/event-stream`, cache
//! mode `no-store`, and no other header unless asked (a cross-origin GET stays a simple request);
//! status 200 with `text/event-stream` (parameters ignored) opens; a network error or the end of
//! the body reconnects after the server's `retry` time, sending `Last-Event-ID` when the last event
//! id is not empty. Beyond the spec: 204 ends cleanly; 408, 429 and 5xx are retried (honouring
//! `Retry-After`, bounded) while other statuses are fatal; exponential backoff with jitter and a
//! cap, from a floor after the first attempt so that `retry: 0` cannot cause a tight loop;
//! headers recomputed before each connect; an idle timeout; NDJSON and raw text [`Framing`]s; a
//! pause while the page is hidden.
//!
//! # Cargo features
//! All on by default; turn off what an app does not use to keep its wasm small.
//! - `fetch`: the fetch + `ReadableStream` transport ([`Transport::Fetch`]).
//! - `event-source`: the native `EventSource` transport ([`Transport::EventSource`]).
//! - `json`: [`SseRequest::json`], [`Message::json`] and [`Error::Json`] (serde, serde_json).
//! - `ndjson`: [`Framing::Ndjson`] on the fetch transport.
//! - `raw-text`: [`Framing::Raw`] on the fetch transport.
//! - `pause-when-hidden`: [`SseRequest::pause_when_hidden`] on the fetch transport.
//! - `perf`: websse-core's `perf`: on the fetch transport, a run of events whose only line is
//!   `data` (LLM tokens, logs) is parsed in a loop of its own, with each chunk checked as UTF-8
//!   once: about twice the parser's speed on short events, for about 0.7 kB gzipped.
//!
//! A request for a transport that is not compiled in fails at [`SseRequest::open`] with
//! [`Error::TransportNotEnabled`]; one for a framing that is not, with
//! [`Error::FramingNotEnabled`]; one for `pause_when_hidden` without its feature, with
//! [`Error::FeatureNotEnabled`]. An app that only reads SSE over fetch turns the defaults off:
//! `websse = { version = "0.1", default-features = false, features = ["fetch"] }`.
//!
//! On targets other than `wasm32` the types compile (so shared code and unit tests build) but
//! [`SseRequest::open`] returns [`Error::UnsupportedTarget`].
#![deny(missing_docs)]

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod batch;
mod control;
mod error;
// The framers and the response rules are used by the wasm fetch transport; natively (or without
// the `fetch` feature) they are compiled for their unit tests only.
#[cfg_attr(not(all(target_arch = "wasm32", feature = "fetch")), allow(dead_code))]
mod framing;
#[cfg_attr(not(all(target_arch = "wasm32", feature = "fetch")), allow(dead_code))]
mod lifecycle;
mod message;
mod policy;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod queue;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod request;
#[cfg_attr(not(all(target_arch = "wasm32", feature = "fetch")), allow(dead_code))]
mod response;
// Natively nothing connects, so the hub's delivery path runs in its unit tests only.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, clippy::drop_non_drop))]
mod share;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod stream;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use batch::Batch;
pub use error::Error;
#[cfg(feature = "json")]
pub use error::JsonError;
pub use message::{ConnectionState, Disconnect, Item, Message, MessageRef, Role, Sharing, Skipped};
pub use policy::ReconnectPolicy;
pub use request::{Credentials, EndOfBody, Framing, SseRequest, Transport, UnknownName};
pub use share::{SharedStream, Subscription};
pub use stream::{CloseGuard, CloseHandle, EventStream, Messages, SseStream};
pub use websse_core;
