//! The request description: a consuming builder that opens into an [`EventStream`](crate::EventStream).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::{Error, ReconnectPolicy};

/// Which browser API carries the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// [`fetch`](https://developer.mozilla.org/en-US/docs/Web/API/Window/fetch) with an
    /// `AbortController`, the body read through a
    /// [`ReadableStream`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream) reader:
    /// any method, headers and body; reconnection by websse.
    #[default]
    Fetch,
    /// The native [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource):
    /// GET only, no custom headers; the browser reconnects by itself.
    EventSource,
}

impl Transport {
    /// A lower-case name: `fetch` or `eventsource` (what [`FromStr`] reads back).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Fetch => "fetch",
            Transport::EventSource => "eventsource",
        }
    }

    /// The cargo feature that compiles this transport in.
    pub(crate) fn feature(self) -> &'static str {
        match self {
            Transport::Fetch => "fetch",
            Transport::EventSource => "event-source",
        }
    }

    /// Whether this transport was compiled in.
    pub(crate) fn is_enabled(self) -> bool {
        match self {
            Transport::Fetch => cfg!(feature = "fetch"),
            Transport::EventSource => cfg!(feature = "event-source"),
        }
    }
}

/// A name that [`FromStr`] did not recognise (for [`Transport`], [`Framing`] and
/// [`Credentials`]); its `Display` lists the names it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    what: &'static str,
    expected: &'static str,
    got: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?} (expected {})",
            self.what, self.got, self.expected
        )
    }
}

impl std::error::Error for UnknownName {}

/// Matches `name` (ASCII case-insensitive) against `names`.
fn parse_name<T: Copy>(
    name: &str,
    names: &[(&str, T)],
    what: &'static str,
    expected: &'static str,
) -> Result<T, UnknownName> {
    names
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, value)| *value)
        .ok_or_else(|| UnknownName {
            what,
            expected,
            got: name.to_owned(),
        })
}

impl FromStr for Transport {
    type Err = UnknownName;

    /// `fetch`, or `eventsource` (also `event-source`).
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        parse_name(
            name,
            &[
                ("fetch", Transport::Fetch),
                ("eventsource", Transport::EventSource),
                ("event-source", Transport::EventSource),
            ],
            "transport",
            "fetch or eventsource",
        )
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request's [credentials mode](https://developer.mozilla.org/en-US/docs/Web/API/Request/credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Never send cookies or HTTP auth.
    Omit,
    /// Send them to the same origin only (fetch's default).
    SameOrigin,
    /// Send them cross-origin too (EventSource: `withCredentials: true`).
    Include,
}

impl Credentials {
    /// fetch's name of the mode: `omit`, `same-origin`, `include` (what [`FromStr`] reads back).
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

impl FromStr for Credentials {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, UnknownName> {
        parse_name(
            name,
            &[
                ("omit", Credentials::Omit),
                ("same-origin", Credentials::SameOrigin),
                ("include", Credentials::Include),
            ],
            "credentials mode",
            "omit, same-origin or include",
        )
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the response body is cut into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// Server-sent events (`text/event-stream`), parsed by websse-core.
    #[default]
    Sse,
    /// Newline-delimited JSON: each non-empty line is one message (as Ollama streams). The
    /// content type is not checked. Cargo feature `ndjson` (on by default).
    Ndjson,
    /// Each chunk of text as it arrives is one message (UTF-8 carried across chunks). The content
    /// type is not checked. Cargo feature `raw-text` (on by default).
    Raw,
}

impl Framing {
    /// A lower-case name: `sse`, `ndjson` or `raw` (what [`FromStr`] reads back).
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::Sse => "sse",
            Framing::Ndjson => "ndjson",
            Framing::Raw => "raw",
        }
    }

    /// The cargo feature that compiles this framing in (`None`: always there).
    pub(crate) fn feature(self) -> Option<&'static str> {
        match self {
            Framing::Sse => None,
            Framing::Ndjson if !cfg!(feature = "ndjson") => Some("ndjson"),
            Framing::Raw if !cfg!(feature = "raw-text") => Some("raw-text"),
            _ => None,
        }
    }
}

