//! The error type of websse.

/// Why a request could not be opened, or why a stream failed.
///
/// Every variant is fatal (it is the last item before `None`) except
/// [`Error::EventTooLarge`], after which the stream carries on; see [`Error::is_fatal`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status that does not open a stream (and that the reconnect
    /// policy does not retry, or retried until its maximum attempt count).
    #[error("the server answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The server answered 200 with another content type than `text/event-stream`.
    #[error("expected a text/event-stream response, got content type {content_type:?}")]
    ContentType {
        /// The `Content-Type` header as received (empty when there was none).
        content_type: String,
    },
    /// `fetch` rejected or reading the body failed (the browser's message inside), and the
    /// reconnect policy gave up.
    #[error("network error: {message}")]
    Network {
        /// The JavaScript error message.
        message: String,
    },
    /// No bytes arrived for the idle timeout, and the reconnect policy gave up.
    #[error("no data for {timeout:?}")]
    IdleTimeout {
        /// The idle timeout in force.
        timeout: std::time::Duration,
    },
    /// A browser API threw while the request was being set up (for example an invalid URL or
    /// header name).
    #[error("JavaScript error: {message}")]
    Js {
        /// The JavaScript error message, or a description of the value thrown.
        message: String,
    },
    /// The native `EventSource` failed and will not reconnect (its `readyState` is `CLOSED`).
    ///
    /// The browser does not tell why: a status other than 200, a wrong content type and a
    /// `204 No Content` all end up here.
    #[error("the EventSource connection failed and the browser will not reconnect")]
    EventSourceClosed,
    /// The request asks for something the native `EventSource` cannot do (another method than
    /// GET, headers, a body, another framing than SSE); use [`Transport::Fetch`](crate::Transport::Fetch).
    #[error("the EventSource transport does not support {0}")]
    EventSourceUnsupported(&'static str),
    /// One event (or NDJSON line) was larger than the maximum event size; it was skipped and the
    /// stream continues.
    #[error("event larger than the maximum of {limit} bytes")]
    EventTooLarge {
        /// The maximum event size in force, in bytes.
        limit: usize,
    },
    /// Serializing a JSON body or deserializing a message's data failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// Connections can only be opened in a browser (`wasm32`); this target has no `fetch`.
    #[error("websse can only open connections on wasm32 in a browser or worker")]
    UnsupportedTarget,
}

impl Error {
    /// Whether the stream ends after this error (everything but [`Error::EventTooLarge`]).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Error::EventTooLarge { .. })
    }
}

impl From<websse_core::Error> for Error {
    fn from(error: websse_core::Error) -> Self {
        match error {
            websse_core::Error::EventTooLarge { limit } => Error::EventTooLarge { limit },
            // websse-core's error is non-exhaustive; a future variant is reported by its text.
            #[allow(unreachable_patterns)]
            other => Error::Js {
                message: other.to_string(),
            },
        }
    }
}
