//! The state one shared stream keeps in a tab, and the registry of a tab's shared streams.
//!
//! The tab driver (`tabs/`) changes a hub only through its methods: the hub decides what each
//! subscriber sees, the driver only where items come from.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;

use super::dedupe::{From, Seen};
use super::inbox::{Inbox, cost, run_cost};
use crate::message::chunk::Chunk;
use crate::{ConnectionState, Error, Item, MessageRef, Role, Sharing, SseRequest};

thread_local! {
    /// The shared streams of this tab (or worker), by key.
    static REGISTRY: RefCell<HashMap<String, Weak<RefCell<Hub>>>> = RefCell::new(HashMap::new());
}

/// A running connection (or tab membership) of a hub, which the hub can stop; dropping it drops
/// the connection. A trait so that the hub does not depend on the tab driver that implements it.
pub(crate) trait Connection {
    /// Stops the connection (the driver drops its transport on its next poll).
    fn stop(&self);
    /// Whether [`stop`](Connection::stop) was called.
    fn is_stopped(&self) -> bool;
}

/// What drops the connection when dropped.
pub(crate) type Running = Box<dyn Connection>;

pub(crate) struct Hub {
    key: String,
    fingerprint: String,
    request: SseRequest,
    /// Live subscribers and their queues.
    subs: Vec<(u64, Inbox)>,
    next_id: u64,
    state: ConnectionState,
    sharing: Option<Sharing>,
    seen: Seen,
    /// The connection (or the tab membership), while there are subscribers.
    running: Option<Running>,
    /// The driver, parked until a subscriber has read everything it was given.
    driver: Option<Waker>,
    /// The handle of the connection this tab runs (alone or as the leader), for `reconnect`.
    connection: Option<crate::CloseHandle>,
    /// Messages `from..to` of a chunk not delivered yet: the fastest subscriber had no room.
    pending: Option<(Arc<Chunk>, usize, usize)>,
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
    pub(crate) fn new(key: String, fingerprint: String, request: SseRequest) -> Hub {
        Hub {
            key,
            fingerprint,
            request,
            subs: Vec::new(),
            next_id: 0,
            state: ConnectionState::Connecting,
            sharing: None,
            seen: Seen::default(),
            running: None,
            driver: None,
            connection: None,
            pending: None,
        }
    }

    /// The connection this tab runs now (`None`: none, or another tab leads).
    pub(crate) fn set_connection(&mut self, handle: Option<crate::CloseHandle>) {
        self.connection = handle;
    }

    /// Asks the connection this tab runs for a new one now; see [`Subscription::reconnect`].
    ///
    /// [`Subscription::reconnect`]: crate::Subscription::reconnect
    pub(crate) fn reconnect(&self) {
        if let Some(handle) = &self.connection {
            handle.reconnect();
        }
    }

