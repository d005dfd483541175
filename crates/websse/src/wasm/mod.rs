//! The browser layers: JS bindings, the EventSource subscription, the fetch driver.
//!
//! Listeners are [`Listener`], a few lines in the shape of `gloo_events::EventListener` (RAII:
//! removed on drop) without what costs every app code and JS imports that websse does not use:
//! an options object built per listener kind in a std `thread_local!`, `Cow` event types, phases
//! and `unwrap_throw` (smaller code). Timers are [`Timer`], in the shape of
//! `gloo_timers::future::TimeoutFuture` (cleared on drop) with an `Rc` and a `Cell` where gloo's
//! goes through a `futures-channel` oneshot (an `Arc`, atomics and a lock for a single-threaded
//! callback: code in every app for nothing). Promises are awaited as [`Settled`], in the shape of
//! `wasm_bindgen_futures::JsFuture` with `Cell`s where it has a `RefCell`, `Closure::once` and
//! asserts. What else is written here is the SSE-specific part.

#[cfg(feature = "event-source")]
pub(crate) mod event_source;
#[cfg(feature = "fetch")]
pub(crate) mod fetch;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::Error;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window or worker; `web_sys::Window::fetch_with_request` needs a window).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &web_sys::Request) -> js_sys::Promise;

    /// `Uint8Array.prototype.set.call(dst, src)`: copies `src` into `dst`, which must be at
    /// least as long (js-sys's `copy_to` is the same call behind an `assert_eq!` of the lengths,
    /// whose panic message links `core::fmt`'s integer formatting into every app).
    #[cfg(feature = "fetch")]
    #[wasm_bindgen(js_namespace = Uint8Array, js_name = "prototype.set.call")]
    fn copy_bytes(dst: &mut [u8], src: &js_sys::Uint8Array);

    /// The global `setTimeout` (window or worker); the handle is a number in browsers.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: u32) -> JsValue;

    /// [`performance.now()`](https://developer.mozilla.org/en-US/docs/Web/API/Performance/now):
    /// milliseconds on a monotonic clock (window or worker), unmoved by changes of the system
    /// time.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    /// The global `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);

    /// JS `String(value)`: any value as text (throws only for an object whose `toString` does).
    #[wasm_bindgen(catch, js_name = String)]
    fn js_string(value: &JsValue) -> Result<JsText, JsValue>;

    /// A [`TextEncoder`](https://developer.mozilla.org/en-US/docs/Web/API/TextEncoder), for
    /// [`js_text`].
    #[cfg(all(feature = "fetch", not(feature = "event-source")))]
    type TextEncoder;

    #[cfg(all(feature = "fetch", not(feature = "event-source")))]
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;

    /// The UTF-8 bytes of `text` (a lone surrogate as U+FFFD).
    #[cfg(all(feature = "fetch", not(feature = "event-source")))]
    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, text: &js_sys::JsString) -> js_sys::Uint8Array;
}

/// Text that JS hands to Rust, before [`js_text`] makes it a `String`.
///
/// Without the EventSource transport, a JS string turned into UTF-8 by a `TextEncoder` and
/// copied with the byte copy that the fetch body reader links anyway: no string-passing glue at
/// all in a fetch-only app (its allocator exports and per-call copies are a good part of the
/// JS). With that transport, wasm-bindgen's own conversion, which it links for message data
/// anyway. Both write a lone surrogate as U+FFFD.
#[cfg(all(feature = "fetch", not(feature = "event-source")))]
pub(crate) type JsText = js_sys::JsString;

/// See above.
#[cfg(not(all(feature = "fetch", not(feature = "event-source"))))]
pub(crate) type JsText = String;

/// [`JsText`] as a `String`.
#[cfg(all(feature = "fetch", not(feature = "event-source")))]
pub(crate) fn js_text(text: JsText) -> String {
    let utf8 = TextEncoder::new().encode(&text);
    // `resize`, as the body reader does, not `vec![0; n]`: that one links a zeroing allocation
    // path of its own (smaller code).
    #[allow(clippy::slow_vector_initialization)]
    let mut bytes = Vec::new();
    bytes.resize(utf8.length() as usize, 0);
    copy_bytes(&mut bytes, &utf8);
    // Always UTF-8: the empty text only in name.
    String::from_utf8(bytes).unwrap_or_default()
}

/// See above.
#[cfg(not(all(feature = "fetch", not(feature = "event-source"))))]
pub(crate) fn js_text(text: JsText) -> String {
    text
}

/// What every closure websse hands to JS is: the type of wasm-bindgen-futures' own callbacks,
/// which every app links already, so that no other closure type adds its JS glue and shims
/// (smaller code). The value is ignored or cast; the result is always `Ok`.
type Callback = dyn FnMut(JsValue) -> Result<(), JsError>;

/// An event listener that is removed when dropped: the one owner of its closure.
#[must_use = "dropping it removes the listener"]
pub(crate) struct Listener {
    target: web_sys::EventTarget,
    event_type: String,
    callback: Closure<Callback>,
}

