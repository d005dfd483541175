//! The stream layer: one [`Stream`] over whichever transport the request chose, and the
//! [`CloseHandle`] that ends it from anywhere.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use crate::control::Control;
use crate::queue::QueueRef;
use crate::{Batch, ConnectionState, Error, Item, Message, SseRequest};

/// The transport a stream runs on. Dropping it releases every JS resource it holds.
enum Inner {
    /// Never built: keeps the enum inhabited-in-name whatever the features, so matches on it
    /// always have one arm to fall back on.
    #[allow(dead_code)]
    Never(std::convert::Infallible),
    /// The EventSource subscription (callbacks layer) fills the queue; the request is kept to
    /// open it anew on [`EventStream::reconnect`].
    #[cfg(all(target_arch = "wasm32", feature = "event-source"))]
    EventSource(crate::wasm::event_source::Subscription, Box<SseRequest>),
    /// The fetch driver, polled by the stream itself (no `spawn_local`): dropping it drops the
    /// in-flight request's abort guard, reader guard and timers.
    #[cfg(all(target_arch = "wasm32", feature = "fetch"))]
    Fetch(Pin<Box<dyn std::future::Future<Output = ()>>>),
}

/// Ends an [`EventStream`] from anywhere: `Clone + Send + Sync`, so it fits a Leptos
/// `on_cleanup`, a Dioxus `use_drop`, a Yew effect's cleanup or another thread.
///
/// [`close`](CloseHandle::close) marks the stream closed and wakes the task that polls it; on
/// that poll the stream releases its connection (the fetch is aborted, the EventSource closed)
/// and yields a [`ConnectionState::Closed`] item, then `None`. A stream that nobody polls releases its connection when it is polled or
/// dropped. Dropping the handle does nothing.
#[derive(Debug, Clone)]
pub struct CloseHandle {
    state: Arc<Control>,
}

impl CloseHandle {
    /// Closes the stream: its next poll releases the connection and yields
    /// `Item::State(Closed)`, then `None`.
    pub fn close(&self) {
        self.state.closed.store(true, Ordering::Release);
        self.state.waker.wake();
    }

    /// Whether [`close`](CloseHandle::close) was called (on this handle or a clone).
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Asks for a new connection now: on the fetch transport, a pending reconnect happens at
    /// once and an open connection is replaced (with `Last-Event-ID`); the browser's
    /// `EventSource` is closed and opened anew (the browser cannot be given a starting id).
    /// The stream says [`Disconnect::Requested`](crate::Disconnect::Requested). Useful after
    /// the app learns that the network or the credentials changed.
    pub fn reconnect(&self) {
        self.state.reconnect.store(true, Ordering::Release);
        self.state.waker.wake();
    }

    /// A guard that closes the stream when dropped (unless [`disarm`](CloseGuard::disarm)ed):
    /// ties the stream's life to a scope or to a value that a framework drops.
    pub fn drop_guard(self) -> CloseGuard {
        CloseGuard { handle: Some(self) }
    }

    /// A handle for a new stream (a shared stream's subscription).
    pub(crate) fn new() -> CloseHandle {
        CloseHandle {
            state: Arc::default(),
        }
    }

    /// Wakes the task that polls with `waker` on close.
    pub(crate) fn register(&self, waker: &Waker) {
        self.state.register(waker);
    }
}

/// Closes its stream when dropped; see [`CloseHandle::drop_guard`]. `Send + Sync`, like the
/// handle.
#[derive(Debug)]
#[must_use = "dropping it closes the stream"]
pub struct CloseGuard {
    handle: Option<CloseHandle>,
}

impl CloseGuard {
    /// Gives the handle back without closing the stream.
    pub fn disarm(mut self) -> CloseHandle {
        // Always `Some` until this or `drop` takes it.
        self.handle.take().unwrap_or_else(CloseHandle::new)
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.close();
        }
    }
}

