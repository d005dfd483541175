//! The callbacks layer over the native
//! [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

use super::Listener;
use crate::queue::QueueRef;
use crate::{ConnectionState, Credentials, Disconnect, Error, Message, SseRequest};

/// An open EventSource and the listeners websse added to it. Dropping it closes the EventSource
/// and removes every listener.
#[must_use = "dropping it closes the connection"]
pub(crate) struct Subscription {
    source: EventSource,
    listeners: Vec<Listener>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("url", &self.source.url())
            .field(
                "types",
                &self
                    .listeners
                    .iter()
                    .map(Listener::event_type)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Subscription {
    /// Creates the EventSource for `request` and listens to `open`, `error`, `message` and each
    /// named type of interest; items go to `queue`.
    ///
    /// A server event named `open` or `error` reaches the `open`/`error` listeners as a
    /// `MessageEvent`; the connection's own open and error events are plain `Event`s. The first
    /// kind is a message (when the type is of interest), the second a state change.
    pub(crate) fn open(request: &SseRequest, queue: QueueRef) -> Result<Subscription, Error> {
        let init = EventSourceInit::new();
        init.set_with_credentials(request.credentials == Some(Credentials::Include));
        let source = EventSource::new_with_event_source_init_dict(&request.url, &init)
            .map_err(crate::wasm::js_error)?;
        let wants = |t: &str| request.events.iter().any(|e| e == t);
        let (wants_open, wants_error) = (wants("open"), wants("error"));
        let mut listeners: Vec<Listener> = Vec::new();

        // `message` and each named type once (`open` and `error` have their own listeners).
        for t in std::iter::once("message").chain(request.events.iter().map(String::as_str)) {
            if t == "open" || t == "error" || listeners.iter().any(|l| l.event_type() == t) {
                continue;
            }
            let queue = Rc::clone(&queue);
            let event_type = t.to_owned();
            listeners.push(Listener::new(
                &source,
                t,
                Box::new(move |event| {
                    if let Some(event) = event.dyn_ref::<MessageEvent>() {
                        deliver(&queue, &event_type, event);
                    }
                }),
            ));
        }

        let attempt = Rc::new(Cell::new(0u32));
        listeners.push(Listener::new(&source, "open", {
            let queue = Rc::clone(&queue);
            let attempt = Rc::clone(&attempt);
            Box::new(move |event| match event.dyn_ref::<MessageEvent>() {
                Some(message) if wants_open => deliver(&queue, "open", message),
                Some(_) => {}
                None => {
                    attempt.set(0);
                    crate::queue::edit(&queue).push_state(ConnectionState::Open);
                }
            })
        }));

        listeners.push(Listener::new(&source, "error", {
            let source = source.clone();
            Box::new(move |event| match event.dyn_ref::<MessageEvent>() {
                Some(message) if wants_error => deliver(&queue, "error", message),
                Some(_) => {}
                None if source.ready_state() == EventSource::CLOSED => {
                    // The browser gave up (a status other than 200, a wrong content type, a 204,
                    // a network failure on the first connect): it does not say which.
                    crate::queue::edit(&queue).fail(Error::EventSourceClosed);
                }
                None => {
                    // The browser reconnects by itself after its reconnection time.
                    attempt.set(attempt.get().saturating_add(1));
                    crate::queue::edit(&queue).push_state(ConnectionState::Reconnecting {
                        attempt: attempt.get(),
                        delay: None,
                        cause: Disconnect::Unreported,
                    });
                }
            })
        }));
        Ok(Subscription { source, listeners })
    }
}

/// Turns a `MessageEvent` into a [`Message`] (a non-string `data`, which EventSource never
/// produces, becomes empty).
///
/// `event_type` is the type the listener was added for, which the DOM guarantees is the event's
/// `type`: passed along rather than read back, one JS import and one string copy out of JS fewer
/// (code size, issue 13).
fn deliver(queue: &QueueRef, event_type: &str, event: &MessageEvent) {
    let data = event.data().as_string().unwrap_or_default();
    let message = Message::new(event_type, data, event.last_event_id());
    crate::queue::edit(queue).push_message(message);
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Close first so that nothing is dispatched while the listeners go (their own drop
        // removes them).
        self.source.close();
        self.listeners.clear();
    }
}
