//! One subscriber's queue of a shared stream: the items the hub gave it, in order, bounded.
//!
//! The messages of one chunk of the body reach every subscriber as one reference to the same
//! chunk (and the range of it this subscriber has yet to read): delivering a chunk costs the same
//! for four subscribers as for one, and so does taking a message out of it (its text stays in the
//! chunk, as for an [`EventStream`](crate::EventStream)).

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use crate::batch::Unread;
use crate::message::chunk::Chunk;
use crate::{ConnectionState, Error, Item, Message, MessageRef, Skipped};

#[derive(Debug)]
pub(crate) struct Inbox {
    entries: VecDeque<Entry>,
    waker: Option<Waker>,
    finished: bool,
    /// What the queued messages count for (see [`cost`]), and the bound on it.
    queued_bytes: usize,
    max_bytes: usize,
}

#[derive(Debug)]
enum Entry {
    Item(Result<Item, Error>),
    Run(Unread),
}

/// What one queued message counts for against the bound: the same measure as an
/// [`EventStream`](crate::EventStream)'s queue (its data, its id, and the message itself).
pub(crate) fn cost(message: MessageRef<'_>) -> usize {
    message.data().len() + message.last_event_id().len() + std::mem::size_of::<Message>()
}

/// What messages `from..to` of a chunk count for against the bound, as [`cost`] for each.
pub(crate) fn run_cost(chunk: &Chunk, from: usize, to: usize) -> usize {
    chunk.text_bytes(from, to) + to.saturating_sub(from) * std::mem::size_of::<Message>()
}

impl Inbox {
    /// An inbox that holds at most `max_bytes` of messages (see [`Inbox::push_message`]).
    pub(crate) fn bounded(max_bytes: usize) -> Inbox {
        Inbox {
            entries: VecDeque::new(),
            waker: None,
            finished: false,
            queued_bytes: 0,
            max_bytes,
        }
    }