// `open` lives here, next to what it returns, so that the request module does not depend on the
// stream module (which depends on it).
impl SseRequest {
    /// Opens the stream: starts connecting at once (both transports: the request is on its way
    /// when this returns, whether or not the stream is polled yet) and returns the stream of its
    /// items.
    ///
    /// # Errors
    /// - [`Error::EventSourceUnsupported`] when the EventSource transport cannot carry the request;
    /// - [`Error::TransportNotEnabled`] / [`Error::FramingNotEnabled`] /
    ///   [`Error::FeatureNotEnabled`] when the request needs a cargo feature that is off;
    /// - [`Error::Js`] when the browser refuses it (for example an invalid URL or header name);
    /// - [`Error::UnsupportedTarget`] when not compiled for `wasm32`.
    pub fn open(self) -> Result<EventStream, Error> {
        self.validate()?;
        EventStream::open(self)
    }
}

/// A stream of [`Item`]s from one event source, over either transport.
///
/// Created by [`SseRequest::open`], which starts connecting at once. Ends with `None` after a
/// clean close (a `204` on the fetch transport, the done sentinel, a server end with reconnection
/// turned off, [`close`](EventStream::close) or a [`CloseHandle`]), or after one fatal [`Error`]
/// item.
///
/// Not `Clone`: it owns the connection. Dropping it aborts the fetch (through its
/// [`AbortController`](https://developer.mozilla.org/en-US/docs/Web/API/AbortController)),
/// cancels the body reader, closes the EventSource, removes every listener and clears every
/// timer.
#[must_use = "dropping it closes the connection"]
pub struct EventStream {
    queue: QueueRef,
    inner: Option<Inner>,
    close: Arc<Control>,
    done_on_data: Option<String>,
    terminated: bool,
    /// The rest of the chunk whose first message was the last taken from the queue: read from
    /// here, one message at a time, without a borrow of the queue for each.
    #[cfg(feature = "fetch")]
    unread: Option<crate::batch::Unread>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.inner {
            None => "none",
            #[cfg(all(target_arch = "wasm32", feature = "event-source"))]
            Some(Inner::EventSource(..)) => "EventSource",
            #[cfg(all(target_arch = "wasm32", feature = "fetch"))]
            Some(Inner::Fetch(_)) => "fetch",
            Some(Inner::Never(never)) => match *never {},
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
    // With neither transport compiled in, every request ends in the `TransportNotEnabled` arm.
    #[cfg_attr(
        not(any(feature = "fetch", feature = "event-source")),
        allow(unused_variables, unreachable_code)
    )]
    pub(crate) fn open(mut request: SseRequest) -> Result<EventStream, Error> {
        let queue: QueueRef = std::rc::Rc::new(std::cell::RefCell::new(match request.transport {
            crate::Transport::EventSource => crate::queue::Queue::bounded(request.max_buffered),
            crate::Transport::Fetch => crate::queue::Queue::default(),
        }));
        crate::queue::edit(&queue).push_state(ConnectionState::Connecting);
        // The stream checks the sentinel; the transports never read it.
        let done_on_data = request.done_on_data.take();
        let control = Arc::<Control>::default();
        let inner = match request.transport {
            #[cfg(feature = "event-source")]
            crate::Transport::EventSource => Inner::EventSource(
                crate::wasm::event_source::Subscription::open(
                    &request,
                    std::rc::Rc::clone(&queue),
                )?,
                Box::new(request),
            ),
            #[cfg(feature = "fetch")]
            crate::Transport::Fetch => {
                let mut driver: Pin<Box<dyn std::future::Future<Output = ()>>> =
                    Box::pin(crate::wasm::fetch::run(
                        request,
                        std::rc::Rc::clone(&queue),
                        Arc::clone(&control),
                    ));
                // Start connecting now, as the EventSource transport does: the driver runs up to
                // its first await (the `fetch` call). The first poll of the stream registers the
                // real waker. A request the browser refuses outright (an invalid URL or header)
                // fails here, so `open` returns that error, as it does for EventSource.
                if driver
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_ready()
                {
                    let mut queue = crate::queue::edit(&queue);
                    if let Some(error) = queue.take_failure() {
                        return Err(error);
                    }
                    queue.set_finished();
                }
                Inner::Fetch(driver)
            }
            #[allow(unreachable_patterns)]
            other => return Err(Error::TransportNotEnabled(other.feature())),
        };
        Ok(EventStream::with_transport(
            queue,
            Some(inner),
            control,
            done_on_data,
        ))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn open(_request: SseRequest) -> Result<EventStream, Error> {
        Err(Error::UnsupportedTarget)
    }

    fn with_transport(
        queue: QueueRef,
        inner: Option<Inner>,
        close: Arc<Control>,
        done_on_data: Option<String>,
    ) -> EventStream {
        EventStream {
            queue,
            inner,
            close,
            done_on_data,
            terminated: false,
            #[cfg(feature = "fetch")]
            unread: None,
        }
    }

    /// The current connection state (as last reported by the transport; the matching
    /// [`Item::State`] may still be queued).
    pub fn state(&self) -> ConnectionState {
        if self.terminated || self.close.is_closed() {
            ConnectionState::Closed
        } else {
            crate::queue::edit(&self.queue).state()
        }
    }

    /// Closes the connection now (the fetch is aborted, the EventSource closed); the stream then
    /// yields [`ConnectionState::Closed`] and `None`, as after [`CloseHandle::close`].
    pub fn close(&mut self) {
        if self.terminated {
            return;
        }
        self.close.closed.store(true, Ordering::Release);
        // Dropping runs JS (abort, close): before anything borrows the queue.
        self.inner = None;
    }

    /// Asks for a new connection now; see [`CloseHandle::reconnect`].
    pub fn reconnect(&self) {
        self.close_handle().reconnect();
    }

    /// A handle that closes this stream from anywhere (`Clone + Send + Sync`); see
    /// [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle {
        CloseHandle {
            state: Arc::clone(&self.close),
        }
    }

    /// A stream of the messages only (state items and skip notices left out; errors kept).
    pub fn messages(self) -> Messages {
        SseStream::messages(self)
    }

    fn release(&mut self) {
        self.terminated = true;
        #[cfg(feature = "fetch")]
        {
            self.unread = None;
        }
        // Release the transport before borrowing the queue: dropping runs JS (close, abort).
        self.inner = None;
        crate::queue::edit(&self.queue).clear();
        drop(self.close.waker.take());
    }

    /// The next message of the chunk being read (none once the stream was closed: the close is
    /// said first).
    #[inline]
    fn next_unread(&mut self) -> Option<Message> {
        #[cfg(feature = "fetch")]
        if !self.terminated && !self.close.is_closed() {
            return self.unread.as_mut()?.next_message();
        }
        None
    }

    /// The rest of the chunk being read, as a batch.
    fn unread_batch(&mut self) -> Option<Batch> {
        #[cfg(feature = "fetch")]
        if !self.terminated && !self.close.is_closed() {
            return self
                .unread
                .take()
                .filter(|unread| !unread.is_empty())
                .map(crate::batch::Unread::into_batch);
        }
        None
    }

    fn is_sentinel(&self, message: &Message) -> bool {
        self.done_on_data
            .as_deref()
            .is_some_and(|sentinel| message.data() == sentinel)
    }
}

