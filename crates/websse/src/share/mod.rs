//! One connection for many consumers: [`SharedStream`] fans one transport out to any number of
//! [`Subscription`]s in a tab and, opt-in, to the other tabs of the origin.
//!
//! - `hub.rs`: the per-tab registry and the hub that copies every item into each subscriber's
//!   bounded queue (platform-independent).
//! - `dedupe.rs`: what a tab has delivered, to drop repeats after a leader handover.
//! - `key.rs`: the share key and the request fingerprint.
//! - `tabs/`: the browser part: the driver that runs the transport, the membership across tabs
//!   (a Web Lock elects the leader, a `BroadcastChannel` relays) and the wire format.

use std::cell::RefCell;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

mod dedupe;
mod hub;
mod inbox;
mod key;
pub(crate) mod tabs;

use crate::batch::Unread;
use hub::{Hub, Running};

use crate::{
    Batch, CloseHandle, ConnectionState, Error, Item, Messages, Sharing, SseRequest, SseStream,
};

impl SseRequest {
    /// The key that identifies the stream when [shared](SseRequest::share): every share with
    /// the same key (in this tab, and in the other tabs when shared
    /// [across tabs](SseRequest::across_tabs)) joins the same connection. The default is
    /// derived from the request: transport, method, URL resolved against the page,
    /// credentials, fixed headers, body, framing, event types, starting id, and
    /// `across_tabs`. [`open`](SseRequest::open) ignores it.
    pub fn share_key(mut self, key: impl Into<String>) -> SseRequest {
        self.share_key = Some(key.into());
        self
    }

    /// When [shared](SseRequest::share), shares the connection with the other tabs (and
    /// workers) of this origin that share the same key: one tab leads and holds the
    /// connection, the others follow. Off by default; [`open`](SseRequest::open) ignores it.
    pub fn across_tabs(mut self, on: bool) -> SseRequest {
        self.across_tabs = on;
        self
    }

    /// Joins the shared stream with this request's key in this tab, or creates it: see
    /// [`SharedStream`]. Nothing connects until the first
    /// [`subscribe`](SharedStream::subscribe).
    ///
    /// # Errors
    /// [`Error::SharedRequestMismatch`] when another request is already shared under the same
    /// key in this tab (possible with an explicit [`share_key`](SseRequest::share_key)); and
    /// the errors of [`SseRequest::open`] that are known before connecting: a body that did not
    /// serialize, [`Error::EventSourceUnsupported`], [`Error::TransportNotEnabled`],
    /// [`Error::FramingNotEnabled`], [`Error::FeatureNotEnabled`], [`Error::UnsupportedTarget`]
    /// (not `wasm32`).
    pub fn share(self) -> Result<SharedStream, Error> {
        self.validate()?;
        if !cfg!(target_arch = "wasm32") {
            return Err(Error::UnsupportedTarget);
        }
        let url = key::resolved_url(&self.url);
        let fingerprint = key::fingerprint(&self, &url);
        let key = match &self.share_key {
            Some(key) => key.clone(),
            None => key::derived_key(&self, &url, &fingerprint),
        };
        Ok(SharedStream {
            hub: Hub::join(key, fingerprint, self)?,
        })
    }
}

