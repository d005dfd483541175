//! The fetch transport: [`fetch`](https://developer.mozilla.org/en-US/docs/Web/API/Window/fetch)
//! with an [`AbortController`](https://developer.mozilla.org/en-US/docs/Web/API/AbortController),
//! the body read through a
//! [`ReadableStreamDefaultReader`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStreamDefaultReader),
//! and reconnection per the EventSource spec plus the [`ReconnectPolicy`](crate::ReconnectPolicy).

#[cfg(any(feature = "pause-when-hidden", feature = "wake-ups"))]
use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
#[cfg(any(feature = "pause-when-hidden", feature = "wake-ups"))]
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
#[cfg(any(feature = "pause-when-hidden", feature = "wake-ups"))]
use std::task::Waker;
use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStream, ReadableStreamDefaultReader, Request,
    RequestInit, Response,
};

#[cfg(any(feature = "pause-when-hidden", feature = "wake-ups"))]
use super::Listener;
use super::{
    Settled, Timer, copy_bytes, fetch_with_request, js_error, js_message, js_message_after,
    performance_now,
};
use crate::control::Control;
use crate::framing::{Decoded, Decoder};
use crate::lifecycle::{self, Next, Outcome, Reconnects};
use crate::message::chunk::Chunk;
use crate::queue::QueueRef;
use crate::request::Body;
use crate::response::{StatusClass, classify_status, is_event_stream, parse_retry_after};
use crate::{ConnectionState, Credentials, Disconnect, Error, Framing, Item, SseRequest};

#[wasm_bindgen]
extern "C" {
    /// `Reflect.set(target, key, value)` with a key passed as text (no JS string made and
    /// released per key) and no `catch`: setting a property of a fresh plain object cannot throw.
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn set_property(target: &js_sys::Object, key: &str, value: &JsValue);

    /// `new AbortController()`, which the DOM spec gives no way to throw: no `catch` (web-sys's
    /// has one, and so an error path here that cannot be taken).
    #[wasm_bindgen(js_name = AbortController)]
    type Controller;

    #[wasm_bindgen(constructor, js_class = AbortController)]
    fn new() -> Controller;

    /// `new Headers()` without arguments, which cannot throw: no `catch`.
    #[wasm_bindgen(js_name = Headers)]
    type NewHeaders;

    #[wasm_bindgen(constructor, js_class = Headers)]
    fn new() -> NewHeaders;

    /// A response's headers, for the binding below.
    #[wasm_bindgen(js_name = Headers)]
    type ResponseHeaders;

    /// `headers.get(name)`, which throws only for a name that is not a valid header name: not
    /// for the constant names asked here, so no `catch` (web-sys's has one).
    #[wasm_bindgen(method)]
    fn get(this: &ResponseHeaders, name: &str) -> Option<super::JsText>;

    /// `Reflect.get(target, key)` with the key passed as text: two bindings (this one and
    /// [`optional_property`]) for the getters read here (an abort controller's `signal`, a
    /// response's `headers` and `body`) instead of one each, and no `catch`, as none of those
    /// getters can throw.
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn property(target: &JsValue, key: &str) -> JsValue;

    /// [`property`] of one that may be `null` (`None`).
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn optional_property(target: &JsValue, key: &str) -> Option<js_sys::Object>;

    /// A response body, for the binding below.
    #[wasm_bindgen(extends = ReadableStream)]
    type BodyStream;

    /// [`getReader()`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream/getReader)
    /// without options, which the Streams spec defines to return a
    /// `ReadableStreamDefaultReader` (or to throw, for a locked stream: an [`Error::Js`] here).
    /// Not web-sys's `get_reader`: that one returns an `Object` to check with `instanceof` (one
    /// more JS import, smaller code) and lets a throw unwind through the wasm frames.
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> Result<ReadableStreamDefaultReader, JsValue>;
}

/// Aborts the fetch when dropped (the request, the response body, a pending read).
#[must_use = "dropping it aborts the request"]
struct AbortGuard {
    controller: AbortController,
}

impl AbortGuard {
    fn new() -> AbortGuard {
        AbortGuard {
            controller: Controller::new().unchecked_into(),
        }
    }

