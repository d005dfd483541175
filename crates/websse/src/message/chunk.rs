//! A chunk of messages in one buffer: what one read of a fetch body completed, queued whole and
//! lent out as [`MessageRef`]s or held by the [`Message`]s taken from it.

#[cfg(doc)]
use crate::Message;
use crate::MessageRef;

/// The messages one chunk of a body completed: their data one after another in one buffer, and
/// their types and last event ids once per run of messages that share them (one run for a chunk
/// of unnamed events without ids; a run per message when each has its own id). One buffer per
/// chunk instead of one `String` per message, and one queue slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chunk {
    data: String,
    /// Where each message's data ends in `data`; each starts where the one before ends.
    ends: Vec<usize>,
    /// The runs of messages with the same type and last event id, in order.
    runs: Vec<Run>,
    /// The type and the id of each run, one after another.
    names: String,
}

/// `a == Some(b)`, with empty slices never compared: at `opt-level = "z"` (how apps ship) a
/// compare of two empty slices is still a `memcmp` call, which natively costs more than all the
/// rest of a push.
#[inline]
fn same_bytes(a: Option<&[u8]>, b: &[u8]) -> bool {
    a.is_some_and(|a| a.len() == b.len() && (b.is_empty() || a == b))
}

/// Messages from `from` on (up to the next run) have the type `names[start..type_end]` and the
/// last event id `names[type_end..id_end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    from: usize,
    start: usize,
    type_end: usize,
    id_end: usize,
}

impl Chunk {
    /// An empty chunk with room for one like `like` (a body's chunks tend to look alike).
    // Only the fetch transport fills chunks, so without it this and `push` are unused.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn sized_like(like: &Chunk) -> Chunk {
        Chunk {
            data: String::with_capacity(like.data.len()),
            ends: Vec::with_capacity(like.ends.len()),
            runs: Vec::new(),
            names: String::new(),
        }
    }

    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn push(&mut self, message: MessageRef<'_>) {
        self.push_if(message, |_| true);
    }

    /// Adds `message` if `admit` accepts its type. `admit` is asked once per run of messages
    /// of the same type and id, not per message (a stream's filter of event types costs a
    /// string compare).
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn push_if(&mut self, message: MessageRef<'_>, admit: impl FnOnce(&str) -> bool) {
        let (event_type, id) = (message.event_type(), message.last_event_id());
        // Byte slices, not `str` ranges: no char boundary checks in this per-message compare.
        let names = self.names.as_bytes();
        let same = self.runs.last().is_some_and(|run| {
            same_bytes(names.get(run.start..run.type_end), event_type.as_bytes())
                && same_bytes(names.get(run.type_end..run.id_end), id.as_bytes())
        });
        if !same {
            if !admit(event_type) {
                return;
            }
            self.new_run(event_type, id);
        }
        self.data.push_str(message.data());
        self.ends.push(self.data.len());
    }

    fn new_run(&mut self, event_type: &str, id: &str) {
        let start = self.names.len();
        self.names.push_str(event_type);
        let type_end = self.names.len();
        self.names.push_str(id);
        self.runs.push(Run {
            from: self.ends.len(),
            start,
            type_end,
            id_end: self.names.len(),
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of data and ids of messages `from..to`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn text_bytes(&self, from: usize, to: usize) -> usize {
        let to = to.min(self.len());
        if from >= to {
            return 0;
        }
        let data = self
            .ends
            .get(to - 1)
            .map_or(0, |end| end - self.start_of(from));
        let ids: usize = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let run_to = self.runs.get(i + 1).map_or(self.len(), |next| next.from);
                let overlap = run_to.min(to).saturating_sub(run.from.max(from));
                overlap * (run.id_end - run.type_end)
            })
            .sum();
        data + ids
    }

    /// Where message `i`'s data starts.
    fn start_of(&self, i: usize) -> usize {
        i.checked_sub(1)
            .and_then(|before| self.ends.get(before))
            .map_or(0, |end| *end)
    }

    /// The type and the id of the messages after `entered` runs began (none: `message` and no
    /// id, as for a chunk that has no runs).
    pub(crate) fn names_of(&self, entered: usize) -> (&str, &str) {
        (self.type_of(entered), self.id_of(entered))
    }

    /// The type alone: what a consumer asks of nearly every message, so it is not made to
    /// slice the id too.
    #[inline]
    pub(crate) fn type_of(&self, entered: usize) -> &str {
        self.entered_run(entered).map_or("message", |run| {
            self.names.get(run.start..run.type_end).unwrap_or_default()
        })
    }

    #[inline]
    pub(crate) fn id_of(&self, entered: usize) -> &str {
        self.entered_run(entered).map_or("", |run| {
            self.names.get(run.type_end..run.id_end).unwrap_or_default()
        })
    }

    #[inline]
    fn entered_run(&self, entered: usize) -> Option<&Run> {
        entered.checked_sub(1).and_then(|r| self.runs.get(r))
    }

    /// The text of `span`.
    pub(crate) fn data_of(&self, span: Span) -> &str {
        self.data.get(span.start..span.end).unwrap_or_default()
    }

    /// A cursor at message `from`: the runs are searched once here, not per message.
    pub(crate) fn cursor(&self, from: usize) -> Cursor {
        let entered = self.runs.partition_point(|run| run.from <= from);
        Cursor {
            next: from,
            start: self.start_of(from),
            entered,
            next_run_from: self.run_from(entered),
        }
    }

    /// Where run `r` begins (`usize::MAX`: there is none).
    fn run_from(&self, r: usize) -> usize {
        self.runs.get(r).map_or(usize::MAX, |run| run.from)
    }

    /// Where the message at `cursor` is, moving the cursor past it.
    #[inline]
    pub(crate) fn step(&self, cursor: &mut Cursor) -> Option<Span> {
        let end = *self.ends.get(cursor.next)?;
        while cursor.next >= cursor.next_run_from {
            cursor.entered += 1;
            cursor.next_run_from = self.run_from(cursor.entered);
        }
        let span = Span {
            start: cursor.start,
            end,
            entered: cursor.entered,
        };
        cursor.start = end;
        cursor.next += 1;
        Some(span)
    }

    /// Message `i` (a search of the runs: code that walks a chunk uses [`iter`](Chunk::iter)).
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> Option<MessageRef<'_>> {
        let span = self.step(&mut self.cursor(i))?;
        let (event_type, id) = self.names_of(span.entered);
        Some(MessageRef::new(event_type, self.data_of(span), id))
    }

    /// Messages `from..to`, in order.
    pub(crate) fn iter(&self, from: usize, to: usize) -> Messages<'_> {
        let cursor = self.cursor(from);
        let (event_type, id) = self.names_of(cursor.entered);
        Messages {
            chunk: self,
            to: to.min(self.len()),
            entered: cursor.entered,
            cursor,
            event_type,
            id,
        }
    }
}