/// One connection shared by any number of consumers: each
/// [`subscribe`](SharedStream::subscribe) returns a [`Subscription`], a stream of the same items
/// (state items included) that a plain [`EventStream`](crate::EventStream) would yield.
///
/// - The connection opens with the first subscriber and closes when the last one is dropped
///   (or closed); a later subscriber opens it again.
/// - Every [`share`](SseRequest::share) of a request with the same key in this tab returns the
///   same stream, so components that do not know about each other still share one connection.
///   The key is derived from the request, or set with [`SseRequest::share_key`].
/// - A subscriber that joins late starts with the current [`ConnectionState`] and then the
///   items that arrive after it joined.
/// - Each subscriber has its own queue, bounded by the request's
///   [`max_buffered`](SseRequest::max_buffered): the connection is read as fast as the fastest
///   subscriber polls, and one that falls behind loses messages, with one
///   [`Item::Skipped`]`(`[`Skipped::Lagged`](crate::Skipped::Lagged)`)` in their place. Memory stays
///   bounded.
/// - With several subscribers, each message is made once and every subscriber gets a clone that
///   shares its text ([`Message::into_data`](crate::Message::into_data) copies it only while
///   another subscriber still holds the message).
///
/// # Across tabs
/// With [`across_tabs(true)`](SseRequest::across_tabs), tabs of the same origin that share the
/// same key hold one network connection between them: browsers allow about six HTTP/1.1
/// connections per origin, and every open SSE stream holds one.
/// - One tab leads: it holds a Web Lock named after the key (`navigator.locks`), runs the
///   request's transport and relays every item over a `BroadcastChannel`. The others follow and
///   yield the relayed items through the same [`Subscription`] type.
/// - When the leader tab closes or crashes (or its last subscriber goes), the browser gives the
///   lock to a follower, which reconnects with the newest event id it has seen as
///   `Last-Event-ID`. Followers then drop the events they have already delivered (matched by
///   event id), so no event is lost or delivered twice. **Events without ids cannot be matched**:
///   around a handover they may be lost or repeated, as with any reconnection without ids.
///   **With [`Transport::EventSource`](crate::Transport::EventSource)** the new leader cannot send
///   `Last-Event-ID` (a new `EventSource` has no way to be given one), so it connects afresh and
///   what the server sent in between is lost; use the fetch transport (the default) for a
///   handover without gaps.
/// - [`Item::Sharing`] says whether this tab leads or follows and how many tabs share the
///   stream.
/// - A browser without Web Locks or `BroadcastChannel` falls back to one connection per tab
///   ([`Role::Alone`](crate::Role::Alone)).
///
/// ```no_run
/// use futures::StreamExt;
/// use websse::{Item, SseRequest};
///
/// # async fn run() -> Result<(), websse::Error> {
/// // Anywhere in the app: the same key gives the same stream, and one connection.
/// let prices = SseRequest::get("/api/prices").across_tabs(true).share()?;
/// let mut table = prices.subscribe();
/// let mut chart = prices.subscribe();
/// while let Some(item) = table.next().await {
///     match item? {
///         Item::Message(msg) => log(msg.data()),
///         Item::Sharing(sharing) => log(&format!("{} of {} tabs", sharing.role.as_str(), sharing.tabs)),
///         _ => {}
///     }
/// }
/// # drop(chart);
/// # Ok(())
/// # }
/// # fn log(_: &str) {}
/// ```
#[derive(Clone)]
pub struct SharedStream {
    hub: Rc<RefCell<Hub>>,
}

impl fmt::Debug for SharedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hub = self.hub.borrow();
        f.debug_struct("SharedStream")
            .field("key", &hub.key())
            .field("across_tabs", &hub.across_tabs())
            .field("subscribers", &hub.subscribers())
            .field("state", &hub.state())
            .field("sharing", &hub.sharing())
            .finish()
    }
}

impl SharedStream {
    /// A new subscriber: a stream of the items from now on (starting with the current
    /// connection state). Opens the connection if it is not open.
    pub fn subscribe(&self) -> Subscription {
        let id = Hub::subscribe(&self.hub, start_running);
        Subscription {
            hub: Rc::clone(&self.hub),
            id,
            run: None,
            close: CloseHandle::new(),
            terminated: false,
            left: false,
        }
    }

    /// The key that identifies the stream.
    pub fn key(&self) -> String {
        self.hub.borrow().key().to_owned()
    }

    /// How many subscribers are live (not dropped, closed or ended).
    pub fn subscribers(&self) -> usize {
        self.hub.borrow().subscribers()
    }

    /// The current connection state (of the leader's connection, across tabs).
    pub fn state(&self) -> ConnectionState {
        self.hub.borrow().state()
    }

