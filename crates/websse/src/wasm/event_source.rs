//! The callbacks layer over the native
//! [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

use crate::stream::SharedRef;
use crate::{ConnectionState, Credentials, Error, Item, Message, SseRequest};

type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// An open EventSource and the listeners websse added to it. Dropping it removes every listener
/// and closes the EventSource.
#[must_use = "dropping it closes the connection"]
pub(crate) struct Subscription {
    source: EventSource,
    listeners: Vec<(String, Listener)>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("url", &self.source.url())
            .field(
                "types",
                &self.listeners.iter().map(|(t, _)| t).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Subscription {
    /// Creates the EventSource for `request` and listens to `open`, `error`, `message` and each
    /// named type of interest; items go to `shared`.
    pub(crate) fn open(request: &SseRequest, shared: SharedRef) -> Result<Subscription, Error> {
        let init = EventSourceInit::new();
        init.set_with_credentials(request.credentials == Some(Credentials::Include));
        let source = EventSource::new_with_event_source_init_dict(&request.url, &init)
            .map_err(crate::wasm::js_error)?;
        let mut subscription = Subscription {
            source,
            listeners: Vec::new(),
        };

        let attempt = Rc::new(Cell::new(0u32));

        let on_message = {
            let shared = Rc::clone(&shared);
            move |event: web_sys::Event| deliver(&shared, &event)
        };
        let mut types: Vec<&str> = vec!["message"];
        for t in &request.events {
            if !types.contains(&t.as_str()) && t != "open" && t != "error" {
                types.push(t);
            }
        }
        for t in types {
            subscription.listen(t, on_message.clone())?;
        }

        let on_open = {
            let shared = Rc::clone(&shared);
            let attempt = Rc::clone(&attempt);
            move |_event: web_sys::Event| {
                attempt.set(0);
                shared.borrow_mut().push_state(ConnectionState::Open);
            }
        };
        subscription.listen("open", on_open)?;

        let on_error = {
            let source = subscription.source.clone();
            move |event: web_sys::Event| {
                // A server event named "error" arrives as a MessageEvent: it is a message.
                if event.dyn_ref::<MessageEvent>().is_some() {
                    return deliver(&shared, &event);
                }
                if source.ready_state() == EventSource::CLOSED {
                    // The browser gave up (status, content type, 204, network failure at start).
                    shared.borrow_mut().fail(Error::EventSourceClosed);
                } else {
                    // The browser reconnects by itself after its reconnection time.
                    attempt.set(attempt.get().saturating_add(1));
                    shared
                        .borrow_mut()
                        .push_state(ConnectionState::Reconnecting {
                            attempt: attempt.get(),
                            delay: Duration::ZERO,
                        });
                }
            }
        };
        subscription.listen("error", on_error)?;
        Ok(subscription)
    }

    fn listen(
        &mut self,
        event_type: &str,
        handler: impl FnMut(web_sys::Event) + 'static,
    ) -> Result<(), Error> {
        let closure: Listener = Closure::new(handler);
        self.source
            .add_event_listener_with_callback(event_type, closure.as_ref().unchecked_ref())
            .map_err(crate::wasm::js_error)?;
        self.listeners.push((event_type.to_owned(), closure));
        Ok(())
    }
}

/// Turns a `MessageEvent` into a [`Message`] (anything else is ignored; a non-string `data`,
/// which EventSource never produces, becomes empty).
fn deliver(shared: &SharedRef, event: &web_sys::Event) {
    let Some(event) = event.dyn_ref::<MessageEvent>() else {
        return;
    };
    let data = event.data().as_string().unwrap_or_default();
    let message = Message::new(event.type_(), data, event.last_event_id());
    shared.borrow_mut().push(Ok(Item::Message(message)));
}

impl Drop for Subscription {
    fn drop(&mut self) {
        for (event_type, closure) in &self.listeners {
            let _ = self
                .source
                .remove_event_listener_with_callback(event_type, closure.as_ref().unchecked_ref());
        }
        self.source.close();
    }
}
