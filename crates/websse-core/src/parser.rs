//! The parser: the WHATWG "interpret an event stream" state machine, fed chunk by chunk.
//!
//! Its parts, each with one job: `decode` turns bytes into text (U+FFFD, the byte order mark),
//! `fast_path` takes a long `data` line that arrives in small chunks, `events` builds the owned
//! or borrowed event a blank line dispatches, and `feed` is the iterator [`Feed`]. This file is
//! the state machine that uses them: lines, fields, limits.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;
use core::time::Duration;

use crate::error::Error;
use crate::event::{Event, EventRef, EventType};
#[cfg(feature = "perf")]
use crate::scan::{find_short_line_end, through_last_lf};
use crate::scan::{has_nul, split_colon, split_line, strip};

mod decode;
mod events;
mod fast_path;
mod feed;

#[cfg(feature = "perf")]
use decode::valid_prefix;
use decode::{BOM_DONE, decode};
pub use feed::Feed;

/// The default maximum event size: 64 MiB.
///
/// Generous on purpose: real streams carry base64 images in a single `data:` line, and a cap of
/// 8 MiB has broken such events in other clients. Use [`Parser::with_max_event_size`] to choose
/// another bound, or none.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 64 * 1024 * 1024;

/// The largest `retry` value that can be multiplied by ten without overflow.
const MAX_TENTH: u64 = u64::MAX / 10;
/// A line buffer that grew beyond this is freed rather than kept for reuse.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The comment callback of [`Parser::feed_with_comments`], if any. The parser's own functions take
/// it as a trait object rather than a type parameter, so that they are not generic: they are
/// compiled once, in this crate, with its optimisation level (an app built for size can give
/// websse-core `opt-level = 3` through a per-package profile override, see the README), instead of
/// being instantiated in each caller's crate.
type Comments<'c> = Option<&'c mut dyn FnMut(&str)>;

/// An event ready to be dispatched: its data is `Chunk`, a slice of the chunk being parsed (its
/// only `data` line and the blank line after it were both in that chunk), or the data buffer.
/// The event type buffer and the last event ID are in the parser; whoever builds the event
/// (owned or borrowed) then clears the buffers it used.
#[derive(Debug, Clone, Copy)]
enum Raw<'c> {
    Chunk(&'c [u8]),
    Buffer,
}

/// What [`Parser::data_events`] checked of the input it is called on: `text`, valid UTF-8,
/// starts where `from` bytes of the input were left, and the last `tail` bytes of the input
/// (after its last LF) hold no whole event.
#[cfg(feature = "perf")]
struct Checked<'c> {
    text: &'c str,
    from: usize,
    tail: usize,
}

/// The event callback of [`Parser::feed_with`], as a trait object for the same reason as
/// [`Comments`].
type OnEvent<'f> = &'f mut dyn FnMut(Result<EventRef<'_>, Error>);

/// What the parser holds of a line whose end has not been fed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Nothing: the next byte starts a line.
    Start,
    /// The start of a field name (no colon yet) is in `Parser::line`.
    Name,
    /// The whole line so far is in `Parser::line` (`event`, `id`, `retry`, or a comment that a
    /// callback wants).
    Value,
    /// The value of a `data` field is being appended straight to `Parser::data`;
    /// `strip_space`: no value byte came yet, so a leading space must still be removed.
    Data { strip_space: bool },
    /// A line whose content nobody needs (unknown field, unobserved comment); only its length
    /// counts.
    Ignore,
    /// An oversized event is being skipped up to its blank line; `in_line`: the current line has
    /// at least one byte (so its end is not a blank line).
    Skip { in_line: bool },
}

/// An incremental Server-Sent Events parser: feed it bytes, take events out.
///
/// One parser follows one event source across reconnections: call [`finish`](Parser::finish) at
/// the end of each response body; the last event ID and the reconnection time survive it.
#[derive(Debug)]
pub struct Parser {
    /// The maximum event size; no limit is `usize::MAX`, which no event can exceed.
    limit: usize,
    /// The event source's last event ID string (what `Last-Event-ID` should carry).
    last_event_id: String,
    /// The type of the last event dispatched: the next one of that type reuses it (a copy of an
    /// inline name, or a reference to a shared long one) without decoding its name again.
    last_type: EventType,
    /// The same for [`feed_with`](Parser::feed_with): the text of the last event type it
    /// decoded, reused while the next event's type has the same bytes (text equal to the bytes
    /// is their decoding, so no UTF-8 validation per event).
    type_text: String,
    /// The latest valid `retry` value.
    retry: Option<Duration>,

