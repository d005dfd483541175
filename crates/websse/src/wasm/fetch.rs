//! The fetch transport: [`fetch`](https://developer.mozilla.org/en-US/docs/Web/API/Window/fetch)
//! with an [`AbortController`](https://developer.mozilla.org/en-US/docs/Web/API/AbortController),
//! the body read through a
//! [`ReadableStreamDefaultReader`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStreamDefaultReader),
//! and reconnection per the EventSource spec plus the [`ReconnectPolicy`](crate::ReconnectPolicy).

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStream, ReadableStreamDefaultReader, Request,
    RequestInit, Response,
};

use super::{
    Listener, Timer, copy_bytes, fetch_with_request, js_error, js_message, js_message_after, sleep,
};
use crate::framing::Decoder;
use crate::queue::QueueRef;
use crate::request::Body;
use crate::response::{StatusClass, classify_status, is_event_stream, parse_retry_after};
use crate::{ConnectionState, Credentials, Disconnect, Error, Framing, Item, SseRequest};

#[wasm_bindgen]
extern "C" {
    /// A response body, for the binding below.
    #[wasm_bindgen(extends = ReadableStream)]
    type BodyStream;

    /// [`getReader()`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream/getReader)
    /// without options, which the Streams spec defines to return a
    /// `ReadableStreamDefaultReader` (or to throw, for a locked stream: an [`Error::Js`] here).
    /// Not web-sys's `get_reader`: that one returns an `Object` to check with `instanceof` (one
    /// more JS import, code size, issue 13) and lets a throw unwind through the wasm frames.
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> Result<ReadableStreamDefaultReader, JsValue>;
}

/// Aborts the fetch when dropped (the request, the response body, a pending read).
#[must_use = "dropping it aborts the request"]
struct AbortGuard {
    controller: AbortController,
}

impl AbortGuard {
    fn new() -> Result<AbortGuard, Error> {
        Ok(AbortGuard {
            controller: AbortController::new().map_err(js_error)?,
        })
    }

    fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

/// The body reader; cancelled when dropped.
#[must_use = "dropping it cancels the body"]
struct ReaderGuard {
    reader: ReadableStreamDefaultReader,
}

impl ReaderGuard {
    fn new(body: &ReadableStream) -> Result<ReaderGuard, Error> {
        let reader = body
            .unchecked_ref::<BodyStream>()
            .get_reader()
            .map_err(js_error)?;
        Ok(ReaderGuard { reader })
    }

    fn read(&self) -> JsFuture {
        JsFuture::from(self.reader.read())
    }
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        // `cancel` rejects if the stream already errored (e.g. aborted); that is expected. A
        // `JsFuture` attaches the rejection handler and owns its callbacks until the promise
        // settles, so dropping it at once neither leaks them nor leaves the rejection unhandled
        // (and needs no JS function built from source, which a strict CSP forbids as eval).
        drop(JsFuture::from(self.reader.cancel()));
    }
}

/// Watches `document.visibilityState` (the listener is removed on drop).
struct Visibility {
    document: web_sys::Document,
    waker: Rc<Cell<Option<Waker>>>,
    _listener: Listener,
}

impl Visibility {
    fn new() -> Option<Visibility> {
        let document = web_sys::window()?.document()?;
        let waker: Rc<Cell<Option<Waker>>> = Rc::default();
        let wake = Rc::clone(&waker);
        let listener = Listener::new(
            &document,
            "visibilitychange",
            Box::new(move |_| {
                if let Some(w) = wake.take() {
                    w.wake();
                }
            }),
        );
        Some(Visibility {
            document,
            waker,
            _listener: listener,
        })
    }

    fn is_hidden(&self) -> bool {
        // [`document.hidden`](https://developer.mozilla.org/en-US/docs/Web/API/Document/hidden),
        // which the HTML spec defines as `visibilityState == "hidden"`, read with `Reflect.get`
        // (linked already for the body chunks) as a boolean (linked already for `done`): neither
        // web-sys's `VisibilityState` enum (a string-to-enum table and its panic path) nor a
        // string import and comparison for one bit (code size, issue 13).
        Reflect::get(&self.document, &JsValue::from_str("hidden"))
            .ok()
            .and_then(|hidden| hidden.as_bool())
            .unwrap_or(false)
    }

