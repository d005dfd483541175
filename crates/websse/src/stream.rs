//! The stream layer: one [`Stream`] over whichever transport the request chose.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use crate::{ConnectionState, Error, Item, Message, SseRequest};

/// What a transport hands to the stream: queued items, the current state, whether it is over.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    queue: VecDeque<Result<Item, Error>>,
    waker: Option<Waker>,
    finished: bool,
    state: ConnectionState,
}

pub(crate) type SharedRef = Rc<RefCell<Shared>>;

impl Shared {
    pub(crate) fn push(&mut self, item: Result<Item, Error>) {
        self.queue.push_back(item);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    pub(crate) fn push_state(&mut self, state: ConnectionState) {
        self.state = state;
        self.push(Ok(Item::State(state)));
    }

    /// The stream ends cleanly: a `Closed` state item, then `None`.
    pub(crate) fn close(&mut self) {
        self.push_state(ConnectionState::Closed);
        self.finished = true;
    }

    /// The stream ends with `error`, then `None`.
    pub(crate) fn fail(&mut self, error: Error) {
        self.state = ConnectionState::Closed;
        self.push(Err(error));
        self.finished = true;
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        self.waker = Some(waker.clone());
    }
}

/// The transport a stream runs on. Dropping it releases every JS resource it holds.
enum Inner {
    /// The EventSource subscription (callbacks layer) fills the shared queue.
    #[cfg(target_arch = "wasm32")]
    EventSource(#[allow(dead_code)] crate::wasm::event_source::Subscription),
    /// The fetch driver, polled by the stream itself (no `spawn_local`): dropping it drops the
    /// in-flight request's abort guard, reader guard and timers.
    #[cfg(target_arch = "wasm32")]
    Fetch(Pin<Box<dyn std::future::Future<Output = ()>>>),
}

/// A stream of [`Item`]s from one event source, over either transport.
///
/// Created by [`SseRequest::open`]. Ends with `None` after a clean close (a `204`, the done
/// sentinel, a server end with reconnection turned off), or after one fatal [`Error`] item.
/// [`Error::EventTooLarge`] items are not fatal.
///
/// Not `Clone`: it owns the connection. Dropping it aborts the fetch (through its
/// [`AbortController`](https://developer.mozilla.org/en-US/docs/Web/API/AbortController)),
/// cancels the body reader, closes the EventSource, removes every listener and clears every
/// timer.
#[must_use = "dropping it closes the connection"]
pub struct EventStream {
    shared: SharedRef,
    inner: Option<Inner>,
    done_on_data: Option<String>,
    terminated: bool,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.inner {
            None => "none",
            #[cfg(target_arch = "wasm32")]
            Some(Inner::EventSource(_)) => "EventSource",
            #[cfg(target_arch = "wasm32")]
            Some(Inner::Fetch(_)) => "fetch",
            #[cfg(not(target_arch = "wasm32"))]
            Some(inner) => match *inner {},
        };
        f.debug_struct("EventStream")
            .field("transport", &transport)
            .field("state", &self.state())
            .field("terminated", &self.terminated)
            .finish()
    }
}

impl EventStream {
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn open(request: SseRequest) -> Result<EventStream, Error> {
        let shared: SharedRef = Rc::default();
        shared.borrow_mut().push_state(ConnectionState::Connecting);
        let done_on_data = request.done_on_data.clone();
        let inner = match request.transport {
            crate::Transport::EventSource => Inner::EventSource(
                crate::wasm::event_source::Subscription::open(&request, Rc::clone(&shared))?,
            ),
            crate::Transport::Fetch => Inner::Fetch(Box::pin(crate::wasm::fetch::run(
                request,
                Rc::clone(&shared),
            ))),
        };
        Ok(EventStream {
            shared,
            inner: Some(inner),
            done_on_data,
            terminated: false,
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn open(_request: SseRequest) -> Result<EventStream, Error> {
        Err(Error::UnsupportedTarget)
    }

    /// The current connection state (as last reported by the transport; the matching
    /// [`Item::State`] may still be queued).
    pub fn state(&self) -> ConnectionState {
        if self.terminated {
            ConnectionState::Closed
        } else {
            self.shared.borrow().state
        }
    }

    /// Closes the connection now: everything is released, and the next poll yields `None`.
    pub fn close(&mut self) {
        self.release();
    }

    /// A stream of the messages only (state items skipped; errors kept).
    pub fn messages(self) -> Messages {
        Messages { inner: self }
    }

    fn release(&mut self) {
        self.terminated = true;
        // Release the transport before borrowing `shared`: dropping runs JS (close, abort).
        self.inner = None;
        let mut shared = self.shared.borrow_mut();
        shared.state = ConnectionState::Closed;
        shared.queue.clear();
        shared.waker = None;
    }

    fn is_sentinel(&self, message: &Message) -> bool {
        self.done_on_data
            .as_deref()
            .is_some_and(|sentinel| message.data() == sentinel)
    }
}

impl Stream for EventStream {
    type Item = Result<Item, Error>;

    #[cfg_attr(
        not(target_arch = "wasm32"),
        allow(unused_variables, clippy::never_loop)
    )]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.terminated {
                return Poll::Ready(None);
            }
            let next = this.shared.borrow_mut().queue.pop_front();
            if let Some(item) = next {
                match &item {
                    Ok(Item::Message(m)) if this.is_sentinel(m) => {
                        this.release();
                        return Poll::Ready(Some(Ok(Item::State(ConnectionState::Closed))));
                    }
                    Err(e) if e.is_fatal() => this.release(),
                    _ => {}
                }
                return Poll::Ready(Some(item));
            }
            if this.shared.borrow().finished {
                this.release();
                return Poll::Ready(None);
            }
            match &mut this.inner {
                None => {
                    this.release();
                    return Poll::Ready(None);
                }
                #[cfg(target_arch = "wasm32")]
                Some(Inner::Fetch(driver)) => {
                    if driver.as_mut().poll(cx).is_ready() {
                        this.shared.borrow_mut().finished = true;
                    } else if this.shared.borrow().queue.is_empty() {
                        return Poll::Pending;
                    }
                }
                #[cfg(target_arch = "wasm32")]
                Some(Inner::EventSource(_)) => {
                    this.shared.borrow_mut().set_waker(cx.waker());
                    return Poll::Pending;
                }
                #[cfg(not(target_arch = "wasm32"))]
                Some(inner) => match *inner {},
            }
        }
    }
}