    /// The previous byte was a CR: an LF that comes next is part of the same line end.
    skip_lf: bool,
    /// How many bytes of a BOM have been seen at the start of the body, or `BOM_DONE`.
    bom_matched: u8,
    pending: Pending,
    /// The carried start of the current line (see `Pending`).
    line: Vec<u8>,
    /// Bytes of the current line fed so far (when `pending != Start`).
    line_len: usize,
    /// `data.len()` when the current line started.
    data_mark: usize,

    /// The data buffer, without the trailing LF the spec appends after each line (`has_data`
    /// records that there was at least one `data` line; an LF is added before each later one).
    data: Vec<u8>,
    has_data: bool,
    /// The event type buffer.
    event_type: Vec<u8>,
    /// The last event ID buffer; only meaningful when `id_pending`.
    id_buffer: String,
    /// An `id` field was seen since the last blank line.
    id_pending: bool,

    /// Items parsed by the `Drop` of a `Feed` that was not drained; yielded first next time.
    queue: VecDeque<Result<Event, Error>>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// A parser with the default maximum event size ([`DEFAULT_MAX_EVENT_SIZE`]).
    pub fn new() -> Self {
        Parser::with_max_event_size(Some(DEFAULT_MAX_EVENT_SIZE))
    }

    /// A parser whose events may hold at most `max_event_size` bytes (`None`: no limit).
    ///
    /// The size counted is that of the data buffer (the `data` values joined with LF) plus the
    /// line being read, both in bytes; it does not depend on how the input is chunked. Buffers
    /// the `event` and `id` fields fill are each bounded by the same limit, since each is one line.
    pub fn with_max_event_size(max_event_size: Option<usize>) -> Self {
        Parser {
            limit: max_event_size.unwrap_or(usize::MAX),
            last_event_id: String::new(),
            last_type: EventType::Message,
            type_text: String::new(),
            retry: None,
            skip_lf: false,
            bom_matched: 0,
            pending: Pending::Start,
            line: Vec::new(),
            line_len: 0,
            data_mark: 0,
            data: Vec::new(),
            has_data: false,
            event_type: Vec::new(),
            id_buffer: String::new(),
            id_pending: false,
            queue: VecDeque::new(),
        }
    }

    /// The maximum event size in force (`None`: no limit; a limit of `usize::MAX` is the same
    /// thing and reads back as `None`).
    pub fn max_event_size(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }

    /// Feeds the next bytes of the response body and returns the events they complete.
    ///
    /// The returned iterator parses lazily, as it is pulled. Dropping it before it is exhausted
    /// loses nothing: the rest of `chunk` is parsed in its `Drop`, and the items it yields are
    /// kept in the parser and come first out of the next call (`feed(&[])` fetches them).
    ///
    /// Comment lines are skipped without being buffered; see
    /// [`feed_with_comments`](Parser::feed_with_comments) to observe them.
    ///
    /// # Errors
    /// An item is `Err(`[`Error::EventTooLarge`]`)` when an event exceeds the maximum event size;
    /// that event is discarded and the items after it are parsed as usual.
    // `#[inline]` so that the caller builds the `Feed` in its own registers (returned through
    // memory, it would be read back right after the call: a store-forwarding stall on every
    // small chunk); the work is in `stream_data_call`, compiled
    // here at websse-core's optimisation level (see `Comments`), and called only for a chunk
    // that takes the fast path.
    #[inline]
    pub fn feed<'a>(&'a mut self, chunk: &'a [u8]) -> Feed<'a> {
        let input = self.fast_path(chunk);
        Feed {
            parser: self,
            input,
            on_comment: None,
        }
    }