impl FromStr for Framing {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, UnknownName> {
        parse_name(
            name,
            &[
                ("sse", Framing::Sse),
                ("ndjson", Framing::Ndjson),
                ("raw", Framing::Raw),
            ],
            "framing",
            "sse, ndjson or raw",
        )
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the fetch transport does when the server ends the response body cleanly.
///
/// A server ends the body for two reasons: it is done (an LLM answer that ended with
/// `data: [DONE]`), or a proxy or deploy cut an open-ended stream. Sending the request again is
/// right only in the second case, and only when the server can tell where to pick up; otherwise
/// a `POST` would run (and bill) the same prompt again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndOfBody {
    /// Reconnect only when the server can resume: an SSE stream that has seen an event id (so
    /// the new request carries `Last-Event-ID`), or an SSE `GET` (which the browser's
    /// `EventSource` would reconnect too). Otherwise the stream ends with
    /// [`Closed`](crate::ConnectionState::Closed). The default.
    #[default]
    Resume,
    /// Always reconnect, whatever the method and framing (the `EventSource` behaviour for any
    /// request): for servers that end their body on purpose to make clients come back.
    Reconnect,
    /// Never reconnect: the end of the body ends the stream.
    Close,
}

impl EndOfBody {
    /// Whether a clean end of the body leads to a new request, given the request's framing and
    /// method and the id that a new request would send as `Last-Event-ID`.
    pub(crate) fn reconnects(self, framing: Framing, method: &str, last_event_id: &str) -> bool {
        match self {
            EndOfBody::Reconnect => true,
            EndOfBody::Close => false,
            EndOfBody::Resume => {
                framing == Framing::Sse
                    && (!last_event_id.is_empty() || method.eq_ignore_ascii_case("GET"))
            }
        }
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

/// Headers computed before each connect.
pub(crate) type HeadersFn = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// A future that the driver awaits in the page's task (it need not be `Send`).
pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Headers computed asynchronously before each connect (a token refreshed over the network).
pub(crate) type HeadersAsyncFn = Arc<dyn Fn() -> LocalFuture<Vec<(String, String)>> + Send + Sync>;

/// What to run when the server answers 401.
pub(crate) type UnauthorizedFn = Arc<dyn Fn() -> LocalFuture<()> + Send + Sync>;

/// A description of an event stream to open: URL, transport, method, headers, body, credentials,
/// reconnect policy, limits, and the event types of interest.
///
/// A consuming builder; [`open`](SseRequest::open) turns it into an
/// [`EventStream`](crate::EventStream). `Clone` is
/// cheap (the callbacks are shared), so one description can open several streams. It is
/// `Send + Sync` (its callbacks must be too), so it fits a signal or a prop of any framework, and
/// `PartialEq` (callbacks compare by identity), so a framework can tell whether it changed.
///
/// By default a fetch request sends `Accept: text/event-stream` with the cache mode `no-store`
/// and nothing else, so that a cross-origin GET stays a
/// [simple request](https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS#simple_requests)
/// (no preflight). Custom headers, a JSON body and `Last-Event-ID` are the caller's or the
/// server's choice and may need one.
#[must_use = "a request does nothing until it is opened"]
#[derive(Clone)]
pub struct SseRequest {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) transport: Transport,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) body: Option<Body>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) headers_with: Option<HeadersFn>,
    pub(crate) headers_async: Option<HeadersAsyncFn>,
    pub(crate) on_unauthorized: Option<UnauthorizedFn>,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_event_size: Option<usize>,
    pub(crate) max_buffered: usize,
    pub(crate) framing: Framing,
    pub(crate) last_event_id: String,
    pub(crate) done_on_data: Option<String>,
    pub(crate) pause_when_hidden: bool,
    pub(crate) end_of_body: EndOfBody,
    pub(crate) events: Vec<String>,
    /// How [`share`](SseRequest::share) names the stream (`None`: derived from the request).
    pub(crate) share_key: Option<String>,
    /// Whether [`share`](SseRequest::share) shares with the other tabs.
    pub(crate) across_tabs: bool,
    /// A builder step that failed (a body that did not serialize); `open` returns it.
    pub(crate) error: Option<Error>,
}

