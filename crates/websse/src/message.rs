//! The items a stream yields.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

// Natively nothing reads a body: only tests fill chunks.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod chunk;

use chunk::{Chunk, Span};

/// One message: a server-sent event, an NDJSON line or a raw text chunk.
///
/// For [`Framing::Ndjson`](crate::Framing::Ndjson) and [`Framing::Raw`](crate::Framing::Raw) the
/// type is `message` and the last event id is empty.
///
/// The messages that one read of a fetch body completed share one buffer, as `bytes::Bytes`
/// slices share theirs: taking a message, or cloning it, copies no text, and the buffer is freed
/// with the last message that holds it. To keep one message for long without the others'
/// buffer, [`detached`](Message::detached) copies it out (or [`into_data`](Message::into_data)
/// its text alone).
#[derive(Clone)]
pub struct Message {
    event: Event,
}

#[derive(Clone)]
enum Event {
    Owned(websse_core::Event),
    /// One message of a chunk that others hold too (the messages read with it, a
    /// [`Batch`](crate::Batch), the subscribers of a [shared stream](crate::SharedStream)).
    /// Only the fetch transport reads chunks: without it, one arm less in every accessor.
    #[cfg(feature = "fetch")]
    InChunk(Arc<Chunk>, Span),
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("event_type", &self.event_type())
            .field("data", &self.data())
            .field("last_event_id", &self.last_event_id())
            .finish()
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        MessageRef::from(self) == MessageRef::from(other)
    }
}

impl Eq for Message {}

impl Message {
    /// A message from its parts (useful to test code that consumes messages).
    pub fn new(
        event_type: impl Into<String>,
        data: impl Into<String>,
        last_event_id: impl Into<String>,
    ) -> Self {
        Message::from(websse_core::Event::new(event_type, data, last_event_id))
    }

    /// The message at `span` of `chunk`, sharing its text.
    pub(crate) fn in_chunk(chunk: &Arc<Chunk>, span: Span) -> Self {
        #[cfg(feature = "fetch")]
        return Message {
            event: Event::InChunk(Arc::clone(chunk), span),
        };
        #[cfg(not(feature = "fetch"))]
        {
            let (event_type, id) = chunk.names_of(span.entered());
            MessageRef::new(event_type, chunk.data_of(span), id).to_message()
        }
    }

    /// The event type (`message` unless the server named it).
    pub fn event_type(&self) -> &str {
        match &self.event {
            Event::Owned(event) => event.event_type(),
            #[cfg(feature = "fetch")]
            Event::InChunk(chunk, span) => chunk.type_of(span.entered()),
        }
    }

    /// The data (lines joined with LF).
    pub fn data(&self) -> &str {
        match &self.event {
            Event::Owned(event) => event.data(),
            #[cfg(feature = "fetch")]
            Event::InChunk(chunk, span) => chunk.data_of(*span),
        }
    }

    /// The last event id in force when the message was dispatched (may be empty).
    pub fn last_event_id(&self) -> &str {
        match &self.event {
            Event::Owned(event) => event.last_event_id(),
            #[cfg(feature = "fetch")]
            Event::InChunk(chunk, span) => chunk.id_of(span.entered()),
        }
    }

    /// Deserializes the data as JSON (cargo feature `json`, on by default).
    ///
    /// `T` may borrow from the message: a `&str` or `Cow<str>` field (with `#[serde(borrow)]`)
    /// points into the data instead of being copied, when the JSON string has no escapes.
    ///
    /// # Errors
    /// [`Error::Json`](crate::Error::Json) when the data is not valid JSON for `T`.
    #[cfg(feature = "json")]
    pub fn json<'a, T: serde::Deserialize<'a>>(&'a self) -> Result<T, crate::Error> {
        Ok(serde_json::from_str(self.data())?)
    }

    /// The same message holding its own text: a copy of it when it shares its chunk's buffer
    /// (see [`Message`]), the message as it is otherwise. For a message kept long after the
    /// others that arrived with it are gone, so that it does not keep their buffer alive.
    pub fn detached(self) -> Message {
        match self.event {
            #[cfg(feature = "fetch")]
            Event::InChunk(..) => MessageRef::from(&self).to_message(),
            Event::Owned(_) => self,
        }
    }

    /// The message as a borrowed websse-core event.
    pub fn as_event(&self) -> websse_core::EventRef<'_> {
        websse_core::EventRef::new(self.event_type(), self.data(), self.last_event_id())
    }

    /// Consumes the message and returns its data: without copying when the message owns it
    /// (made by [`new`](Message::new), or by the EventSource transport), a copy of it out of
    /// the shared buffer otherwise (see [`Message`]).
    pub fn into_data(self) -> String {
        match self.event {
            Event::Owned(event) => event.into_data(),
            #[cfg(feature = "fetch")]
            Event::InChunk(chunk, span) => chunk.data_of(span).to_owned(),
        }
    }
}

