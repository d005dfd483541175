//! The callbacks layer over the native
//! [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventSource, EventSourceInit, MessageChannel, MessageEvent, MessagePort};

#[wasm_bindgen]
extern "C" {
    /// A `MessageEvent` of an EventSource, read the cheap way: its string `data` comes to Rust
    /// in one call (web-sys's getter returns a `JsValue`, whose string is a second call).
    #[wasm_bindgen(js_name = MessageEvent)]
    type SseMessage;

    #[wasm_bindgen(method, getter)]
    fn data(this: &SseMessage) -> String;

    #[wasm_bindgen(method, getter, js_name = lastEventId)]
    fn last_event_id(this: &SseMessage) -> String;
}

use super::Listener;
use crate::queue::QueueRef;
use crate::{ConnectionState, Credentials, Disconnect, Error, Message, SseRequest};

/// An open EventSource and the listeners websse added to it. Dropping it closes the EventSource
/// and removes every listener.
#[must_use = "dropping it closes the connection"]
pub(crate) struct Subscription {
    source: EventSource,
    /// The `message` listener and one per named type.
    messages: Vec<MessageListener>,
    /// The `open` and `error` listeners.
    listeners: Vec<Listener>,
    /// The end-of-task wake-up (closed on drop) and its port's listener: apart from
    /// `listeners`, whose types are the EventSource's.
    tick: Rc<Tick>,
    _wake: Listener,
}

/// A listener for the messages of one event type, removed when dropped. Its closure type is its
/// own, not websse's shared [`Listener`] one: that one returns a `Result`, which wasm-bindgen's
/// glue passes to JS as two values, an array per call: garbage for every event of the stream.
struct MessageListener {
    source: EventSource,
    event_type: String,
    callback: Closure<dyn FnMut(SseMessage)>,
}

impl MessageListener {
    fn new(source: &EventSource, event_type: &str, callback: Box<dyn FnMut(SseMessage)>) -> Self {
        let callback = Closure::wrap(callback);
        // `addEventListener` throws only for a callback that is not callable; this one is.
        let _ =
            source.add_event_listener_with_callback(event_type, callback.as_ref().unchecked_ref());
        MessageListener {
            source: source.clone(),
            event_type: event_type.to_owned(),
            callback,
        }
    }
}

impl Drop for MessageListener {
    fn drop(&mut self) {
        let _ = self.source.remove_event_listener_with_callback(
            &self.event_type,
            self.callback.as_ref().unchecked_ref(),
        );
    }
}

/// One wake of the stream per browser task instead of one per event: the browser dispatches
/// every event of a received chunk in one task, and a wake per event would poll the stream (a
/// microtask) between each two. A message posted to this channel at the first event of a task
/// runs after that task and wakes the stream once for all of them.
struct Tick {
    /// The port posted to; the other one's listener wakes the stream.
    port: MessagePort,
    other: MessagePort,
    scheduled: Cell<bool>,
}

impl Tick {
    fn new(queue: &QueueRef) -> Result<(Rc<Tick>, Listener), Error> {
        let channel = MessageChannel::new().map_err(crate::wasm::js_error)?;
        let tick = Rc::new(Tick {
            port: channel.port1(),
            other: channel.port2(),
            scheduled: Cell::new(false),
        });
        let listener = Listener::new(&tick.other, "message", {
            let (queue, tick) = (Rc::clone(queue), Rc::downgrade(&tick));
            Box::new(move |_| {
                if let Some(tick) = tick.upgrade() {
                    tick.scheduled.set(false);
                }
                crate::queue::edit(&queue).wake_held();
            })
        });
        // A port listened to with `addEventListener` delivers only once started.
        tick.other.start();
        Ok((tick, listener))
    }

    /// Schedules the wake for the end of this task, once.
    fn schedule(&self) {
        if !self.scheduled.replace(true) {
            // Posting `undefined` to an open port cannot throw.
            let _ = self.port.post_message(&JsValue::UNDEFINED);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("url", &self.source.url())
            .field(
                "types",
                &self
                    .messages
                    .iter()
                    .map(|l| l.event_type.as_str())
                    .chain(self.listeners.iter().map(Listener::event_type))
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
        let (tick, wake_listener) = Tick::new(&queue)?;
        crate::queue::edit(&queue).hold_message_wakes();
        let mut listeners: Vec<Listener> = Vec::new();
        let mut messages: Vec<MessageListener> = Vec::new();

        // `message` and each named type once (`open` and `error` have their own listeners).
        for t in std::iter::once("message").chain(request.events.iter().map(String::as_str)) {
            if t == "open" || t == "error" || messages.iter().any(|l| l.event_type == t) {
                continue;
            }
            let queue = Rc::clone(&queue);
            let tick = Rc::clone(&tick);
            let event_type = t.to_owned();
            messages.push(MessageListener::new(
                &source,
                t,
                // Only the EventSource dispatches to it, and what it dispatches under these types
                // is always a `MessageEvent`: typed so, with no `instanceof` check per event.
                Box::new(move |event: SseMessage| {
                    deliver(&queue, &event_type, &event);
                    tick.schedule();
                }),
            ));
        }

        let attempt = Rc::new(Cell::new(0u32));
        listeners.push(Listener::new(&source, "open", {
            let queue = Rc::clone(&queue);
            let attempt = Rc::clone(&attempt);
            let tick = Rc::clone(&tick);
            Box::new(move |event| match event.dyn_ref::<MessageEvent>() {
                Some(message) if wants_open => {
                    deliver(&queue, "open", message.unchecked_ref());
                    tick.schedule();
                }
                Some(_) => {}
                None => {
                    attempt.set(0);
                    crate::queue::edit(&queue).push_state(ConnectionState::Open);
                }
            })
        }));

        listeners.push(Listener::new(&source, "error", {
            let source = source.clone();
            let tick = Rc::clone(&tick);
            Box::new(move |event| match event.dyn_ref::<MessageEvent>() {
                Some(message) if wants_error => {
                    deliver(&queue, "error", message.unchecked_ref());
                    tick.schedule();
                }
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
        Ok(Subscription {
            source,
            messages,
            listeners,
            tick,
            _wake: wake_listener,
        })
    }
}

/// Turns a `MessageEvent` into a [`Message`] (EventSource's `data` is always a string).
///
/// `event_type` is the type the listener was added for, which the DOM guarantees is the event's
/// `type`: passed along rather than read back, one JS import and one string copy out of JS fewer
/// (smaller code).
fn deliver(queue: &QueueRef, event_type: &str, event: &SseMessage) {
    let data = event.data();
    let message = Message::from(websse_core::Event::from_data(
        event_type,
        data,
        &event.last_event_id(),
    ));
    crate::queue::edit(queue).push_message(message);
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Close first so that nothing is dispatched while the listeners go (their own drop
        // removes them).
        self.source.close();
        self.messages.clear();
        self.listeners.clear();
        self.tick.port.close();
        self.tick.other.close();
    }
}