    /// Whether the page is hidden; either way, wakes `cx` when visibility changes (a wake that
    /// comes after the caller stopped waiting for it is a spurious one, which a task ignores).
    fn poll_hidden(&self, cx: &mut std::task::Context<'_>) -> bool {
        self.waker.set(Some(cx.waker().clone()));
        self.is_hidden()
    }

    /// Ready once the page is visible (a `poll_fn`, not an `async fn`: one state machine fewer,
    /// code size, issue 13).
    fn until_visible(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.poll_hidden(cx) {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
    }
}

/// How one connection ended.
enum Outcome {
    /// 204: stop, cleanly.
    NoContent,
    /// Do not reconnect.
    Fatal(Error),
    /// The page was hidden (pause_when_hidden): reconnect when visible, no backoff.
    Hidden,
    /// The body ended cleanly and the request says not to send it again (see [`EndOfBody`]).
    ///
    /// [`EndOfBody`]: crate::EndOfBody
    Ended,
    /// Reconnect per policy. `why` goes into the `Reconnecting` state; `cause` is what to report
    /// if the policy gives up (`None`: a clean end of body, reported as a clean close).
    Lost {
        why: Disconnect,
        cause: Option<Error>,
        retry_after: Option<Duration>,
        healthy: bool,
    },
}

impl Outcome {
    /// A clean end of body: reconnect only when the request allows it (by default, when the
    /// server can resume), so that a finished answer to a `POST` is not requested again.
    fn end_of_body(request: &SseRequest, decoder: &Decoder, healthy: bool) -> Outcome {
        if !request.end_of_body.reconnects(
            request.framing,
            &request.method,
            decoder.last_event_id(),
        ) {
            return Outcome::Ended;
        }
        Outcome::Lost {
            why: Disconnect::EndOfBody,
            cause: None,
            retry_after: None,
            healthy,
        }
    }
}

/// The idle timeout of one connection: one JS timer for the whole connection, not one per read.
///
/// [`touch`](Idle::touch) only moves the deadline; when the timer fires before the deadline (there
/// was activity since it was armed) it is re-armed for the rest, so a busy stream costs one timer
/// per timeout period instead of a `setTimeout`/`clearTimeout` pair per chunk.
struct Idle {
    timeout: Duration,
    /// `Date.now()` milliseconds after which the connection counts as dead.
    deadline: f64,
    timer: Option<Timer>,
}

impl Idle {
    fn new(timeout: Duration) -> Idle {
        let mut idle = Idle {
            timeout,
            deadline: 0.0,
            timer: None,
        };
        idle.touch();
        idle
    }

    /// Bytes arrived: the connection is alive for another `timeout`.
    fn touch(&mut self) {
        self.deadline = js_sys::Date::now() + self.timeout.as_secs_f64() * 1000.0;
    }

    /// Ready once the deadline has passed; arms (or re-arms) the timer otherwise.
    fn poll_expired(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        loop {
            if let Some(timer) = &mut self.timer {
                if Pin::new(timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.timer = None;
            }
            let left = self.deadline - js_sys::Date::now();
            if left <= 0.0 {
                return Poll::Ready(());
            }
            // Whole milliseconds, rounded up, at most `setTimeout`'s range (see `sleep`): `as`
            // saturates, no float-to-Duration panic path and no Duration round trip.
            self.timer = Some(Timer::new(left.ceil().min(f64::from(i32::MAX)) as u32));
        }
    }
}

enum Race<T> {
    Done(T),
    Idle,
    Hidden,
}

/// Waits for `fut`, unless the idle deadline passes first or the page gets hidden.
///
/// A plain function returning the `poll_fn` future, not an `async fn` around it: one state
/// machine fewer (code size, issue 13).
fn race<'a, F: Future + Unpin + 'a>(
    mut fut: F,
    mut idle: Option<&'a mut Idle>,
    visibility: Option<&'a Visibility>,
) -> impl Future<Output = Race<F::Output>> + 'a {
    poll_fn(move |cx| {
        if let Poll::Ready(v) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Race::Done(v));
        }
        if let Some(idle) = idle.as_deref_mut()
            && idle.poll_expired(cx).is_ready()
        {
            return Poll::Ready(Race::Idle);
        }
        if let Some(v) = visibility
            && v.poll_hidden(cx)
        {
            return Poll::Ready(Race::Hidden);
        }
        Poll::Pending
    })
}