    fn signal(&self) -> AbortSignal {
        property(&self.controller, "signal").unchecked_into()
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

    fn read(&self) -> Settled {
        Settled::new(&self.reader.read())
    }
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        // `cancel` rejects if the stream already errored (e.g. aborted); that is expected. A
        // `Settled` attaches the rejection handler and its callbacks live until the promise
        // settles, so dropping it at once neither leaks them nor leaves the rejection unhandled
        // (and needs no JS function built from source, which a strict CSP forbids as eval).
        drop(Settled::new(&self.reader.cancel()));
    }
}

/// Watches `document.visibilityState` (the listener is removed on drop).
#[cfg(feature = "pause-when-hidden")]
struct Visibility {
    document: web_sys::Document,
    waker: Rc<Cell<Option<Waker>>>,
    _listener: Listener,
}

#[cfg(feature = "pause-when-hidden")]
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
        // string import and comparison for one bit (smaller code).
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
    /// smaller code).
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

/// Without the `pause-when-hidden` cargo feature: no value, so the driver's visibility branches
/// and the listener's drop are compiled out (an `Option` of it is always `None`).
#[cfg(not(feature = "pause-when-hidden"))]
enum Visibility {}

#[cfg(not(feature = "pause-when-hidden"))]
impl Visibility {
    fn new() -> Option<Visibility> {
        None
    }

    fn is_hidden(&self) -> bool {
        match *self {}
    }

    fn poll_hidden(&self, _cx: &mut std::task::Context<'_>) -> bool {
        match *self {}
    }

    fn until_visible(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |_| match *self {})
    }
}

/// The idle timeout of one connection: one JS timer for the whole connection, not one per read.
///
/// [`touch`](Idle::touch) only moves the deadline; when the timer fires before the deadline (there
/// was activity since it was armed) it is re-armed for the rest, so a busy stream costs one timer
/// per timeout period instead of a `setTimeout`/`clearTimeout` pair per chunk. Deadlines are on
/// the monotonic clock (`performance.now()`), so a change of the system time neither stalls nor
/// fires it.
struct Idle {
    timeout: Duration,
    /// `performance.now()` milliseconds after which the connection counts as dead.
    deadline: f64,
    timer: Option<Armed>,
}

/// A timer and when it should fire, to tell a late one (see [`crate::lifecycle::slept`]).
struct Armed {
    timer: Timer,
    clocks: Clocks,
    ms: f64,
}

impl Armed {
    /// A timer of `ms` milliseconds (rounded up) from now.
    fn new(ms: f64) -> Armed {
        Armed {
            clocks: Clocks::now(),
            timer: Timer::new(ms.ceil() as u32),
            ms,
        }
    }

    /// Ready once the timer in `slot` fired (the slot is emptied then), with whether the
    /// machine slept meanwhile.
    fn poll_fired(slot: &mut Option<Armed>, cx: &mut std::task::Context<'_>) -> Poll<bool> {
        let Some(armed) = slot else {
            return Poll::Ready(false);
        };
        if Pin::new(&mut armed.timer).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let slept = armed.clocks.slept_during(armed.ms);
        *slot = None;
        Poll::Ready(slept)
    }
}

/// What [`Idle::poll_expired`] found.
enum Expired {
    /// No bytes for the whole timeout.
    Idle,
    /// The timer fired far too late: the machine slept, the connection is likely gone.
    Slept,
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
        self.deadline = performance_now() + self.timeout.as_secs_f64() * 1000.0;
    }

    /// Ready once the deadline has passed; arms (or re-arms) the timer otherwise.
    fn poll_expired(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Expired> {
        loop {
            if std::task::ready!(Armed::poll_fired(&mut self.timer, cx)) {
                return Poll::Ready(Expired::Slept);
            }
            let left = self.deadline - performance_now();
            if left <= 0.0 {
                return Poll::Ready(Expired::Idle);
            }
            // Whole milliseconds, rounded up, at most `setTimeout`'s range (2^31 - 1): `as`
            // saturates, no float-to-Duration panic path and no Duration round trip.
            let ms = left.ceil().min(f64::from(i32::MAX));
            self.timer = Some(Armed::new(ms));
        }
    }
}