impl fmt::Debug for SseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("transport", &self.transport)
            .field("credentials", &self.credentials)
            .field("body", &self.body)
            .field("headers", &self.headers)
            .field("headers_with", &self.headers_with.as_ref().map(|_| "Fn"))
            .field("headers_async", &self.headers_async.as_ref().map(|_| "Fn"))
            .field(
                "on_unauthorized",
                &self.on_unauthorized.as_ref().map(|_| "Fn"),
            )
            .field("reconnect", &self.reconnect)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_event_size", &self.max_event_size)
            .field("max_buffered", &self.max_buffered)
            .field("framing", &self.framing)
            .field("last_event_id", &self.last_event_id)
            .field("done_on_data", &self.done_on_data)
            .field("pause_when_hidden", &self.pause_when_hidden)
            .field("end_of_body", &self.end_of_body)
            .field("events", &self.events)
            .field("share_key", &self.share_key)
            .field("across_tabs", &self.across_tabs)
            .field("error", &self.error)
            .finish()
    }
}

impl PartialEq for SseRequest {
    /// Every setting equal; callbacks equal when they are the same one (clones of one request,
    /// not two closures with the same code); a builder error by its message.
    fn eq(&self, other: &Self) -> bool {
        fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        // Every field by name: a setting added later cannot be left out of the comparison.
        let SseRequest {
            method,
            url,
            transport,
            credentials,
            body,
            headers,
            headers_with,
            headers_async,
            on_unauthorized,
            reconnect,
            idle_timeout,
            max_event_size,
            max_buffered,
            framing,
            last_event_id,
            done_on_data,
            pause_when_hidden,
            end_of_body,
            events,
            share_key,
            across_tabs,
            error,
        } = self;
        *method == other.method
            && *url == other.url
            && *transport == other.transport
            && *credentials == other.credentials
            && *body == other.body
            && *headers == other.headers
            && same(headers_with, &other.headers_with)
            && same(headers_async, &other.headers_async)
            && same(on_unauthorized, &other.on_unauthorized)
            && *reconnect == other.reconnect
            && *idle_timeout == other.idle_timeout
            && *max_event_size == other.max_event_size
            && *max_buffered == other.max_buffered
            && *framing == other.framing
            && *last_event_id == other.last_event_id
            && *done_on_data == other.done_on_data
            && *pause_when_hidden == other.pause_when_hidden
            && *end_of_body == other.end_of_body
            && *events == other.events
            && *share_key == other.share_key
            && *across_tabs == other.across_tabs
            && error.as_ref().map(ToString::to_string)
                == other.error.as_ref().map(ToString::to_string)
    }
}

impl SseRequest {
    /// The default of [`max_buffered`](SseRequest::max_buffered): 16 MiB.
    pub const DEFAULT_MAX_BUFFERED: usize = 16 * 1024 * 1024;

