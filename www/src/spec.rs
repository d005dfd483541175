//! A plain, comparable description of one stream to open: what the `use_sse` hook depends on.
//!
//! `websse::SseRequest` is a consuming builder and not `PartialEq`, so the app keeps its own
//! value (with a `generation` to force a new connection for the same request, as retry does) and
//! builds the request only when the hook opens the stream.

use std::fmt;

/// Which browser API carries the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransportKind {
    /// `EventSource`: GET only, no headers or body.
    EventSource,
    /// `fetch` + `ReadableStream`.
    #[default]
    Fetch,
}

impl TransportKind {
    /// The value used in `<select>` options and query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventSource => "eventsource",
            Self::Fetch => "fetch",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s values.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "eventsource" => Some(Self::EventSource),
            "fetch" => Some(Self::Fetch),
            _ => None,
        }
    }
}

/// How the response body is cut into messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FramingKind {
    /// `text/event-stream`.
    #[default]
    Sse,
    /// One JSON value per line.
    Ndjson,
    /// Every chunk as it comes.
    Raw,
}

impl FramingKind {
    /// The value used in `<select>` options and query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sse => "sse",
            Self::Ndjson => "ndjson",
            Self::Raw => "raw",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s values.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sse" => Some(Self::Sse),
            "ndjson" => Some(Self::Ndjson),
            "raw" => Some(Self::Raw),
            _ => None,
        }
    }
}

/// The fetch `credentials` mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CredentialsKind {
    /// Never send cookies.
    Omit,
    /// Cookies for same-origin requests (the fetch default).
    #[default]
    SameOrigin,
    /// Cookies also for cross-origin requests.
    Include,
}

impl CredentialsKind {
    /// The value used in `<select>` options and query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Omit => "omit",
            Self::SameOrigin => "same-origin",
            Self::Include => "include",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s values.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "omit" => Some(Self::Omit),
            "same-origin" => Some(Self::SameOrigin),
            "include" => Some(Self::Include),
            _ => None,
        }
    }
}

/// Everything needed to open one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSpec {
    /// Bumped to open a new connection for an otherwise equal request.
    pub generation: u64,
    /// Absolute or page-relative URL.
    pub url: String,
    /// HTTP method (fetch only; EventSource is always GET).
    pub method: String,
    /// Transport.
    pub transport: TransportKind,
    /// Request headers (fetch only).
    pub headers: Vec<(String, String)>,
    /// Request body (fetch only).
    pub body: Option<String>,
    /// Framing of the response body.
    pub framing: FramingKind,
    /// Named event types of interest (EventSource delivers only these and `message`).
    pub events: Vec<String>,
    /// Credentials mode; `None` leaves the client's default.
    pub credentials: Option<CredentialsKind>,
    /// Share one connection with the other tabs of this origin that open the same request
    /// (`SseRequest::across_tabs`); the stream then also reports `Item::Sharing`.
    pub across_tabs: bool,
    /// Close the connection while the page is hidden (`SseRequest::pause_when_hidden`).
    pub pause_when_hidden: bool,
}

/// The items of an opened [`StreamSpec`]: its own `EventStream`, or a subscription to a stream
/// shared across tabs. Dropping it closes the connection (or leaves the shared one).
pub type SpecStream = futures::stream::LocalBoxStream<'static, Result<websse::Item, websse::Error>>;

/// Why a [`StreamSpec`] could not be opened.
#[derive(Debug)]
pub struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StreamSpec {
    /// Builds the websse request and opens it (or, across tabs, joins the shared stream).
    ///
    /// # Errors
    /// Whatever `websse` refuses (for example a body with the EventSource transport), as text.
    pub fn open(&self) -> Result<SpecStream, OpenError> {
        use futures::StreamExt;
        use websse::{Credentials, Framing, SseRequest, Transport};
        let err = |e: websse::Error| OpenError(e.to_string());

        let method = if self.method.trim().is_empty() {
            "GET"
        } else {
            self.method.trim()
        };
        let mut req = SseRequest::new(method, &self.url).transport(match self.transport {
            TransportKind::EventSource => Transport::EventSource,
            TransportKind::Fetch => Transport::Fetch,
        });
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            req = req.body_text(body.clone());
        }
        req = req.framing(match self.framing {
            FramingKind::Sse => Framing::Sse,
            FramingKind::Ndjson => Framing::Ndjson,
            FramingKind::Raw => Framing::Raw,
        });
        if !self.events.is_empty() {
            req = req.events(self.events.iter().map(String::as_str));
        }
        if let Some(credentials) = self.credentials {
            req = req.credentials(match credentials {
                CredentialsKind::Omit => Credentials::Omit,
                CredentialsKind::SameOrigin => Credentials::SameOrigin,
                CredentialsKind::Include => Credentials::Include,
            });
        }
        if self.pause_when_hidden {
            req = req.pause_when_hidden(true);
        }
        if self.across_tabs {
            let shared = req.across_tabs(true).share().map_err(err)?;
            return Ok(shared.subscribe().boxed_local());
        }
        req.open().map(StreamExt::boxed_local).map_err(err)
    }
}