/// What [`EventStream::poll_queue`] found.
enum Step<T> {
    /// Something taken from the queue.
    Taken(T),
    /// Closed from a handle (the stream is released): say `Closed`, then end.
    Closed,
    /// The stream is over.
    End,
}

impl EventStream {
    /// Drives the transport until `take` gets something from the queue, or the stream is over.
    #[cfg_attr(
        not(all(
            target_arch = "wasm32",
            any(feature = "fetch", feature = "event-source")
        )),
        allow(unused_variables, clippy::never_loop)
    )]
    fn poll_queue<T>(
        &mut self,
        cx: &mut Context<'_>,
        take: fn(&mut crate::queue::Queue) -> Option<T>,
    ) -> Poll<Step<T>> {
        loop {
            if self.terminated {
                return Poll::Ready(Step::End);
            }
            if self.close.is_closed() {
                // Closed from a handle: the consumer did not ask here, so say it, then `None`.
                self.release();
                return Poll::Ready(Step::Closed);
            }
            let next = take(&mut crate::queue::edit(&self.queue));
            if let Some(taken) = next {
                return Poll::Ready(Step::Taken(taken));
            }
            if crate::queue::edit(&self.queue).is_finished() {
                self.release();
                return Poll::Ready(Step::End);
            }
            match &mut self.inner {
                None => {
                    self.release();
                    return Poll::Ready(Step::End);
                }
                #[cfg(all(target_arch = "wasm32", feature = "fetch"))]
                Some(Inner::Fetch(driver)) => {
                    if driver.as_mut().poll(cx).is_ready() {
                        crate::queue::edit(&self.queue).set_finished();
                    } else if crate::queue::edit(&self.queue).is_empty() {
                        self.close.register(cx.waker());
                        return Poll::Pending;
                    }
                }
                #[cfg(all(target_arch = "wasm32", feature = "event-source"))]
                Some(Inner::EventSource(subscription, request)) => {
                    if self.close.take_reconnect() {
                        // The browser's EventSource cannot be told to reconnect: close it and
                        // open a new one (its callbacks keep filling the same queue).
                        let cause = crate::Disconnect::Requested;
                        crate::queue::edit(&self.queue).push_state(ConnectionState::Reconnecting {
                            attempt: 0,
                            delay: Some(std::time::Duration::ZERO),
                            cause,
                        });
                        let queue = std::rc::Rc::clone(&self.queue);
                        // Dropping the old subscription closes it and removes its listeners.
                        *subscription =
                            match crate::wasm::event_source::Subscription::open(request, queue) {
                                Ok(new) => new,
                                Err(error) => {
                                    crate::queue::edit(&self.queue).fail(error);
                                    continue;
                                }
                            };
                        crate::queue::edit(&self.queue).push_state(ConnectionState::Connecting);
                        continue;
                    }
                    crate::queue::edit(&self.queue).set_waker(cx.waker());
                    self.close.register(cx.waker());
                    return Poll::Pending;
                }
                Some(Inner::Never(never)) => match *never {},
            }
        }
    }

    /// The next [`Batch`]: every message that is ready (on the fetch transport, what one chunk
    /// of the body completed), lent out without an allocation per message, or one other item;
    /// `None` at the end, exactly where [`next`](futures_util::StreamExt::next) would end.
    ///
    /// The same stream as the [`Item`]s, read in batches: the two may be mixed. For a hot loop
    /// over many small messages; see the crate docs, "Borrowed batches".
    pub fn next_batch(
        &mut self,
    ) -> impl std::future::Future<Output = Option<Result<Batch, Error>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_next_batch(cx))
    }

    /// [`next_batch`](EventStream::next_batch) as a poll function.
    pub fn poll_next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Batch, Error>>> {
        let closed = || Some(Ok(Batch::of_item(Item::State(ConnectionState::Closed))));
        let step = match self.unread_batch() {
            Some(batch) => Step::Taken(Ok(batch)),
            None => std::task::ready!(self.poll_queue(cx, crate::queue::Queue::pop_batch)),
        };
        Poll::Ready(match step {
            Step::End => None,
            Step::Closed => closed(),
            Step::Taken(Err(error)) => {
                self.release();
                Some(Err(error))
            }
            Step::Taken(Ok(mut batch)) => {
                let sentinel = self.done_on_data.as_deref();
                match sentinel.and_then(|s| batch.messages().position(|m| m.data() == s)) {
                    Some(0) => {
                        self.release();
                        closed()
                    }
                    Some(before) => {
                        // The messages before the sentinel now; the next poll says `Closed`
                        // and ends, as after a close handle.
                        batch.truncate(before);
                        self.close.closed.store(true, Ordering::Release);
                        Some(Ok(batch))
                    }
                    None => Some(Ok(batch)),
                }
            }
        })
    }
}