    fn push(&mut self, entry: Entry) {
        self.entries.push_back(entry);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Whether a message of `cost` would go over the bound (one always fits an empty inbox).
    fn over(&self, cost: usize) -> bool {
        self.queued_bytes > 0 && self.queued_bytes.saturating_add(cost) > self.max_bytes
    }

    /// One more message dropped: counted in the [`Skipped::Lagged`] item at the end, or a new
    /// one (one item for a run of drops).
    fn lag(&mut self) {
        if let Some(Entry::Item(Ok(Item::Skipped(Skipped::Lagged { count })))) =
            self.entries.back_mut()
        {
            *count = count.saturating_add(1);
        } else {
            self.push(Entry::Item(Ok(Item::Skipped(Skipped::Lagged { count: 1 }))));
        }
    }

    /// Queues a message, or drops it when it does not fit and counts it in a
    /// [`Skipped::Lagged`] item in its place.
    pub(crate) fn push_message(&mut self, message: Message) {
        let cost = cost(MessageRef::from(&message));
        if self.over(cost) {
            self.lag();
        } else {
            self.queued_bytes += cost;
            self.push(Entry::Item(Ok(Item::Message(message))));
        }
    }

    /// Queues messages `from..to` of a shared chunk, which count `total` in all; those that do
    /// not fit are dropped as by [`push_message`](Inbox::push_message).
    pub(crate) fn push_run(&mut self, chunk: &Arc<Chunk>, from: usize, to: usize, total: usize) {
        if self.queued_bytes.saturating_add(total) <= self.max_bytes {
            self.queued_bytes += total;
            self.push(Entry::Run(Unread::new(chunk, from, to)));
            return;
        }
        // Some do not fit: message by message, keeping the runs that do.
        let mut run = None;
        for (i, message) in (from..).zip(chunk.iter(from, to)) {
            let cost = cost(message);
            if self.over(cost) {
                if let Some(start) = run.take() {
                    self.push(Entry::Run(Unread::new(chunk, start, i)));
                }
                self.lag();
            } else {
                self.queued_bytes += cost;
                run.get_or_insert(i);
            }
        }
        if let Some(start) = run {
            self.push(Entry::Run(Unread::new(chunk, start, to)));
        }
    }

    /// Queues an item (a message goes through [`push_message`](Inbox::push_message)).
    pub(crate) fn push_item(&mut self, item: Item) {
        match item {
            Item::Message(message) => self.push_message(message),
            other => self.push(Entry::Item(Ok(other))),
        }
    }

    pub(crate) fn push_state(&mut self, state: ConnectionState) {
        self.push(Entry::Item(Ok(Item::State(state))));
    }

    /// The stream ends cleanly: a `Closed` state item, then `None`.
    pub(crate) fn close(&mut self) {
        self.push_state(ConnectionState::Closed);
        self.finished = true;
    }

    /// The stream ends with a `Closed` state item, `error`, then `None`.
    pub(crate) fn fail(&mut self, error: Error) {
        self.push_state(ConnectionState::Closed);
        self.push(Entry::Item(Err(error)));
        self.finished = true;
    }

    /// The next item, if any.
    pub(crate) fn pop(&mut self) -> Option<Result<Item, Error>> {
        loop {
            let message = match self.entries.front_mut()? {
                Entry::Run(run) => {
                    let message = run.next_message();
                    if run.is_empty() {
                        self.entries.pop_front();
                    }
                    message
                }
                Entry::Item(_) => match self.entries.pop_front()? {
                    Entry::Item(Ok(Item::Message(message))) => Some(message),
                    Entry::Item(item) => return Some(item),
                    Entry::Run(..) => None,
                },
            };
            if let Some(message) = message {
                self.queued_bytes = self
                    .queued_bytes
                    .saturating_sub(cost(MessageRef::from(&message)));
                return Some(Ok(Item::Message(message)));
            }
        }
    }

    /// The messages of a shared chunk at the front, taken out whole: the subscriber reads them
    /// on its own, without going through the hub for each one. They no longer count against the
    /// bound (a subscriber holds at most one such run).
    pub(crate) fn take_run(&mut self) -> Option<Unread> {
        let Some(Entry::Run(run)) = self.entries.front() else {
            return None;
        };
        let (from, to) = run.range();
        self.queued_bytes = self
            .queued_bytes
            .saturating_sub(run_cost(run.chunk(), from, to));
        match self.entries.pop_front() {
            Some(Entry::Run(run)) => Some(run),
            _ => None,
        }
    }

    /// How much more the bound lets in.
    pub(crate) fn room(&self) -> usize {
        self.max_bytes.saturating_sub(self.queued_bytes)
    }

    /// Bytes of the queued messages, as counted against the bound.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// The task to wake when an item arrives.
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

    /// The messages as a chunk to share.
    fn chunk(data: &[&str]) -> Arc<Chunk> {
        Arc::new(Chunk::of_data(data, ""))
    }

    fn total(chunk: &Chunk, from: usize, to: usize) -> usize {
        chunk.iter(from, to).map(cost).sum()
    }

    fn drain(inbox: &mut Inbox) -> Vec<Item> {
        std::iter::from_fn(|| inbox.pop())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_run_of_a_shared_chunk_pops_one_message_at_a_time() {
        let c = chunk(&["a", "b", "c"]);
        let mut inbox = Inbox::bounded(1 << 20);
        inbox.push_state(ConnectionState::Open);
        inbox.push_run(&c, 1, 3, total(&c, 1, 3));
        inbox.push_message(msg("d"));
        assert_eq!(
            inbox.queued_bytes(),
            total(&c, 1, 3) + cost((&msg("d")).into())
        );
        assert_eq!(
            drain(&mut inbox),
            [
                Item::State(ConnectionState::Open),
                Item::Message(msg("b")),
                Item::Message(msg("c")),
                Item::Message(msg("d")),
            ]
        );
        assert_eq!(inbox.queued_bytes(), 0, "every message given back");
        assert_eq!(Arc::strong_count(&c), 1, "the chunk is let go once read");
    }

    #[test]
    fn a_run_taken_out_reads_on_its_own_and_no_longer_counts() {
        let c = chunk(&["a", "b", "c"]);
        let mut inbox = Inbox::bounded(1 << 20);
        inbox.push_run(&c, 0, 3, total(&c, 0, 3));
        inbox.push_state(ConnectionState::Open);
        assert_eq!(inbox.pop().unwrap().unwrap(), Item::Message(msg("a")));
        let mut run = inbox.take_run().unwrap();
        assert_eq!(inbox.queued_bytes(), 0);
        assert!(inbox.take_run().is_none(), "a state comes next");
        let rest: Vec<_> = std::iter::from_fn(|| run.next_message()).collect();
        assert_eq!(rest, [msg("b"), msg("c")]);
        assert_eq!(drain(&mut inbox), [Item::State(ConnectionState::Open)]);
    }

    #[test]
    fn a_run_that_does_not_fit_keeps_what_fits_and_counts_the_rest() {
        let c = chunk(&["0123456789"; 6]);
        let one = total(&c, 0, 1);
        let mut inbox = Inbox::bounded(2 * one);
        inbox.push_message(msg("0123456789"));
        // One more fits; the other five are dropped, counted in one notice.
        inbox.push_run(&c, 0, 6, total(&c, 0, 6));
        assert_eq!(
            drain(&mut inbox),
            [
                Item::Message(msg("0123456789")),
                Item::Message(msg("0123456789")),
                Item::Skipped(Skipped::Lagged { count: 5 }),
            ]
        );
        // Drained: room again, and a run that fits goes in whole.
        inbox.push_run(&c, 4, 6, total(&c, 4, 6));
        assert_eq!(drain(&mut inbox).len(), 2);
    }

    #[test]
    fn a_run_larger_than_the_bound_still_passes_its_first_message() {
        let c = chunk(&["a message far over eight bytes", "and another"]);
        let mut inbox = Inbox::bounded(8);
        inbox.push_run(&c, 0, 2, total(&c, 0, 2));
        assert_eq!(
            drain(&mut inbox),
            [
                Item::Message(msg("a message far over eight bytes")),
                Item::Skipped(Skipped::Lagged { count: 1 }),
            ]
        );
    }

    #[test]
    fn a_failure_says_closed_before_the_error() {
        let mut inbox = Inbox::bounded(1 << 20);
        inbox.fail(Error::Status { status: 404 });
        assert!(matches!(
            inbox.pop(),
            Some(Ok(Item::State(ConnectionState::Closed)))
        ));
        assert!(matches!(
            inbox.pop(),
            Some(Err(Error::Status { status: 404 }))
        ));
        assert!(inbox.pop().is_none() && inbox.is_finished());
    }
}
