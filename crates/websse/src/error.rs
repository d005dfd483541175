//! The error type of websse.

#[cfg(feature = "json")]
use std::fmt;
#[cfg(feature = "json")]
use std::sync::Arc;

/// Why a request could not be opened, or why a stream failed.
///
/// On a stream an error is always the last item before `None`: what lets the stream carry on
/// (an oversize event skipped, messages dropped) is an [`Item::Skipped`](crate::Item::Skipped),
/// not an error. `Clone`, so it can sit in a signal or in component state.
#[derive(Debug, Clone, thiserror::Error)]
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
    #[error("expected a text/event-stream response, got content type \"{content_type}\"")]
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
    #[error("no data for {} ms", millis(*timeout))]
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
    /// Serializing a JSON body or deserializing a message's data failed.
    #[cfg(feature = "json")]
    #[error("JSON error: {0}")]
    Json(#[from] JsonError),
    /// The request chose a transport whose cargo feature (`fetch` or `event-source`) is not
    /// enabled.
    #[error("the {0} transport is not compiled in (enable the websse feature \"{0}\")")]
    TransportNotEnabled(&'static str),
    /// The request chose a [`Framing`](crate::Framing) whose cargo feature (`ndjson` or
    /// `raw-text`) is not enabled.
    #[error("the {0} framing is not compiled in (enable the websse feature \"{0}\")")]
    FramingNotEnabled(&'static str),
    /// The request asked for an option whose cargo feature is not enabled (today only
    /// [`pause_when_hidden`](crate::SseRequest::pause_when_hidden), feature
    /// `pause-when-hidden`): the feature's name.
    #[error("{0} is not compiled in (enable the websse feature \"{0}\")")]
    FeatureNotEnabled(&'static str),
    /// Another request is already shared under this key (in this tab, or by the tab that
    /// leads it across tabs): one key names one request, so the streams are not mixed. Share
    /// the same request, or give the other one its own [`share_key`](crate::SseRequest::share_key).
    #[error("another request is shared under the key \"{key}\"")]
    SharedRequestMismatch {
        /// The share key.
        key: String,
    },
    /// Connections can only be opened in a browser (`wasm32`); this target has no `fetch`.
    #[error("websse can only open connections on wasm32 in a browser or worker")]
    UnsupportedTarget,
}

#[cfg(feature = "json")]
impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Json(JsonError(Arc::new(error)))
    }
}

#[cfg(feature = "json")]
/// A JSON body that could not be serialized, or message data that did not deserialize.
///
/// Cheap to clone (shared). Its `Display` says what was wrong and where.
#[derive(Clone)]
pub struct JsonError(Arc<serde_json::Error>);

#[cfg(feature = "json")]
impl JsonError {
    /// The 1-based line of the data where the error was found (0 when not about a position).
    pub fn line(&self) -> usize {
        self.0.line()
    }

    /// The 1-based column where the error was found (0 when not about a position).
    pub fn column(&self) -> usize {
        self.0.column()
    }

    /// Whether the data was valid JSON of another shape than the type asked for (as opposed to
    /// invalid or truncated JSON).
    pub fn is_data(&self) -> bool {
        self.0.is_data()
    }
}

#[cfg(feature = "json")]
impl fmt::Debug for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(feature = "json")]
impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

#[cfg(feature = "json")]
impl std::error::Error for JsonError {}

/// `duration` in whole milliseconds, for messages: written as an integer, so an error's Display
/// does not link `Duration`'s Debug (its decimal formatting), which an app would pay for in size.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Error;

    #[test]
    fn messages_name_the_values() {
        let idle = Error::IdleTimeout {
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(idle.to_string(), "no data for 1500 ms");
        let content_type = Error::ContentType {
            content_type: "text/html; charset=utf-8".into(),
        };
        assert_eq!(
            content_type.to_string(),
            "expected a text/event-stream response, got content type \"text/html; charset=utf-8\""
        );
    }
}