/// Both clocks at one moment: the monotonic one may stop while the machine sleeps, the wall
/// clock does not, so together they tell how long really passed.
struct Clocks {
    mono: f64,
    wall: f64,
}

impl Clocks {
    /// Both clocks now (nothing without the `wake-ups` cargo feature, which alone reads them).
    fn now() -> Clocks {
        if !cfg!(feature = "wake-ups") {
            return Clocks {
                mono: 0.0,
                wall: 0.0,
            };
        }
        Clocks {
            mono: performance_now(),
            wall: js_sys::Date::now(),
        }
    }

    /// Whether a wait of `expected_ms` that began at `self` and is over now took so much longer
    /// that the machine must have slept (always `false` without the `wake-ups` cargo feature).
    fn slept_during(&self, expected_ms: f64) -> bool {
        if !cfg!(feature = "wake-ups") {
            return false;
        }
        let now = Clocks::now();
        let passed = (now.mono - self.mono).max(now.wall - self.wall);
        crate::lifecycle::slept(expected_ms, passed, page_hidden())
    }
}

/// Whether the page is hidden (`false` where there is no document, in a worker).
fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| Reflect::get(&d, &JsValue::from_str("hidden")).ok())
        .and_then(|hidden| hidden.as_bool())
        .unwrap_or(false)
}

/// Reconnect-now signals from the page: `online`, and `pageshow` from the back/forward cache.
/// The listeners live as long as the stream and are removed with it.
#[cfg(feature = "wake-ups")]
struct WakeUps {
    state: Rc<WakeState>,
    _listeners: Vec<Listener>,
}

#[cfg(feature = "wake-ups")]
#[derive(Default)]
struct WakeState {
    woke: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

#[cfg(feature = "wake-ups")]
impl WakeUps {
    fn new() -> WakeUps {
        let state = Rc::new(WakeState::default());
        let mut listeners = Vec::new();
        if let Some(window) = web_sys::window() {
            for kind in ["online", "pageshow"] {
                let state = Rc::clone(&state);
                listeners.push(Listener::new(
                    &window,
                    kind,
                    Box::new(move |event: web_sys::Event| {
                        // A `pageshow` that is not a restore from the back/forward cache is the
                        // page's first load: nothing was interrupted.
                        let restored = event.type_() != "pageshow"
                            || Reflect::get(&event, &JsValue::from_str("persisted"))
                                .ok()
                                .and_then(|p| p.as_bool())
                                .unwrap_or(false);
                        if restored {
                            state.woke.set(true);
                            if let Some(waker) = state.waker.take() {
                                waker.wake();
                            }
                        }
                    }),
                ));
            }
        }
        WakeUps {
            state,
            _listeners: listeners,
        }
    }

    /// Whether the page woke since the last call (the flag is cleared); registers `cx` otherwise.
    fn poll_woke(&self, cx: &mut std::task::Context<'_>) -> bool {
        if self.state.woke.replace(false) {
            return true;
        }
        self.state.waker.set(Some(cx.waker().clone()));
        false
    }
}

/// Without the `wake-ups` cargo feature: nothing to listen to, nothing ever wakes.
#[cfg(not(feature = "wake-ups"))]
struct WakeUps;

#[cfg(not(feature = "wake-ups"))]
impl WakeUps {
    fn new() -> WakeUps {
        WakeUps
    }

    fn poll_woke(&self, _cx: &mut std::task::Context<'_>) -> bool {
        false
    }
}

enum Race<T> {
    Done(T),
    Idle,
    Hidden,
    /// Reconnect now, for this reason.
    Now(Disconnect),
}

/// What a connection or a wait races against besides its own future.
struct Interrupts<'a> {
    visibility: Option<&'a Visibility>,
    control: &'a Control,
}