impl Stream for EventStream {
    type Item = Result<Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The hot path: the next message of the chunk being read, returned from here.
        match this.next_unread() {
            Some(message) if !this.is_sentinel(&message) => {
                Poll::Ready(Some(Ok(Item::Message(message))))
            }
            Some(_sentinel) => {
                this.release();
                Poll::Ready(Some(Ok(Item::State(ConnectionState::Closed))))
            }
            None => this.poll_next_slow(cx),
        }
    }
}

impl EventStream {
    /// [`poll_next`](Stream::poll_next) past the hot path: the queue and the transport. Out of
    /// line, so that the hot path does not set up what this needs.
    #[inline(never)]
    fn poll_next_slow(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Item, Error>>> {
        let item = match std::task::ready!(self.poll_queue(cx, crate::queue::Queue::pop)) {
            Step::End => return Poll::Ready(None),
            Step::Closed => return Poll::Ready(Some(Ok(Item::State(ConnectionState::Closed)))),
            Step::Taken((item, rest)) => {
                #[cfg(feature = "fetch")]
                {
                    self.unread = rest;
                }
                #[cfg(not(feature = "fetch"))]
                drop(rest);
                item
            }
        };
        match &item {
            Ok(Item::Message(m)) if self.is_sentinel(m) => {
                self.release();
                return Poll::Ready(Some(Ok(Item::State(ConnectionState::Closed))));
            }
            Err(_) => self.release(),
            _ => {}
        }
        Poll::Ready(Some(item))
    }
}

impl FusedStream for EventStream {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// What [`EventStream`] and [`Subscription`](crate::Subscription) have in common: code that
/// shows or ends a stream (a status line, a component's cleanup) takes either.
///
/// Both types also have these as inherent methods, so no import is needed to call them.
pub trait SseStream: Stream<Item = Result<Item, Error>> + FusedStream + Unpin {
    /// The current connection state (`Closed` once this stream ended).
    fn state(&self) -> ConnectionState;