/// The fetch driver: connects, reads, reconnects, until the stream is over. Polled by the
/// [`EventStream`](crate::EventStream) that owns it; dropping it releases the connection.
pub(crate) async fn run(request: SseRequest, queue: QueueRef) {
    let mut decoder = Decoder::new(request.framing, request.max_event_size);
    decoder.set_last_event_id(&request.last_event_id);
    // Without the cargo feature this is always `None` (`validate` refused the option), so the
    // compiler drops the listener and every visibility branch below (0.4 kB gz, issue 13).
    let visibility = if cfg!(feature = "pause-when-hidden") && request.pause_when_hidden {
        Visibility::new()
    } else {
        None
    };
    let policy = &request.reconnect;
    let mut attempt = 0u32;
    loop {
        if let Some(v) = &visibility
            && v.is_hidden()
        {
            crate::queue::edit(&queue).push_state(ConnectionState::Paused);
            v.until_visible().await;
            crate::queue::edit(&queue).push_state(ConnectionState::Connecting);
        }
        // One connection: request, response checks, body until it ends. Written inline, not as
        // an `async fn` awaited here: one generator fewer (-0.12 kB gz; matched in place, since
        // binding it to a `let` first measured +0.14 kB gz, code size, issue 13).
        #[allow(clippy::blocks_in_conditions)]
        let (why, cause, retry_after) = match 'connect: {
            let (request, decoder, visibility) = (&request, &mut decoder, visibility.as_ref());
            let abort = match AbortGuard::new() {
                Ok(a) => a,
                Err(e) => break 'connect Outcome::Fatal(e),
            };
            let js_request = match build_request(request, decoder.last_event_id(), &abort.signal())
            {
                Ok(r) => r,
                Err(e) => break 'connect Outcome::Fatal(e),
            };
            let mut idle = request.idle_timeout.map(Idle::new);
            let idle_lost = |healthy| Outcome::Lost {
                why: Disconnect::IdleTimeout,
                cause: request
                    .idle_timeout
                    .map(|timeout| Error::IdleTimeout { timeout }),
                retry_after: None,
                healthy,
            };
            let response = match race(
                JsFuture::from(fetch_with_request(&js_request)),
                idle.as_mut(),
                visibility,
            )
            .await
            {
                Race::Done(Ok(value)) => value,
                Race::Done(Err(e)) => {
                    break 'connect Outcome::Lost {
                        why: Disconnect::Network,
                        cause: Some(Error::Network {
                            message: js_message(&e),
                        }),
                        retry_after: None,
                        healthy: false,
                    };
                }
                Race::Idle => break 'connect idle_lost(false),
                Race::Hidden => break 'connect Outcome::Hidden,
            };
            let response: Response = match response.dyn_into() {
                Ok(r) => r,
                Err(value) => {
                    break 'connect Outcome::Fatal(Error::Js {
                        message: js_message_after(
                            "fetch resolved to a non-Response value ",
                            &value,
                        ),
                    });
                }
            };
            let status = response.status();
            let header = |name: &str| response.headers().get(name).ok().flatten();
            match classify_status(status) {
                StatusClass::Open => {}
                StatusClass::NoContent => break 'connect Outcome::NoContent,
                StatusClass::Fatal => break 'connect Outcome::Fatal(Error::Status { status }),
                StatusClass::Retry => {
                    break 'connect Outcome::Lost {
                        why: Disconnect::Status(status),
                        cause: Some(Error::Status { status }),
                        retry_after: header("retry-after")
                            .and_then(|v| parse_retry_after(&v, js_sys::Date::now())),
                        healthy: false,
                    };
                }
            }
            if request.framing == Framing::Sse {
                let content_type = header("content-type").unwrap_or_default();
                if !is_event_stream(&content_type) {
                    break 'connect Outcome::Fatal(Error::ContentType { content_type });
                }
            }
            crate::queue::edit(&queue).push_state(ConnectionState::Open);
            if let Some(idle) = &mut idle {
                idle.touch();
            }
            let opened_at = js_sys::Date::now();
            let healthy = || {
                js_sys::Date::now() - opened_at
                    >= request.reconnect.reset_after.as_secs_f64() * 1000.0
            };
            // The fetch queue is unbounded (see `EventStream::open`).
            let mut emit = |item: Item| crate::queue::edit(&queue).push_unbounded(item);

            let Some(body) = response.body() else {
                decoder.finish(&mut emit);
                break 'connect Outcome::end_of_body(request, decoder, healthy());
            };
            let reader = match ReaderGuard::new(&body) {
                Ok(r) => r,
                Err(e) => break 'connect Outcome::Fatal(e),
            };
            let mut scratch = Vec::new();
            loop {
                let chunk = match race(reader.read(), idle.as_mut(), visibility).await {
                    Race::Done(Ok(result)) => {
                        if let Some(idle) = &mut idle {
                            idle.touch();
                        }
                        result
                    }
                    Race::Done(Err(e)) => {
                        decoder.finish(&mut emit);
                        break 'connect Outcome::Lost {
                            why: Disconnect::Network,
                            cause: Some(Error::Network {
                                message: js_message(&e),
                            }),
                            retry_after: None,
                            healthy: healthy(),
                        };
                    }
                    Race::Idle => {
                        decoder.finish(&mut emit);
                        break 'connect idle_lost(healthy());
                    }
                    Race::Hidden => {
                        decoder.finish(&mut emit);
                        break 'connect Outcome::Hidden;
                    }
                };
                let done = Reflect::get(&chunk, &JsValue::from_str("done"))
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                if done {
                    decoder.finish(&mut emit);
                    break 'connect Outcome::end_of_body(request, decoder, healthy());
                }
                let value =
                    Reflect::get(&chunk, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
                match value.dyn_into::<Uint8Array>() {
                    // The one copy from JS memory into wasm memory, into a buffer reused across
                    // chunks.
                    Ok(bytes) => {
                        scratch.clear();
                        scratch.resize(bytes.length() as usize, 0);
                        copy_bytes(&mut scratch, &bytes);
                        decoder.feed(&scratch, &mut emit);
                    }
                    Err(value) => {
                        break 'connect Outcome::Fatal(Error::Js {
                            message: js_message_after("body chunk is not a Uint8Array: ", &value),
                        });
                    }
                }
            }
        } {
            Outcome::NoContent | Outcome::Ended => return crate::queue::edit(&queue).close(),
            Outcome::Fatal(e) => return crate::queue::edit(&queue).fail(e),
            Outcome::Hidden => continue,
            Outcome::Lost {
                why,
                cause,
                retry_after,
                healthy,
            } => {
                if healthy {
                    attempt = 0;
                }
                (why, cause, retry_after)
            }
        };
        attempt = attempt.saturating_add(1);
        if !policy.allows(attempt) {
            let mut queue = crate::queue::edit(&queue);
            return match cause {
                Some(e) => queue.fail(e),
                None => queue.close(),
            };
        }
        let delay = match retry_after {
            Some(wait) => policy.server_delay(wait),
            None => policy.delay(attempt, decoder.retry(), js_sys::Math::random()),
        };
        crate::queue::edit(&queue).push_state(ConnectionState::Reconnecting {
            attempt,
            delay,
            cause: why,
        });
        sleep(delay).await;
        crate::queue::edit(&queue).push_state(ConnectionState::Connecting);
    }
}