/// Waits for `fut`, unless the idle deadline passes first, the page gets hidden, or the app asks
/// for a new connection.
///
/// A plain function returning the `poll_fn` future, not an `async fn` around it: one state
/// machine fewer (smaller code).
fn race<'a, F: Future + Unpin + 'a>(
    mut fut: F,
    mut idle: Option<&'a mut Idle>,
    interrupts: &'a Interrupts<'a>,
) -> impl Future<Output = Race<F::Output>> + 'a {
    poll_fn(move |cx| {
        if interrupts.control.take_reconnect() {
            return Poll::Ready(Race::Now(Disconnect::Requested));
        }
        if let Poll::Ready(v) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Race::Done(v));
        }
        if let Some(idle) = idle.as_deref_mut() {
            match idle.poll_expired(cx) {
                Poll::Ready(Expired::Idle) => return Poll::Ready(Race::Idle),
                Poll::Ready(Expired::Slept) => return Poll::Ready(Race::Now(Disconnect::WokeUp)),
                Poll::Pending => {}
            }
        }
        if let Some(v) = interrupts.visibility
            && v.poll_hidden(cx)
        {
            return Poll::Ready(Race::Hidden);
        }
        Poll::Pending
    })
}

/// The wait before a reconnect: `delay`, cut short when the page wakes up (`online`, a restore
/// from the back/forward cache, a sleep of the machine) or the app asks to reconnect.
///
/// Waits in steps of at most [`WAIT_STEP_MS`], so that a sleep of the machine is noticed soon
/// after it ends even when the monotonic clock (and so `setTimeout`) stood still meanwhile.
///
/// A plain function returning a `poll_fn` future, not an `async fn`: no generator nested in the
/// driver's (smaller code).
fn wait<'a>(
    delay: Duration,
    wake: &'a WakeUps,
    control: &'a Control,
) -> impl Future<Output = ()> + 'a {
    let mut left = delay.as_secs_f64() * 1000.0;
    let mut step: Option<Armed> = None;
    poll_fn(move |cx| {
        loop {
            let Some(armed) = &mut step else {
                if left <= 0.0 {
                    return Poll::Ready(());
                }
                // Without the `wake-ups` cargo feature, one timer for the whole delay.
                let ms = if cfg!(feature = "wake-ups") {
                    left.min(WAIT_STEP_MS)
                } else {
                    left.min(f64::from(i32::MAX))
                };
                step = Some(Armed::new(ms));
                continue;
            };
            if control.take_reconnect() || wake.poll_woke(cx) {
                return Poll::Ready(());
            }
            let ms = armed.ms;
            let slept = std::task::ready!(Armed::poll_fired(&mut step, cx));
            left -= ms;
            if slept {
                return Poll::Ready(());
            }
        }
    })
}

/// The longest single timer of a reconnect wait (see [`wait`]).
const WAIT_STEP_MS: f64 = 10_000.0;