    /// This tab's role and the number of tabs sharing, when shared across tabs and known.
    pub fn sharing(&self) -> Option<Sharing> {
        self.hub.borrow().sharing()
    }
}

/// One consumer's share of a [`SharedStream`]: a [`Stream`] with the contract of
/// [`EventStream`](crate::EventStream) (ends with `None`, after one `Err` when the connection
/// failed; fused). Dropping or closing it releases only this share; the connection closes with
/// the last one.
#[must_use = "dropping it leaves the shared stream"]
pub struct Subscription {
    hub: Rc<RefCell<Hub>>,
    id: u64,
    /// The messages of a shared chunk this subscriber is reading, taken out of its queue in the
    /// hub: read one by one without borrowing the hub for each.
    run: Option<Unread>,
    close: CloseHandle,
    terminated: bool,
    /// Unsubscribed from the hub (by `close`, before the stream has said `Closed`).
    left: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("key", &self.hub.borrow().key())
            .field("id", &self.id)
            .field("terminated", &self.terminated)
            .finish()
    }
}

impl Subscription {
    /// The current connection state (`Closed` once this subscription ended).
    pub fn state(&self) -> ConnectionState {
        if self.terminated || self.close.is_closed() {
            ConnectionState::Closed
        } else {
            self.hub.borrow().state()
        }
    }

    /// Leaves the shared stream now (the connection closes if this was its last subscriber);
    /// the next poll yields `Item::State(Closed)`, then `None`, as after [`CloseHandle::close`].
    pub fn close(&mut self) {
        if self.terminated {
            return;
        }
        self.close.close();
        self.leave();
    }

    /// Asks for a new connection now, when this tab runs it (alone, or as the leader of the
    /// tabs): see [`CloseHandle::reconnect`]. In a follower tab it does nothing: the connection
    /// is the leader's.
    pub fn reconnect(&self) {
        self.hub.borrow().reconnect();
    }

    /// A handle that ends this subscription from anywhere (`Clone + Send + Sync`): its next poll
    /// yields `Item::State(Closed)`, then `None`. See [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    /// A stream of the messages only (state items and skip notices left out; errors kept).
    pub fn messages(self) -> Messages<Subscription> {
        SseStream::messages(self)
    }

    fn release(&mut self) {
        self.terminated = true;
        self.run = None;
        self.leave();
    }

    /// Gives up this subscriber's share of the connection (once).
    fn leave(&mut self) {
        if std::mem::replace(&mut self.left, true) {
            return;
        }
        let (stopped, driver) = self.hub.borrow_mut().unsubscribe(self.id);
        // Outside the borrow: stopping the connection runs JS, and the driver may read on.
        drop(stopped);
        if let Some(driver) = driver {
            driver.wake();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.release();
    }
}

/// What a subscription found in its queue.
enum Next {
    /// Messages of a shared chunk.
    Run(Unread),
    Item(Result<Item, Error>),
}

impl Subscription {
    /// The next [`Batch`]: the messages of one chunk of the body that this subscriber has not
    /// read yet, lent out without an allocation per message (the subscribers read the same
    /// chunk), or one other item; `None` at the end, exactly where
    /// [`next`](futures_util::StreamExt::next) would end. The same stream as the [`Item`]s: the
    /// two may be mixed. See [`EventStream::next_batch`](crate::EventStream::next_batch).
    pub fn next_batch(
        &mut self,
    ) -> impl std::future::Future<Output = Option<Result<Batch, Error>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_next_batch(cx))
    }

    /// [`next_batch`](Subscription::next_batch) as a poll function.
    pub fn poll_next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Batch, Error>>> {
        Poll::Ready(match std::task::ready!(self.poll_queue(cx)) {
            None => None,
            Some(Next::Run(run)) => Some(Ok(run.into_batch())),
            Some(Next::Item(Ok(item))) => Some(Ok(Batch::of_item(item))),
            Some(Next::Item(Err(error))) => Some(Err(error)),
        })
    }

    /// The next thing for this subscriber: the rest of the run it is reading, or what its queue
    /// in the hub holds next.
    fn poll_queue(&mut self, cx: &mut Context<'_>) -> Poll<Option<Next>> {
        if self.terminated {
            return Poll::Ready(None);
        }
        if self.close.is_closed() {
            self.release();
            return Poll::Ready(Some(Next::Item(Ok(Item::State(ConnectionState::Closed)))));
        }
        if let Some(run) = self.run.take().filter(|run| !run.is_empty()) {
            return Poll::Ready(Some(Next::Run(run)));
        }
        let (next, driver) = {
            let mut hub = self.hub.borrow_mut();
            match hub.slot(self.id) {
                None => (Poll::Ready(None), None),
                Some(queue) => match queue.take_run() {
                    Some(run) => (Poll::Ready(Some(Next::Run(run))), None),
                    None => match queue.pop() {
                        Some(item) => (Poll::Ready(Some(Next::Item(item))), None),
                        None if queue.is_finished() => (Poll::Ready(None), None),
                        None => {
                            queue.set_waker(cx.waker());
                            // This subscriber has read everything: the driver may read on.
                            (Poll::Pending, hub.take_driver())
                        }
                    },
                },
            }
        };
        // Woken outside the borrow: the driver may run at once.
        if let Some(driver) = driver {
            driver.wake();
        }
        match &next {
            Poll::Ready(None) | Poll::Ready(Some(Next::Item(Err(_)))) => self.release(),
            Poll::Pending => self.close.register(cx.waker()),
            Poll::Ready(Some(_)) => {}
        }
        next
    }
}

