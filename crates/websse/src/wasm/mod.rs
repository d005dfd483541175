//! The browser layers: JS bindings, timers, the EventSource subscription, the fetch driver.

pub(crate) mod event_source;
pub(crate) mod fetch;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::Error;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout` (window or worker).
    #[wasm_bindgen(js_name = setTimeout, catch)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> Result<JsValue, JsValue>;
    /// The global `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    /// The global `fetch` (window or worker).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &web_sys::Request) -> js_sys::Promise;
}

/// The message of a thrown JS value, whatever it is (an `Error`, a string, anything else).
pub(crate) fn js_message(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    if let Some(text) = value.as_string() {
        return text;
    }
    format!("{value:?}")
}

pub(crate) fn js_error(value: JsValue) -> Error {
    Error::Js {
        message: js_message(&value),
    }
}

#[derive(Debug, Default)]
struct TimerState {
    fired: bool,
    waker: Option<Waker>,
}

/// A [`setTimeout`](https://developer.mozilla.org/en-US/docs/Web/API/Window/setTimeout) as a
/// future. Owns its closure; dropping it clears the timeout.
#[must_use = "dropping it clears the timeout"]
pub(crate) struct Timer {
    id: JsValue,
    state: Rc<RefCell<TimerState>>,
    _closure: Closure<dyn FnMut()>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("id", &self.id).finish()
    }
}

impl Timer {
    pub(crate) fn new(delay: Duration) -> Result<Timer, Error> {
        let state: Rc<RefCell<TimerState>> = Rc::default();
        let fired = Rc::clone(&state);
        let closure = Closure::<dyn FnMut()>::new(move || {
            let waker = {
                let mut s = fired.borrow_mut();
                s.fired = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        let id = set_timeout(closure.as_ref().unchecked_ref(), ms).map_err(js_error)?;
        Ok(Timer {
            id,
            state,
            _closure: closure,
        })
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.state.borrow_mut();
        if s.fired {
            Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}
