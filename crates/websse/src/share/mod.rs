//! One connection for many consumers: [`SharedStream`] fans one transport out to any number of
//! [`Subscription`]s in a tab and, opt-in, to the other tabs of the origin (a leader tab chosen
//! with the Web Locks API relays over a `BroadcastChannel`; see `tabs.rs`).
//!
//! This module is the platform-independent part: the per-tab registry, the hub that copies
//! every item into each subscriber's bounded queue, and the de-duplication across a leader
//! handover. The browser part (the driver that runs the transport, the lock and the channel)
//! lives in `tabs.rs`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

#[cfg(target_arch = "wasm32")]
mod tabs;

use crate::queue::Queue;
use crate::request::Body;
use crate::{CloseHandle, ConnectionState, Error, Item, Message, Sharing, SseRequest};

/// A request about to be shared: the key that identifies it and whether other tabs join it.
/// Made by [`SseRequest::share_key`] or [`SseRequest::across_tabs`]; finished with
/// [`share`](SharedRequest::share).
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is shared and subscribed to"]
pub struct SharedRequest {
    request: SseRequest,
    key: Option<String>,
    across_tabs: bool,
}

impl SharedRequest {
    /// The key that identifies the shared stream: every [`share`](SharedRequest::share) with the
    /// same key (in this tab, and in the other tabs when shared across tabs) joins the same
    /// connection. The default is derived from the request: transport, method, URL, fixed
    /// headers, body, framing and event types.
    pub fn share_key(mut self, key: impl Into<String>) -> SharedRequest {
        self.key = Some(key.into());
        self
    }

    /// Shares the connection with the other tabs (and workers) of this origin that share the
    /// same key: one tab leads and holds the connection, the others follow. Off by default.
    pub fn across_tabs(mut self, on: bool) -> SharedRequest {
        self.across_tabs = on;
        self
    }

    /// Joins the shared stream with this key in this tab, or creates it: see [`SharedStream`].
    /// Nothing connects until the first [`subscribe`](SharedStream::subscribe).
    ///
    /// When a stream with the key already exists in this tab, it is returned as it is: the
    /// first request shared under a key decides the connection.
    ///
    /// # Errors
    /// The errors of [`SseRequest::open`] that are known before connecting: a body that did not
    /// serialize, [`Error::EventSourceUnsupported`], [`Error::TransportNotEnabled`],
    /// [`Error::FramingNotEnabled`], [`Error::FeatureNotEnabled`], [`Error::UnsupportedTarget`]
    /// (not `wasm32`).
    pub fn share(self) -> Result<SharedStream, Error> {
        self.request.validate()?;
        if !self.request.transport.is_enabled() {
            return Err(Error::TransportNotEnabled(self.request.transport.feature()));
        }
        if !cfg!(target_arch = "wasm32") {
            return Err(Error::UnsupportedTarget);
        }
        let key = self.key.unwrap_or_else(|| derived_key(&self.request));
        Ok(SharedStream {
            hub: Hub::join(key, self.request, self.across_tabs),
        })
    }
}

impl SseRequest {
    /// Shares this request under `key`; see [`SharedRequest::share_key`].
    pub fn share_key(self, key: impl Into<String>) -> SharedRequest {
        SharedRequest::from(self).share_key(key)
    }

    /// Shares this request with the other tabs of the origin; see
    /// [`SharedRequest::across_tabs`].
    pub fn across_tabs(self, on: bool) -> SharedRequest {
        SharedRequest::from(self).across_tabs(on)
    }

    /// Shares one connection among any number of consumers in this tab: see [`SharedStream`].
    ///
    /// # Errors
    /// As [`SharedRequest::share`].
    pub fn share(self) -> Result<SharedStream, Error> {
        SharedRequest::from(self).share()
    }
}

impl From<SseRequest> for SharedRequest {
    fn from(request: SseRequest) -> Self {
        SharedRequest {
            request,
            key: None,
            across_tabs: false,
        }
    }
}

