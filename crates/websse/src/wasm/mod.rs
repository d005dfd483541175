//! The browser layers: JS bindings, the EventSource subscription, the fetch driver.
//!
//! Timers and listeners come from gloo (`gloo_timers::future::TimeoutFuture`,
//! `gloo_events::EventListener`), each the one owner of its JS resource; what is written here is
//! the SSE-specific part.

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

    /// JS `String(value)`: any value as text (throws only for an object whose `toString` does).
    #[wasm_bindgen(catch, js_name = String)]
    fn js_string(value: &JsValue) -> Result<String, JsValue>;
}

/// The message of a thrown JS value, whatever it is (an `Error`, a string, anything else).
///
/// JS's own `String(value)` describes the rest, not Rust's `Debug` of `JsValue`: that would link
/// `core::fmt` into every app for a message that is almost never seen.
pub(crate) fn js_message(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    if let Some(text) = value.as_string() {
        return text;
    }
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