/// The fetch driver: connects, reads, reconnects, until the stream is over. Polled by the
/// [`EventStream`](crate::EventStream) that owns it; dropping it releases the connection.
pub(crate) async fn run(request: SseRequest, queue: QueueRef, control: Arc<Control>) {
    let mut decoder = Decoder::new(request.framing, request.max_event_size);
    decoder.set_last_event_id(&request.last_event_id);
    // Without the cargo feature this is always `None` (`validate` refused the option) of a type
    // without values, so every visibility branch below, await included, is compiled out.
    let visibility = if cfg!(feature = "pause-when-hidden") && request.pause_when_hidden {
        Visibility::new()
    } else {
        None
    };
    let interrupts = Interrupts {
        visibility: visibility.as_ref(),
        control: &control,
    };
    // Without the cargo feature a unit struct: no listeners.
    let wake = WakeUps::new();
    let mut reconnects = Reconnects::default();
    loop {
        if let Some(v) = &visibility
            && v.is_hidden()
        {
            crate::queue::edit(&queue).push_state(ConnectionState::Paused);
            v.until_visible().await;
            crate::queue::edit(&queue).push_state(ConnectionState::Connecting);
        }
        // Headers that must be fetched first (a refreshed token), before every connect. Without
        // the cargo feature the hook is never set (`validate` refused it): no await point at all.
        #[cfg(feature = "auth")]
        let fetched = match &request.headers_async {
            Some(headers) => headers().await,
            None => Vec::new(),
        };
        #[cfg(not(feature = "auth"))]
        let fetched: Vec<(String, String)> = Vec::new();
        // One connection: request, response checks, body until it ends. Written inline, not as
        // an `async fn` awaited here: one generator fewer (smaller code).
        #[allow(clippy::blocks_in_conditions)]
        let outcome = 'connect: {
            let (request, decoder) = (&request, &mut decoder);
            let abort = AbortGuard::new();
            // The request is not kept across the await: nothing is left to release on the way out.
            let fetching =
                match build_request(request, decoder.last_event_id(), &fetched, &abort.signal()) {
                    Ok(r) => Settled::new(&fetch_with_request(&r)),
                    Err(e) => break 'connect Outcome::Fatal(e),
                };
            let mut idle = request.idle_timeout.map(Idle::new);
            let idle_lost = |healthy| Outcome::Lost {
                why: Disconnect::IdleTimeout,
                cause: Error::IdleTimeout {
                    timeout: request.idle_timeout.unwrap_or_default(),
                },
                retry_after: None,
                healthy,
            };
            let response = match race(fetching, idle.as_mut(), &interrupts).await {
                Race::Done(Ok(value)) => value,
                Race::Done(Err(e)) => {
                    break 'connect Outcome::Lost {
                        why: Disconnect::Network,
                        cause: Error::Network {
                            message: js_message(&e),
                        },
                        retry_after: None,
                        healthy: false,
                    };
                }
                Race::Idle => break 'connect idle_lost(false),
                Race::Hidden => break 'connect Outcome::Hidden,
                Race::Now(why) => break 'connect Outcome::Now(why),
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
            let header = |name: &str| {
                let headers: ResponseHeaders = property(&response, "headers").unchecked_into();
                headers.get(name).map(super::js_text)
            };
            match classify_status(status) {
                StatusClass::Open => {}
                StatusClass::NoContent => break 'connect Outcome::NoContent,
                // Without the `auth` cargo feature a 401 is as fatal as any other status.
                StatusClass::Fatal if cfg!(feature = "auth") && status == 401 => {
                    break 'connect Outcome::Unauthorized;
                }
                StatusClass::Fatal => break 'connect Outcome::Fatal(Error::Status { status }),
                StatusClass::Retry => {
                    break 'connect Outcome::Lost {
                        why: Disconnect::Status(status),
                        cause: Error::Status { status },
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
            let opened_at = performance_now();
            let healthy = || {
                performance_now() - opened_at
                    >= request.reconnect.reset_after.as_secs_f64() * 1000.0
            };
            // The fetch queue is unbounded (see `EventStream::open`): what a chunk of the body
            // completes goes into it at once, its messages in one slot.
            let mut sink = Sink {
                queue: &queue,
                events: &request.events,
                chunk: Chunk::default(),
            };

            let Some(body) =
                optional_property(&response, "body").map(JsCast::unchecked_into::<ReadableStream>)
            else {
                sink.finish(decoder);
                break 'connect Outcome::EndOfBody { healthy: healthy() };
            };
            let reader = match ReaderGuard::new(&body) {
                Ok(r) => r,
                Err(e) => break 'connect Outcome::Fatal(e),
            };
            let mut scratch = Vec::new();
            loop {
                let chunk = match race(reader.read(), idle.as_mut(), &interrupts).await {
                    Race::Done(Ok(result)) => {
                        if let Some(idle) = &mut idle {
                            idle.touch();
                        }
                        result
                    }
                    Race::Done(Err(e)) => {
                        sink.finish(decoder);
                        break 'connect Outcome::Lost {
                            why: Disconnect::Network,
                            cause: Error::Network {
                                message: js_message(&e),
                            },
                            retry_after: None,
                            healthy: healthy(),
                        };
                    }
                    Race::Idle => {
                        sink.finish(decoder);
                        break 'connect idle_lost(healthy());
                    }
                    Race::Hidden => {
                        sink.finish(decoder);
                        break 'connect Outcome::Hidden;
                    }
                    Race::Now(why) => {
                        sink.finish(decoder);
                        break 'connect Outcome::Now(why);
                    }
                };
                // A read's result is always a plain `{ value, done }` object, whose properties
                // cannot throw.
                let done = property(&chunk, "done").as_bool().unwrap_or(false);
                if done {
                    sink.finish(decoder);
                    break 'connect Outcome::EndOfBody { healthy: healthy() };
                }
                let value = property(&chunk, "value");
                match value.dyn_into::<Uint8Array>() {
                    // The one copy from JS memory into wasm memory, into a buffer reused across
                    // chunks. It only grows: zeroing it for every chunk cost as much as the copy.
                    Ok(bytes) => {
                        let len = bytes.length() as usize;
                        if scratch.len() < len {
                            scratch.resize(len, 0);
                        }
                        if let Some(into) = scratch.get_mut(..len) {
                            copy_bytes(into, &bytes);
                            sink.feed(decoder, into);
                        }
                    }
                    Err(value) => {
                        break 'connect Outcome::Fatal(Error::Js {
                            message: js_message_after("body chunk is not a Uint8Array: ", &value),
                        });
                    }
                }
            }
        };
        let next = reconnects.next(
            outcome,
            &lifecycle::Context {
                request: &request,
                last_event_id: decoder.last_event_id(),
                server_retry: decoder.retry(),
                random: js_sys::Math::random(),
            },
        );
        let now = |cause| ConnectionState::Reconnecting {
            attempt: 0,
            delay: Some(Duration::ZERO),
            cause,
        };
        match next {
            Next::Close => return crate::queue::edit(&queue).close(),
            Next::Fail(e) => return crate::queue::edit(&queue).fail(e),
            Next::Pause => continue,
            Next::Refresh => {
                crate::queue::edit(&queue).push_state(now(Disconnect::Unauthorized));
                #[cfg(feature = "auth")]
                if let Some(refresh) = &request.on_unauthorized {
                    refresh().await;
                }
            }
            Next::Now(cause) => crate::queue::edit(&queue).push_state(now(cause)),
            Next::Wait {
                attempt,
                delay,
                cause,
            } => {
                crate::queue::edit(&queue).push_state(ConnectionState::Reconnecting {
                    attempt,
                    delay: Some(delay),
                    cause,
                });
                wait(delay, &wake, &control).await;
            }
        }
        crate::queue::edit(&queue).push_state(ConnectionState::Connecting);
    }
}

