//! Messages in batches: what one body chunk completed, copied once into one buffer and lent out
//! as [`MessageRef`]s by [`EventStream::next_batch`](crate::EventStream::next_batch).

use std::sync::Arc;

use crate::{Item, MessageRef};

/// The messages one chunk of a body completed: the type (unless `message`), data and last event
/// id of each, one after another in `text`. One buffer per chunk instead of one `String` per
/// message, and one queue slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chunk {
    text: String,
    /// Per message, where its type, its data and its id end in `text`; each starts where the
    /// one before ends. An empty type stands for `message`.
    ends: Vec<[usize; 3]>,
}

impl Chunk {
    /// An empty chunk with room for one like `like` (a body's chunks tend to look alike).
    // Only the fetch transport fills chunks, so without it this and `push` are unused.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn sized_like(like: &Chunk) -> Chunk {
        Chunk {
            text: String::with_capacity(like.text.len()),
            ends: Vec::with_capacity(like.ends.len()),
        }
    }

    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn push(&mut self, message: MessageRef<'_>) {
        if message.event_type() != "message" {
            self.text.push_str(message.event_type());
        }
        let type_end = self.text.len();
        self.text.push_str(message.data());
        let data_end = self.text.len();
        self.text.push_str(message.last_event_id());
        self.ends.push([type_end, data_end, self.text.len()]);
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of data and ids of messages `from..to`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn text_bytes(&self, from: usize, to: usize) -> usize {
        let ends = self.ends.get(from..to).unwrap_or_default();
        ends.iter().map(|[type_end, _, end]| end - type_end).sum()
    }

    pub(crate) fn get(&self, i: usize) -> Option<MessageRef<'_>> {
        let [type_end, data_end, end] = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).map_or(0, |e| e[2]),
            None => 0,
        };
        let part = |from: usize, to: usize| self.text.get(from..to).unwrap_or_default();
        let event_type = match part(start, type_end) {
            "" => "message",
            named => named,
        };
        Some(MessageRef::new(
            event_type,
            part(type_end, data_end),
            part(data_end, end),
        ))
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
    /// Messages `from..to` of the chunk.
    Chunk(Chunk, usize, usize),
    /// Messages `from..to` of a chunk that the subscribers of a shared stream read together.
    Shared(Arc<Chunk>, usize, usize),
    Item(Item),
}

impl Batch {
    pub(crate) fn chunk(chunk: Chunk, from: usize) -> Batch {
        let to = chunk.len();
        Batch {
            inner: Inner::Chunk(chunk, from, to),
        }
    }

    /// Messages `from..to` of `chunk`.
    pub(crate) fn chunk_range(chunk: Chunk, from: usize, to: usize) -> Batch {
        Batch {
            inner: Inner::Chunk(chunk, from, to),
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn shared(chunk: Arc<Chunk>, from: usize, to: usize) -> Batch {
        Batch {
            inner: Inner::Shared(chunk, from, to),
        }
    }

    pub(crate) fn of_item(item: Item) -> Batch {
        Batch {
            inner: Inner::Item(item),
        }
    }

    /// The messages of the batch, in order, borrowed (none when the batch is another item).
    pub fn messages(&self) -> impl Iterator<Item = MessageRef<'_>> + '_ {
        let (chunk, range, single) = match &self.inner {
            Inner::Chunk(chunk, from, to) => (Some(chunk), *from..*to, None),
            Inner::Shared(chunk, from, to) => (Some(&**chunk), *from..*to, None),
            Inner::Item(Item::Message(message)) => (None, 0..0, Some(MessageRef::from(message))),
            Inner::Item(_) => (None, 0..0, None),
        };
        single
            .into_iter()
            .chain(range.filter_map(move |i| chunk.and_then(|c| c.get(i))))
    }

    /// How many messages the batch holds.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Chunk(_, from, to) | Inner::Shared(_, from, to) => to - from,
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
            Inner::Item(Item::Message(_)) | Inner::Chunk(..) | Inner::Shared(..) => None,
            Inner::Item(item) => Some(item),
        }
    }

    /// The chunk and the range of it this batch lends out, or the one item it stands for (a
    /// shared stream's hub passes the chunk on to every subscriber as is).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn into_parts(self) -> Result<(Chunk, usize, usize), Item> {
        match self.inner {
            Inner::Chunk(chunk, from, to) => Ok((chunk, from, to)),
            Inner::Shared(chunk, from, to) => Ok((Arc::unwrap_or_clone(chunk), from, to)),
            Inner::Item(item) => Err(item),
        }
    }

    /// Keeps only the first `n` messages.
    pub(crate) fn truncate(&mut self, n: usize) {
        match &mut self.inner {
            Inner::Chunk(_, from, to) | Inner::Shared(_, from, to) => *to = (*from + n).min(*to),
            Inner::Item(Item::Message(_)) if n == 0 => {
                self.inner = Inner::Chunk(Chunk::default(), 0, 0);
            }
            Inner::Item(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn chunk(messages: &[(&str, &str, &str)]) -> Chunk {
        let mut chunk = Chunk::default();
        for (t, d, id) in messages {
            chunk.push(MessageRef::new(t, d, id));
        }
        chunk
    }

    #[test]
    fn a_chunk_gives_back_each_message_whole() {
        let parts = [
            ("message", "a", ""),
            ("tick", "b\nc", "7"),
            ("message", "", "7"),
            ("a-much-longer-event-type-name", "é€😀", ""),
        ];
        let c = chunk(&parts);
        assert_eq!(c.len(), 4);
        for (i, (t, d, id)) in parts.iter().enumerate() {
            assert_eq!(c.get(i), Some(MessageRef::new(t, d, id)), "message {i}");
        }
        assert_eq!(c.get(4), None);
        let m = c.get(1).unwrap().to_message();
        assert_eq!(m, Message::new("tick", "b\nc", "7"));
        assert_eq!(MessageRef::from(&m), c.get(1).unwrap());
    }

    #[test]
    fn a_batch_lends_the_rest_of_a_chunk_and_truncates() {
        let c = chunk(&[
            ("message", "a", ""),
            ("message", "b", ""),
            ("message", "c", ""),
        ]);
        let mut batch = Batch::chunk(c, 1);
        let data: Vec<_> = batch.messages().map(|m| m.data()).collect();
        assert_eq!((data, batch.len(), batch.item()), (vec!["b", "c"], 2, None));
        batch.truncate(1);
        assert_eq!(
            batch.messages().map(|m| m.data()).collect::<Vec<_>>(),
            ["b"]
        );
        let single = Batch::of_item(Item::Message(Message::new("t", "x", "1")));
        assert_eq!(
            single.messages().next(),
            Some(MessageRef::new("t", "x", "1"))
        );
        assert_eq!((single.len(), single.item()), (1, None));
        let state = Batch::of_item(Item::State(crate::ConnectionState::Open));
        assert!(state.is_empty() && state.item().is_some());
    }
}
