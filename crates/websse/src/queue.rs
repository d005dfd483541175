//! The queue between a transport and the stream: the transport pushes items and state changes,
//! the [`EventStream`](crate::EventStream) pops them. Neither side knows the other.

use std::cell::{RefCell, RefMut};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::task::Waker;

use crate::batch::{Batch, Unread};
#[cfg(feature = "fetch")]
use crate::message::chunk::Chunk;
use crate::{ConnectionState, Error, Item, Message, Skipped};

/// What a transport hands to the stream: queued items, the current state, whether it is over.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// The queued items are `items[head..]`; the slots before `head` were taken. A `Vec` and an
    /// index rather than a `VecDeque`, whose ring-buffer growth and two-slice clearing cost every
    /// app some code. Emptied whenever the consumer catches up, and compacted in
    /// [`pop`](Queue::pop) when taken slots are the larger half, so it never holds more than
    /// twice the waiting items (and a few).
    items: Vec<Option<Slot>>,
    head: usize,
    waker: Option<Waker>,
    /// Inside [`edit`]: a push records that the consumer is to be woken, and the guard wakes it
    /// once the borrow is over (a waker may poll at once, and would find the queue borrowed).
    deferring: bool,
    wake_pending: bool,
    /// Messages and skip notices do not wake the consumer; [`wake_held`](Queue::wake_held)
    /// does, for all of them at once (the EventSource transport: once per browser task).
    hold_wakes: bool,
    held: bool,
    finished: bool,
    state: ConnectionState,
    /// Bytes of the queued messages, and the bound on them (`None`: unbounded).
    queued_bytes: usize,
    max_bytes: Option<usize>,
}

pub(crate) type QueueRef = Rc<RefCell<Queue>>;

/// One queued entry: an item, or the messages of one chunk and where the next one to take is.
#[derive(Debug)]
enum Slot {
    Item(Result<Item, Error>),
    /// Only the fetch transport queues whole chunks (left out without it: less code in every
    /// app that reads a stream).
    #[cfg(feature = "fetch")]
    Chunk(Unread),
}

/// `queue.borrow_mut()` in one place (a `RefCell`'s borrow records its caller for its never
/// expected panic: one record in the binary instead of one per use). The guard wakes the
/// consumer, if a push asked for it, after the borrow has ended.
#[inline(never)]
pub(crate) fn edit(queue: &QueueRef) -> Edit<'_> {
    let mut borrowed = queue.borrow_mut();
    borrowed.deferring = true;
    Edit {
        queue: borrowed,
        _wake: WakeAfter(queue),
    }
}

/// A borrow of the queue; see [`edit`]. Fields drop in order: the borrow ends first, then the
/// consumer is woken.
pub(crate) struct Edit<'a> {
    queue: RefMut<'a, Queue>,
    _wake: WakeAfter<'a>,
}

impl Deref for Edit<'_> {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        &self.queue
    }
}

impl DerefMut for Edit<'_> {
    fn deref_mut(&mut self) -> &mut Queue {
        &mut self.queue
    }
}

/// Wakes the consumer, if a push during the borrow asked for it, once the borrow is over.
struct WakeAfter<'a>(&'a RefCell<Queue>);