/// Where the fetch driver puts what it decodes: the messages of one chunk of the body into one
/// [`Chunk`] (one buffer, one queue slot), queued when the chunk is done.
struct Sink<'a> {
    queue: &'a QueueRef,
    /// The named event types asked for (empty: all). Others are dropped here, as the
    /// EventSource transport does.
    events: &'a [String],
    chunk: Chunk,
}

impl Sink<'_> {
    fn emit(&mut self, item: Decoded<'_>) {
        match item {
            Ok(message) => {
                let events = self.events;
                self.chunk.push_if(message, |t| {
                    events.is_empty() || t == "message" || events.iter().any(|e| e == t)
                });
            }
            Err(skipped) => {
                self.flush();
                crate::queue::edit(self.queue).push_unbounded(Item::Skipped(skipped));
            }
        }
    }

    fn feed(&mut self, decoder: &mut Decoder, bytes: &[u8]) {
        decoder.feed(bytes, &mut |item| self.emit(item));
        self.flush();
    }

    fn finish(&mut self, decoder: &mut Decoder) {
        decoder.finish(&mut |item| self.emit(item));
        self.flush();
    }

    /// Queues the messages so far (one slot), keeping the capacity for the next chunk.
    fn flush(&mut self) {
        if self.chunk.len() > 0 {
            let next = Chunk::sized_like(&self.chunk);
            crate::queue::edit(self.queue).push_chunk(std::mem::replace(&mut self.chunk, next));
        }
    }
}

/// The `Request` for one connect.
fn build_request(
    request: &SseRequest,
    last_event_id: &str,
    fetched: &[(String, String)],
    signal: &AbortSignal,
) -> Result<Request, Error> {
    // A plain object filled with `Reflect.set` rather than `RequestInit`'s setters: one JS import
    // instead of six, and no enum-to-string tables (smaller code).
    let init = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| set_property(&init, key, value);
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
    let headers: Headers = NewHeaders::new().unchecked_into();
    let mut refused = None;
    request.connect_headers(last_event_id, fetched, &mut |name, value| {
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