impl FusedStream for EventStream {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// The messages of an [`EventStream`], without the state items; see [`EventStream::messages`].
#[derive(Debug)]
#[must_use = "dropping it closes the connection"]
pub struct Messages {
    inner: EventStream,
}

impl Messages {
    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state()
    }

    /// Closes the connection now; the next poll yields `None`.
    pub fn close(&mut self) {
        self.inner.close();
    }
}

impl Stream for Messages {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(Item::State(_)))) => continue,
                Poll::Ready(Some(Ok(Item::Message(m)))) => return Poll::Ready(Some(Ok(m))),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl FusedStream for Messages {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::executor::block_on;

    /// A stream whose transport already queued `items` and stopped (no JS involved).
    fn scripted(items: Vec<Result<Item, Error>>, done_on_data: Option<&str>) -> EventStream {
        let shared: SharedRef = Rc::default();
        for item in items {
            shared.borrow_mut().push(item);
        }
        EventStream {
            shared,
            inner: None,
            done_on_data: done_on_data.map(str::to_owned),
            terminated: false,
        }
    }

    fn msg(data: &str) -> Result<Item, Error> {
        Ok(Item::Message(Message::new("message", data, "")))
    }

    fn state(s: ConnectionState) -> Result<Item, Error> {
        Ok(Item::State(s))
    }

    #[test]
    fn done_sentinel_yields_closed_then_none_and_drops_the_rest() {
        let mut s = scripted(vec![msg("a"), msg("[DONE]"), msg("after")], Some("[DONE]"));
        let items: Vec<_> = block_on(s.by_ref().map(Result::unwrap).collect::<Vec<_>>());
        assert_eq!(
            items,
            [msg("a").unwrap(), Item::State(ConnectionState::Closed)]
        );
        assert!(s.is_terminated());
        assert_eq!(s.state(), ConnectionState::Closed);
    }

    #[test]
    fn fatal_error_is_the_last_item() {
        let mut s = scripted(
            vec![msg("a"), Err(Error::Status { status: 404 }), msg("never")],
            None,
        );
        let items: Vec<_> = block_on(s.by_ref().collect::<Vec<_>>());
        assert_eq!(items.len(), 2);
        assert!(matches!(items[1], Err(Error::Status { status: 404 })));
        assert!(s.is_terminated());
        assert!(block_on(s.next()).is_none(), "fused");
    }

    #[test]
    fn oversize_error_is_not_fatal() {
        let s = scripted(
            vec![Err(Error::EventTooLarge { limit: 8 }), msg("next")],
            None,
        );
        let items: Vec<_> = block_on(s.collect::<Vec<_>>());
        assert!(matches!(items[0], Err(Error::EventTooLarge { limit: 8 })));
        assert_eq!(items[1].as_ref().unwrap(), &msg("next").unwrap());
    }

    #[test]
    fn messages_skip_states() {
        let s = scripted(
            vec![
                state(ConnectionState::Connecting),
                state(ConnectionState::Open),
                msg("a"),
                state(ConnectionState::Reconnecting {
                    attempt: 1,
                    delay: std::time::Duration::from_millis(5),
                }),
                msg("b"),
            ],
            None,
        );
        let data: Vec<_> = block_on(
            s.messages()
                .map(|m| m.unwrap().into_data())
                .collect::<Vec<_>>(),
        );
        assert_eq!(data, ["a", "b"]);
    }

    #[test]
    fn close_ends_at_once() {
        let mut s = scripted(vec![msg("queued")], None);
        s.close();
        assert!(block_on(s.next()).is_none());
        assert_eq!(s.state(), ConnectionState::Closed);
    }
}