    /// Ends this stream now; the next polls yield `Item::State(Closed)`, then `None`.
    fn close(&mut self);

    /// Asks for a new connection now; see [`CloseHandle::reconnect`].
    fn reconnect(&self);

    /// A handle that ends this stream from anywhere (`Clone + Send + Sync`); see
    /// [`CloseHandle`].
    fn close_handle(&self) -> CloseHandle;

    /// A stream of the messages only (state items and skip notices left out; errors kept).
    fn messages(self) -> Messages<Self>
    where
        Self: Sized,
    {
        Messages {
            inner: self,
            skipped: 0,
        }
    }
}

impl SseStream for EventStream {
    fn state(&self) -> ConnectionState {
        EventStream::state(self)
    }

    fn close(&mut self) {
        EventStream::close(self);
    }

    fn close_handle(&self) -> CloseHandle {
        EventStream::close_handle(self)
    }

    fn reconnect(&self) {
        EventStream::reconnect(self);
    }
}

/// The messages of an [`EventStream`] (or of any [`SseStream`]), without the state items; see
/// [`EventStream::messages`].
///
/// Skip notices ([`Item::Skipped`]) are left out too; [`skipped`](Messages::skipped) counts the
/// messages they stood for.
#[derive(Debug)]
#[must_use = "dropping it closes the connection"]
pub struct Messages<S = EventStream> {
    inner: S,
    skipped: u64,
}

impl<S: SseStream> Messages<S> {
    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state()
    }

    /// Closes the connection now; the next poll yields `None`.
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// A handle that closes this stream from anywhere; see [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle {
        self.inner.close_handle()
    }