/// One message, borrowed: what [`Batch::messages`](crate::Batch::messages) lends out, with no
/// allocation per message. [`to_message`](MessageRef::to_message) keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    event_type: &'a str,
    data: &'a str,
    last_event_id: &'a str,
}

impl<'a> MessageRef<'a> {
    pub(crate) fn new(event_type: &'a str, data: &'a str, last_event_id: &'a str) -> Self {
        MessageRef {
            event_type,
            data,
            last_event_id,
        }
    }

    /// The event type (`message` unless the server named it).
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The data (lines joined with LF).
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event id in force when the message was dispatched (may be empty).
    pub fn last_event_id(&self) -> &'a str {
        self.last_event_id
    }

    /// Deserializes the data as JSON (cargo feature `json`, on by default). `T` may borrow
    /// from the data (`&'a str` fields, `Cow`s): no copy of the strings it keeps.
    ///
    /// # Errors
    /// [`Error::Json`](crate::Error::Json) when the data is not valid JSON for `T`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Deserialize<'a>>(&self) -> Result<T, crate::Error> {
        Ok(serde_json::from_str(self.data)?)
    }

    /// The same message, owned (one allocation).
    pub fn to_message(&self) -> Message {
        Message::from(
            websse_core::EventRef::new(self.event_type, self.data, self.last_event_id).to_event(),
        )
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(message: &'a Message) -> Self {
        MessageRef::new(
            message.event_type(),
            message.data(),
            message.last_event_id(),
        )
    }
}

impl From<websse_core::Event> for Message {
    fn from(event: websse_core::Event) -> Self {
        Message {
            event: Event::Owned(event),
        }
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
    /// The connection was lost, or never opened; the next connect happens after `delay`.
    ///
    /// With [`Transport::EventSource`](crate::Transport::EventSource) the browser picks the delay
    /// and does not reveal it: `delay` is `None` there, and `cause` is
    /// [`Disconnect::Unreported`].
    #[non_exhaustive]
    Reconnecting {
        /// 1 for the first reconnect after a healthy connection, then 2, 3...; 0 for a reconnect
        /// at once that does not count as an attempt ([`Disconnect::WokeUp`],
        /// [`Disconnect::Requested`], a refreshed 401).
        attempt: u32,
        /// How long until the next connect (`None`: the browser's `EventSource` does not say).
        delay: Option<Duration>,
        /// Why the last connection ended (or never opened).
        cause: Disconnect,
    },
    /// The page is hidden and [`pause_when_hidden`](crate::SseRequest::pause_when_hidden) is on:
    /// disconnected until the page is visible again (then `Connecting`, with `Last-Event-ID`).
    Paused,
    /// The stream is over.
    Closed,
}

impl ConnectionState {
    /// A lower-case name for the state: `connecting`, `open`, `reconnecting`, `paused`, `closed`
    /// (for a status line, a CSS class or a log).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Open => "open",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Paused => "paused",
            ConnectionState::Closed => "closed",
        }
    }
}

impl fmt::Display for ConnectionState {
    /// The name, and for `Reconnecting` the attempt, the delay and the cause: `reconnecting
    /// (attempt 2, in 1.5 s): the server answered HTTP 503`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
            } => {
                f.write_str("reconnecting (")?;
                if *attempt > 0 {
                    write!(f, "attempt {attempt}, ")?;
                }
                match delay {
                    Some(delay) if delay.is_zero() => f.write_str("now")?,
                    Some(delay) => write!(f, "in {}", Seconds(*delay))?,
                    None => f.write_str("when the browser retries")?,
                }
                write!(f, "): {cause}")
            }
            other => f.write_str(other.as_str()),
        }
    }
}

/// A duration as seconds with at most one decimal (`1.5 s`, `30 s`, `0.2 s`).
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0.as_millis() + 50) / 100;
        if tenths.is_multiple_of(10) {
            write!(f, "{} s", tenths / 10)
        } else {
            write!(f, "{}.{} s", tenths / 10, tenths % 10)
        }
    }
}