impl Listener {
    /// Listens to `event_type` on `target` with `callback` (not boxed generically: one copy of
    /// this code whatever the callback).
    pub(crate) fn new(
        target: &web_sys::EventTarget,
        event_type: &str,
        mut callback: Box<dyn FnMut(web_sys::Event)>,
    ) -> Listener {
        let callback = Closure::wrap(Box::new(move |event: JsValue| {
            callback(event.unchecked_into());
            Ok(())
        }) as Box<Callback>);
        // `addEventListener` throws only for a callback that is not callable; this one is.
        let _ =
            target.add_event_listener_with_callback(event_type, callback.as_ref().unchecked_ref());
        Listener {
            target: target.clone(),
            event_type: event_type.to_owned(),
            callback,
        }
    }

    /// The event type listened to.
    // Only the EventSource transport asks which types it listens to.
    #[cfg_attr(not(feature = "event-source"), allow(dead_code))]
    pub(crate) fn event_type(&self) -> &str {
        &self.event_type
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            &self.event_type,
            self.callback.as_ref().unchecked_ref(),
        );
    }
}

/// The message of a thrown JS value, whatever it is: JS's own `String(value)` (`TypeError: Failed
/// to fetch` for an `Error`, the text of a string, a description of anything else).
///
/// Not Rust's `Debug` of `JsValue` (that would link `core::fmt` into every app for a message
/// that is almost never seen), and one JS import for every kind of value (smaller code).
// Used by the transports: unused when neither is compiled in (as is `js_error`).
#[cfg_attr(
    not(any(feature = "fetch", feature = "event-source")),
    allow(dead_code)
)]
pub(crate) fn js_message(value: &JsValue) -> String {
    match js_string(value) {
        Ok(text) => js_text(text),
        Err(_) => "a value that cannot be shown".to_owned(),
    }
}

/// `what` followed by [`js_message`] of `value` (string concatenation, no `core::fmt`).
#[cfg_attr(not(feature = "fetch"), allow(dead_code))]
pub(crate) fn js_message_after(what: &str, value: &JsValue) -> String {
    let mut message = String::from(what);
    message.push_str(&js_message(value));
    message
}

#[cfg_attr(
    not(any(feature = "fetch", feature = "event-source")),
    allow(dead_code)
)]
pub(crate) fn js_error(value: JsValue) -> Error {
    Error::Js {
        message: js_message(&value),
    }
}

/// A `setTimeout` future: ready once the timer fired. The one owner of the timer and its
/// callback: dropping it clears the timer (so the callback is never called after it is freed).
#[must_use = "dropping it clears the timer"]
pub(crate) struct Timer {
    handle: JsValue,
    state: Rc<TimerState>,
    _callback: Closure<Callback>,
}

/// What a [`Timer`] shares with its callback.
#[derive(Default)]
struct TimerState {
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Timer {
    /// A timer of `ms` milliseconds (at most `setTimeout`'s 2^31 - 1: browsers run a longer one at once).
    pub(crate) fn new(ms: u32) -> Timer {
        let state = Rc::new(TimerState::default());
        let fire = Rc::clone(&state);
        let callback = Closure::wrap(Box::new(move |_| {
            fire.fired.set(true);
            if let Some(waker) = fire.waker.take() {
                waker.wake();
            }
            Ok(())
        }) as Box<Callback>);
        let handle = set_timeout(callback.as_ref().unchecked_ref(), ms);
        Timer {
            handle,
            state,
            _callback: callback,
        }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.fired.get() {
            return Poll::Ready(());
        }
        self.state.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // Harmless for a timer that already fired.
        clear_timeout(&self.handle);
    }
}

/// A promise as a future, in the shape of `wasm_bindgen_futures::JsFuture`: ready with what the
/// promise resolved to (`Ok`) or rejected with (`Err`).
///
/// Its two callbacks are owned by what they share with the future until the promise settles:
/// a future dropped before then leaves them to be called (no call into a freed closure, no
/// unhandled rejection), and the call that settles it frees both. So only await a promise that
/// settles once its owner is dropped (a fetch that is aborted, a read that is cancelled, a lock
/// request withdrawn through its signal): one that can stay pending keeps both. Not js-sys's `JsFuture`:
/// that one keeps them in a `RefCell` and wraps each in a `Closure::once`, asserting its state
/// with messages on the way (code and strings in every fetch app).
#[must_use = "a future does nothing unless polled"]
pub(crate) struct Settled {
    state: Rc<SettledState>,
}

#[derive(Default)]
struct SettledState {
    result: Cell<Option<Result<JsValue, JsValue>>>,
    waker: Cell<Option<Waker>>,
    callbacks: Cell<Option<[Closure<Callback>; 2]>>,
}

impl Settled {
    pub(crate) fn new(promise: &js_sys::Promise) -> Settled {
        let state = Rc::new(SettledState::default());
        let callback = |resolved: bool| {
            let state = Rc::clone(&state);
            Closure::wrap(Box::new(move |value| {
                // Frees both callbacks once this call is over (wasm-bindgen defers the free of
                // a closure that is running).
                drop(state.callbacks.take());
                state
                    .result
                    .set(Some(if resolved { Ok(value) } else { Err(value) }));
                if let Some(waker) = state.waker.take() {
                    waker.wake();
                }
                Ok(())
            }) as Box<Callback>)
        };
        let callbacks = [callback(true), callback(false)];
        let _ = promise.then_with_reject(&callbacks[0], &callbacks[1]);
        state.callbacks.set(Some(callbacks));
        Settled { state }
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(result) = self.state.result.take() {
            return Poll::Ready(result);
        }
        self.state.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}
