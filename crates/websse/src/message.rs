//! The items a stream yields.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::Error;

/// One message: a server-sent event, an NDJSON line or a raw text chunk.
///
/// For [`Framing::Ndjson`](crate::Framing::Ndjson) and [`Framing::Raw`](crate::Framing::Raw) the
/// type is `message` and the last event id is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    event: websse_core::Event,
}

impl Message {
    /// A message from its parts (useful to test code that consumes messages).
    pub fn new(
        event_type: impl Into<String>,
        data: impl Into<String>,
        last_event_id: impl Into<String>,
    ) -> Self {
        Message {
            event: websse_core::Event::new(event_type, data, last_event_id),
        }
    }

    /// The event type (`message` unless the server named it).
    pub fn event_type(&self) -> &str {
        self.event.event_type()
    }

    /// The data (lines joined with LF).
    pub fn data(&self) -> &str {
        self.event.data()
    }

    /// The last event id in force when the message was dispatched (may be empty).
    pub fn last_event_id(&self) -> &str {
        self.event.last_event_id()
    }

    /// Deserializes the data as JSON.
    ///
    /// # Errors
    /// [`Error::Json`] when the data is not valid JSON for `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(serde_json::from_str(self.data())?)
    }

    /// The underlying websse-core event.
    pub fn as_event(&self) -> &websse_core::Event {
        &self.event
    }

    /// Consumes the message and returns its data without copying.
    pub fn into_data(self) -> String {
        self.event.into_data()
    }
}

impl From<websse_core::Event> for Message {
    fn from(event: websse_core::Event) -> Self {
        Message { event }
    }
}

/// The state of the connection behind a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConnectionState {
    /// A request is on its way (first connect or reconnect).
    #[default]
    Connecting,
    /// The server answered and events may arrive.
    Open,
    /// The connection was lost; the next connect happens after `delay`.
    ///
    /// With [`Transport::EventSource`](crate::Transport::EventSource) the browser picks the delay
    /// and does not reveal it: `delay` is zero there.
    Reconnecting {
        /// 1 for the first reconnect after a healthy connection, then 2, 3...
        attempt: u32,
        /// How long until the next connect.
        delay: Duration,
    },
    /// The page is hidden and [`pause_when_hidden`](crate::SseRequest::pause_when_hidden) is on:
    /// disconnected until the page is visible again (then `Connecting`, with `Last-Event-ID`).
    Paused,
    /// The stream is over.
    Closed,
}

/// What an [`EventStream`](crate::EventStream) yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A message from the server.
    Message(Message),
    /// The connection state changed.
    State(ConnectionState),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Delta {
        text: String,
    }

    #[test]
    fn json_helper_deserializes_data() {
        let m = Message::new("delta", r#"{"text":"hi"}"#, "s:1");
        assert_eq!(m.json::<Delta>().unwrap(), Delta { text: "hi".into() });
        assert_eq!(m.event_type(), "delta");
        assert_eq!(m.last_event_id(), "s:1");
    }

    #[test]
    fn json_helper_reports_typed_error() {
        let m = Message::new("message", "[DONE]", "");
        assert!(matches!(m.json::<Delta>(), Err(Error::Json(_))));
    }
}