/// Why a connection ended or never opened, carried by [`ConnectionState::Reconnecting`] so that a
/// stream that keeps retrying says why.
///
/// Its `Display` is a sentence fit for a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disconnect {
    /// The server ended the response body. Normal for SSE: the client reconnects and resumes
    /// with `Last-Event-ID`.
    EndOfBody,
    /// The request failed before any response, or the body broke off: the server is
    /// unreachable, refused or reset the connection, or its CORS headers do not allow this page.
    /// Browsers do not tell scripts which (the developer console does).
    Network,
    /// The server answered with a status that asks to try again later (408, 429, 5xx).
    Status(u16),
    /// No bytes arrived for the [idle timeout](crate::SseRequest::idle_timeout).
    IdleTimeout,
    /// The browser's `EventSource` lost the connection and reconnects by itself; it does not
    /// say why.
    Unreported,
    /// The page came back: the browser went `online`, the page was restored from the
    /// back/forward cache, or a timer fired far too late because the machine slept. Whatever
    /// was pending reconnects at once.
    WokeUp,
    /// The app asked for a new connection ([`EventStream::reconnect`](crate::EventStream::reconnect)).
    Requested,
    /// The server answered 401 and the request's
    /// [`on_unauthorized`](crate::SseRequest::on_unauthorized) hook ran: reconnecting at once
    /// with fresh headers.
    Unauthorized,
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::EndOfBody => f.write_str("the server ended the stream"),
            Disconnect::Network => f.write_str(
                "the request failed: server unreachable, connection refused or reset, or CORS \
                 not allowed (the browser console has the details)",
            ),
            Disconnect::Status(status) => write!(f, "the server answered HTTP {status}"),
            Disconnect::IdleTimeout => f.write_str("no data within the idle timeout"),
            Disconnect::Unreported => f.write_str("the EventSource lost the connection"),
            Disconnect::WokeUp => f.write_str("the page woke up or came back online"),
            Disconnect::Requested => f.write_str("the app asked to reconnect"),
            Disconnect::Unauthorized => {
                f.write_str("the server answered HTTP 401; credentials were refreshed")
            }
        }
    }
}

/// Messages that were lost while the stream carries on; see [`Item::Skipped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skipped {
    /// One event (or NDJSON line) was larger than the
    /// [maximum event size](crate::SseRequest::max_event_size): it was skipped.
    TooLarge {
        /// The maximum event size in force, in bytes.
        limit: usize,
    },
    /// The consumer fell behind an [`EventSource`](crate::Transport::EventSource), which cannot
    /// be slowed down, or behind the other subscribers of a [shared
    /// stream](crate::SharedStream): its queue reached
    /// [`max_buffered`](crate::SseRequest::max_buffered) bytes and `count` messages that arrived
    /// meanwhile were dropped, here, in their place.
    Lagged {
        /// How many messages were dropped.
        count: u64,
    },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::TooLarge { limit } => {
                write!(f, "an event larger than {limit} bytes was skipped")
            }
            Skipped::Lagged { count } => {
                write!(f, "{count} message(s) dropped: the consumer fell behind")
            }
        }
    }
}

/// How a shared stream's connection is held across the tabs of an origin; see
/// [`Item::Sharing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// This tab holds the connection and relays every item to the other tabs.
    Leader,
    /// Another tab holds the connection; this one receives its items.
    Follower,
    /// The browser lacks the Web Locks API or `BroadcastChannel`: this tab has its own
    /// connection, as if sharing across tabs were off.
    Alone,
}

impl Role {
    /// A lower-case name: `leader`, `follower`, `alone`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Alone => "alone",
        }
    }
}

/// Who holds a shared stream's connection, and how many tabs share it: the payload of
/// [`Item::Sharing`], yielded by streams shared [across tabs](crate::SseRequest::across_tabs)
/// whenever either changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sharing {
    /// This tab's role.
    pub role: Role,
    /// How many tabs share the connection, this one included (1 when [`Role::Alone`]).
    pub tabs: u32,
}

impl fmt::Display for Sharing {
    /// `leader of 3 tabs`, `follower of 2 tabs`, `alone (no cross-tab sharing here)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Role::Alone => f.write_str("alone (no cross-tab sharing in this browser)"),
            role => {
                let s = if self.tabs == 1 { "" } else { "s" };
                write!(f, "{} of {} tab{s}", role.as_str(), self.tabs)
            }
        }
    }
}

impl Sharing {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn new(role: Role, tabs: u32) -> Sharing {
        Sharing { role, tabs }
    }
}

