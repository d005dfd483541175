//! App state: one reducer per page, with explicit state enums, as in Yew's `function_todomvc`.
//!
//! The reducers are pure (no browser calls), so they are unit-tested natively. They hold websse's
//! own types (the `SseRequest` to open, `ConnectionState`, `Transport`, `Framing`, `Credentials`,
//! `Sharing`, `Message`); what is here is what only this app means: a chat answer's phases, the
//! inspector's form and log.

pub mod chat;
pub mod inspector;

/// What an open stream reports to its page: websse's items as they come, then how it ended.
///
/// `use_sse` makes these from the stream, and each page's reducer reads them as they are: the one
/// place where a websse item becomes app state.
#[derive(Debug)]
pub enum StreamEvent {
    /// An item of the stream.
    Item(websse::Item),
    /// The request could not be opened, or the stream failed; nothing follows.
    Failed(String),
    /// The stream ended without an error.
    End,
}
