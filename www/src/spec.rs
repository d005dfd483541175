//! One stream to open: what the `use_sse` hook depends on.
//!
//! The request is websse's own `SseRequest`, built by the page's reducer when the user acts; it
//! is `Clone + PartialEq`, so the hook can tell whether it changed. Next to it is what the request
//! has no say in: whether to join the stream across tabs, and a counter for a new connection.

use websse::SseRequest;

/// Everything needed to open one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSpec {
    /// The request to open.
    pub request: SseRequest,
    /// Join the stream that the other tabs of this origin share for the same request
    /// (`across_tabs(true)`, `share()`, `subscribe()`) rather than open a connection of its own.
    /// Kept here because `SseRequest::open` ignores `across_tabs` and two requests that differ
    /// only in it compare equal.
    pub across_tabs: bool,
    /// Bumped to open a new connection for an equal request, as retry does.
    pub generation: u64,
}

/// The items of an opened [`StreamSpec`]: its own `EventStream`, or a subscription to a stream
/// shared across tabs. Dropping it closes the connection (or leaves the shared one).
pub type SpecStream = futures::stream::LocalBoxStream<'static, Result<websse::Item, websse::Error>>;

impl StreamSpec {
    /// Opens the request (or, across tabs, joins the shared stream).
    ///
    /// # Errors
    /// Whatever `websse` refuses (for example a body with the EventSource transport).
    pub fn open(&self) -> Result<SpecStream, websse::Error> {
        use futures::StreamExt;

        let request = self.request.clone();
        if self.across_tabs {
            return Ok(request.across_tabs(true).share()?.subscribe().boxed_local());
        }
        request.open().map(StreamExt::boxed_local)
    }
}