impl Drop for WakeAfter<'_> {
    fn drop(&mut self) {
        let waker = self.0.try_borrow_mut().ok().and_then(|mut queue| {
            queue.deferring = false;
            if std::mem::take(&mut queue.wake_pending) {
                queue.waker.take()
            } else {
                None
            }
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What one queued message counts for against the bound: its own size and the strings it owns.
/// Not its event type: a short one is stored inline (inside `size_of::<Message>()`), a long one
/// is shared by every message of that type. (Reading it would also check its UTF-8 again, code
/// that every EventSource app would link for nothing.)
fn cost(message: &Message) -> usize {
    message.data().len() + message.last_event_id().len() + std::mem::size_of::<Message>()
}

impl Queue {
    /// A queue that holds at most `max_bytes` of messages (see [`Queue::push_message`]).
    pub(crate) fn bounded(max_bytes: usize) -> Queue {
        Queue {
            max_bytes: Some(max_bytes),
            ..Queue::default()
        }
    }

    fn push(&mut self, item: Result<Item, Error>) {
        self.push_slot(Slot::Item(item));
    }

    fn push_slot(&mut self, slot: Slot) {
        let hold =
            self.hold_wakes && matches!(slot, Slot::Item(Ok(Item::Message(_) | Item::Skipped(_))));
        self.items.push(Some(slot));
        if hold {
            self.held = true;
        } else if self.deferring {
            self.wake_pending = true;
        } else if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// From now on, messages wake the consumer only at [`wake_held`](Queue::wake_held).
    // The EventSource transport's batching; the fetch transport wakes per chunk instead.
    #[cfg_attr(not(feature = "event-source"), allow(dead_code))]
    pub(crate) fn hold_message_wakes(&mut self) {
        self.hold_wakes = true;
    }

    /// Wakes the consumer if a message arrived since the last wake.
    #[cfg_attr(not(feature = "event-source"), allow(dead_code))]
    pub(crate) fn wake_held(&mut self) {
        if std::mem::take(&mut self.held) {
            if self.deferring {
                self.wake_pending = true;
            } else if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    /// Queues a message, or, when the queue is bounded and already holds messages that with this
    /// one would exceed the bound, drops it and counts it in an [`Skipped::Lagged`] item in its
    /// place (one item for a run of drops).
    #[cfg_attr(not(feature = "event-source"), allow(dead_code))]
    pub(crate) fn push_message(&mut self, message: Message) {
        let Some(max) = self.max_bytes else {
            // Unbounded (the fetch transport): nothing to count.
            self.push(Ok(Item::Message(message)));
            return;
        };
        let cost = cost(&message);
        if self.queued_bytes > 0 && self.queued_bytes.saturating_add(cost) > max {
            if let Some(Some(Slot::Item(Ok(Item::Skipped(Skipped::Lagged { count }))))) =
                self.items.last_mut()
            {
                *count = count.saturating_add(1);
            } else {
                self.push(Ok(Item::Skipped(Skipped::Lagged { count: 1 })));
            }
            return;
        }
        self.queued_bytes += cost;
        self.push(Ok(Item::Message(message)));
    }

    /// Queues an item as is, not counted against a bound: for a transport whose queue has none
    /// (the fetch transport, which reads only as fast as the stream is polled), so that it does
    /// not link the counting (smaller code).
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn push_unbounded(&mut self, item: Item) {
        debug_assert!(
            self.max_bytes.is_none(),
            "a bounded queue counts its messages"
        );
        self.push(Ok(item));
    }

    /// Queues the messages of one chunk in one slot (unbounded queues only, like
    /// [`push_unbounded`](Queue::push_unbounded)).
    #[cfg(feature = "fetch")]
    pub(crate) fn push_chunk(&mut self, chunk: Chunk) {
        debug_assert!(self.max_bytes.is_none(), "a chunk is not counted");
        if chunk.len() > 0 {
            let to = chunk.len();
            self.push_slot(Slot::Chunk(Unread::new(&std::sync::Arc::new(chunk), 0, to)));
        }
    }

    /// Queues what a decoder produced (a message, or a skip notice).
    #[cfg(test)]
    pub(crate) fn push_item(&mut self, item: Item) {
        match item {
            Item::Message(message) => self.push_message(message),
            other => self.push(Ok(other)),
        }
    }

    pub(crate) fn push_state(&mut self, state: ConnectionState) {
        self.state = state;
        self.push(Ok(Item::State(state)));
    }

    /// The stream ends cleanly: a `Closed` state item, then `None`.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn close(&mut self) {
        self.push_state(ConnectionState::Closed);
        self.finished = true;
    }

    /// The stream ends with a `Closed` state item, `error`, then `None`: a consumer that shows
    /// the last state it saw shows a closed stream, and the error stays the last item.
    #[cfg_attr(
        not(any(feature = "fetch", feature = "event-source")),
        allow(dead_code)
    )]
    pub(crate) fn fail(&mut self, error: Error) {
        self.push_state(ConnectionState::Closed);
        self.push(Err(error));
        self.finished = true;
    }

    /// The error the stream failed with, taken out, if it failed.
    // This, `is_empty` and `set_finished` serve the fetch driver, which the stream polls.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        if !self.finished || !matches!(self.items.last(), Some(Some(Slot::Item(Err(_))))) {
            return None;
        }
        let error = match self.items.pop().flatten() {
            Some(Slot::Item(Err(error))) => Some(error),
            _ => None,
        };
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
        error
    }

    /// The next item, if any. When it is a message of a chunk, the chunk's messages after it come
    /// out of the queue with it: the stream reads those on its own, without a borrow of the
    /// queue for each (their text stays in the chunk).
    ///
    /// Out of line: inlined into the stream's poll loop it made every fetch app larger, for no
    /// measurable speed.
    #[inline(never)]
    pub(crate) fn pop(&mut self) -> Option<(Result<Item, Error>, Option<Unread>)> {
        match self.take_head()? {
            Slot::Item(item) => Some((item, None)),
            // Never empty: an empty chunk is not queued.
            #[cfg(feature = "fetch")]
            Slot::Chunk(mut rest) => {
                let message = rest.next_message()?;
                Some((Ok(Item::Message(message)), Some(rest)))
            }
        }
    }

    /// Everything the next slot holds: the rest of a chunk's messages, or one item.
    pub(crate) fn pop_batch(&mut self) -> Option<Result<Batch, Error>> {
        Some(match self.take_head()? {
            #[cfg(feature = "fetch")]
            Slot::Chunk(unread) => Ok(unread.into_batch()),
            Slot::Item(Ok(item)) => Ok(Batch::of_item(item)),
            Slot::Item(Err(error)) => Err(error),
        })
    }

    fn take_head(&mut self) -> Option<Slot> {
        let item = self.items.get_mut(self.head)?.take()?;
        self.head += 1;
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        } else if self.head >= 32 && self.head * 2 >= self.items.len() {
            self.items.retain(Option::is_some);
            self.head = 0;
        }
        if self.max_bytes.is_some()
            && let Slot::Item(Ok(Item::Message(message))) = &item
        {
            self.queued_bytes = self.queued_bytes.saturating_sub(cost(message));
        }
        Some(item)
    }

    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        // Never only taken slots: the last `pop` empties those.
        self.items.is_empty()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// The transport stopped without saying how (its driver returned).
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn set_finished(&mut self) {
        self.finished = true;
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.state
    }

    /// Everything is released: nothing more will be read.
    pub(crate) fn clear(&mut self) {
        self.state = ConnectionState::Closed;
        self.items.clear();
        self.head = 0;
        self.queued_bytes = 0;
        self.waker = None;
    }

    /// The task to wake when an item arrives (transports that push from callbacks).
    #[cfg_attr(
        not(all(target_arch = "wasm32", feature = "event-source")),
        allow(dead_code)
    )]
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Queue {
        /// The next item (the rest of a chunk dropped).
        fn pop_item(&mut self) -> Option<Result<Item, Error>> {
            self.pop().map(|(item, _)| item)
        }
    }

    fn msg(data: &str) -> Message {
        Message::new("message", data, "")
    }

    fn drain(q: &mut Queue) -> Vec<Item> {
        std::iter::from_fn(|| q.pop_item())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn bounded_queue_drops_what_does_not_fit_and_says_how_many_in_their_place() {
        let one = cost(&msg("0123456789"));
        let mut q = Queue::bounded(2 * one);
        for _ in 0..5 {
            q.push_message(msg("0123456789"));
        }
        assert_eq!(
            drain(&mut q),
            [
                Item::Message(msg("0123456789")),
                Item::Message(msg("0123456789")),
                Item::Skipped(Skipped::Lagged { count: 3 }),
            ]
        );
        // Drained: there is room again, and the bytes were given back.
        assert_eq!(q.queued_bytes, 0);
        q.push_message(msg("0123456789"));
        q.push_message(msg("0123456789"));
        q.push_message(msg("0123456789"));
        q.pop_item();
        q.push_message(msg("after"));
        assert_eq!(
            drain(&mut q),
            [
                Item::Message(msg("0123456789")),
                Item::Skipped(Skipped::Lagged { count: 1 }),
                Item::Message(msg("after")),
            ]
        );
    }

    #[test]
    fn a_message_larger_than_the_bound_still_passes_an_empty_queue() {
        let mut q = Queue::bounded(8);
        q.push_message(msg("a message far over eight bytes"));
        assert_eq!(drain(&mut q).len(), 1);
    }

    #[test]
    fn a_consumer_that_stays_behind_keeps_the_order_and_the_storage_bounded() {
        let mut q = Queue::default();
        for i in 0..10 {
            q.push_message(msg(&i.to_string()));
        }
        // One in, one out, for a long time: always ten waiting, never caught up.
        for i in 10..10_000 {
            q.push_message(msg(&i.to_string()));
            let Some(Ok(Item::Message(m))) = q.pop_item() else {
                panic!("a message")
            };
            assert_eq!(m.data(), (i - 10).to_string());
            assert!(q.items.len() <= 2 * 10 + 32 + 1, "{} slots", q.items.len());
        }
        let rest: Vec<_> = drain(&mut q)
            .into_iter()
            .map(|item| match item {
                Item::Message(m) => m.into_data(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            rest,
            (9990..10_000).map(|i| i.to_string()).collect::<Vec<_>>()
        );
        assert!(q.items.is_empty() && q.head == 0, "caught up: emptied");
    }

    #[test]
    fn a_failure_says_closed_before_the_error() {
        let mut q = Queue::default();
        q.push_state(ConnectionState::Connecting);
        q.fail(Error::Status { status: 404 });
        assert_eq!(q.state(), ConnectionState::Closed);
        let items: Vec<_> = std::iter::from_fn(|| q.pop_item()).collect();
        assert!(
            matches!(
                items.as_slice(),
                [
                    Ok(Item::State(ConnectionState::Connecting)),
                    Ok(Item::State(ConnectionState::Closed)),
                    Err(Error::Status { status: 404 }),
                ]
            ),
            "{items:?}"
        );
        assert!(q.is_finished());
    }

    #[test]
    fn the_failure_is_taken_from_the_end() {
        let mut q = Queue::default();
        q.push_state(ConnectionState::Connecting);
        assert!(q.take_failure().is_none(), "not finished");
        q.fail(Error::Status { status: 404 });
        assert!(matches!(
            q.take_failure(),
            Some(Error::Status { status: 404 })
        ));
        assert!(matches!(
            q.pop_item(),
            Some(Ok(Item::State(ConnectionState::Connecting)))
        ));
        assert!(matches!(
            q.pop_item(),
            Some(Ok(Item::State(ConnectionState::Closed)))
        ));
        assert!(q.pop_item().is_none() && q.is_empty());
        // Taken after the consumer read everything before it.
        q.fail(Error::Status { status: 500 });
        assert!(matches!(
            q.take_failure(),
            Some(Error::Status { status: 500 })
        ));
        assert!(matches!(
            q.pop_item(),
            Some(Ok(Item::State(ConnectionState::Closed)))
        ));
        assert!(q.is_empty() && q.head == 0);
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn chunks_pop_one_message_at_a_time_or_whole() {
        let chunk = Chunk::of_data(&["a", "b", "c"], "");
        let mut q = Queue::default();
        q.push_state(ConnectionState::Open);
        q.push_chunk(chunk.clone());
        q.push_chunk(Chunk::default());
        q.push_chunk(chunk);
        q.push_state(ConnectionState::Closed);
        assert!(matches!(
            q.pop_item(),
            Some(Ok(Item::State(ConnectionState::Open)))
        ));
        // The first message of a chunk comes with the rest of it.
        let (a, rest) = q.pop().unwrap();
        assert_eq!(a.unwrap(), Item::Message(msg("a")));
        let rest = rest.unwrap().into_batch();
        assert_eq!(
            rest.messages().map(|m| m.data()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        // The second whole (the empty one was never queued).
        assert_eq!(q.pop_batch().unwrap().unwrap().len(), 3);
        assert_eq!(
            q.pop_batch().unwrap().unwrap().item(),
            Some(&Item::State(ConnectionState::Closed))
        );
        assert!(q.pop_item().is_none() && q.is_empty());
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn messages_taken_from_a_chunk_keep_their_own_type_and_id() {
        let parts = [
            ("message", "a", ""),
            ("tick", "b", ""),
            ("tick", "c\nd", "7"),
            ("tick", "", "7"),
            ("message", "e", "7"),
            ("message", "é", "8"),
        ];
        let chunk = Chunk::of(&parts);
        let want: Vec<_> = parts
            .iter()
            .map(|(t, d, id)| Item::Message(Message::new(*t, *d, *id)))
            .collect();
        // Some taken one by one, the rest as a batch.
        for one_by_one in 1..=parts.len() {
            let mut q = Queue::default();
            q.push_chunk(chunk.clone());
            let (first, rest) = q.pop().unwrap();
            assert!(q.pop().is_none() && q.is_empty(), "taken whole");
            let mut rest = rest.unwrap();
            let mut got = vec![first.unwrap()];
            got.extend((1..one_by_one).map(|_| Item::Message(rest.next_message().unwrap())));
            got.extend(
                rest.into_batch()
                    .messages()
                    .map(|m| Item::Message(m.to_message())),
            );
            assert_eq!(got, want, "{one_by_one} one by one");
        }
    }

    #[test]
    fn held_wakes_wait_for_wake_held_and_states_do_not() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let mut q = Queue::bounded(1 << 20);
        q.hold_message_wakes();
        let woken = Arc::new(CheckBorrow(AtomicBool::new(false)));
        q.set_waker(&Waker::from(Arc::clone(&woken)));
        q.push_message(msg("a"));
        q.push_message(msg("b"));
        assert!(!woken.0.load(Ordering::Relaxed), "held");
        q.wake_held();
        assert!(woken.0.load(Ordering::Relaxed), "woken once for both");
        let again = Arc::new(CheckBorrow(AtomicBool::new(false)));
        q.set_waker(&Waker::from(Arc::clone(&again)));
        q.wake_held();
        assert!(!again.0.load(Ordering::Relaxed), "nothing new: no wake");
        q.push_state(ConnectionState::Open);
        assert!(again.0.load(Ordering::Relaxed), "a state wakes at once");
    }

    #[test]
    fn unbounded_queue_keeps_everything() {
        let mut q = Queue::default();
        for i in 0..1000 {
            q.push_message(msg(&i.to_string()));
        }
        assert_eq!(drain(&mut q).len(), 1000);
    }

    thread_local! {
        /// The queue that [`CheckBorrow`] looks at (a waker must be `Send`, a queue is not).
        static WATCHED: RefCell<Option<QueueRef>> = const { RefCell::new(None) };
    }

    /// A waker that checks, when woken, that the watched queue is not borrowed.
    struct CheckBorrow(std::sync::atomic::AtomicBool);

    impl std::task::Wake for CheckBorrow {
        fn wake(self: std::sync::Arc<Self>) {
            WATCHED.with(|watched| {
                if let Some(queue) = &*watched.borrow() {
                    assert!(queue.try_borrow_mut().is_ok(), "woken while borrowed");
                }
            });
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn the_consumer_is_woken_after_the_borrow_ends() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let queue = QueueRef::default();
        WATCHED.with(|w| *w.borrow_mut() = Some(std::rc::Rc::clone(&queue)));
        let check = Arc::new(CheckBorrow(AtomicBool::new(false)));
        edit(&queue).set_waker(&Waker::from(Arc::clone(&check)));
        edit(&queue).push_state(ConnectionState::Open);
        assert!(check.0.load(Ordering::Relaxed), "woken");
        WATCHED.with(|w| *w.borrow_mut() = None);
        // A queue used without the guard (a shared stream's subscriber) wakes at once.
        let mut plain = Queue::default();
        let woken = Arc::new(CheckBorrow(AtomicBool::new(false)));
        plain.set_waker(&Waker::from(Arc::clone(&woken)));
        plain.push_state(ConnectionState::Open);
        assert!(woken.0.load(Ordering::Relaxed));
    }
}