/// The `Request` for one connect.
fn build_request(
    request: &SseRequest,
    last_event_id: &str,
    signal: &AbortSignal,
) -> Result<Request, Error> {
    // A plain object filled with `Reflect.set` rather than `RequestInit`'s setters: one JS import
    // instead of six, and no enum-to-string tables (code size, issue 13).
    let init = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        // Setting a property of a fresh plain object cannot throw.
        let _ = Reflect::set(&init, &JsValue::from_str(key), value);
    };
    set("method", &JsValue::from_str(&request.method));
    set("cache", &JsValue::from_str("no-store"));
    set("signal", signal);
    if let Some(credentials) = request.credentials {
        let mode = match credentials {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        };
        set("credentials", &JsValue::from_str(mode));
    }
    let headers = Headers::new().map_err(js_error)?;
    let mut refused = None;
    request.connect_headers(last_event_id, &mut |name, value| {
        if refused.is_none() {
            refused = headers.append(name, value).err();
        }
    });
    if let Some(error) = refused {
        return Err(js_error(error));
    }
    set("headers", &headers);
    match &request.body {
        Some(Body::Text(text)) => set("body", &JsValue::from_str(text)),
        Some(Body::Bytes(bytes)) => set("body", &Uint8Array::from(bytes.as_slice())),
        None => {}
    }
    Request::new_with_str_and_init(&request.url, init.unchecked_ref::<RequestInit>())
        .map_err(js_error)
}
