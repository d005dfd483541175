//! Messages in batches: what one body chunk completed, copied once into one buffer and lent out
//! as [`MessageRef`]s by [`EventStream::next_batch`](crate::EventStream::next_batch).

use std::sync::Arc;

use crate::message::chunk::{Chunk, Cursor, Messages};
use crate::{Item, Message, MessageRef};

/// Messages of a chunk not taken yet, up to `end`: what a queue holds of a chunk, and what a
/// stream reads on its own once it took the chunk from the queue.
#[derive(Debug)]
pub(crate) struct Unread {
    /// In an `Arc`: the messages taken out of it, a [`Batch`] of the rest and the other
    /// subscribers of a shared stream hold it too.
    chunk: Arc<Chunk>,
    next: Cursor,
    end: usize,
}

impl Unread {
    /// Messages `from..to` of `chunk`.
    pub(crate) fn new(chunk: &Arc<Chunk>, from: usize, to: usize) -> Unread {
        Unread {
            chunk: Arc::clone(chunk),
            next: chunk.cursor(from),
            end: to.min(chunk.len()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.next.index() >= self.end
    }

    /// The next message; its text stays in the chunk.
    #[inline]
    pub(crate) fn next_message(&mut self) -> Option<Message> {
        if self.is_empty() {
            return None;
        }
        let span = self.chunk.step(&mut self.next)?;
        Some(Message::in_chunk(&self.chunk, span))
    }

    /// The messages not taken yet, lent out.
    pub(crate) fn into_batch(self) -> Batch {
        Batch::chunk(self.chunk, self.next.index(), self.end)
    }

    pub(crate) fn chunk(&self) -> &Chunk {
        &self.chunk
    }

    /// The messages not taken yet: `from..to` of [`chunk`](Unread::chunk).
    pub(crate) fn range(&self) -> (usize, usize) {
        (self.next.index(), self.end)
    }
}

/// What [`EventStream::next_batch`](crate::EventStream::next_batch) and
/// [`Subscription::next_batch`](crate::Subscription::next_batch) yield: the messages that
/// arrived together (on the fetch transport, those one chunk of the body completed), lent out
/// without an allocation per message, or one other item (a state change, a skip notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    inner: Inner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    /// Messages `from..to` of the chunk (which the messages taken from it as [`Message`]s, and
    /// the subscribers of a shared stream, may hold too).
    ///
    /// [`Message`]: crate::Message
    Chunk(Arc<Chunk>, usize, usize),
    Item(Item),
}

/// [`Batch::messages`]: a plain enum rather than a chain of iterators, which cost three times
/// as much per message at `opt-level = "z"`.
enum BatchMessages<'a> {
    Chunk(Messages<'a>),
    One(Option<MessageRef<'a>>),
}

impl<'a> Iterator for BatchMessages<'a> {
    type Item = MessageRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<MessageRef<'a>> {
        match self {
            BatchMessages::Chunk(messages) => messages.next(),
            BatchMessages::One(one) => one.take(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            BatchMessages::Chunk(messages) => messages.size_hint(),
            BatchMessages::One(one) => {
                (usize::from(one.is_some()), Some(usize::from(one.is_some())))
            }
        }
    }
}

impl Batch {
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn chunk(chunk: Arc<Chunk>, from: usize, to: usize) -> Batch {
        Batch {
            inner: Inner::Chunk(chunk, from, to),
        }
    }

    pub(crate) fn of_item(item: Item) -> Batch {
        Batch {
            inner: Inner::Item(item),
        }
    }

    /// The messages of the batch, in order, borrowed (none when the batch is another item).
    pub fn messages(&self) -> impl Iterator<Item = MessageRef<'_>> + '_ {
        match &self.inner {
            Inner::Chunk(chunk, from, to) => BatchMessages::Chunk(chunk.iter(*from, *to)),
            Inner::Item(Item::Message(message)) => {
                BatchMessages::One(Some(MessageRef::from(message)))
            }
            Inner::Item(_) => BatchMessages::One(None),
        }
    }

    /// The messages of the batch, in order, owned: each shares the batch's buffer (no copy of
    /// its text, no allocation), for code that keeps some of them. None when the batch is
    /// another item.
    pub fn into_messages(self) -> impl Iterator<Item = Message> {
        let (mut unread, mut one) = (None, None);
        match self.inner {
            Inner::Chunk(chunk, from, to) => unread = Some(Unread::new(&chunk, from, to)),
            Inner::Item(Item::Message(message)) => one = Some(message),
            Inner::Item(_) => {}
        }
        one.into_iter()
            .chain(std::iter::from_fn(move || unread.as_mut()?.next_message()))
    }

    /// How many messages the batch holds.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Chunk(_, from, to) => to - from,
            Inner::Item(Item::Message(_)) => 1,
            Inner::Item(_) => 0,
        }
    }