/// What an [`EventStream`](crate::EventStream) yields.
///
/// A fatal failure is an `Err` (the last item); everything that lets the stream carry on is an
/// `Item`, so `item?` in a loop is correct.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A message from the server.
    Message(Message),
    /// The connection state changed.
    State(ConnectionState),
    /// Messages were lost and the stream carries on (an oversize event, or a consumer too slow
    /// for the EventSource transport or for a [shared stream](crate::SharedStream)).
    Skipped(Skipped),
    /// This tab's role in a stream [shared across tabs](crate::SseRequest::across_tabs), or the
    /// number of tabs sharing it, changed.
    Sharing(Sharing),
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;
    use crate::Error;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Delta {
        text: String,
    }

    #[test]
    #[cfg(feature = "fetch")]
    fn messages_of_a_chunk_share_its_text_and_stay_send_and_sync() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        let mut chunk = Chunk::default();
        chunk.push(MessageRef::new("message", "first", ""));
        chunk.push(MessageRef::new("tick", "data", "7"));
        let chunk = Arc::new(chunk);
        let mut cursor = chunk.cursor(0);
        let spans: Vec<_> = std::iter::from_fn(|| chunk.step(&mut cursor)).collect();
        let [first, second] = spans[..] else {
            panic!("two messages: {spans:?}")
        };
        let first = Message::in_chunk(&chunk, first);
        let in_chunk = Message::in_chunk(&chunk, second);
        drop(chunk);
        let owned = Message::new("tick", "data", "7");
        send_sync(&in_chunk);
        assert_eq!(in_chunk, owned);
        assert_eq!(first, Message::new("message", "first", ""));
        assert_ne!(in_chunk, first);
        assert_eq!(format!("{in_chunk:?}"), format!("{owned:?}"));
        assert_eq!(in_chunk.as_event(), owned.as_event());
        let other = in_chunk.clone();
        assert_eq!(other.data().as_ptr(), in_chunk.data().as_ptr(), "one text");
        assert_eq!(other.data().as_ptr(), first.data().as_ptr().wrapping_add(5));
        // Detached: its own copy, and the chunk is held by one message fewer.
        let held = Arc::strong_count(in_chunk.chunk().unwrap());
        let kept = other.clone().detached();
        assert_eq!(Arc::strong_count(in_chunk.chunk().unwrap()), held);
        assert_eq!(kept, owned);
        assert_ne!(kept.data().as_ptr(), in_chunk.data().as_ptr());
        assert!(kept.chunk().is_none() && kept.clone().detached() == owned);
        drop(kept);
        // Taken out of the buffer: a copy, whoever else holds it.
        assert_eq!(other.into_data(), "data");
        assert_eq!(in_chunk.into_data(), "data");
        assert_eq!(first.data(), "first");
    }

    #[cfg(feature = "fetch")]
    impl Message {
        /// The chunk whose buffer this message shares, if it does.
        fn chunk(&self) -> Option<&Arc<Chunk>> {
            match &self.event {
                Event::InChunk(chunk, _) => Some(chunk),
                Event::Owned(_) => None,
            }
        }
    }

    #[test]
    fn states_have_names() {
        assert_eq!(ConnectionState::Connecting.as_str(), "connecting");
        let r = ConnectionState::Reconnecting {
            attempt: 1,
            delay: Some(Duration::ZERO),
            cause: Disconnect::Network,
        };
        assert_eq!(r.as_str(), "reconnecting");
    }

    #[test]
    fn states_display_their_cause_and_delay() {
        let r = ConnectionState::Reconnecting {
            attempt: 2,
            delay: Some(Duration::from_millis(1500)),
            cause: Disconnect::Status(503),
        };
        assert_eq!(
            r.to_string(),
            "reconnecting (attempt 2, in 1.5 s): the server answered HTTP 503"
        );
        let es = ConnectionState::Reconnecting {
            attempt: 1,
            delay: None,
            cause: Disconnect::Unreported,
        };
        assert_eq!(
            es.to_string(),
            "reconnecting (attempt 1, when the browser retries): the EventSource lost the connection"
        );
        let now = ConnectionState::Reconnecting {
            attempt: 0,
            delay: Some(Duration::ZERO),
            cause: Disconnect::WokeUp,
        };
        assert_eq!(
            now.to_string(),
            "reconnecting (now): the page woke up or came back online"
        );
        assert_eq!(ConnectionState::Open.to_string(), "open");
        assert_eq!(
            Sharing::new(Role::Leader, 3).to_string(),
            "leader of 3 tabs"
        );
        assert_eq!(
            Sharing::new(Role::Follower, 1).to_string(),
            "follower of 1 tab"
        );
    }

    #[test]
    fn json_helper_deserializes_data() {
        let m = Message::new("delta", r#"{"text":"hi"}"#, "s:1");
        assert_eq!(m.json::<Delta>().unwrap(), Delta { text: "hi".into() });
        assert_eq!(m.event_type(), "delta");
        assert_eq!(m.last_event_id(), "s:1");
    }

    #[test]
    fn json_helper_borrows_from_the_message() {
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            text: &'a str,
        }
        let m = Message::new("delta", r#"{"text":"hi"}"#, "");
        let b: Borrowed<'_> = m.json().unwrap();
        assert_eq!(b.text, "hi");
        assert!(
            m.data()
                .as_bytes()
                .as_ptr_range()
                .contains(&b.text.as_ptr())
        );
    }

    #[test]
    fn json_helper_reports_typed_error() {
        let m = Message::new("message", "[DONE]", "");
        assert!(matches!(m.json::<Delta>(), Err(Error::Json(_))));
    }
}