    /// A request with the given method (`GET`, `POST`, ...) to `url` (absolute, or relative to
    /// the page).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        SseRequest {
            method: method.into(),
            url: url.into(),
            transport: Transport::default(),
            credentials: None,
            body: None,
            headers: Vec::new(),
            headers_with: None,
            headers_async: None,
            on_unauthorized: None,
            reconnect: ReconnectPolicy::default(),
            idle_timeout: None,
            max_event_size: Some(websse_core::DEFAULT_MAX_EVENT_SIZE),
            max_buffered: SseRequest::DEFAULT_MAX_BUFFERED,
            framing: Framing::default(),
            last_event_id: String::new(),
            done_on_data: None,
            pause_when_hidden: false,
            end_of_body: EndOfBody::default(),
            events: Vec::new(),
            share_key: None,
            across_tabs: false,
            error: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        SseRequest::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        SseRequest::new("POST", url)
    }

    /// Chooses the transport (default [`Transport::Fetch`]).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Sets the credentials mode (default: the browser's, `same-origin` for fetch and no
    /// credentials for EventSource).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sends `body` as the request body (no `Content-Type` is added: fetch sends
    /// `text/plain;charset=UTF-8`).
    pub fn body_text(mut self, body: impl Into<String>) -> Self {
        self.body = Some(Body::Text(body.into()));
        self
    }

    /// Sends these bytes as the request body.
    pub fn body_bytes(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(Body::Bytes(body.into()));
        self
    }

    /// Sends `value` serialized as JSON, with `Content-Type: application/json` (cargo feature
    /// `json`, on by default).
    ///
    /// The chain stays flat: when `value` cannot be serialized, [`open`](SseRequest::open)
    /// returns that [`Error::Json`].
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => self.body = Some(Body::Text(text)),
            Err(error) => {
                self.error.get_or_insert(error.into());
            }
        }
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".to_owned(), "application/json".to_owned()));
        self
    }

    /// Adds a request header (sent on every connect). An `Accept` header replaces the default.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Computes extra headers before each connect and reconnect (for example a fresh token).
    /// They are added after those set with [`header`](SseRequest::header).
    pub fn headers_with(
        mut self,
        headers: impl Fn() -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.headers_with = Some(Arc::new(headers));
        self
    }

    /// Computes extra headers asynchronously before each connect and reconnect, for a token
    /// that has to be fetched or refreshed first; the connect waits for it (fetch transport).
    /// They are added after those of [`headers_with`](SseRequest::headers_with).
    pub fn headers_async<F>(mut self, headers: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = Vec<(String, String)>> + 'static,
    {
        self.headers_async = Some(Arc::new(move || Box::pin(headers()) as LocalFuture<_>));
        self
    }

    /// Runs `refresh` when the server answers `401 Unauthorized`, then reconnects at once (no
    /// backoff), with headers computed anew and the same `Last-Event-ID`: the way to renew an
    /// expired token without losing the stream's place (fetch transport). A second 401 in a row
    /// ends the stream with [`Error::Status`] 401. Without it, a 401 is fatal at once.
    pub fn on_unauthorized<F>(mut self, refresh: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = ()> + 'static,
    {
        self.on_unauthorized = Some(Arc::new(move || Box::pin(refresh()) as LocalFuture<()>));
        self
    }

    /// Sets the reconnect policy (fetch transport).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Reconnects when no bytes at all (comments count) arrive for `timeout`, also while waiting
    /// for the response headers (fetch transport).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Bounds the size of one event or NDJSON line (default
    /// [`websse_core::DEFAULT_MAX_EVENT_SIZE`]; `None`: no bound). A larger one is skipped and
    /// stands in the stream as an [`Item::Skipped`](crate::Item::Skipped)
    /// ([`Skipped::TooLarge`](crate::Skipped::TooLarge)); the stream continues (fetch transport;
    /// the browser's EventSource has no such bound).
    pub fn max_event_size(mut self, max: Option<usize>) -> Self {
        self.max_event_size = max;
        self
    }

    /// Bounds the messages waiting for the consumer, in bytes (default
    /// [`DEFAULT_MAX_BUFFERED`](SseRequest::DEFAULT_MAX_BUFFERED); EventSource transport).
    ///
    /// The fetch transport reads the body only as fast as the stream is polled, so the server is
    /// slowed down by TCP. The browser's EventSource cannot be slowed down: when the consumer
    /// falls behind and the waiting messages reach this bound, the messages that arrive are
    /// dropped until it catches up, and one [`Skipped::Lagged`](crate::Skipped::Lagged) item
    /// says how many, in their place.
    pub fn max_buffered(mut self, bytes: usize) -> Self {
        self.max_buffered = bytes;
        self
    }

    /// Chooses how the body is cut into messages (default [`Framing::Sse`]; fetch transport).
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Starts as if an event with this id had been received: the first request already carries
    /// `Last-Event-ID` (fetch transport).
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = id.into();
        self
    }

    /// Ends the stream cleanly (state [`Closed`](crate::ConnectionState::Closed), then `None`)
    /// when a message's data equals `sentinel`, such as `[DONE]`; that message is not yielded.
    pub fn done_on_data(mut self, sentinel: impl Into<String>) -> Self {
        self.done_on_data = Some(sentinel.into());
        self
    }

    /// Closes the connection while the page is hidden and reconnects (with `Last-Event-ID`) when
    /// it is visible again (default `false`; fetch transport, in a window). Needs the cargo
    /// feature `pause-when-hidden` (on by default); without it, `open` fails with
    /// [`Error::FeatureNotEnabled`].
    pub fn pause_when_hidden(mut self, pause: bool) -> Self {
        self.pause_when_hidden = pause;
        self
    }

    /// What a clean end of the response body does (fetch transport; default
    /// [`EndOfBody::Resume`]: reconnect only when the server can resume, so a finished `POST`
    /// is never sent twice). Errors (a network failure, a 5xx, an idle timeout) reconnect per
    /// the [`ReconnectPolicy`] whatever this says.
    pub fn end_of_body(mut self, end: EndOfBody) -> Self {
        self.end_of_body = end;
        self
    }

    /// The named event types of interest. The EventSource transport listens to `message` and to
    /// exactly these (`open` and `error` included: a server event of that name is a message,
    /// while the connection's own open and error events become [`ConnectionState`]s); the fetch
    /// transport yields every event whatever its type.
    ///
    /// [`ConnectionState`]: crate::ConnectionState
    pub fn events<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events.extend(types.into_iter().map(Into::into));
        self
    }

    /// Checks that the transport can carry this request.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if !self.transport.is_enabled() {
            return Err(Error::TransportNotEnabled(self.transport.feature()));
        }
        if self.transport == Transport::EventSource {
            if !self.method.eq_ignore_ascii_case("GET") {
                return Err(Error::EventSourceUnsupported("methods other than GET"));
            }
            if !self.headers.is_empty()
                || self.headers_with.is_some()
                || self.headers_async.is_some()
            {
                return Err(Error::EventSourceUnsupported("custom headers"));
            }
            if self.body.is_some() {
                return Err(Error::EventSourceUnsupported("a request body"));
            }
            if self.on_unauthorized.is_some() {
                return Err(Error::EventSourceUnsupported("an on_unauthorized hook"));
            }
            if self.framing != Framing::Sse {
                return Err(Error::EventSourceUnsupported("framings other than SSE"));
            }
            if !self.last_event_id.is_empty() {
                return Err(Error::EventSourceUnsupported("a starting Last-Event-ID"));
            }
        }
        if let Some(feature) = self.framing.feature() {
            return Err(Error::FramingNotEnabled(feature));
        }
        if self.pause_when_hidden && !cfg!(feature = "pause-when-hidden") {
            return Err(Error::FeatureNotEnabled("pause-when-hidden"));
        }
        if (self.headers_async.is_some() || self.on_unauthorized.is_some())
            && !cfg!(feature = "auth")
        {
            return Err(Error::FeatureNotEnabled("auth"));
        }
        Ok(())
    }

    /// The headers of one connect, each passed to `out` in order: `Accept` (unless given), the
    /// fixed ones, the computed ones, and `Last-Event-ID` when `last_event_id` is not empty (any
    /// given one is left out then). Passed along rather than collected: no list of copies per
    /// connect, and one copy of this code (smaller code).
    // EventSource sends its own headers; only the fetch transport builds them.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn connect_headers(
        &self,
        last_event_id: &str,
        fetched: &[(String, String)],
        out: &mut dyn FnMut(&str, &str),
    ) {
        let computed = self.headers_with.as_ref().map(|f| f()).unwrap_or_default();
        // Plain slices rather than a `Chain` iterator walked twice (smaller code).
        let given = [self.headers.as_slice(), computed.as_slice(), fetched];
        if !given
            .iter()
            .any(|list| list.iter().any(|(n, _)| n.eq_ignore_ascii_case("accept")))
        {
            out("Accept", "text/event-stream");
        }
        for list in given {
            for (name, value) in list {
                if last_event_id.is_empty() || !name.eq_ignore_ascii_case("last-event-id") {
                    out(name, value);
                }
            }
        }
        if !last_event_id.is_empty() {
            out("Last-Event-ID", last_event_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn headers_of(r: &SseRequest, last_event_id: &str) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        r.connect_headers(last_event_id, &[], &mut |n, v| {
            headers.push((n.to_owned(), v.to_owned()))
        });
        headers
    }

    #[test]
    fn default_headers_are_only_accept() {
        let r = SseRequest::get("/s");
        assert_eq!(
            headers_of(&r, ""),
            vec![("Accept".to_owned(), "text/event-stream".to_owned())]
        );
    }

    #[test]
    fn last_event_id_is_sent_only_when_not_empty() {
        let r = SseRequest::get("/s");
        let h = headers_of(&r, "s:3");
        assert!(h.contains(&("Last-Event-ID".to_owned(), "s:3".to_owned())));
        assert!(!headers_of(&r, "").iter().any(|(n, _)| n == "Last-Event-ID"));
    }

    #[test]
    fn a_custom_accept_replaces_the_default() {
        let r = SseRequest::get("/s").header("accept", "application/x-ndjson");
        assert_eq!(
            headers_of(&r, ""),
            vec![("accept".to_owned(), "application/x-ndjson".to_owned())]
        );
    }

    #[test]
    fn headers_callback_runs_before_each_connect() {
        let n = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&n);
        let r = SseRequest::get("/s").headers_with(move || {
            let now = counter.fetch_add(1, Ordering::Relaxed) + 1;
            vec![("Authorization".to_owned(), format!("Bearer {now}"))]
        });
        assert!(headers_of(&r, "").contains(&("Authorization".into(), "Bearer 1".into())));
        assert!(headers_of(&r, "").contains(&("Authorization".into(), "Bearer 2".into())));
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }

    #[cfg(feature = "json")]
    #[test]
    fn a_body_that_does_not_serialize_is_the_error_of_open() {
        // A map with non-string keys has no JSON form.
        let map = std::collections::BTreeMap::from([((1, 2), "x")]);
        let r = SseRequest::post("/c").json(&map).header("X", "1");
        assert!(matches!(r.open(), Err(Error::Json(_))));
    }

    // A body needs the fetch transport: without it the request does not validate.
    #[cfg(all(feature = "json", feature = "fetch"))]
    #[test]
    fn json_body_sets_content_type_once() {
        let r = SseRequest::post("/c")
            .header("Content-Type", "text/plain")
            .json(&serde_json::json!({"a": 1}));
        assert!(r.validate().is_ok());
        assert_eq!(r.body, Some(Body::Text("{\"a\":1}".to_owned())));
        let ct: Vec<_> = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .collect();
        assert_eq!(
            ct,
            [&("Content-Type".to_owned(), "application/json".to_owned())]
        );
    }

    #[cfg(feature = "event-source")]
    #[test]
    fn event_source_rejects_what_it_cannot_carry() {
        let es = |r: SseRequest| r.transport(Transport::EventSource).validate();
        assert!(es(SseRequest::get("/s")).is_ok());
        assert!(matches!(
            es(SseRequest::post("/s")),
            Err(Error::EventSourceUnsupported(_))
        ));
        assert!(matches!(
            es(SseRequest::get("/s").header("X", "1")),
            Err(Error::EventSourceUnsupported(_))
        ));
        assert!(matches!(
            es(SseRequest::get("/s").body_text("x")),
            Err(Error::EventSourceUnsupported(_))
        ));
        assert!(matches!(
            es(SseRequest::get("/s").framing(Framing::Ndjson)),
            Err(Error::EventSourceUnsupported(_))
        ));
        // What the fetch transport carries (when compiled in).
        assert!(
            !cfg!(feature = "fetch")
                || SseRequest::post("/s")
                    .body_text("x")
                    .header("X", "1")
                    .validate()
                    .is_ok()
        );
    }

    #[cfg(not(feature = "event-source"))]
    #[test]
    fn a_transport_left_out_is_a_typed_error() {
        assert!(matches!(
            SseRequest::get("/s")
                .transport(Transport::EventSource)
                .open(),
            Err(Error::TransportNotEnabled("event-source"))
        ));
    }

    #[cfg(all(feature = "fetch", not(all(feature = "ndjson", feature = "raw-text"))))]
    #[test]
    fn a_framing_left_out_is_a_typed_error() {
        let left_out = [
            (Framing::Ndjson, cfg!(feature = "ndjson"), "ndjson"),
            (Framing::Raw, cfg!(feature = "raw-text"), "raw-text"),
        ];
        for (framing, enabled, feature) in left_out {
            let got = SseRequest::get("/s").framing(framing).validate();
            if enabled {
                assert!(got.is_ok(), "{feature}");
            } else {
                assert!(
                    matches!(got, Err(Error::FramingNotEnabled(f)) if f == feature),
                    "{feature}"
                );
            }
        }
    }

    #[test]
    fn the_auth_hooks_need_their_feature() {
        for request in [
            SseRequest::get("/s").on_unauthorized(|| async {}),
            SseRequest::get("/s").headers_async(|| async { Vec::new() }),
        ] {
            let got = request.validate();
            if !cfg!(feature = "fetch") {
                assert!(matches!(got, Err(Error::TransportNotEnabled("fetch"))));
            } else if cfg!(feature = "auth") {
                assert!(got.is_ok(), "{got:?}");
            } else {
                assert!(
                    matches!(got, Err(Error::FeatureNotEnabled("auth"))),
                    "{got:?}"
                );
            }
        }
    }

    #[test]
    fn pause_when_hidden_needs_its_feature() {
        let got = SseRequest::get("/s").pause_when_hidden(true).validate();
        if !cfg!(feature = "fetch") {
            assert!(matches!(got, Err(Error::TransportNotEnabled("fetch"))));
        } else if cfg!(feature = "pause-when-hidden") {
            assert!(got.is_ok(), "{got:?}");
        } else {
            assert!(
                matches!(got, Err(Error::FeatureNotEnabled("pause-when-hidden"))),
                "{got:?}"
            );
        }
        // Off (the default) needs nothing.
        if cfg!(feature = "fetch") {
            assert!(
                SseRequest::get("/s")
                    .pause_when_hidden(false)
                    .validate()
                    .is_ok()
            );
        }
    }

    #[cfg(all(not(target_arch = "wasm32"), feature = "fetch"))]
    #[test]
    fn open_outside_wasm_is_a_typed_error() {
        assert!(matches!(
            SseRequest::get("/s").open(),
            Err(Error::UnsupportedTarget)
        ));
    }

    #[test]
    fn a_finished_post_without_ids_is_not_sent_again() {
        // The OpenAI shape: POST, no `id:` fields, `data: [DONE]`, then the body ends.
        assert!(!EndOfBody::default().reconnects(Framing::Sse, "POST", ""));
        assert!(!EndOfBody::Resume.reconnects(Framing::Sse, "post", ""));
    }

    #[test]
    fn a_stream_that_can_resume_reconnects_at_the_end_of_its_body() {
        assert!(EndOfBody::Resume.reconnects(Framing::Sse, "POST", "s:7"));
        assert!(EndOfBody::Resume.reconnects(Framing::Sse, "GET", ""));
        assert!(EndOfBody::Resume.reconnects(Framing::Sse, "get", "s:7"));
    }

    #[test]
    fn framings_without_a_resume_point_end_with_their_body() {
        for framing in [Framing::Ndjson, Framing::Raw] {
            for method in ["GET", "POST"] {
                assert!(!EndOfBody::Resume.reconnects(framing, method, ""));
                assert!(!EndOfBody::Resume.reconnects(framing, method, "7"));
            }
        }
    }

    #[test]
    fn end_of_body_can_be_forced_either_way() {
        for framing in [Framing::Sse, Framing::Ndjson, Framing::Raw] {
            for (method, id) in [("GET", ""), ("POST", ""), ("POST", "7")] {
                assert!(EndOfBody::Reconnect.reconnects(framing, method, id));
                assert!(!EndOfBody::Close.reconnects(framing, method, id));
            }
        }
        let r = SseRequest::post("/x").end_of_body(EndOfBody::Reconnect);
        assert_eq!(r.end_of_body, EndOfBody::Reconnect);
        assert_eq!(SseRequest::post("/x").end_of_body, EndOfBody::Resume);
    }

    #[test]
    fn a_request_is_send_sync_and_compares_its_callbacks_by_identity() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        let r = SseRequest::get("/s")
            .headers_with(|| vec![("X-A".to_owned(), "1".to_owned())])
            .headers_async(|| async { Vec::new() })
            .on_unauthorized(|| async {});
        send_sync(&r);
        assert_eq!(r, r.clone());
        let other = SseRequest::get("/s").headers_with(|| vec![("X-A".to_owned(), "1".to_owned())]);
        assert_ne!(other.clone().headers_async(|| async { Vec::new() }), r);
        assert_ne!(
            SseRequest::get("/s").headers_with(Vec::new),
            SseRequest::get("/s").headers_with(Vec::new),
            "two closures are two callbacks"
        );
        assert_eq!(SseRequest::get("/s"), SseRequest::get("/s"));
        assert_ne!(SseRequest::get("/s"), SseRequest::post("/s"));
        assert_ne!(SseRequest::get("/s"), SseRequest::get("/s").events(["a"]));
    }

    #[test]
    fn every_setting_counts_in_equality() {
        let base = || SseRequest::get("/s");
        let variants = [
            SseRequest::post("/s"),
            SseRequest::get("/t"),
            base().transport(Transport::EventSource),
            base().credentials(Credentials::Include),
            base().body_text("b"),
            base().header("X-A", "1"),
            base().reconnect(ReconnectPolicy::never()),
            base().idle_timeout(Duration::from_secs(1)),
            base().max_event_size(Some(1)),
            base().max_buffered(1),
            base().framing(Framing::Ndjson),
            base().last_event_id("7"),
            base().done_on_data("[DONE]"),
            base().pause_when_hidden(true),
            base().end_of_body(EndOfBody::Close),
            base().events(["a"]),
            base().share_key("k"),
            base().across_tabs(true),
        ];
        for (i, a) in variants.iter().enumerate() {
            assert_ne!(*a, base(), "variant {i} equals the default request");
            for (j, b) in variants.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "variants {i} and {j}");
            }
            assert_eq!(*a, a.clone());
        }
    }

    #[test]
    fn names_read_back() {
        for t in [Transport::Fetch, Transport::EventSource] {
            assert_eq!(t.as_str().parse::<Transport>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        for f in [Framing::Sse, Framing::Ndjson, Framing::Raw] {
            assert_eq!(f.as_str().parse::<Framing>(), Ok(f));
        }
        for c in [
            Credentials::Omit,
            Credentials::SameOrigin,
            Credentials::Include,
        ] {
            assert_eq!(c.as_str().parse::<Credentials>(), Ok(c));
        }
        assert_eq!(
            " EventSource".parse::<Transport>(),
            Ok(Transport::EventSource)
        );
        let error = "websocket".parse::<Transport>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown transport \"websocket\" (expected fetch or eventsource)"
        );
    }

    #[test]
    fn eventsource_refuses_the_auth_hooks() {
        if !cfg!(feature = "event-source") {
            return;
        }
        let es = |r: SseRequest| r.transport(Transport::EventSource).validate();
        assert!(matches!(
            es(SseRequest::get("/s").on_unauthorized(|| async {})),
            Err(Error::EventSourceUnsupported(_))
        ));
        assert!(matches!(
            es(SseRequest::get("/s").headers_async(|| async { Vec::new() })),
            Err(Error::EventSourceUnsupported(_))
        ));
    }
}