/// The default share key: what tells two requests' streams apart.
fn derived_key(request: &SseRequest) -> String {
    // FNV-1a over the parts that change what the server sends, so that a large body does not
    // end up in a channel name.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain([0xff].iter()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    match &request.body {
        Some(Body::Text(text)) => eat(text.as_bytes()),
        Some(Body::Bytes(bytes)) => eat(bytes),
        None => eat(b""),
    }
    for (name, value) in &request.headers {
        eat(name.to_ascii_lowercase().as_bytes());
        eat(value.as_bytes());
    }
    for event in &request.events {
        eat(event.as_bytes());
    }
    eat(request.last_event_id.as_bytes());
    let framing = match request.framing {
        crate::Framing::Sse => "sse",
        crate::Framing::Ndjson => "ndjson",
        crate::Framing::Raw => "raw",
    };
    format!(
        "{} {} {} {framing} {hash:016x}",
        request.transport.feature(),
        request.method.to_ascii_uppercase(),
        request.url
    )
}

thread_local! {
    /// The shared streams of this tab (or worker), by key.
    static REGISTRY: RefCell<HashMap<String, Weak<RefCell<Hub>>>> = RefCell::new(HashMap::new());
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
            .field("key", &hub.key)
            .field("across_tabs", &hub.across_tabs)
            .field("subscribers", &hub.subs.len())
            .field("state", &hub.state)
            .field("sharing", &hub.sharing)
            .finish()
    }
}

impl SharedStream {
    /// A new subscriber: a stream of the items from now on (starting with the current
    /// connection state). Opens the connection if it is not open.
    pub fn subscribe(&self) -> Subscription {
        let id = Hub::subscribe(&self.hub);
        Subscription {
            hub: Rc::clone(&self.hub),
            id,
            close: CloseHandle::new(),
            terminated: false,
        }
    }

    /// The key that identifies the stream.
    pub fn key(&self) -> String {
        self.hub.borrow().key.clone()
    }

    /// How many subscribers are live (not dropped, closed or ended).
    pub fn subscribers(&self) -> usize {
        let hub = self.hub.borrow();
        hub.subs.iter().filter(|(_, q)| !q.is_finished()).count()
    }

    /// The current connection state (of the leader's connection, across tabs).
    pub fn state(&self) -> ConnectionState {
        self.hub.borrow().state
    }

    /// This tab's role and the number of tabs sharing, when shared across tabs and known.
    pub fn sharing(&self) -> Option<Sharing> {
        self.hub.borrow().sharing
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
    close: CloseHandle,
    terminated: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("key", &self.hub.borrow().key)
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
            self.hub.borrow().state
        }
    }

    /// Leaves the shared stream now; the next poll yields `None`.
    pub fn close(&mut self) {
        self.release();
    }

    /// A handle that ends this subscription from anywhere (`Clone + Send + Sync`): its next poll
    /// yields `Item::State(Closed)`, then `None`. See [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    fn release(&mut self) {
        if self.terminated {
            return;
        }
        self.terminated = true;
        let stopped = self.hub.borrow_mut().unsubscribe(self.id);
        // Dropped outside the borrow: stopping the connection runs JS.
        drop(stopped);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.release();
    }
}