    /// Whether the batch holds no message (it is another item).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item this batch stands for when it is not messages: a [`ConnectionState`] change, a
    /// skip notice, a sharing notice.
    ///
    /// [`ConnectionState`]: crate::ConnectionState
    pub fn item(&self) -> Option<&Item> {
        match &self.inner {
            Inner::Item(Item::Message(_)) | Inner::Chunk(..) => None,
            Inner::Item(item) => Some(item),
        }
    }

    /// The chunk and the range of it this batch lends out, or the one item it stands for (a
    /// shared stream's hub passes the chunk on to every subscriber as is).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn into_parts(self) -> Result<(Arc<Chunk>, usize, usize), Item> {
        match self.inner {
            Inner::Chunk(chunk, from, to) => Ok((chunk, from, to)),
            Inner::Item(item) => Err(item),
        }
    }

    /// Keeps only the first `n` messages.
    pub(crate) fn truncate(&mut self, n: usize) {
        match &mut self.inner {
            Inner::Chunk(_, from, to) => *to = (*from + n).min(*to),
            Inner::Item(Item::Message(_)) if n == 0 => {
                self.inner = Inner::Chunk(Arc::default(), 0, 0);
            }
            Inner::Item(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn a_batch_lends_the_rest_of_a_chunk_and_truncates() {
        let c = Chunk::of(&[
            ("message", "a", ""),
            ("message", "b", ""),
            ("message", "c", ""),
        ]);
        let mut batch = Batch::chunk(Arc::new(c), 1, 3);
        let data: Vec<_> = batch.messages().map(|m| m.data()).collect();
        assert_eq!((data, batch.len(), batch.item()), (vec!["b", "c"], 2, None));
        let kept: Vec<Message> = batch.clone().into_messages().collect();
        assert_eq!(
            kept,
            [
                Message::new("message", "b", ""),
                Message::new("message", "c", "")
            ]
        );
        let lent: Vec<_> = batch.messages().map(|m| m.data().as_ptr()).collect();
        let owned: Vec<_> = kept.iter().map(|m| m.data().as_ptr()).collect();
        if cfg!(feature = "fetch") {
            assert_eq!(lent, owned, "the text is shared, not copied");
        }
        batch.truncate(1);
        assert_eq!(
            batch.messages().map(|m| m.data()).collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(batch.clone().into_messages().count(), 1);
        let single = Batch::of_item(Item::Message(Message::new("t", "x", "1")));
        assert_eq!(
            single.messages().next(),
            Some(MessageRef::new("t", "x", "1"))
        );
        assert_eq!((single.len(), single.item()), (1, None));
        assert_eq!(
            single.into_messages().collect::<Vec<_>>(),
            [Message::new("t", "x", "1")]
        );
        let state = Batch::of_item(Item::State(crate::ConnectionState::Open));
        assert!(state.is_empty() && state.item().is_some());
        assert_eq!(state.into_messages().count(), 0);
    }
}