impl Stream for Subscription {
    type Item = Result<Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The hot path: the next message of the run being read (as `poll_queue` would, without
        // taking the run out and putting it back).
        if !this.terminated
            && !this.close.is_closed()
            && let Some(message) = this.run.as_mut().and_then(Unread::next_message)
        {
            return Poll::Ready(Some(Ok(Item::Message(message))));
        }
        loop {
            return Poll::Ready(match std::task::ready!(this.poll_queue(cx)) {
                None => None,
                Some(Next::Item(item)) => Some(item),
                Some(Next::Run(mut run)) => match run.next_message() {
                    // The rest of the run is read from here on, without the hub.
                    Some(message) => {
                        this.run = Some(run);
                        Some(Ok(Item::Message(message)))
                    }
                    None => continue,
                },
            });
        }
    }
}

impl SseStream for Subscription {
    fn state(&self) -> ConnectionState {
        Subscription::state(self)
    }

    fn close(&mut self) {
        Subscription::close(self);
    }

    fn close_handle(&self) -> CloseHandle {
        Subscription::close_handle(self)
    }

    fn reconnect(&self) {
        Subscription::reconnect(self);
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

#[cfg(target_arch = "wasm32")]
fn start_running(hub: &Rc<RefCell<Hub>>) -> Running {
    Box::new(tabs::start(hub))
}

/// Natively there is no browser to connect with: a connection that only records its stop.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
struct NoConnection {
    stopped: std::cell::Cell<bool>,
}

#[cfg(not(target_arch = "wasm32"))]
impl hub::Connection for NoConnection {
    fn stop(&self) {
        self.stopped.set(true);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.get()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn start_running(_hub: &Rc<RefCell<Hub>>) -> Running {
    Box::new(NoConnection::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "fetch")]
    #[test]
    fn sharing_is_for_browsers() {
        assert!(matches!(
            SseRequest::get("/a").share(),
            Err(Error::UnsupportedTarget)
        ));
    }

    /// A shared stream without a browser: its hub is fed by hand.
    fn stream(key: &str) -> SharedStream {
        let hub = Hub::join(key.into(), "f".into(), SseRequest::get("/x")).unwrap();
        SharedStream { hub }
    }

    fn deliver(stream: &SharedStream, data: &[&str]) {
        let chunk = crate::message::chunk::Chunk::of_data(data, "");
        stream
            .hub
            .borrow_mut()
            .deliver_chunk(std::sync::Arc::new(chunk), 0, data.len(), true);
    }

    fn next(sub: &mut Subscription) -> Poll<Option<Item>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(sub)
            .poll_next(&mut cx)
            .map(|item| item.map(Result::unwrap))
    }

    fn next_batch(sub: &mut Subscription) -> Poll<Option<Batch>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        sub.poll_next_batch(&mut cx)
            .map(|batch| batch.map(Result::unwrap))
    }

    fn message(data: &str) -> Poll<Option<Item>> {
        Poll::Ready(Some(Item::Message(crate::Message::new(
            "message", data, "",
        ))))
    }

    #[test]
    fn subscribers_read_a_chunk_as_items_or_as_batches_and_share_its_messages() {
        let stream = stream("items-or-batches");
        let (mut a, mut b) = (stream.subscribe(), stream.subscribe());
        deliver(&stream, &["x", "y", "z"]);
        let open = ConnectionState::Open;
        stream.hub.borrow_mut().deliver(Ok(Item::State(open)));
        let connecting = Poll::Ready(Some(Item::State(ConnectionState::Connecting)));
        assert_eq!(next(&mut a), connecting);
        let Poll::Ready(Some(Item::Message(x))) = next(&mut a) else {
            panic!("a message")
        };
        for data in ["y", "z"] {
            assert_eq!(next(&mut a), message(data));
        }
        assert_eq!(next(&mut a), Poll::Ready(Some(Item::State(open))));
        assert_eq!(next(&mut a), Poll::Pending);
        // The other one mixes items and batches: the rest of the chunk comes as one batch.
        let Poll::Ready(Some(batch)) = next_batch(&mut b) else {
            panic!("a batch")
        };
        assert_eq!(
            batch.item(),
            Some(&Item::State(ConnectionState::Connecting))
        );
        let Poll::Ready(Some(Item::Message(also_x))) = next(&mut b) else {
            panic!("a message")
        };
        if cfg!(feature = "fetch") {
            // Only the fetch transport reads chunks; without it a message owns its text.
            assert_eq!(x.data().as_ptr(), also_x.data().as_ptr(), "one text");
        }
        let Poll::Ready(Some(batch)) = next_batch(&mut b) else {
            panic!("a batch")
        };
        let data: Vec<_> = batch.messages().map(|m| m.data()).collect();
        assert_eq!(data, ["y", "z"]);
        let Poll::Ready(Some(batch)) = next_batch(&mut b) else {
            panic!("a batch")
        };
        assert_eq!(batch.item(), Some(&Item::State(open)));
        assert!(next_batch(&mut b).is_pending());
    }

    #[test]
    fn closing_a_subscription_in_the_middle_of_a_chunk_ends_it_there() {
        let stream = stream("close-mid-chunk");
        let mut sub = stream.subscribe();
        deliver(&stream, &["x", "y"]);
        let connecting = Poll::Ready(Some(Item::State(ConnectionState::Connecting)));
        assert_eq!(next(&mut sub), connecting);
        assert_eq!(next(&mut sub), message("x"));
        sub.close();
        assert_eq!(stream.subscribers(), 0);
        let closed = Poll::Ready(Some(Item::State(ConnectionState::Closed)));
        assert_eq!(next(&mut sub), closed);
        assert_eq!(next(&mut sub), Poll::Ready(None));
        assert!(sub.is_terminated());
    }

    #[test]
    fn a_subscription_is_an_sse_stream_like_an_event_stream() {
        fn takes<S: SseStream>() {}
        takes::<crate::EventStream>();
        takes::<Subscription>();
    }

    #[test]
    fn the_sharing_options_keep_the_builder_type() {
        // `share_key` and `across_tabs` are builder steps like any other: the request can still
        // be configured and opened after them.
        let request: SseRequest = SseRequest::get("/a")
            .share_key("k")
            .across_tabs(true)
            .max_buffered(10);
        assert_eq!(request.share_key.as_deref(), Some("k"));
        assert!(request.across_tabs);
    }
}
