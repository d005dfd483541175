//! A dispatched event, and its event type stored inline or shared.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

/// A shared string, `None` when empty.
pub(crate) fn shared(text: impl AsRef<str> + Into<Arc<str>>) -> Option<Arc<str>> {
    (!text.as_ref().is_empty()).then(|| text.into())
}

/// An event type: `message`, a short name stored inline (no allocation, no reference count), or
/// a longer one shared between the events that carry it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum EventType {
    Message,
    Inline { len: u8, bytes: [u8; INLINE_TYPE] },
    Shared(Arc<str>),
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
            _ => EventType::Shared(Arc::from(name)),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            EventType::Message => "message",
            // Always valid: copied from a `&str` in `new`.
            EventType::Inline { len, bytes } => {
                core::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            EventType::Shared(name) => name,
        }
    }
}

/// One dispatched server-sent event.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Event {
    pub(crate) event_type: EventType,
    pub(crate) data: String,
    /// `None` for the empty string (no atomic reference counting for streams without ids).
    pub(crate) last_event_id: Option<Arc<str>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_type", &self.event_type())
            .field("data", &self.data)
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
        Event {
            event_type: EventType::new(&event_type.into()),
            data: data.into(),
            last_event_id: shared(last_event_id.into()),
        }
    }

    /// The event type: the value of the block's last `event` field, or `message` when it had
    /// none (or an empty one).
    pub fn event_type(&self) -> &str {
        self.event_type.as_str()
    }

    /// The data: the values of the block's `data` fields joined with LF (U+000A).
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The last event ID in force when the event was dispatched (possibly set by an earlier
    /// event; empty when none was ever set or it was reset).
    pub fn last_event_id(&self) -> &str {
        self.last_event_id.as_deref().unwrap_or("")
    }

    /// Consumes the event and returns its data without copying it.
    pub fn into_data(self) -> String {
        self.data
    }
}