/// A place in a [`Chunk`]'s messages: the next one, where its data starts, and how many runs
/// began at or before it (a queue keeps one, so that taking a message costs no search).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    next: usize,
    start: usize,
    entered: usize,
    next_run_from: usize,
}

impl Cursor {
    /// The message the cursor is at.
    pub(crate) fn index(&self) -> usize {
        self.next
    }
}

/// Where one message of a [`Chunk`] is: its data, and the runs begun up to it (its type and id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
    entered: usize,
}

impl Span {
    /// How many runs began up to this message (see [`Chunk::names_of`]).
    pub(crate) fn entered(&self) -> usize {
        self.entered
    }
}

/// The messages of a [`Chunk`], in order: the type and the id looked up once per run, one
/// data slice per message.
#[derive(Debug, Clone)]
pub(crate) struct Messages<'a> {
    chunk: &'a Chunk,
    cursor: Cursor,
    to: usize,
    /// The run `event_type` and `id` are of.
    entered: usize,
    event_type: &'a str,
    id: &'a str,
}

impl<'a> Iterator for Messages<'a> {
    type Item = MessageRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<MessageRef<'a>> {
        if self.cursor.next >= self.to {
            return None;
        }
        let span = self.chunk.step(&mut self.cursor)?;
        if span.entered != self.entered {
            self.entered = span.entered;
            (self.event_type, self.id) = self.chunk.names_of(span.entered);
        }
        Some(MessageRef::new(
            self.event_type,
            self.chunk.data_of(span),
            self.id,
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.to.saturating_sub(self.cursor.next);
        (left, Some(left))
    }
}

#[cfg(test)]
impl Chunk {
    /// A chunk of these messages: `(type, data, id)` each.
    pub(crate) fn of(messages: &[(&str, &str, &str)]) -> Chunk {
        let mut chunk = Chunk::default();
        for (t, d, id) in messages {
            chunk.push(MessageRef::new(t, d, id));
        }
        chunk
    }

    /// A chunk of unnamed messages with these data, all with the last event id `id`.
    pub(crate) fn of_data(data: &[&str], id: &str) -> Chunk {
        let mut chunk = Chunk::default();
        for d in data {
            chunk.push(MessageRef::new("message", d, id));
        }
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn a_chunk_gives_back_each_message_whole() {
        let parts = [
            ("message", "a", ""),
            ("tick", "b\nc", "7"),
            ("message", "", "7"),
            ("a-much-longer-event-type-name", "é€😀", ""),
        ];
        let c = Chunk::of(&parts);
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
    fn runs_of_types_and_ids_give_back_every_message_from_anywhere() {
        let parts = [
            ("message", "a", ""),
            ("message", "b", ""),
            ("tick", "c", ""),
            ("tick", "d", "7"),
            ("tick", "", "7"),
            ("message", "e\nf", "7"),
            ("message", "g", "8"),
            ("message", "h", "8"),
            ("", "i", ""),
        ];
        let c = Chunk::of(&parts);
        let want: Vec<_> = parts
            .iter()
            .map(|(t, d, id)| MessageRef::new(t, d, id))
            .collect();
        assert_eq!(c.runs.len(), 6, "{c:?}");
        for from in 0..=parts.len() + 1 {
            for to in from..=parts.len() + 1 {
                let got: Vec<_> = c.iter(from, to).collect();
                let expected = want.get(from..to.min(want.len())).unwrap_or_default();
                assert_eq!(got, expected, "{from}..{to}");
                let bytes: usize = expected
                    .iter()
                    .map(|m| m.data().len() + m.last_event_id().len())
                    .sum();
                assert_eq!(c.text_bytes(from, to), bytes, "{from}..{to}");
            }
        }
        for (i, m) in want.iter().enumerate() {
            assert_eq!(c.get(i).as_ref(), Some(m), "message {i}");
        }
    }

    #[test]
    fn push_if_asks_once_per_run_and_drops_what_it_refuses() {
        let mut c = Chunk::default();
        let mut asked = vec![];
        for (t, d) in [
            ("message", "a"),
            ("message", "b"),
            ("skip", "c"),
            ("skip", "d"),
            ("message", "e"),
        ] {
            c.push_if(MessageRef::new(t, d, ""), |t| {
                asked.push(t.to_owned());
                t != "skip"
            });
        }
        // "e" continues the run of "a" and "b": admitted without asking again.
        assert_eq!(asked, ["message", "skip", "skip"]);
        let data: Vec<_> = c.iter(0, c.len()).map(|m| m.data()).collect();
        assert_eq!(data, ["a", "b", "e"]);
    }
}