impl Stream for Subscription {
    type Item = Result<Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.terminated {
            return Poll::Ready(None);
        }
        if this.close.is_closed() {
            this.release();
            return Poll::Ready(Some(Ok(Item::State(ConnectionState::Closed))));
        }
        let next = {
            let mut hub = this.hub.borrow_mut();
            match hub.slot(this.id) {
                None => Poll::Ready(None),
                Some(queue) => match queue.pop() {
                    Some(item) => Poll::Ready(Some(item)),
                    None if queue.is_finished() => Poll::Ready(None),
                    None => {
                        queue.set_waker(cx.waker());
                        // This subscriber has read everything: the driver may read on.
                        if let Some(driver) = hub.driver.take() {
                            driver.wake();
                        }
                        Poll::Pending
                    }
                },
            }
        };
        match &next {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.release(),
            Poll::Pending => this.close.register(cx.waker()),
            Poll::Ready(Some(Ok(_))) => {}
        }
        next
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// What drops the connection when dropped (the browser driver; nothing natively).
#[cfg(target_arch = "wasm32")]
pub(crate) type Running = tabs::Running;
#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
pub(crate) struct Running {
    stopped: std::cell::Cell<bool>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Running {
    fn stop(&self) {
        self.stopped.set(true);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.get()
    }
}

/// The state one shared stream keeps in a tab.
pub(crate) struct Hub {
    pub(crate) key: String,
    pub(crate) request: SseRequest,
    pub(crate) across_tabs: bool,
    /// Live subscribers and their queues.
    subs: Vec<(u64, Queue)>,
    next_id: u64,
    pub(crate) state: ConnectionState,
    pub(crate) sharing: Option<Sharing>,
    pub(crate) seen: Seen,
    /// The connection (or the tab membership), while there are subscribers.
    running: Option<Running>,
    /// The driver, parked until a subscriber has read everything it was given.
    driver: Option<std::task::Waker>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let key = std::mem::take(&mut self.key);
        // `try_with`: the registry may already be gone when the thread ends.
        let _ = REGISTRY.try_with(|registry| {
            if let Ok(mut registry) = registry.try_borrow_mut()
                && registry
                    .get(&key)
                    .is_some_and(|hub| hub.strong_count() == 0)
            {
                registry.remove(&key);
            }
        });
    }
}

impl Hub {
    fn new(key: String, request: SseRequest, across_tabs: bool) -> Hub {
        Hub {
            key,
            request,
            across_tabs,
            subs: Vec::new(),
            next_id: 0,
            state: ConnectionState::Connecting,
            sharing: None,
            seen: Seen::default(),
            running: None,
            driver: None,
        }
    }

    /// The live hub for `key` in this tab, or a new one.
    fn join(key: String, request: SseRequest, across_tabs: bool) -> Rc<RefCell<Hub>> {
        REGISTRY.with(|registry| {
            let mut registry = registry.borrow_mut();
            if let Some(hub) = registry.get(&key).and_then(Weak::upgrade) {
                return hub;
            }
            let hub = Rc::new(RefCell::new(Hub::new(key.clone(), request, across_tabs)));
            registry.insert(key, Rc::downgrade(&hub));
            hub
        })
    }

    /// Adds a subscriber (starting the connection if none runs) and returns its id.
    fn subscribe(this: &Rc<RefCell<Hub>>) -> u64 {
        let (id, start) = {
            let mut hub = this.borrow_mut();
            let id = hub.next_id;
            hub.next_id += 1;
            let mut queue = Queue::bounded(hub.request.max_buffered);
            // Nothing runs yet, or the last connection ended (its membership may linger).
            let start = hub.running.as_ref().is_none_or(Running::is_stopped);
            if start {
                hub.state = ConnectionState::Connecting;
                hub.sharing = None;
            }
            queue.push_state(hub.state);
            if let Some(sharing) = hub.sharing {
                queue.push_item(Item::Sharing(sharing));
            }
            hub.subs.push((id, queue));
            (id, start)
        };
        if start {
            // Outside the borrow: starting runs JS, and the ended one is released by the drop.
            let running = start_running(this);
            let ended = this.borrow_mut().running.replace(running);
            drop(ended);
        }
        id
    }

    /// The queues of the subscribers that have not ended.
    fn live(&mut self) -> impl Iterator<Item = &mut Queue> {
        self.subs
            .iter_mut()
            .map(|(_, queue)| queue)
            .filter(|queue| !queue.is_finished())
    }

    /// Whether a subscriber waits for an item: the driver reads the next one only then, so the
    /// connection goes at the pace of the fastest subscriber (a slower one lags).
    pub(crate) fn wants_more(&self) -> bool {
        // Below a low-water mark rather than empty: the driver then delivers what the
        // connection has ready in one go, instead of one item per wake of each side.
        let low = (self.request.max_buffered / 4).min(64 * 1024);
        self.subs
            .iter()
            .any(|(_, queue)| queue.queued_bytes() < low.max(1) && !queue.is_finished())
    }