    /// How many messages were lost so far (oversize events skipped, messages dropped because
    /// the consumer fell behind an EventSource).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl<S: SseStream> Stream for Messages<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(Item::Message(m)))) => return Poll::Ready(Some(Ok(m))),
                Poll::Ready(Some(Ok(Item::Skipped(skipped)))) => {
                    self.skipped = self.skipped.saturating_add(match skipped {
                        crate::Skipped::Lagged { count } => count,
                        _ => 1,
                    });
                }
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: SseStream> FusedStream for Messages<S> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Skipped;
    #[cfg(feature = "fetch")]
    use crate::message::chunk::Chunk;
    use futures::StreamExt;
    use futures::executor::block_on;

    /// A stream whose transport already queued `items` and stopped (no JS involved).
    fn scripted(items: Vec<Result<Item, Error>>, done_on_data: Option<&str>) -> EventStream {
        let queue = QueueRef::default();
        for item in items {
            match item {
                Ok(item) => crate::queue::edit(&queue).push_item(item),
                Err(e) => crate::queue::edit(&queue).fail(e),
            }
        }
        EventStream::with_transport(queue, None, Arc::default(), done_on_data.map(str::to_owned))
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

    /// A stream whose transport queued one chunk of messages with these data, then `Closed`.
    #[cfg(feature = "fetch")]
    fn chunked(data: &[&str], done_on_data: Option<&str>) -> EventStream {
        chunks(&[data], done_on_data)
    }

    /// A stream whose transport queued chunks of messages with these data, then `Closed`.
    #[cfg(feature = "fetch")]
    fn chunks(chunks: &[&[&str]], done_on_data: Option<&str>) -> EventStream {
        let queue = QueueRef::default();
        for data in chunks {
            crate::queue::edit(&queue).push_chunk(Chunk::of_data(data, "7"));
        }
        crate::queue::edit(&queue).push_state(ConnectionState::Closed);
        EventStream::with_transport(queue, None, Arc::default(), done_on_data.map(str::to_owned))
    }

    fn data_of(item: Option<Result<Item, Error>>) -> String {
        match item {
            Some(Ok(Item::Message(m))) => {
                assert_eq!(m.last_event_id(), "7");
                m.into_data()
            }
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn a_chunk_yields_its_messages_in_order_then_what_follows() {
        let mut s = chunked(&["a", "b", "c"], None);
        for want in ["a", "b", "c"] {
            assert_eq!(data_of(block_on(s.next())), want);
        }
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed)
        );
        assert!(block_on(s.next()).is_none());
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn next_batch_after_next_lends_the_rest_of_the_chunk() {
        let mut s = chunked(&["a", "b", "c"], None);
        assert_eq!(data_of(block_on(s.next())), "a");
        let rest = block_on(s.next_batch()).unwrap().unwrap();
        let data: Vec<_> = rest.messages().map(|m| m.data()).collect();
        assert_eq!(data, ["b", "c"]);
        assert_eq!(
            block_on(s.next_batch()).unwrap().unwrap().item(),
            Some(&Item::State(ConnectionState::Closed))
        );
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn a_close_in_the_middle_of_a_chunk_drops_the_rest() {
        let mut s = chunked(&["a", "b", "c"], None);
        assert_eq!(data_of(block_on(s.next())), "a");
        s.close_handle().close();
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed)
        );
        assert!(block_on(s.next()).is_none());
        let mut s = chunked(&["a", "b", "c"], None);
        assert_eq!(data_of(block_on(s.next())), "a");
        s.close_handle().close();
        assert_eq!(
            block_on(s.next_batch()).unwrap().unwrap().item(),
            Some(&Item::State(ConnectionState::Closed))
        );
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn the_sentinel_inside_a_chunk_ends_the_stream() {
        // More follows in the queue: the stream ends at the sentinel, not at what comes next.
        let mut s = chunks(&[&["a", "[DONE]", "after"], &["later"]], Some("[DONE]"));
        assert_eq!(data_of(block_on(s.next())), "a");
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed)
        );
        assert!(block_on(s.next()).is_none());
    }

