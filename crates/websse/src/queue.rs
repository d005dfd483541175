//! The queue between a transport and the stream: the transport pushes items and state changes,
//! the [`EventStream`](crate::EventStream) pops them. Neither side knows the other.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use crate::{ConnectionState, Error, Item, Message, Skipped};

/// What a transport hands to the stream: queued items, the current state, whether it is over.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Result<Item, Error>>,
    waker: Option<Waker>,
    finished: bool,
    state: ConnectionState,
    /// Bytes of the queued messages, and the bound on them (`None`: unbounded).
    queued_bytes: usize,
    max_bytes: Option<usize>,
}

pub(crate) type QueueRef = Rc<RefCell<Queue>>;

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
        self.items.push_back(item);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Queues a message, or, when the queue is bounded and already holds messages that with this
    /// one would exceed the bound, drops it and counts it in an [`Skipped::Lagged`] item in its
    /// place (one item for a run of drops).
    pub(crate) fn push_message(&mut self, message: Message) {
        let Some(max) = self.max_bytes else {
            // Unbounded (the fetch transport): nothing to count.
            self.push(Ok(Item::Message(message)));
            return;
        };
        let cost = cost(&message);
        if self.queued_bytes > 0 && self.queued_bytes.saturating_add(cost) > max {
            if let Some(Ok(Item::Skipped(Skipped::Lagged { count }))) = self.items.back_mut() {
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
    /// not link the counting (code size, issue 13).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn push_unbounded(&mut self, item: Item) {
        debug_assert!(
            self.max_bytes.is_none(),
            "a bounded queue counts its messages"
        );
        self.push(Ok(item));
    }

    /// Queues what a decoder produced (a message, or a skip notice).
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

    /// The error the stream failed with, taken out, if it failed.
    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        if !self.finished || !matches!(self.items.back(), Some(Err(_))) {
            return None;
        }
        self.items.pop_back().and_then(Result::err)
    }

    /// The next item, if any.
    pub(crate) fn pop(&mut self) -> Option<Result<Item, Error>> {
        let item = self.items.pop_front()?;
        if self.max_bytes.is_some()
            && let Ok(Item::Message(message)) = &item
        {
            self.queued_bytes = self.queued_bytes.saturating_sub(cost(message));
        }
        Some(item)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// The transport stopped without saying how (its driver returned).
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
        self.queued_bytes = 0;
        self.waker = None;
    }

    /// The task to wake when an item arrives (transports that push from callbacks).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(data: &str) -> Message {
        Message::new("message", data, "")
    }

    fn drain(q: &mut Queue) -> Vec<Item> {
        std::iter::from_fn(|| q.pop()).map(Result::unwrap).collect()
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
        q.pop();
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
    fn unbounded_queue_keeps_everything() {
        let mut q = Queue::default();
        for i in 0..1000 {
            q.push_message(msg(&i.to_string()));
        }
        assert_eq!(drain(&mut q).len(), 1000);
    }
}