    /// Like [`feed`](Parser::feed), and calls `on_comment` with the text after the colon of each
    /// comment line (a line that starts with `:`) that ends within `chunk`, in stream order with
    /// the events.
    ///
    /// The text is decoded like everything else (invalid UTF-8 becomes U+FFFD) and is passed
    /// without allocating when it is valid UTF-8 and not split across chunks. A comment that
    /// starts in a chunk fed with plain [`feed`](Parser::feed) is not buffered and so is not
    /// reported: to see every comment, feed every chunk of the body through this method. Comments
    /// inside an event being skipped for its size are not reported.
    ///
    /// # Errors
    /// As for [`feed`](Parser::feed).
    #[inline]
    pub fn feed_with_comments<'a, F: FnMut(&str)>(
        &'a mut self,
        chunk: &'a [u8],
        on_comment: F,
    ) -> Feed<'a, F> {
        // The fast path takes no line ends, so it never passes over a comment.
        let input = self.fast_path(chunk);
        Feed {
            parser: self,
            input,
            on_comment: Some(on_comment),
        }
    }

    /// Feeds the next bytes of the response body and calls `on_event` with each item they
    /// complete, in order, with each event borrowed instead of owned: no allocation per event.
    ///
    /// The events and errors are exactly those [`feed`](Parser::feed) would yield for the same
    /// bytes. An [`EventRef`] borrows its data from `chunk` when the event's only `data` line
    /// and its blank line are both in `chunk` (the common case of one event per network chunk),
    /// and otherwise from the parser's data buffer, which is cleared after the call but keeps
    /// its capacity (so in a steady stream nothing is allocated; it never outgrows the maximum
    /// event size), and which [`finish`](Parser::finish) frees. Its event type and last event
    /// ID borrow from the parser.
    ///
    /// Use it where the event ends up somewhere other than a Rust `String`: counting or
    /// filtering events, forwarding their bytes, parsing their data straight into another
    /// representation (`serde_json::from_str(event.data())`), or copying it into a JS string.
    /// [`EventRef::to_event`] makes an owned [`Event`] of one that must be kept.
    ///
    /// Items that an undrained [`Feed`] left in the parser come first. Comment lines are skipped
    /// without being buffered, as in [`feed`](Parser::feed).
    ///
    /// ```
    /// let mut parser = websse_core::Parser::new();
    /// let mut bytes = 0;
    /// for chunk in [&b"data: hel"[..], b"lo\n\ndata: world\n\n"] {
    ///     parser.feed_with(chunk, |item| {
    ///         if let Ok(event) = item {
    ///             bytes += event.data().len();
    ///         }
    ///     });
    /// }
    /// assert_eq!(bytes, 10);
    /// ```
    ///
    /// # Errors
    /// `on_event` gets `Err(`[`Error::EventTooLarge`]`)` in place of an event that exceeds the
    /// maximum event size, as [`feed`](Parser::feed) yields it.
    #[inline]
    pub fn feed_with<F: FnMut(Result<EventRef<'_>, Error>)>(
        &mut self,
        chunk: &[u8],
        mut on_event: F,
    ) {
        self.feed_dyn(chunk, &mut on_event);
    }

    /// [`feed_with`](Parser::feed_with)'s work, not generic (see [`Comments`]).
    fn feed_dyn(&mut self, chunk: &[u8], on_event: OnEvent<'_>) {
        while let Some(item) = self.queue.pop_front() {
            on_event(item.as_ref().map(EventRef::from).map_err(|error| *error));
        }
        let mut input = self.stream_data(chunk);
        if !input.is_empty() {
            // Parses all of `input`: with `on_event`, it returns nothing.
            let _ = self.parse_raw(&mut input, &mut None, Some(on_event));
        }
    }

    /// Ends the current response body.
    ///
    /// Per the spec, an incomplete event at the end of the stream is discarded: the partial line,
    /// the pending data and event type buffers and an `id` not yet followed by a blank line are
    /// dropped. The last event ID, the reconnection time and the maximum event size are kept, and
    /// the next bytes fed are the start of a new body (a byte order mark there is stripped again).
    /// Items parsed but not yet taken (see [`feed`](Parser::feed)) are kept.
    pub fn finish(&mut self) {
        self.skip_lf = false;
        self.bom_matched = 0;
        self.pending = Pending::Start;
        self.line_len = 0;
        self.data_mark = 0;
        self.line.clear();
        if self.line.capacity() > KEEP_CAPACITY {
            self.line = Vec::new();
        }
        self.data = Vec::new();
        self.has_data = false;
        self.event_type.clear();
        self.id_pending = false;
    }

    /// The reconnection time set by the latest valid `retry` field, if any.
    ///
    /// A `retry` value counts only if it is one or more ASCII digits (milliseconds); larger
    /// values than `u64::MAX` saturate to `u64::MAX` milliseconds.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The last event ID string: set when a blank line ends a block that had an `id` field
    /// (whether or not the block had data), reset by an empty `id`. It persists across events
    /// and across [`finish`](Parser::finish); send it as `Last-Event-ID` when reconnecting.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Sets the last event ID string, e.g. to resume a stream from a stored position.
    pub fn set_last_event_id(&mut self, id: impl Into<String>) {
        self.last_event_id = id.into();
    }

    /// Parses `input` until it yields one owned item or `input` is used up.
    fn parse(
        &mut self,
        input: &mut &[u8],
        on_comment: &mut Comments<'_>,
    ) -> Option<Result<Event, Error>> {
        Some(match self.parse_raw(input, on_comment, None)? {
            Ok(Raw::Chunk(data)) => Ok(self.event(data)),
            Ok(Raw::Buffer) => Ok(self.take_event()),
            Err(error) => Err(error),
        })
    }

    /// Parses `input` until an event is ready, an error occurs or `input` is used up; with
    /// `on_event` (the borrowed API), passes each item to it instead and goes on to the end of
    /// `input`. One loop for both APIs, not inlined: a stream of small chunks then costs one
    /// call per chunk rather than two per event (up to the event, then to carry the start of the
    /// next line), without a second copy of the parser in an app that uses both.
    ///
    /// The trade-off: small chunks get faster through `feed_with`, whole-event chunks somewhat
    /// slower than if this loop returned each event to `feed_dyn` (the `parse` benches
    /// `openai_16` and `openai_events` show both).
    fn parse_raw<'c>(
        &mut self,
        input: &mut &'c [u8],
        on_comment: &mut Comments<'_>,
        mut on_event: Option<OnEvent<'_>>,
    ) -> Option<Result<Raw<'c>, Error>> {
        // An item: returned, or passed to `on_event`, after which parsing goes on.
        macro_rules! emit {
            ($item:expr) => {
                match on_event {
                    None => return Some($item),
                    Some(ref mut on_event) => self.deliver($item, &mut **on_event),
                }
            };
        }
        if self.bom_matched < BOM_DONE
            && let Some(error) = self.strip_bom(input, on_comment.is_some())
        {
            emit!(Err(error));
        }
        // What `data_events` checked of this input, once it is first needed.
        #[cfg(feature = "perf")]
        let mut checked = None;
        loop {
            let chunk: &'c [u8] = input;
            // Also the end of most chunks in `on_event` mode, after their last event.
            if chunk.is_empty() {
                return None;
            }
            if self.skip_lf {
                // A CR ended the previous line; an LF right after it belongs to that line end.
                match chunk.split_first() {
                    None => return None,
                    Some((b'\n', rest)) => {
                        self.skip_lf = false;
                        *input = rest;
                        continue;
                    }
                    Some(_) => self.skip_lf = false,
                }
            }
            // Spec: lines end with CRLF, a lone LF or a lone CR.
            let Some((line, end, rest)) = split_line(chunk) else {
                *input = &[];
                if let Some(error) = self.carry(chunk, on_comment.is_some()) {
                    emit!(Err(error));
                }
                return None;
            };
            self.skip_lf = end == b'\r';
            *input = rest;
            // The common end of an event: its only `data` line and the blank line right after
            // it, both in this chunk. The data then goes from the chunk into the event in one
            // copy, without passing through the data buffer (the same steps as below: process
            // the field, then dispatch).
            if self.pending == Pending::Start
                && !self.has_data
                && end == b'\n'
                && let Some(rest) = strip(rest, b"\n")
                && let Some(value) = strip(line, b"data:")
                && !self.exceeds(line.len())
            {
                *input = rest;
                self.commit_id();
                emit!(Ok(Raw::Chunk(strip(value, b" ").unwrap_or(value))));
                // Only `feed_with` gets here (`emit!` returned the event otherwise): the events
                // like this one that follow it go through a loop of their own.
                #[cfg(feature = "perf")]
                if let Some(ref mut on_event) = on_event
                    && input.starts_with(b"data:")
                {
                    self.data_events(&mut checked, input, &mut **on_event);
                }
                continue;
            }
            if let Some(item) = self.end_line(line, on_comment) {
                emit!(item);
                continue;
            }
            // The blank line right after a line that ended with an LF, the end of most events:
            // dispatch without another pass through the loop (the same steps as a blank line
            // there: within the limit, since the data buffer is, and no comment).
            if self.pending == Pending::Start
                && end == b'\n'
                && let Some(rest) = strip(input, b"\n")
            {
                *input = rest;
                if let Some(raw) = self.dispatch() {
                    emit!(Ok(raw));
                }
            }
        }
    }

    /// For [`feed_with`](Parser::feed_with), after an event whose only line was `data`: the
    /// events like it that follow it (LLM tokens, logs, most floods), each a `data` line that
    /// ends with an LF and its blank line, in a loop of their own. Such an event leaves the
    /// state as it found it (nothing pending, no event type, no new id), so the general loop's
    /// checks are not needed between them. Stops at the first line that is anything else.
    ///
    /// The input up to its last LF (what can hold whole events) is validated as UTF-8 in one
    /// go, as far as it is valid, rather than each event's data on its own: for short events
    /// that is several times cheaper. `checked` keeps that text for the later calls on the same
    /// input, which go on from where they are (after an invalid byte, from past it), so the
    /// input is validated about once in all; the part after its last LF, where no whole event
    /// can be, is left to the general loop.
    // Not inlined: in the general loop's function, V8 compiled this loop about a third slower.
    #[cfg(feature = "perf")]
    #[inline(never)]
    fn data_events<'c>(
        &mut self,
        checked: &mut Option<Checked<'c>>,
        input: &mut &'c [u8],
        on_event: OnEvent<'_>,
    ) {
        let checked = checked.get_or_insert_with(|| Checked {
            text: "",
            from: 0,
            tail: input.len() - through_last_lf(input).len(),
        });
        // The checked text from here on, if the input is still inside it; else check on.
        let text = match checked
            .from
            .checked_sub(input.len())
            .and_then(|taken| checked.text.get(taken..))
        {
            Some(text) if !text.is_empty() => text,
            _ => {
                let lines = input.len().saturating_sub(checked.tail);
                checked.text = valid_prefix(input.get(..lines).unwrap_or_default());
                checked.from = input.len();
                checked.text
            }
        };
        let mut rest = text;
        while let Some(value) = strip(rest.as_bytes(), b"data:")
            && let Some(len) = find_short_line_end(value)
            && value.get(len) == Some(&b'\n')
            && let end = b"data:".len() + len
            && rest.as_bytes().get(end + 1) == Some(&b'\n')
            && !self.exceeds(end)
            && let Some(data) =
                rest.get(b"data:".len() + usize::from(value.first() == Some(&b' '))..end)
        {
            on_event(Ok(EventRef {
                event_type: "message",
                data,
                last_event_id: &self.last_event_id,
            }));
            rest = rest.get(end + 2..).unwrap_or_default();
        }
        *input = input.get(text.len() - rest.len()..).unwrap_or_default();
    }

    /// Passes an item of [`feed_with`](Parser::feed_with) to its callback.
    #[inline(always)]
    fn deliver(&mut self, item: Result<Raw<'_>, Error>, on_event: OnEvent<'_>) {
        match item {
            Ok(raw) => self.dispatch_ref(raw, on_event),
            Err(error) => on_event(Err(error)),
        }
    }

    fn exceeds(&self, size: usize) -> bool {
        size > self.limit
    }

    /// The current event is too large: drop it and skip to its blank line.
    #[cold]
    fn overflow(&mut self, in_line: bool) -> Error {
        self.pending = Pending::Skip { in_line };
        self.line = Vec::new();
        self.line_len = 0;
        self.data = Vec::new();
        self.has_data = false;
        self.event_type.clear();
        Error::EventTooLarge { limit: self.limit }
    }

    /// Takes `bytes` (non-empty, no CR or LF) as the continuation of a line whose end is not here
    /// yet. Keeps only what the line's end will need.
    #[inline]
    fn carry(&mut self, bytes: &[u8], keep_comments: bool) -> Option<Error> {
        match self.pending {
            Pending::Skip { .. } => {
                self.pending = Pending::Skip { in_line: true };
                return None;
            }
            Pending::Start => {
                self.data_mark = self.data.len();
                self.line_len = 0;
            }
            _ => {}
        }
        self.line_len += bytes.len();
        if self.exceeds(self.data_mark + self.line_len) {
            return Some(self.overflow(true));
        }
        if self.pending == Pending::Start {
            // The start of a `data` line (every event of most streams): no colon search and no
            // copy of the name.
            if let Some(value) = strip(bytes, b"data:") {
                self.start_data(value);
                return None;
            }
            if bytes.first() == Some(&b':') {
                if keep_comments {
                    self.line.extend_from_slice(bytes);
                    self.pending = Pending::Value;
                } else {
                    self.pending = Pending::Ignore;
                }
                return None;
            }
        }
        match self.pending {
            Pending::Start | Pending::Name => match split_colon(bytes) {
                None => {
                    self.line.extend_from_slice(bytes);
                    self.pending = Pending::Name;
                }
                Some((name, value)) => {
                    self.line.extend_from_slice(name);
                    match self.line.as_slice() {
                        b"data" => {
                            self.line.clear();
                            self.start_data(value);
                        }
                        b"event" | b"id" | b"retry" => {
                            self.line.push(b':');
                            self.line.extend_from_slice(value);
                            self.pending = Pending::Value;
                        }
                        _ => {
                            self.line.clear();
                            self.pending = Pending::Ignore;
                        }
                    }
                }
            },
            Pending::Value => self.line.extend_from_slice(bytes),
            Pending::Data { strip_space } => {
                let value = match (strip_space, bytes.split_first()) {
                    (true, Some((b' ', rest))) => rest,
                    _ => bytes,
                };
                self.data.extend_from_slice(value);
                self.pending = Pending::Data { strip_space: false };
            }
            Pending::Ignore | Pending::Skip { .. } => {}
        }
        None
    }

    /// The first bytes of the value of a `data` line whose end is not here yet go to the data
    /// buffer (less a leading space); the rest of the line will follow them there.
    fn start_data(&mut self, value: &[u8]) {
        self.begin_data_line();
        self.pending = match value.split_first() {
            None => Pending::Data { strip_space: true },
            Some((b' ', rest)) => {
                self.data.extend_from_slice(rest);
                Pending::Data { strip_space: false }
            }
            Some(_) => {
                self.data.extend_from_slice(value);
                Pending::Data { strip_space: false }
            }
        };
    }

    /// `part` (no CR or LF) is the last piece of a line whose end was just found.
    fn end_line(
        &mut self,
        part: &[u8],
        on_comment: &mut Comments<'_>,
    ) -> Option<Result<Raw<'static>, Error>> {
        match self.pending {
            Pending::Start => {
                if self.exceeds(self.data.len() + part.len()) {
                    return Some(Err(self.overflow(false)));
                }
                // A whole `event` or `id` line: its field is known from its first bytes, so it
                // is processed without looking for the colon.
                let field = match part {
                    [b'e', b'v', b'e', b'n', b't', b':', value @ ..] => (&b"event"[..], value),
                    [b'i', b'd', b':', value @ ..] => (&b"id"[..], value),
                    _ => return self.process_line(part, on_comment).map(Ok),
                };
                self.process_field(field.0, strip(field.1, b" ").unwrap_or(field.1));
                None
            }
            pending => {
                self.pending = Pending::Start;
                if let Pending::Skip { in_line } = pending {
                    if in_line || !part.is_empty() {
                        self.pending = Pending::Skip { in_line: false };
                    } else {
                        // The blank line that ends the discarded event. Nothing is dispatched,
                        // but like any blank line it commits an `id` seen before the overflow.
                        self.commit_id();
                    }
                    return None;
                }
                if self.exceeds(self.data_mark + self.line_len + part.len()) {
                    return Some(Err(self.overflow(false)));
                }
                match pending {
                    Pending::Name | Pending::Value => {
                        let mut line = mem::take(&mut self.line);
                        line.extend_from_slice(part);
                        let event = self.process_line(&line, on_comment);
                        line.clear();
                        if line.capacity() <= KEEP_CAPACITY {
                            self.line = line;
                        }
                        event.map(Ok)
                    }
                    Pending::Data { strip_space } => {
                        let value = match (strip_space, part.split_first()) {
                            (true, Some((b' ', rest))) => rest,
                            _ => part,
                        };
                        // Often empty: the fast path took the line up to its end.
                        if !value.is_empty() {
                            self.data.extend_from_slice(value);
                        }
                        None
                    }
                    _ => None,
                }
            }
        }
    }

    /// Spec, "interpret an event stream", for one complete line.
    fn process_line(&mut self, line: &[u8], on_comment: &mut Comments<'_>) -> Option<Raw<'static>> {
        // If the line is empty (a blank line): dispatch the event.
        let Some((&first, rest)) = line.split_first() else {
            return self.dispatch();
        };
        // If the line starts with a colon: ignore the line (it is a comment).
        if first == b':' {
            if let Some(on_comment) = on_comment {
                on_comment(&decode(rest));
            }
            return None;
        }
        // If the line contains a colon: the field name is what precedes the first colon, the
        // value what follows it, less one leading space if there is one. Otherwise the whole line
        // is the field name and the value is empty.
        let (name, value) = match split_colon(line) {
            Some((name, value)) => (name, strip(value, b" ").unwrap_or(value)),
            None => (line, &[][..]),
        };
        self.process_field(name, value);
        None
    }

    /// Spec, "process the field". Names compare case-sensitively; comparing bytes is exact, since
    /// the four names are ASCII and invalid UTF-8 decodes to U+FFFD, never to ASCII.
    fn process_field(&mut self, name: &[u8], value: &[u8]) {
        match name {
            // Append the value and then an LF to the data buffer (here: an LF before every value
            // but the first, which is the same once the trailing LF is removed at dispatch).
            b"data" => {
                self.begin_data_line();
                self.data.extend_from_slice(value);
            }
            // Set the event type buffer to the value.
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            // Unless the value contains U+0000 NULL, set the last event ID buffer to it (an empty
            // value resets it).
            b"id" if !has_nul(value) => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&decode(value));
                self.id_pending = true;
            }
            // If the value is only ASCII digits, set the reconnection time to it (milliseconds).
            // An empty value is not a number and is ignored.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Saturating, without `saturating_mul`: on wasm32 that is a 128-bit multiply.
                let millis = value.iter().fold(0u64, |acc, digit| match acc {
                    0..=MAX_TENTH => (acc * 10).saturating_add(u64::from(digit - b'0')),
                    _ => u64::MAX,
                });
                self.retry = Some(Duration::from_millis(millis));
            }
            // Any other field is ignored.
            _ => {}
        }
    }

    fn begin_data_line(&mut self) {
        if self.has_data {
            self.data.push(b'\n');
        }
        self.has_data = true;
    }

    /// Spec, dispatch step 1: set the last event ID string to the last event ID buffer.
    fn commit_id(&mut self) {
        if self.id_pending {
            // The buffers trade places: no allocation once both have grown to the ids' length.
            mem::swap(&mut self.last_event_id, &mut self.id_buffer);
            self.id_pending = false;
        }
    }

    /// Spec, "dispatch the event": `Raw::Buffer` when there is an event (its data is in the data
    /// buffer), for the caller to take.
    fn dispatch(&mut self) -> Option<Raw<'static>> {
        self.commit_id();
        // If the data buffer is empty, reset the event type buffer and dispatch nothing.
        if !self.has_data {
            self.event_type.clear();
            return None;
        }
        self.has_data = false;
        Some(Raw::Buffer)
    }
}