    #[test]
    fn fatal_error_is_the_last_item() {
        let mut s = scripted(
            vec![msg("a"), Err(Error::Status { status: 404 }), msg("never")],
            None,
        );
        let items: Vec<_> = block_on(s.by_ref().collect::<Vec<_>>());
        assert_eq!(items.len(), 3, "{items:?}");
        // Closed first, so that the last state a consumer saw is not `Connecting` or `Open`.
        assert!(matches!(items[1], Ok(Item::State(ConnectionState::Closed))));
        assert!(matches!(items[2], Err(Error::Status { status: 404 })));
        assert!(s.is_terminated());
        assert!(block_on(s.next()).is_none(), "fused");
    }

    #[test]
    fn a_skip_notice_is_an_item_and_the_stream_carries_on() {
        let s = scripted(
            vec![
                Ok(Item::Skipped(Skipped::TooLarge { limit: 8 })),
                msg("next"),
            ],
            None,
        );
        let items: Vec<_> = block_on(s.collect::<Vec<_>>());
        assert_eq!(
            items[0].as_ref().unwrap(),
            &Item::Skipped(Skipped::TooLarge { limit: 8 })
        );
        assert_eq!(items[1].as_ref().unwrap(), &msg("next").unwrap());
    }

    #[test]
    fn messages_count_what_was_skipped() {
        let mut s = scripted(
            vec![
                Ok(Item::Skipped(Skipped::TooLarge { limit: 8 })),
                msg("a"),
                Ok(Item::Skipped(Skipped::Lagged { count: 5 })),
                msg("b"),
            ],
            None,
        )
        .messages();
        assert_eq!(block_on(s.next()).unwrap().unwrap().data(), "a");
        assert_eq!(s.skipped(), 1);
        assert_eq!(block_on(s.next()).unwrap().unwrap().data(), "b");
        assert_eq!(s.skipped(), 6);
    }

    #[test]
    fn close_handle_is_send_sync_and_ends_the_stream() {
        fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
        let mut s = scripted(vec![msg("queued")], None);
        let handle = s.close_handle();
        send_sync(&handle);
        let other = handle.clone();
        assert!(!handle.is_closed());
        std::thread::spawn(move || other.close()).join().unwrap();
        assert!(handle.is_closed());
        assert_eq!(s.state(), ConnectionState::Closed);
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed),
            "queued items are dropped; the close is said"
        );
        assert!(block_on(s.next()).is_none());
        assert!(s.is_terminated());
    }

    #[test]
    fn close_handle_wakes_the_polling_task() {
        use std::sync::atomic::AtomicUsize;
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let s = scripted(vec![], None);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        s.close.register(&Waker::from(Arc::clone(&count)));
        s.close_handle().close();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
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
                    delay: Some(std::time::Duration::from_millis(5)),
                    cause: crate::Disconnect::EndOfBody,
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
        assert_eq!(s.state(), ConnectionState::Closed);
        // The same end as a close handle's: `Closed`, then `None`; nothing queued is delivered.
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed)
        );
        assert!(block_on(s.next()).is_none());
        assert!(s.is_terminated());
    }

    #[test]
    fn a_drop_guard_closes_and_a_disarmed_one_does_not() {
        let mut s = scripted(vec![msg("a")], None);
        let guard = s.close_handle().drop_guard();
        let handle = guard.disarm();
        assert!(!handle.is_closed());
        assert_eq!(block_on(s.next()).unwrap().unwrap(), msg("a").unwrap());
        drop(s.close_handle().drop_guard());
        assert!(handle.is_closed());
        assert_eq!(
            block_on(s.next()).unwrap().unwrap(),
            Item::State(ConnectionState::Closed)
        );
        fn send_sync<T: Send + Sync>() {}
        send_sync::<CloseGuard>();
    }
}