    /// Parks the driver until [`wants_more`](Hub::wants_more) turns true.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn park(&mut self, driver: &std::task::Waker) {
        self.driver = Some(driver.clone());
    }

    fn slot(&mut self, id: u64) -> Option<&mut Queue> {
        self.subs
            .iter_mut()
            .find_map(|(sub, queue)| (*sub == id).then_some(queue))
    }

    /// Removes a subscriber; returns the connection to drop when it was the last one.
    fn unsubscribe(&mut self, id: u64) -> Option<Running> {
        self.subs.retain(|(sub, _)| *sub != id);
        if let Some(driver) = self.driver.take() {
            driver.wake();
        }
        if self.subs.is_empty() {
            self.state = ConnectionState::Closed;
            self.running.take()
        } else {
            None
        }
    }

    /// Copies an item from the connection (or the leader tab) into every subscriber's queue.
    /// Returns whether the item ended the stream (a fatal error, or `Closed`).
    pub(crate) fn deliver(&mut self, item: Result<Item, Error>) -> bool {
        match item {
            Ok(Item::Message(message)) => {
                if self.seen.admit(&message) {
                    // A copy for every subscriber but the last, which gets the message itself.
                    let mut live = self.live().peekable();
                    while let Some(queue) = live.next() {
                        if live.peek().is_none() {
                            queue.push_message(message);
                            break;
                        }
                        queue.push_message(message.clone());
                    }
                }
            }
            Ok(Item::State(ConnectionState::Closed)) => {
                self.end(None);
                return true;
            }
            Ok(Item::State(state)) => {
                if state != self.state {
                    self.state = state;
                    for queue in self.live() {
                        queue.push_state(state);
                    }
                }
            }
            Ok(Item::Sharing(sharing)) => self.set_sharing(sharing),
            Ok(other) => {
                for queue in self.live() {
                    queue.push_item(other.clone());
                }
            }
            Err(error) => {
                self.end(Some(error));
                return true;
            }
        }
        false
    }

    /// This tab's role or the tab count changed.
    pub(crate) fn set_sharing(&mut self, sharing: Sharing) {
        if self.sharing == Some(sharing) {
            return;
        }
        self.sharing = Some(sharing);
        for queue in self.live() {
            queue.push_item(Item::Sharing(sharing));
        }
    }

    /// The stream is over for every subscriber (a fatal error, or a clean end). The driver
    /// stops (dropping the transport); a tab's membership stays until its subscribers are gone
    /// (so that no other tab takes the lead of an ended stream), and a later subscriber starts
    /// anew.
    fn end(&mut self, error: Option<Error>) {
        self.state = ConnectionState::Closed;
        for queue in self.live() {
            match &error {
                Some(error) => queue.fail(error.clone()),
                None => queue.close(),
            }
        }
        self.seen = Seen::default();
        if let Some(running) = &self.running {
            running.stop();
        }
    }

    /// The request to connect with: the shared one, resuming after the newest event id this tab
    /// has delivered (a leader that takes over from another tab).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn request_to_connect(&self) -> SseRequest {
        let mut request = self.request.clone();
        // The browser's EventSource cannot be told a starting id: it connects afresh.
        if let Some(id) = &self.seen.newest
            && request.transport == crate::Transport::Fetch
        {
            request.last_event_id = id.clone();
        }
        request
    }
}

#[cfg(target_arch = "wasm32")]
fn start_running(hub: &Rc<RefCell<Hub>>) -> Running {
    tabs::start(hub)
}

#[cfg(not(target_arch = "wasm32"))]
fn start_running(_hub: &Rc<RefCell<Hub>>) -> Running {
    Running::default()
}

/// How many recent event ids a tab remembers to recognise events it already delivered.
const REMEMBERED_IDS: usize = 256;

