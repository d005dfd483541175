//! A dispatched event: its event type stored inline or shared, and its data and last event ID
//! in one allocation.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

/// An event type: `message`, a short name stored inline (no allocation, no reference count), or
/// a longer one shared between the events that carry it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum EventType {
    Message,
    Inline {
        len: u8,
        bytes: [u8; INLINE_TYPE],
    },
    /// An `Arc<String>` rather than an `Arc<str>`: one more indirection for a long name, but
    /// `Arc::new` has a fixed layout, where `Arc<str>::from` computes one and unwraps it (a panic
    /// path, and with it `core::fmt`, in every app).
    Shared(Arc<String>),
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Event type names up to this many bytes are stored inline.
pub(crate) const INLINE_TYPE: usize = 22;

impl EventType {
    pub(crate) fn new(name: &str) -> Self {
        match name.len() {
            _ if name == "message" => EventType::Message,
            len @ 0..=INLINE_TYPE => {
                let mut bytes = [0; INLINE_TYPE];
                bytes[..len].copy_from_slice(name.as_bytes());
                EventType::Inline {
                    len: len as u8,
                    bytes,
                }
            }
            _ => EventType::Shared(Arc::new(String::from(name))),
        }
    }

    /// The name's bytes, without the UTF-8 check that [`as_str`](EventType::as_str) makes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            EventType::Message => b"message",
            EventType::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            EventType::Shared(name) => name.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            EventType::Message => "message",
            // Always valid: copied from a `&str` in `new`.
            EventType::Inline { .. } => core::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            EventType::Shared(name) => name,
        }
    }
}

/// One dispatched server-sent event.
///
/// Its data and its last event ID share one allocation (the ID right after the data), so an
/// event costs one allocation whatever its ID; a short event type is stored inline.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Event {
    pub(crate) event_type: EventType,
    /// The data, then the last event ID.
    pub(crate) text: String,
    /// Where the data ends in `text` (a char boundary).
    pub(crate) data_len: usize,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_type", &self.event_type())
            .field("data", &self.data())
            .field("last_event_id", &self.last_event_id())
            .finish()
    }
}

impl Event {
    /// Creates an event from its parts (useful to test code that consumes events).
    pub fn new(
        event_type: impl Into<String>,
        data: impl Into<String>,
        last_event_id: impl Into<String>,
    ) -> Self {
        let mut text = data.into();
        let data_len = text.len();
        text.push_str(&last_event_id.into());
        Event {
            event_type: EventType::new(&event_type.into()),
            text,
            data_len,
        }
    }

    /// An event from its data, moved in (with the ID appended to it), and borrowed type and ID:
    /// one allocation fewer than [`new`](Event::new) for code that already owns the data.
    pub fn from_data(event_type: &str, data: String, last_event_id: &str) -> Self {
        let mut text = data;
        let data_len = text.len();
        text.push_str(last_event_id);
        Event {
            event_type: EventType::new(event_type),
            text,
            data_len,
        }
    }

    /// The event type: the value of the block's last `event` field, or `message` when it had
    /// none (or an empty one).
    pub fn event_type(&self) -> &str {
        self.event_type.as_str()
    }

    /// The data: the values of the block's `data` fields joined with LF (U+000A).
    pub fn data(&self) -> &str {
        self.text.get(..self.data_len).unwrap_or_default()
    }

    /// The last event ID in force when the event was dispatched (possibly set by an earlier
    /// event; empty when none was ever set or it was reset).
    pub fn last_event_id(&self) -> &str {
        self.text.get(self.data_len..).unwrap_or_default()
    }

    /// Consumes the event and returns its data without copying it.
    pub fn into_data(self) -> String {
        let mut text = self.text;
        text.truncate(self.data_len);
        text
    }
}

/// One dispatched server-sent event, borrowed: what [`Parser::feed_with`](crate::Parser::feed_with)
/// passes to its callback.
///
/// Its fields borrow from the chunk being fed when the event's only `data` line and its blank
/// line are both in that chunk (and the data is valid UTF-8), and otherwise from the parser's
/// buffers, so making one allocates nothing. It lives only for the call of the callback; use
/// [`to_event`](EventRef::to_event) to keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRef<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) data: &'a str,
    pub(crate) last_event_id: &'a str,
}

impl<'a> EventRef<'a> {
    /// An event from borrowed parts (for code that keeps events in its own buffers and lends
    /// them out, as [`feed_with`](crate::Parser::feed_with) does).
    pub const fn new(event_type: &'a str, data: &'a str, last_event_id: &'a str) -> Self {
        EventRef {
            event_type,
            data,
            last_event_id,
        }
    }

    /// The event type: the value of the block's last `event` field, or `message` when it had
    /// none (or an empty one).
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The data: the values of the block's `data` fields joined with LF (U+000A).
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event ID in force when the event was dispatched (possibly set by an earlier
    /// event; empty when none was ever set or it was reset).
    pub fn last_event_id(&self) -> &'a str {
        self.last_event_id
    }

    /// The same event, owned (one allocation for the data and the ID; a short event type is
    /// stored inline). Equal to the [`Event`] that [`Parser::feed`](crate::Parser::feed) would
    /// have yielded.
    pub fn to_event(self) -> Event {
        let mut text = String::with_capacity(self.data.len() + self.last_event_id.len());
        text.push_str(self.data);
        text.push_str(self.last_event_id);
        Event {
            event_type: EventType::new(self.event_type),
            text,
            data_len: self.data.len(),
        }
    }
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(event: &'a Event) -> Self {
        EventRef {
            event_type: event.event_type(),
            data: event.data(),
            last_event_id: event.last_event_id(),
        }
    }
}

impl From<EventRef<'_>> for Event {
    fn from(event: EventRef<'_>) -> Self {
        event.to_event()
    }
}