    /// The live hub for `key` in this tab, or a new one.
    ///
    /// # Errors
    /// [`Error::SharedRequestMismatch`] when another request is shared under `key`.
    pub(crate) fn join(
        key: String,
        fingerprint: String,
        request: SseRequest,
    ) -> Result<Rc<RefCell<Hub>>, Error> {
        REGISTRY.with(|registry| {
            let mut registry = registry.borrow_mut();
            if let Some(hub) = registry.get(&key).and_then(Weak::upgrade) {
                if hub.borrow().fingerprint != fingerprint {
                    return Err(Error::SharedRequestMismatch { key });
                }
                return Ok(hub);
            }
            let hub = Rc::new(RefCell::new(Hub::new(key.clone(), fingerprint, request)));
            registry.insert(key, Rc::downgrade(&hub));
            Ok(hub)
        })
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn across_tabs(&self) -> bool {
        self.request.across_tabs
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.state
    }

    pub(crate) fn sharing(&self) -> Option<Sharing> {
        self.sharing
    }

    /// How many subscribers have not ended.
    pub(crate) fn subscribers(&self) -> usize {
        self.subs.iter().filter(|(_, q)| !q.is_finished()).count()
    }

    /// Adds a subscriber (starting the connection if none runs) and returns its id.
    pub(crate) fn subscribe(
        this: &Rc<RefCell<Hub>>,
        start_running: fn(&Rc<RefCell<Hub>>) -> Running,
    ) -> u64 {
        let (id, start) = {
            let mut hub = this.borrow_mut();
            let id = hub.next_id;
            hub.next_id += 1;
            let mut queue = Inbox::bounded(hub.request.max_buffered);
            // Nothing runs yet, or the last connection ended (its membership may linger).
            let start = hub
                .running
                .as_ref()
                .is_none_or(|running| running.is_stopped());
            if start {
                hub.state = ConnectionState::Connecting;
                hub.sharing = None;
                hub.pending = None;
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
    fn live(&mut self) -> impl Iterator<Item = &mut Inbox> {
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
    pub(crate) fn park(&mut self, driver: &Waker) {
        self.driver = Some(driver.clone());
    }

    /// The driver to wake (outside the borrow) because a subscriber has read everything.
    pub(crate) fn take_driver(&mut self) -> Option<Waker> {
        self.driver.take()
    }

    pub(crate) fn slot(&mut self, id: u64) -> Option<&mut Inbox> {
        self.subs
            .iter_mut()
            .find_map(|(sub, queue)| (*sub == id).then_some(queue))
    }

    /// Removes a subscriber; returns the connection to drop when it was the last one, and the
    /// driver to wake. The last one out forgets where the stream stood: a later subscriber
    /// starts a fresh stream, not a replay from an old `Last-Event-ID`.
    pub(crate) fn unsubscribe(&mut self, id: u64) -> (Option<Running>, Option<Waker>) {
        self.subs.retain(|(sub, _)| *sub != id);
        let driver = self.driver.take();
        if self.subs.is_empty() {
            self.state = ConnectionState::Closed;
            self.seen = Seen::default();
            self.pending = None;
            (self.running.take(), driver)
        } else {
            (None, driver)
        }
    }

    /// Copies an item from this tab's own connection into every subscriber's queue. Returns
    /// whether the item ended the stream (a fatal error, or `Closed`).
    pub(crate) fn deliver(&mut self, item: Result<Item, Error>) -> bool {
        match item {
            Ok(Item::Message(message)) => {
                if self.seen.admit(MessageRef::from(&message)) {
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

    /// Messages `from..to` of a chunk from this tab's own connection, for every subscriber: the
    /// chunk is shared, not copied per subscriber, and so are the messages each takes out of it.
    ///
    /// `paced`: at the pace of the fastest subscriber, as much as fits in its queue now, and the
    /// rest [pending](Hub::has_pending) until it has read that; otherwise all at once (a leader
    /// reads on for the other tabs), and every subscriber without room lags.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn deliver_chunk(&mut self, chunk: Arc<Chunk>, from: usize, to: usize, paced: bool) {
        // The repeats after a handover are left out: rare, so a new chunk is built only then.
        // In a tab of its own there is no handover, and nothing to look for.
        let mut kept: Option<Chunk> = None;
        let handovers = if self.request.across_tabs { to } else { from };
        for (i, message) in (from..).zip(chunk.iter(from, handovers)) {
            let new = self.seen.admit(message);
            match &mut kept {
                None if new => {}
                None => {
                    let mut fresh = Chunk::default();
                    for earlier in chunk.iter(from, i) {
                        fresh.push(earlier);
                    }
                    kept = Some(fresh);
                }
                Some(fresh) if new => fresh.push(message),
                Some(_) => {}
            }
        }
        let (chunk, from, to) = match kept {
            Some(fresh) => {
                let len = fresh.len();
                (Arc::new(fresh), 0, len)
            }
            None => (chunk, from, to),
        };
        if from >= to {
            return;
        }
        if paced {
            self.pending = Some((chunk, from, to));
            self.deliver_pending();
        } else {
            let total = run_cost(&chunk, from, to);
            for queue in self.live() {
                queue.push_run(&chunk, from, to, total);
            }
        }
    }

    /// Whether messages of a chunk wait for room in the fastest subscriber's queue.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Delivers the next part of the pending chunk: what fits in the queue with the most room
    /// (at least one message), so that the fastest subscriber sets the pace and only the others
    /// lag.
    pub(crate) fn deliver_pending(&mut self) {
        let Some((chunk, from, to)) = self.pending.take() else {
            return;
        };
        // No subscriber left: nothing to deliver to.
        let Some(room) = self.live().map(|queue| queue.room()).max() else {
            return;
        };
        let mut end = to;
        let mut total = run_cost(&chunk, from, to);
        if total > room {
            (end, total) = (from, 0);
            for message in chunk.iter(from, to) {
                let one = cost(message);
                if end > from && total + one > room {
                    break;
                }
                (end, total) = (end + 1, total + one);
            }
        }
        for queue in self.live() {
            queue.push_run(&chunk, from, end, total);
        }
        if end < to {
            self.pending = Some((chunk, end, to));
        }
    }

    /// [`deliver_chunk`](Hub::deliver_chunk) from `leader`, as [`deliver_from`](Hub::deliver_from).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn deliver_chunk_from(
        &mut self,
        leader: &str,
        chunk: Arc<Chunk>,
        from: usize,
        to: usize,
        paced: bool,
    ) {
        if self.seen.from(leader) != From::Retired {
            self.deliver_chunk(chunk, from, to, paced);
        }
    }

    /// An item of `leader`'s stream (this tab's own when it leads): delivered when `leader` is
    /// the current leader (or a new one: a handover whose lead message was missed), dropped when
    /// it has been replaced. Returns whether the item ended the stream.
    pub(crate) fn deliver_from(&mut self, leader: &str, item: Result<Item, Error>) -> bool {
        match self.seen.from(leader) {
            From::Retired => false,
            From::Current | From::New => self.deliver(item),
        }
    }

    /// Whether `leader` is the current leader (or a new one, which becomes current: a handover
    /// whose lead message was missed) rather than a replaced one.
    pub(crate) fn heard_from(&mut self, leader: &str) -> bool {
        self.seen.from(leader) != From::Retired
    }

    /// This tab takes the lead as `leader`: returns the request to connect with, resuming after
    /// the newest event id this tab has delivered, and that id.
    pub(crate) fn take_lead(&mut self, leader: &str) -> (SseRequest, String) {
        let mut request = self.request.clone();
        let resume = self.seen.resume_id().to_owned();
        self.seen.lead(leader, &resume);
        // The browser's EventSource cannot be told a starting id: it connects afresh.
        if !resume.is_empty() && request.transport == crate::Transport::Fetch {
            request.last_event_id = resume.clone();
        }
        // Another tab may be watching: a hidden leader does not pause the shared connection.
        if request.across_tabs {
            request.pause_when_hidden = false;
        }
        let alone = self.sharing.is_some_and(|s| s.role == Role::Alone);
        if request.across_tabs && !alone {
            let tabs = self.sharing.map_or(1, |s| s.tabs.max(1));
            self.set_sharing(Sharing::new(Role::Leader, tabs));
        }
        (request, resume)
    }

    /// Another tab leads as `leader` the request `fingerprint`, resuming after `resume`.
    /// Returns whether that ended this stream: a leader of another request under this key ends
    /// it with [`Error::SharedRequestMismatch`] (the streams are not mixed).
    pub(crate) fn follow(&mut self, leader: &str, fingerprint: &str, resume: &str) -> bool {
        if fingerprint != self.fingerprint {
            let key = self.key.clone();
            self.end(Some(Error::SharedRequestMismatch { key }));
            return true;
        }
        self.seen.lead(leader, resume);
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
    pub(crate) fn end(&mut self, error: Option<Error>) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Skipped};

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
        hub_of(subs, SseRequest::get("/x").max_buffered(max_buffered))
    }

    fn hub_of(subs: usize, request: SseRequest) -> Hub {
        let max_buffered = request.max_buffered;
        let mut hub = Hub::new("k".into(), "f".into(), request);
        for id in 0..subs as u64 {
            hub.subs.push((id, Inbox::bounded(max_buffered)));
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

    fn chunk(messages: &[(&str, &str)]) -> Arc<Chunk> {
        let mut chunk = Chunk::default();
        for (data, id) in messages {
            chunk.push(MessageRef::new("message", data, id));
        }
        Arc::new(chunk)
    }

    #[test]
    fn every_subscriber_gets_every_message_of_a_chunk() {
        let mut hub = hub_with(3, 1 << 20);
        hub.deliver_chunk(chunk(&[("a", "1"), ("b", "2"), ("c", "3")]), 1, 3, true);
        hub.deliver(Ok(Item::Message(msg("d", "4"))));
        let expected = vec![
            Item::Message(msg("b", "2")),
            Item::Message(msg("c", "3")),
            Item::Message(msg("d", "4")),
        ];
        for id in 0..3 {
            assert_eq!(drain(&mut hub, id), expected);
        }
    }

    #[test]
    fn the_repeats_in_a_new_leaders_chunk_are_dropped() {
        let mut hub = hub_of(2, SseRequest::get("/x").across_tabs(true));
        assert!(!hub.follow("a", "f", ""));
        hub.deliver_chunk_from("a", chunk(&[("1", "1"), ("2", "2")]), 0, 2, true);
        for id in 0..2 {
            drain(&mut hub, id);
        }
        // The new leader resumed after "1": "2" again, then new ones.
        assert!(!hub.follow("b", "f", "1"));
        hub.deliver_chunk_from("a", chunk(&[("late", "3")]), 0, 1, true);
        hub.deliver_chunk_from(
            "b",
            chunk(&[("2", "2"), ("3", "3"), ("4", "4")]),
            0,
            3,
            true,
        );
        for id in 0..2 {
            assert_eq!(
                drain(&mut hub, id),
                [Item::Message(msg("3", "3")), Item::Message(msg("4", "4"))]
            );
        }
    }

    #[test]
    fn a_slow_subscriber_lags_behind_chunks_too() {
        let one = msg("0123456789", "").data().len() + std::mem::size_of::<Message>();
        let mut hub = hub_with(2, 3 * one);
        let ten = [("0123456789", ""); 10];
        for round in 0..3 {
            hub.deliver_chunk(chunk(&ten[..2]), 0, 2, true);
            // Subscriber 0 keeps up; subscriber 1 never reads.
            assert_eq!(drain(&mut hub, 0).len(), 2, "round {round}");
        }
        let slow = drain(&mut hub, 1);
        assert_eq!(slow.len(), 4, "{slow:?}");
        assert_eq!(slow[3], Item::Skipped(Skipped::Lagged { count: 3 }));
    }

    #[test]
    fn a_chunk_larger_than_the_bound_goes_at_the_pace_of_the_fastest_subscriber() {
        let one = msg("0123456789", "").data().len() + std::mem::size_of::<Message>();
        let mut hub = hub_with(2, 3 * one);
        hub.deliver_chunk(chunk(&[("0123456789", ""); 10]), 0, 10, true);
        let mut fast = drain(&mut hub, 0);
        while hub.has_pending() {
            // Subscriber 0 reads all it was given, then the driver delivers more.
            hub.deliver_pending();
            fast.extend(drain(&mut hub, 0));
        }
        assert_eq!(fast.len(), 10, "all of it, in parts: {fast:?}");
        assert!(fast.iter().all(|i| matches!(i, Item::Message(_))));
        let slow = drain(&mut hub, 1);
        assert_eq!(slow.len(), 4, "{slow:?}");
        assert_eq!(slow[3], Item::Skipped(Skipped::Lagged { count: 7 }));
        // Not paced (a leader reads on for the other tabs): all at once, each lags alone.
        hub.deliver_chunk(chunk(&[("0123456789", ""); 5]), 0, 5, false);
        assert!(!hub.has_pending());
        assert_eq!(drain(&mut hub, 0).len(), 4, "three, and a notice");
    }

    #[test]
    fn messages_larger_than_the_bound_still_go_at_the_pace_of_the_fastest() {
        // Each message alone is over the bound: every part of the pending chunk carries one.
        let mut hub = hub_with(1, 8);
        hub.deliver_chunk(chunk(&[("0123456789", ""); 3]), 0, 3, true);
        let mut read = drain(&mut hub, 0);
        for _ in 0..3 {
            if !hub.has_pending() {
                break;
            }
            hub.deliver_pending();
            read.extend(drain(&mut hub, 0));
        }
        assert!(!hub.has_pending(), "stuck with messages pending: {read:?}");
        assert_eq!(read.len(), 3, "{read:?}");
        assert!(read.iter().all(|i| matches!(i, Item::Message(_))));
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
    fn after_the_last_subscriber_left_a_new_lead_starts_fresh() {
        let mut hub = hub_with(1, 1 << 20);
        hub.deliver(Ok(Item::Message(msg("a", "41"))));
        let (request, resume) = hub.take_lead("L1");
        assert_eq!(
            (request.last_event_id.as_str(), resume.as_str()),
            ("41", "41")
        );
        let _ = hub.unsubscribe(0);
        hub.subs.push((1, Inbox::bounded(1 << 20)));
        let (request, resume) = hub.take_lead("L2");
        assert_eq!((request.last_event_id.as_str(), resume.as_str()), ("", ""));
    }

    #[test]
    fn items_of_a_replaced_leader_are_dropped() {
        let mut hub = hub_with(1, 1 << 20);
        assert!(!hub.follow("a", "f", ""));
        hub.deliver_from("a", Ok(Item::Message(msg("1", "1"))));
        assert!(!hub.follow("b", "f", "1"));
        hub.deliver_from("a", Ok(Item::Message(msg("late", "2"))));
        hub.deliver_from("b", Ok(Item::Message(msg("2", "2"))));
        assert_eq!(
            drain(&mut hub, 0),
            [Item::Message(msg("1", "1")), Item::Message(msg("2", "2"))]
        );
    }

    #[test]
    fn a_leader_of_another_request_ends_the_stream_with_a_typed_error() {
        let mut hub = hub_with(1, 1 << 20);
        assert!(hub.follow("a", "other", ""));
        let queue = hub.slot(0).unwrap();
        assert!(matches!(
            queue.pop(),
            Some(Ok(Item::State(ConnectionState::Closed)))
        ));
        assert!(matches!(
            queue.pop(),
            Some(Err(Error::SharedRequestMismatch { key })) if key == "k"
        ));
    }

    #[test]
    fn a_shared_leader_never_pauses_its_connection() {
        let mut hub = Hub::new(
            "k".into(),
            "f".into(),
            SseRequest::get("/x")
                .pause_when_hidden(true)
                .across_tabs(true),
        );
        assert!(!hub.take_lead("L").0.pause_when_hidden);
        let mut hub = Hub::new(
            "k".into(),
            "f".into(),
            SseRequest::get("/x").pause_when_hidden(true),
        );
        assert!(
            hub.take_lead("L").0.pause_when_hidden,
            "in one tab it may pause"
        );
    }
}