/// The event ids a tab has delivered, to drop the ones a new leader sends again after a
/// handover.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The last event id of the newest message delivered (`None`: no message yet).
    pub(crate) newest: Option<String>,
    /// The most recent distinct non-empty ids, oldest first.
    recent: VecDeque<String>,
    /// The leader generation whose items are being delivered.
    pub(crate) epoch: u64,
    /// After a change of leader: messages whose id is in `recent` are repeats, until the first
    /// one that is not.
    catching_up: bool,
}

impl Seen {
    /// Items from leader generation `epoch` arrive: from a newer generation than before, the
    /// first ones may repeat what was delivered already.
    pub(crate) fn epoch(&mut self, epoch: u64) {
        if epoch > self.epoch {
            self.epoch = epoch;
            self.catching_up = self.newest.is_some();
        }
    }

    /// Whether `message` is new (to deliver) rather than a repeat after a handover; remembers it.
    pub(crate) fn admit(&mut self, message: &Message) -> bool {
        let id = message.last_event_id();
        if self.catching_up {
            if !id.is_empty() && self.recent.iter().any(|seen| seen == id) {
                return false;
            }
            self.catching_up = false;
        }
        if !id.is_empty() && self.recent.back().is_none_or(|last| last != id) {
            if self.recent.len() == REMEMBERED_IDS {
                self.recent.pop_front();
            }
            self.recent.push_back(id.to_owned());
        }
        match &mut self.newest {
            Some(newest) if newest == id => {}
            newest => *newest = Some(id.to_owned()),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, Skipped};

    fn msg(data: &str, id: &str) -> Message {
        Message::new("message", data, id)
    }

    fn drain(hub: &mut Hub, id: u64) -> Vec<Item> {
        let queue = hub.slot(id).unwrap();
        std::iter::from_fn(|| queue.pop())
            .map(Result::unwrap)
            .collect()
    }

    fn hub_with(subs: usize, max_buffered: usize) -> Hub {
        let mut hub = Hub::new(
            "k".into(),
            SseRequest::get("/x").max_buffered(max_buffered),
            false,
        );
        for id in 0..subs as u64 {
            hub.subs.push((id, Queue::bounded(max_buffered)));
        }
        hub
    }

    #[test]
    fn every_subscriber_gets_every_item() {
        let mut hub = hub_with(3, 1 << 20);
        hub.deliver(Ok(Item::State(ConnectionState::Open)));
        hub.deliver(Ok(Item::Message(msg("a", "1"))));
        hub.deliver(Ok(Item::Skipped(Skipped::TooLarge { limit: 9 })));
        hub.deliver(Ok(Item::Message(msg("b", "2"))));
        let expected = vec![
            Item::State(ConnectionState::Open),
            Item::Message(msg("a", "1")),
            Item::Skipped(Skipped::TooLarge { limit: 9 }),
            Item::Message(msg("b", "2")),
        ];
        for id in 0..3 {
            assert_eq!(drain(&mut hub, id), expected);
        }
    }

    #[test]
    fn a_slow_subscriber_lags_without_holding_back_the_others() {
        let one = msg("0123456789", "").data().len() + std::mem::size_of::<Message>() + 7;
        let mut hub = hub_with(2, 3 * one);
        for round in 0..10 {
            hub.deliver(Ok(Item::Message(msg("0123456789", ""))));
            // Subscriber 0 keeps up; subscriber 1 never reads.
            assert_eq!(drain(&mut hub, 0).len(), 1, "round {round}");
        }
        let slow = drain(&mut hub, 1);
        assert_eq!(slow.len(), 4, "{slow:?}");
        assert_eq!(slow[3], Item::Skipped(Skipped::Lagged { count: 7 }));
    }

    #[test]
    fn an_error_ends_every_subscriber() {
        let mut hub = hub_with(2, 1 << 20);
        hub.deliver(Err(Error::Status { status: 404 }));
        for id in 0..2 {
            let queue = hub.slot(id).unwrap();
            assert!(matches!(
                queue.pop(),
                Some(Ok(Item::State(ConnectionState::Closed)))
            ));
            assert!(matches!(
                queue.pop(),
                Some(Err(Error::Status { status: 404 }))
            ));
            assert!(queue.is_finished());
        }
        assert_eq!(hub.state, ConnectionState::Closed);
    }

    #[test]
    fn a_clean_close_ends_every_subscriber_with_closed() {
        let mut hub = hub_with(2, 1 << 20);
        hub.deliver(Ok(Item::State(ConnectionState::Closed)));
        for id in 0..2 {
            assert_eq!(drain(&mut hub, id), [Item::State(ConnectionState::Closed)]);
            assert!(hub.slot(id).unwrap().is_finished());
        }
    }

    #[test]
    fn repeated_states_and_sharing_are_said_once() {
        let mut hub = hub_with(1, 1 << 20);
        hub.deliver(Ok(Item::State(ConnectionState::Open)));
        hub.deliver(Ok(Item::State(ConnectionState::Open)));
        hub.set_sharing(Sharing::new(Role::Follower, 3));
        hub.set_sharing(Sharing::new(Role::Follower, 3));
        hub.set_sharing(Sharing::new(Role::Leader, 3));
        assert_eq!(
            drain(&mut hub, 0),
            [
                Item::State(ConnectionState::Open),
                Item::Sharing(Sharing::new(Role::Follower, 3)),
                Item::Sharing(Sharing::new(Role::Leader, 3)),
            ]
        );
    }

    #[test]
    fn after_a_handover_repeats_are_dropped_until_the_first_new_id() {
        let mut seen = Seen::default();
        seen.epoch(1);
        for id in ["1", "2", "3", "4"] {
            assert!(seen.admit(&msg(id, id)));
        }
        assert_eq!(seen.newest.as_deref(), Some("4"));
        // The new leader had only seen 2: it resumes after it, and the server sends 3 and 4 again.
        seen.epoch(2);
        assert!(!seen.admit(&msg("3", "3")));
        assert!(!seen.admit(&msg("4", "4")));
        assert!(seen.admit(&msg("5", "5")));
        // Back to normal: an event without an id of its own (same last id) is delivered.
        assert!(seen.admit(&msg("5b", "5")));
        // Items from an older generation do not start a catch-up.
        seen.epoch(1);
        assert!(seen.admit(&msg("6", "6")));
    }

    #[test]
    fn a_first_leader_delivers_everything() {
        let mut seen = Seen::default();
        seen.epoch(1);
        assert!(seen.admit(&msg("a", "7")));
        assert!(seen.admit(&msg("b", "7")), "same last id, no catch-up");
        assert!(seen.admit(&msg("c", "")), "no id");
    }

    #[test]
    fn events_without_ids_cannot_be_matched_after_a_handover() {
        let mut seen = Seen::default();
        seen.epoch(1);
        assert!(seen.admit(&msg("a", "")));
        seen.epoch(2);
        assert!(seen.admit(&msg("a", "")), "delivered again: documented");
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let mut seen = Seen::default();
        for i in 0..10 * REMEMBERED_IDS {
            seen.admit(&msg("x", &i.to_string()));
        }
        assert_eq!(seen.recent.len(), REMEMBERED_IDS);
    }

    #[test]
    fn derived_keys_tell_requests_apart() {
        let key = |r: SseRequest| derived_key(&r);
        let base = key(SseRequest::get("/a"));
        assert_eq!(base, key(SseRequest::get("/a")));
        assert_ne!(base, key(SseRequest::get("/b")));
        assert_ne!(base, key(SseRequest::post("/a")));
        assert_ne!(base, key(SseRequest::get("/a").header("x-user", "1")));
        assert_ne!(
            key(SseRequest::post("/a").body_text("1")),
            key(SseRequest::post("/a").body_text("2"))
        );
        assert_ne!(base, key(SseRequest::get("/a").events(["tick"])));
    }

    #[cfg(feature = "fetch")]
    #[test]
    fn sharing_is_for_browsers() {
        assert!(matches!(
            SseRequest::get("/a").share(),
            Err(Error::UnsupportedTarget)
        ));
    }
}
