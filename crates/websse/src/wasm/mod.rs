//! The browser layers: JS bindings, the EventSource subscription, the fetch driver.
//!
//! Timers come from gloo (`gloo_timers::future::TimeoutFuture`), the one owner of its JS resource.
//! Listeners are [`Listener`], a few lines in the shape of `gloo_events::EventListener` (RAII:
//! removed on drop) without what costs every app code and JS imports that websse does not use:
//! an options object built per listener kind in a std `thread_local!`, `Cow` event types, phases
//! and `unwrap_throw` (code size, issue 13). What else is written here is the SSE-specific part.

#[cfg(feature = "event-source")]
pub(crate) mod event_source;
#[cfg(feature = "fetch")]
pub(crate) mod fetch;

use std::time::Duration;

use gloo_timers::future::TimeoutFuture;
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

    /// JS `String(value)`: any value as text (throws only for an object whose `toString` does).
    #[wasm_bindgen(catch, js_name = String)]
    fn js_string(value: &JsValue) -> Result<String, JsValue>;
}

/// An event listener that is removed when dropped: the one owner of its closure.
#[must_use = "dropping it removes the listener"]
pub(crate) struct Listener {
    target: web_sys::EventTarget,
    event_type: String,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Listens to `event_type` on `target` with `callback` (not boxed generically: one copy of
    /// this code whatever the callback).
    pub(crate) fn new(
        target: &web_sys::EventTarget,
        event_type: &str,
        callback: Box<dyn FnMut(web_sys::Event)>,
    ) -> Listener {
        let callback = Closure::wrap(callback);
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
/// that is almost never seen), and one JS import for every kind of value (code size, issue 13).
pub(crate) fn js_message(value: &JsValue) -> String {
    js_string(value).unwrap_or_else(|_| "a value that cannot be shown".to_owned())
}

/// `what` followed by [`js_message`] of `value` (string concatenation, no `core::fmt`).
pub(crate) fn js_message_after(what: &str, value: &JsValue) -> String {
    let mut message = String::from(what);
    message.push_str(&js_message(value));
    message
}

pub(crate) fn js_error(value: JsValue) -> Error {
    Error::Js {
        message: js_message(&value),
    }
}

/// A `setTimeout` future for `delay` (cleared on drop). Delays beyond `setTimeout`'s range
/// (2^31 - 1 ms, about 24.8 days), which the browser would run at once, are cut to it.
pub(crate) fn sleep(delay: Duration) -> TimeoutFuture {
    const MAX_MS: u128 = i32::MAX as u128;
    let ms = delay.as_millis().min(MAX_MS);
    TimeoutFuture::new(u32::try_from(ms).unwrap_or(i32::MAX as u32))
}
