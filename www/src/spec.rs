//! A plain, comparable description of one stream to open: what the `use_sse` hook depends on.
//!
//! `websse::SseRequest` is a consuming builder and not `PartialEq`, so the app keeps its own
//! value (with a `generation` to force a new connection for the same request, as retry does) and
//! builds the request only when the hook opens the stream.

use websse::{Credentials, Framing, SseRequest, Transport};

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
    pub transport: Transport,
    /// Request headers (fetch only).
    pub headers: Vec<(String, String)>,
    /// Request body (fetch only).
    pub body: Option<String>,
    /// Framing of the response body.
    pub framing: Framing,
    /// Named event types of interest (EventSource delivers only these and `message`).
    pub events: Vec<String>,
    /// Credentials mode; `None` leaves the client's default.
    pub credentials: Option<Credentials>,
    /// Share one connection with the other tabs of this origin that open the same request
    /// (`SseRequest::across_tabs`); the stream then also reports `Item::Sharing`.
    pub across_tabs: bool,
    /// Close the connection while the page is hidden (`SseRequest::pause_when_hidden`).
    pub pause_when_hidden: bool,
}

/// The items of an opened [`StreamSpec`]: its own `EventStream`, or a subscription to a stream
/// shared across tabs. Dropping it closes the connection (or leaves the shared one).
pub type SpecStream = futures::stream::LocalBoxStream<'static, Result<websse::Item, websse::Error>>;

impl StreamSpec {
    /// Builds the websse request and opens it (or, across tabs, joins the shared stream).
    ///
    /// # Errors
    /// Whatever `websse` refuses (for example a body with the EventSource transport).
    pub fn open(&self) -> Result<SpecStream, websse::Error> {
        use futures::StreamExt;

        let method = if self.method.trim().is_empty() {
            "GET"
        } else {
            self.method.trim()
        };
        let mut req = SseRequest::new(method, &self.url).transport(self.transport);
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            req = req.body_text(body.clone());
        }
        req = req.framing(self.framing);
        if !self.events.is_empty() {
            req = req.events(self.events.iter().map(String::as_str));
        }
        if let Some(credentials) = self.credentials {
            req = req.credentials(credentials);
        }
        if self.pause_when_hidden {
            req = req.pause_when_hidden(true);
        }
        if self.across_tabs {
            return Ok(req.across_tabs(true).share()?.subscribe().boxed_local());
        }
        req.open().map(StreamExt::boxed_local)
    }
}
